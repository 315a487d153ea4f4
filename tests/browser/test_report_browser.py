"""The report file in a real browser, opened from the disk with no server and no network.

Every page of the file is shown by its anchor and every chart on it drawn
(at its size: a page's charts are drawn when it is first shown), with no
console error (a script its policy does not allow would be one), and the
browser asks no http(s) origin for anything.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine

from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.dashboard.report import build_report, portfolio_pages, team_pages

from ..dashboard_support import SandboxStore, cli_on
from .browsing import Browser, DrawnChart

_PAGES = 'return Array.from(document.querySelectorAll("article.report-page")).map((a) => a.id);'
_SHOWN = """return Array.from(document.querySelectorAll("article.report-page"))
  .filter((a) => !a.hidden).map((a) => a.id);"""
_REQUESTED = "return performance.getEntriesByType('resource').map((entry) => entry.name);"


def _show(browser: Browser, page: str) -> list[DrawnChart]:
    browser.script("window.location.hash = arguments[0];", page)
    charts = browser.charts(within=f'article[id="{page}"]')
    assert browser.script(_SHOWN) == [page]
    return charts


def _assert_drawn(charts: list[DrawnChart]) -> None:
    assert charts
    for chart in charts:
        assert chart.series == chart.expected_series > 0, chart
        assert chart.points == chart.expected_points > 0, chart
        if chart.kind == "sparkline":
            assert chart.width == 140, chart  # not the size of a hidden element


def _expected_pages(engine: Engine, store: SandboxStore) -> list[str]:
    """The portfolio, the requests and strategy pages and one page per open request (in the
    order `pmo-sync portfolio` lists them on the store's day), then each team's page and,
    for a team that runs sprints, its sprints, then the epics and governance pages."""
    reads = DashboardReads(engine)
    sprinting = {v.team for v in reads.values("sprint", metrics=["committed_items"])}
    listed = cli_on(store, "portfolio", "--today", store.day.isoformat(), "--format", "csv")
    assert listed.exit_code == 0, listed.output
    requests = [
        f"request_page-{quote(row['source'], safe='')}-{quote(row['key'], safe='')}"
        for row in csv.DictReader(io.StringIO(listed.stdout))
    ]
    pages = ["portfolio", "requests", "strategy", *requests]
    for team in reads.team_names():
        pages.append(f"team-{quote(team, safe='')}")
        if team in sprinting:
            pages.append(f"sprints-{quote(team, safe='')}")
    return [*pages, "epics", "governance"]


def test_the_report_file_opens_offline_with_every_page_drawn(
    browser: Browser, sandbox_store: SandboxStore, sandbox_engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    result = cli_on(sandbox_store, "report", "--html", "-o", str(target))
    assert result.exit_code == 0, result.output
    expected = _expected_pages(sandbox_engine, sandbox_store)
    assert sum(p.startswith("request_page-") for p in expected) > 0  # the sandboxes' epics
    assert result.output.strip().endswith(f"{len(expected)} pages)"), result.output
    charts = browser.open(target.as_uri(), within="article.report-page:not([hidden])")
    assert browser.script(_PAGES) == expected
    assert browser.script(_SHOWN) == ["portfolio"]
    _assert_drawn(charts)
    assert len(charts) == 2 * len(
        browser.script("return document.querySelectorAll('article#portfolio tr[data-team]')")
    )
    histories = 0
    for page in expected[1:-2]:
        drawn = _show(browser, page)
        kinds = {chart.kind for chart in drawn}
        if page == "requests":
            assert drawn == []  # a table
            continue
        if page.startswith("request_page-"):
            # The refresh kept one forecast a request: a chart unless it has no date at all.
            assert kinds <= {"forecast-history"}, (page, kinds)
            histories += len(drawn)
            if drawn:
                _assert_drawn(drawn)
            continue
        _assert_drawn(drawn)
        if page == "strategy":
            assert "themes" in kinds, (page, kinds)  # every item unaligned: one bar a measure
        elif page.startswith("team-"):
            assert {"cfd", "scatter", "run", "histogram"} <= kinds, (page, kinds)
        else:
            assert "velocity" in kinds, (page, kinds)
    assert histories > 0
    for page in expected[-2:]:  # tables, no chart
        assert _show(browser, page) == []
    epics = "return document.querySelectorAll('article#epics tr[data-epic]').length"
    assert browser.script(epics) == len(PortfolioReads(sandbox_engine).epics())
    requested = browser.script(_REQUESTED)
    assert [name for name in requested if re.match(r"https?:", name)] == []


def test_each_page_is_shown_by_its_anchor_and_drawn_when_first_shown(
    browser: Browser, sandbox_engine: Engine, tmp_path: Path
) -> None:
    """Team Alpha's report (the portfolio, its team and sprints pages): the team page's
    charts are drawn when its anchor is followed, at their size; an anchor the file does
    not hold says so over the first page."""
    target = tmp_path / "two-pages.html"
    written = build_report(sandbox_engine, pages=[portfolio_pages, team_pages], team="Team Alpha")
    target.write_text(written.html, encoding="utf-8")
    browser.open(target.as_uri(), within="article.report-page:not([hidden])")
    assert browser.script(_PAGES) == ["portfolio", "team-Team%20Alpha", "sprints-Team%20Alpha"]
    hidden = browser.script(
        "return document.querySelectorAll('article[hidden] .plot[data-drawn]').length"
    )
    assert hidden == 0  # the hidden page's charts wait until it is shown
    team = _show(browser, "team-Team%20Alpha")
    _assert_drawn(team)
    assert len(team) == 8
    assert browser.script("return document.title") == "Team Alpha · pmo-sync report"
    current = (
        "return Array.from(document.querySelectorAll('header nav a[aria-current]'))"
        ".map((a) => a.getAttribute('href'));"
    )
    assert browser.script(current) == []  # the shared nav has no entry for one team's page
    _assert_drawn(_show(browser, "portfolio"))
    assert browser.script(current) == ["#portfolio"]
    browser.script("window.location.hash = 'team-Nobody';")
    browser.charts(within="article.report-page:not([hidden])")
    assert browser.script(_SHOWN) == ["portfolio"]
    assert browser.script("return document.querySelector('[data-report-missing]').hidden") is False
    requested = browser.script(_REQUESTED)
    assert [name for name in requested if re.match(r"https?:", name)] == []
