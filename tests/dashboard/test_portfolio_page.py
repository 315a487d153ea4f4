"""The portfolio page against the sandboxes' store: its figures are the stored KPI values."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.epics import EpicSummary, Forecast, Progress, order_key
from pmo_sync.dashboard.pages.portfolio import at_risk_epics, build_portfolio
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.store.kpis import read_kpi_values

from . import tiny_portfolio as tiny
from .conftest import SANDBOX_DAY


def _stored(engine: Engine) -> dict[tuple[str, str, str], float | None]:
    return {
        (v.scope_key, v.metric, v.window): v.value for v in read_kpi_values(engine, scopes=["team"])
    }


def test_every_team_row_is_its_stored_values(sandbox_engine: Engine) -> None:
    reads = DashboardReads(sandbox_engine)
    assert reads.as_of() == SANDBOX_DAY
    page = build_portfolio(reads, Filters(), SANDBOX_DAY)
    stored = _stored(sandbox_engine)
    teams = sorted({key for key, _, _ in stored})
    assert [row.team for row in page.teams] == teams
    for row in page.teams:
        assert row.wip == stored[row.team, "wip", "current"]
        assert row.items == stored[row.team, "items", "current"]
        assert row.window is not None and row.window.endswith(SANDBOX_DAY.isoformat())
        assert row.done_in_window == stored[row.team, "done_in_window", row.window]
        assert row.cycle_time_p85_days == stored[row.team, "cycle_time_p85_days", row.window]
        weekly = sorted(
            (window[:10], value)
            for (team, metric, window), value in stored.items()
            if team == row.team and metric == "throughput_week"
        )
        assert row.throughput_trend is not None
        trace = row.throughput_trend.figure["data"][0]
        assert list(zip(trace["x"], trace["y"], strict=True)) == weekly[-len(trace["x"]) :]
    assert {f.connector for f in page.freshness} == {
        "sandbox-ado",
        "sandbox-jira",
        "sandbox-trello",
    }
    assert all(f.last_success is not None for f in page.freshness)


def test_the_page_shows_the_figures_and_a_strict_policy(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no remote origin
    html = response.get_data(as_text=True)
    stored = _stored(sandbox_engine)
    for team in sorted({key for key, _, _ in stored}):
        row = re.search(rf'<tr data-team="{re.escape(team)}">(.*?)</tr>', html, re.S)
        assert row is not None, team
        wip = re.search(r'data-metric="wip">(\d+)<', row.group(1))
        assert wip is not None and int(wip.group(1)) == stored[team, "wip", "current"]
    figures = re.findall(
        r'<script type="application/json" data-figure-for="[^"]+">(.*?)</script>', html
    )
    assert figures and all(json.loads(f)["data"] for f in figures)
    assert "<script>" not in html  # no inline script: the policy would block it


def test_a_team_filter_keeps_that_team_and_an_unknown_one_says_so(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    html = client.get("/?team=Team+Alpha").get_data(as_text=True)
    assert re.findall(r'<tr data-team="([^"]+)">', html) == ["Team Alpha"]
    html = client.get("/?team=Nobody").get_data(as_text=True)
    assert "No team is called “Nobody”" in html


# -- epics at risk, the source filter, findings linked to the governance page ----------------------


@pytest.fixture
def tiny_engine(engine: Engine) -> Engine:
    return tiny.fill(engine)


def test_epics_at_risk_are_undated_open_work_then_the_latest_p85(tiny_engine: Engine) -> None:
    page = build_portfolio(DashboardReads(tiny_engine), Filters(), tiny.DAY)
    # E-2, ado's E-3 and 100 have open children and no forecast; jira's E-3 is due after E-1;
    # E-4 is done, E-5 and E-9 have nothing to do.
    assert [(e.source, e.key) for e in page.at_risk] == [
        ("jira", "E-2"),
        ("ado", "E-3"),
        ("ado", "100"),
        ("jira", "E-3"),
        ("jira", "E-1"),
    ]
    html = create_app(tiny_engine).test_client().get("/").get_data(as_text=True)
    block = re.search(r'<table data-table="at-risk">.*?</table>', html, re.S)
    assert block is not None
    assert re.findall(r'<tr data-epic="([^"]+)"', block.group(0)) == [
        "E-2",
        "E-3",
        "100",
        "E-3",
        "E-1",
    ]
    assert '<td data-metric="p85">2027-03-01</td>' in block.group(0)


def test_only_the_ten_latest_dated_epics_are_at_risk() -> None:
    def epic(key: str, p85: date | None, stage: str = "todo") -> EpicSummary:
        forecast = Forecast("w", {50: p85, 85: p85, 95: p85}) if p85 else None
        return EpicSummary("s", key, key, "u", stage, stage, "T", Progress(todo=1), 1, forecast,
                           None if p85 else "no throughput history")  # fmt: skip

    dated = [epic(f"D-{n}", date(2027, 1, n)) for n in range(1, 13)]
    epics = sorted([*dated, epic("U-1", None), epic("X-1", None, "done")], key=order_key)
    assert [e.key for e in at_risk_epics(epics)] == ["U-1"] + [f"D-{n}" for n in range(12, 2, -1)]


def test_a_source_filter_keeps_that_connectors_teams(tiny_engine: Engine) -> None:
    reads = DashboardReads(tiny_engine)
    page = build_portfolio(reads, Filters(source="ado"), tiny.DAY)
    assert [t.team for t in page.teams] == ["Platform", "Team Alpha (ado)"]
    assert [e.key for e in page.at_risk] == ["E-3", "100"]
    page = build_portfolio(reads, Filters(source="jira"), tiny.DAY)
    assert [t.team for t in page.teams] == ["Team Alpha (jira)", "Team Beta"]
    page = build_portfolio(reads, Filters(source="nowhere"), tiny.DAY)
    assert page.unknown_source and len(page.teams) == len(tiny.TEAMS)


def test_findings_counts_link_to_the_governance_page(tiny_engine: Engine) -> None:
    html = create_app(tiny_engine).test_client().get("/?window=30").get_data(as_text=True)
    row = re.search(r'<tr data-team="Platform">(.*?)</tr>', html, re.S)
    assert row is not None
    assert (
        '<a class="sev sev-critical" href="/governance?team=Platform&amp;window=30">1 critical</a>'
        in row.group(1)
    )


def test_the_source_filter_on_the_sandboxes(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    html = client.get("/?source=sandbox-trello").get_data(as_text=True)
    assert re.findall(r'<tr data-team="([^"]+)">', html) == ["Team Delta", "Team Echo"]
    assert '<option value="sandbox-trello" selected>' in html
    html = client.get("/?source=sandbox-ado").get_data(as_text=True)
    assert re.findall(r'<tr data-team="([^"]+)">', html) == ["Atlas", "Orion", "Phoenix"]
    for nav in ('href="/epics?source=sandbox-ado"', 'href="/governance?source=sandbox-ado"'):
        assert nav in html
