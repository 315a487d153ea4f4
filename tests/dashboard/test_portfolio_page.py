"""The portfolio page against the sandboxes' store: its figures are the stored KPI values."""

from __future__ import annotations

import json
import re

from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.portfolio import build_portfolio
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.store.kpis import read_kpi_values

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
