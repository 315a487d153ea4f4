"""The requests, request and strategy pages in a real browser, on the scripted portfolio.

The dashboard serves the scripted store (tests/dashboard/scripted_portfolio.py) on day 42:
the requests page lists the CLI's five open requests with their marks, the theme and team
filters change the URL and what the page lists, a request's page draws its forecast's
history, the strategy page its two charts; no page logs a console error or asks another
origin for anything. The report file shows a request's page by its anchor, offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.reads_requests import PortfolioSettings
from pmo_sync.dashboard.report import build_report, request_pages
from pmo_sync.dashboard.server import WebServer
from pmo_sync.store.engine import make_engine

from ..dashboard.scripted_portfolio import DAY_42, PORTFOLIO, ScriptedStore, forecasts, iso
from .browsing import Browser, DrawnChart

SETTINGS = PortfolioSettings(portfolio=PORTFOLIO)
_ROWS = """
return Array.from(document.querySelectorAll("table[data-table=requests] tr[data-request]"))
  .map((row) => ({
    key: row.dataset.request,
    href: row.querySelector("th a").getAttribute("href"),
    p85: (row.querySelector("td[data-metric=p85]") || {}).textContent,
    risk: row.querySelector("td[data-at-risk] .risk") !== null,
  }));
"""
_REQUESTED = "return performance.getEntriesByType('resource').map((entry) => entry.name);"


@pytest.fixture(scope="module")
def served(scripted_store: ScriptedStore) -> Iterator[str]:
    """The dashboard on the scripted store, read-only, on loopback, on day 42."""
    engine = make_engine(scripted_store.url, read_only=True)
    server = WebServer(create_app(engine, today=lambda: DAY_42, settings=SETTINGS), "127.0.0.1", 0)
    server.start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        engine.dispose()


def _only_here(browser: Browser, origin: str) -> None:
    """Every resource the page loaded came from the dashboard itself."""
    requested = browser.script(_REQUESTED)
    assert requested and all(name.startswith(origin + "/") for name in requested), requested


def _choose(browser: Browser, name: str, text: str, wanted: str) -> None:
    """Pick `text` in the select `name` and wait for the reload (the other form keeps the
    value as a hidden input of that name: the select is the one to pick in)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    select = browser.driver.find_element(By.CSS_SELECTOR, f'select[name="{name}"]')
    Select(select).select_by_visible_text(text)
    WebDriverWait(browser.driver, 30).until(lambda d: wanted in d.current_url)
    browser.charts()


def _drawn(charts: list[DrawnChart]) -> None:
    for chart in charts:
        assert chart.series == chart.expected_series > 0, chart
        assert chart.points == chart.expected_points > 0, chart


def test_the_requests_filters_change_the_url_and_the_rows(
    browser: Browser, served: str, scripted_store: ScriptedStore
) -> None:
    expected = forecasts(scripted_store.url)
    assert browser.open(served + "/requests") == []  # a table, no chart
    rows = browser.script(_ROWS)
    assert [r["key"] for r in rows] == ["ABC-12", "DEF-12", "DEF-13", "GHI-11"]
    for row in rows:
        f = expected[row["key"]]
        assert row["p85"] == iso(f, 85)
        assert row["risk"] == (f.due_probability is not None and f.due_probability < 0.5)
        assert row["href"] == f"/requests/acme-jira/{row['key']}"
    _only_here(browser, served)
    _choose(browser, "theme", "Growth", "theme=Growth")
    assert browser.driver.current_url == f"{served}/requests?theme=Growth"
    assert [r["key"] for r in browser.script(_ROWS)] == ["ABC-12", "DEF-12"]
    _choose(browser, "team", "Team Beta", "team=")
    assert browser.driver.current_url == f"{served}/requests?theme=Growth&team=Team+Beta"
    assert [r["key"] for r in browser.script(_ROWS)] == ["DEF-12"]
    _choose(browser, "theme", "Every theme", "requests?team=")  # back to every theme
    assert browser.driver.current_url == f"{served}/requests?team=Team+Beta"
    assert [r["key"] for r in browser.script(_ROWS)] == ["DEF-12", "DEF-13"]


def test_a_request_page_draws_its_forecast_history(
    browser: Browser, served: str, scripted_store: ScriptedStore
) -> None:
    from selenium.webdriver.common.by import By

    browser.open(served + "/requests")
    browser.driver.find_element(By.CSS_SELECTOR, 'a[href="/requests/acme-jira/DEF-12"]').click()
    charts = browser.charts()
    assert browser.driver.current_url == f"{served}/requests/acme-jira/DEF-12"
    assert [(c.kind, c.names) for c in charts] == [("forecast-history", ["p85", "due date"])]
    _drawn(charts)
    e2 = forecasts(scripted_store.url)["DEF-12"]
    sentence = browser.script("return document.querySelector('[data-sentence]').textContent")
    assert sentence.startswith(f"85% likely done by {iso(e2, 85)}; due 2030-02-26: ")
    _only_here(browser, served)


def test_the_strategy_page_draws_themes_and_releases(browser: Browser, served: str) -> None:
    charts = browser.open(served + "/portfolio/strategy")
    assert [(c.kind, c.names) for c in charts] == [
        ("themes", ["in progress (item-days)", "items done", "open requests", "target"]),
        ("run", ["Growth", "Reliability", "No theme"]),
        ("releases", ["Team Alpha", "Team Beta"]),
    ]
    _drawn(charts)
    cells = browser.script(
        "return Array.from(document.querySelectorAll('table[data-table=dependency-matrix] "
        'td[data-open]:not([data-open="0"])\')).map((td) => '
        "[td.closest('tr').dataset.blockerTeam, td.dataset.waitingTeam, td.textContent.trim()]);"
    )
    assert cells == [
        ["Team Beta", "Team Alpha", "1 (1 at risk)"],
        ["Team Gamma", "Team Beta", "1 (1 at risk)"],
    ]
    _choose(browser, "team", "Team Beta", "team=")
    assert [c.names for c in browser.charts()][2] == ["Team Beta"]
    _only_here(browser, served)


def test_the_report_shows_a_request_page_by_its_anchor_offline(
    browser: Browser, scripted_store: ScriptedStore, tmp_path: Path
) -> None:
    engine = make_engine(scripted_store.url, read_only=True)
    try:
        written = build_report(
            engine,
            pages=[request_pages],
            now=datetime(2030, 2, 18, 12, tzinfo=UTC),
            settings=SETTINGS,
        )
    finally:
        engine.dispose()
    target = tmp_path / "requests.html"
    target.write_text(written.html, encoding="utf-8")
    assert browser.open(target.as_uri(), within="article.report-page:not([hidden])") == []
    browser.script("window.location.hash = arguments[0];", "request_page-acme-jira-DEF-12")
    charts = browser.charts(within='article[id="request_page-acme-jira-DEF-12"]')
    assert [c.kind for c in charts] == ["forecast-history"]
    _drawn(charts)
    requested = browser.script(_REQUESTED)
    assert [name for name in requested if re.match(r"https?:", name)] == []
