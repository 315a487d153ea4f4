"""The epics pages: exact figures on a tiny hand-built store, stored forecasts on the sandboxes'."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages import epics as epics_page
from pmo_sync.dashboard.pages.epics import (
    NO_THROUGHPUT,
    EpicsPage,
    Progress,
    build_epic,
    build_epics,
)
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.kpi.render import public_value
from pmo_sync.store.kpis import read_kpi_values

from . import tiny_portfolio as tiny


@pytest.fixture
def tiny_engine(engine: Engine) -> Engine:
    return tiny.fill(engine)


def _page(engine: Engine, filters: Filters | None = None, search: str = "") -> EpicsPage:
    reads, portfolio = DashboardReads(engine), PortfolioReads(engine)
    return build_epics(reads, portfolio, filters or Filters(), search)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-epic="([^"]+)"', html)


def test_children_counts_share_order_and_forecasts_are_exact(tiny_engine: Engine) -> None:
    page = _page(tiny_engine)
    assert [e.key for e in page.epics] == tiny.ORDER
    by_key = {e.key: e for e in page.epics if e.source == "jira" or e.key == "100"}
    ado = next(e for e in page.epics if (e.source, e.key) == ("ado", "E-3"))
    # E-9 (an epic), C-5 (deleted) and ado's 102 (another connector) are not children of E-1.
    assert by_key["E-1"].progress == Progress(todo=1, in_progress=1, done=2)
    assert by_key["E-1"].progress.done_share == 0.5
    assert by_key["E-3"].progress == Progress(todo=1, in_progress=0, done=1)
    assert ado.progress == Progress(todo=1, in_progress=0, done=0)  # not jira's E-3's
    assert by_key["E-4"].progress.done_share == 1.0
    assert by_key["E-5"].progress.total == 0 and by_key["E-5"].progress.done_share is None
    assert by_key["100"].progress == Progress(todo=0, in_progress=1, done=0)
    for key, (p50, p85, p95, remaining) in tiny.FORECASTS.items():
        forecast = by_key[key].forecast
        assert forecast is not None
        assert (forecast.p50, forecast.p85, forecast.p95) == (p50, p85, p95)
        assert by_key[key].remaining == remaining and by_key[key].reason is None
    # ado's E-3 shares the key of jira's, whose stored forecast (Team Beta's) is not its own.
    assert (ado.forecast, ado.reason, ado.team) == (None, NO_THROUGHPUT, "Team Alpha (ado)")
    assert {k: e.reason for k, e in by_key.items() if e.forecast is None} == {
        "E-2": NO_THROUGHPUT,
        "100": NO_THROUGHPUT,
        "E-4": "done",
        "E-5": "no child items",
        "E-9": "no child items",
    }
    assert {k: e.team for k, e in by_key.items()} == {
        "E-1": "Team Alpha (jira)",
        "E-2": "Team Alpha (jira)",
        "E-3": "Team Beta",
        "E-4": "Team Beta",
        "E-5": "Team Beta",
        "E-9": "Team Alpha (jira)",
        "100": "Platform",  # Orion, renamed by kpis.yaml: found from its items' stored values
    }
    assert by_key["E-2"].remaining == 2 and by_key["100"].remaining == 1


def test_the_list_page_shows_bars_dates_and_reasons(tiny_engine: Engine) -> None:
    html = create_app(tiny_engine).test_client().get("/epics").get_data(as_text=True)
    assert _rows(html) == tiny.ORDER
    row = re.search(r'<tr data-epic="E-1".*?</tr>', html, re.S)
    assert row is not None
    assert 'data-todo="1" data-in-progress="1" data-done="2"' in row.group(0)
    assert 'class="done" style="width: 50.0%"' in row.group(0)
    assert '<span data-metric="done_share">50%</span>' in row.group(0)
    assert '<td data-metric="p85">2027-01-20</td>' in row.group(0)
    assert 'href="/epics/E-1"' in row.group(0)  # one connector has E-1: the key is enough
    assert 'href="/epics/E-3?source=ado"' in html and 'href="/epics/E-3?source=jira"' in html
    assert f'href="{tiny.url("jira", "E-1")}"' in row.group(0)
    row = re.search(r'<tr data-epic="E-2".*?</tr>', html, re.S)
    assert row is not None and f"data-reason>{NO_THROUGHPUT}</td>" in row.group(0)
    assert "<script>" not in html


def test_search_by_key_or_title_is_in_the_url_and_takes_text_literally(tiny_engine: Engine) -> None:
    client = create_app(tiny_engine).test_client()
    assert _rows(client.get("/epics?q=e-1").get_data(as_text=True)) == ["E-1"]
    assert _rows(client.get("/epics?q=BILLING").get_data(as_text=True)) == ["E-3"]
    html = client.get("/epics?q=BILLING").get_data(as_text=True)
    assert 'data-epic="E-3" data-source="jira"' in html
    assert _rows(client.get("/epics?q=%25").get_data(as_text=True)) == []  # `%` is no wildcard
    html = client.get("/epics?q=platform&team=Platform").get_data(as_text=True)
    assert _rows(html) == ["100"]
    assert 'name="q" value="platform"' in html
    assert '<input type="hidden" name="q" value="platform">' in html  # the filter bar keeps it


def test_team_and_source_filters_narrow_the_list(tiny_engine: Engine) -> None:
    assert [e.key for e in _page(tiny_engine, Filters(team="Team Beta")).epics] == [
        "E-3",
        "E-4",
        "E-5",
    ]
    assert [e.key for e in _page(tiny_engine, Filters(source="ado")).epics] == ["E-3", "100"]
    page = _page(tiny_engine, Filters(team="Nobody"))
    assert page.epics == [] and page.unknown_team


def test_one_epic_page_says_its_forecast_in_words(tiny_engine: Engine) -> None:
    reads, portfolio = DashboardReads(tiny_engine), PortfolioReads(tiny_engine)
    page = build_epic(reads, portfolio, Filters(), "E-1")
    assert page is not None
    assert [(c.key, c.stage, c.cycle_time_days, c.wip_age_days) for c in page.children] == [
        ("C-1", "done", 3.5, None),
        ("C-2", "done", None, None),
        ("C-3", "in_progress", None, 6.25),
        ("C-4", "todo", None, None),
    ]
    assert page.epic.forecast is not None
    assert page.epic.forecast.sentences == [
        "50% likely done by 2027-01-01",
        "85% likely done by 2027-01-20",
        "95% likely done by 2027-02-01",
    ]
    client = create_app(tiny_engine).test_client()
    html = client.get("/epics/E-1").get_data(as_text=True)
    assert "<li>85% likely done by 2027-01-20</li>" in html
    assert f'href="{tiny.url("jira", "E-1")}"' in html
    assert re.findall(r'<tr data-child="([^"]+)"', html) == ["C-1", "C-2", "C-3", "C-4"]
    assert '<td data-metric="wip_age_days">6.2 d</td>' in html
    html = client.get("/epics/E-2").get_data(as_text=True)
    assert f"No forecast: {NO_THROUGHPUT}." in html
    assert client.get("/epics/E-1?source=ado").status_code == 404
    html = client.get("/epics/E-3").get_data(as_text=True)  # two connectors: the first, by name
    assert re.findall(r'<tr data-child="([^"]+)"', html) == ["103"]
    assert 'jira also has an epic E-3: <a href="/epics/E-3?source=jira">jira</a>' in " ".join(
        html.split()
    )
    html = client.get("/epics/E-3?source=jira").get_data(as_text=True)
    assert re.findall(r'<tr data-child="([^"]+)"', html) == ["C-8", "C-9"]
    missing = client.get("/epics/NOPE-1")
    assert missing.status_code == 404
    assert "No epic “NOPE-1”" in missing.get_data(as_text=True)


# -- the sandboxes' store -------------------------------------------------------------------------


def test_forecasts_are_the_stored_epic_values(sandbox_engine: Engine) -> None:
    stored = {(v.scope_key, v.metric): v for v in read_kpi_values(sandbox_engine, scopes=["epic"])}
    page = _page(sandbox_engine)
    assert page.epics
    shown: set[str] = set()
    for epic in page.epics:
        if epic.forecast is None:
            assert (epic.key, "forecast_done_p85_date") not in stored
            continue
        shown.add(epic.key)
        for p, day in ((50, epic.forecast.p50), (85, epic.forecast.p85), (95, epic.forecast.p95)):
            value = stored[epic.key, f"forecast_done_p{p}_date"]
            assert day is not None and day.isoformat() == public_value(value)
        assert epic.remaining == stored[epic.key, "remaining_items"].value
        assert epic.remaining == epic.progress.open
    assert shown == {key for key, metric in stored if metric == "forecast_done_p85_date"}
    for epic in page.epics:  # a done epic has no stored values: its children not done
        left = stored.get((epic.key, "remaining_items"))
        expected = left.value if left is not None and epic.is_open else epic.progress.open
        assert epic.remaining == expected, epic.key
    # the sandboxes close an epic once its children are done: none done with children open
    assert [e.key for e in page.epics if not e.is_open and e.remaining] == []
    dated = [e.forecast.p85 for e in page.epics if e.forecast and e.forecast.p85]
    assert dated == sorted(dated, reverse=True)

    html = create_app(sandbox_engine).test_client().get("/epics").get_data(as_text=True)
    for key in shown:
        row = re.search(rf'<tr data-epic="{re.escape(key)}".*?</tr>', html, re.S)
        assert row is not None
        p85 = public_value(stored[key, "forecast_done_p85_date"])
        assert f'<td data-metric="p85">{p85}</td>' in row.group(0)


def test_every_epic_page_renders_with_its_children(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    for epic in _page(sandbox_engine).epics:
        response = client.get(f"/epics/{epic.key}?source={epic.source}")
        assert response.status_code == 200, epic.key
        html = response.get_data(as_text=True)
        assert len(re.findall(r"<tr data-child=", html)) == epic.progress.total
        assert f'href="{epic.url}"' in html


def test_search_by_key_and_title_on_the_sandboxes(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    epic = _page(sandbox_engine).epics[0]
    assert epic.key in _rows(client.get(f"/epics?q={epic.key}").get_data(as_text=True))
    word = max(epic.title.split(), key=len)
    found = _page(sandbox_engine, search=word).epics
    assert epic.key in [e.key for e in found]
    assert all(word.lower() in f"{e.key} {e.title}".lower() for e in found)
    assert _rows(client.get(f"/epics?q={word}").get_data(as_text=True)) == [e.key for e in found]
    everything = _page(sandbox_engine).epics
    jira = _rows(client.get("/epics?source=sandbox-jira").get_data(as_text=True))
    assert jira == [e.key for e in everything if e.source == "sandbox-jira"]
    assert 0 < len(jira) < len(everything)


def test_progress_widths_add_up() -> None:
    progress = Progress(todo=1, in_progress=1, done=1)
    assert [progress.percent(s) for s in ("done", "in_progress", "todo")] == [33.33] * 3
    assert Progress().percent("done") == 0.0


def test_the_list_is_cut_in_pages_in_its_order(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(epics_page, "PAGE_SIZE", 3)
    client = create_app(tiny_engine).test_client()
    html = client.get("/epics").get_data(as_text=True)
    assert _rows(html) == tiny.ORDER[:3]
    assert 'data-total="8"' in html and 'href="/epics?page=2"' in html
    assert _rows(client.get("/epics?page=3").get_data(as_text=True)) == tiny.ORDER[6:]
    assert _rows(client.get("/epics?page=99").get_data(as_text=True)) == tiny.ORDER[6:]
    html = client.get("/epics?team=Team+Beta&q=e&page=2").get_data(as_text=True)
    assert _rows(html) == ["E-3", "E-4", "E-5"]  # they fit on one page: page 2 is page 1
    html = client.get("/epics?q=e-&page=2").get_data(as_text=True)
    assert 'href="/epics?q=e-"' in html  # back to page 1, the search kept


def test_the_report_holds_every_epic_and_the_findings_without_a_form(tiny_engine: Engine) -> None:
    from pmo_sync.dashboard.report import build_report, epics_and_governance_pages

    html = build_report(tiny_engine, pages=[epics_and_governance_pages]).html
    assert re.findall(r'<article class="report-page" id="([^"]+)"', html) == [
        "epics",
        "governance",
    ]
    assert "<form" not in html
    epics = re.search(r'<article class="report-page" id="epics".*?</article>', html, re.S)
    assert epics is not None
    assert _rows(epics.group(0)) == tiny.ORDER
    assert f'<a href="{tiny.url("jira", "E-1")}">E-1</a>' in epics.group(0)  # no page per epic
    findings = re.search(r'<article class="report-page" id="governance".*?</article>', html, re.S)
    assert findings is not None
    assert re.findall(r'data-key="([^"]+)"', findings.group(0)) == ["101", "C-3", "Sprint 7"]
