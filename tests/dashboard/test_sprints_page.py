"""The sprints page: worked out by hand on a tiny store, and equal to the stored sprint values of
the sandboxes' store for every Scrum team."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import quote

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.charts import Chart
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.sprints import SprintsPage, build_sprints
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.store.kpis import read_kpi_values

from . import handbuilt


def _page(engine: Engine, team: str, wanted: str | None = None, **filters: object) -> SprintsPage:
    reads = DashboardReads(engine)
    today = reads.as_of()
    assert today is not None
    page = build_sprints(reads, team, Filters(**filters), today, wanted)  # type: ignore[arg-type]
    assert page is not None
    return page


def _traces(chart: Chart | None) -> dict[str, dict]:
    assert chart is not None
    return {trace["name"]: trace for trace in chart.figure["data"]}


def _xy(trace: dict) -> list[tuple[object, object]]:
    return list(zip(trace["x"], trace["y"], strict=True))


@pytest.fixture
def tiny(engine: Engine) -> Engine:
    handbuilt.fill(engine)
    return engine


def test_the_active_sprint_is_shown_by_default_with_its_burn_charts(tiny: Engine) -> None:
    page = _page(tiny, "Alpha")
    assert [s.key for s in page.sprints] == ["Sprint 0", "Sprint 1", "Sprint 2", "Sprint 3"]
    assert page.selected is not None and page.selected.key == "Sprint 2"
    assert _xy(_traces(page.burndown)["remaining points"]) == [
        ("2026-03-02", 8.0), ("2026-03-03", 5.0), ("2026-03-04", 3.0)
    ]  # fmt: skip
    burnup = _traces(page.burnup)
    assert burnup["done points"]["y"] == [0.0, 3.0, 5.0]
    assert burnup["scope points"]["y"] == [8.0, 8.0, 8.0]


def test_a_sprint_is_chosen_by_name_and_an_unknown_name_falls_back(tiny: Engine) -> None:
    page = _page(tiny, "Alpha", "Sprint 1")
    assert page.selected is not None and page.selected.key == "Sprint 1"
    assert _xy(_traces(page.burndown)["remaining points"]) == [
        ("2026-02-16", 8.0), ("2026-02-27", 3.0)
    ]  # fmt: skip
    assert _traces(page.burnup)["scope points"]["y"] == [8.0, 10.0]
    fallback = _page(tiny, "Alpha", "Sprint 99")
    assert fallback.selected is not None and fallback.selected.key == "Sprint 2"


def test_velocity_say_do_and_scope_change_per_measured_sprint(tiny: Engine) -> None:
    page = _page(tiny, "Alpha")
    velocity = _traces(page.velocity)
    sprints = ["Sprint 0", "Sprint 1", "Sprint 2"]  # the future Sprint 3 is not measured
    assert _xy(velocity["committed"]) == list(zip(sprints, [6.0, 8.0, 8.0], strict=True))
    assert _xy(velocity["completed"]) == list(zip(sprints, [6.0, 7.0, 5.0], strict=True))
    assert _xy(velocity["velocity"]) == [("Sprint 0", 6.0), ("Sprint 1", 6.5)]
    assert _xy(_traces(page.say_do)["say/do"]) == list(
        zip(sprints, [1.0, 0.875, 0.625], strict=True)
    )
    scope = _traces(page.scope_change)
    assert scope["added"]["y"] == [0.0, 2.0, 0.0]
    assert scope["removed"]["y"] == [0.0, -1.0, 0.0]  # drawn below zero

    short = _page(tiny, "Alpha", window_days=30)  # from 2026-02-11: Sprint 0 closed in January
    assert [s.key for s in short.sprints] == ["Sprint 1", "Sprint 2", "Sprint 3"]
    assert _traces(short.velocity)["committed"]["x"] == ["Sprint 1", "Sprint 2"]


def test_the_page_serves_the_table_and_a_team_without_sprints_says_so(tiny: Engine) -> None:
    client = create_app(tiny).test_client()
    response = client.get("/teams/Alpha/sprints")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr data-sprint="([^"]+)"', html)
    assert rows == ["Sprint 0", "Sprint 1", "Sprint 2", "Sprint 3"]
    row = re.search(r'<tr data-sprint="Sprint 1">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = dict(re.findall(r'data-metric="([a-z_]+)">([^<]*)<', row.group(1)))
    assert cells == {
        "committed_points": "8",
        "added_points": "2",
        "removed_points": "1",
        "completed_points": "7",
        "say_do": "88%",
        "velocity_points": "6.5",
    }
    kinds = re.findall(r'data-chart-kind="([^"]+)" data-series="(\d+)" data-points="(\d+)"', html)
    assert kinds == [
        ("burndown", "1", "3"),
        ("burnup", "2", "6"),
        ("velocity", "3", "8"),
        ("say-do", "1", "3"),
        ("scope", "2", "6"),
    ]
    chosen = client.get("/teams/Alpha/sprints?sprint=Sprint+1").get_data(as_text=True)
    assert '<strong data-sprint="Sprint 1">' in chosen
    beta = client.get("/teams/Beta/sprints")
    assert beta.status_code == 200
    assert "Beta has no sprints" in beta.get_data(as_text=True)
    assert "data-chart-kind" not in beta.get_data(as_text=True)
    assert client.get("/teams/Nobody/sprints").status_code == 404


# -- the sandboxes' store -----------------------------------------------------------------------


def test_every_scrum_teams_sprints_are_its_stored_values(sandbox_engine: Engine) -> None:
    stored: dict[str, dict[str, dict[str, float | None]]] = defaultdict(lambda: defaultdict(dict))
    windows: dict[str, str] = {}
    teams: dict[str, set[str]] = defaultdict(set)
    for v in read_kpi_values(sandbox_engine, scopes=["sprint"]):
        stored[v.scope_key][v.metric][v.window] = v.value
        assert v.team is not None
        teams[v.team].add(v.scope_key)
        if v.metric == "committed_points":
            windows[v.scope_key] = v.window
    client = create_app(sandbox_engine).test_client()
    assert len(teams) == 8  # every sandbox team runs sprints
    drawn = 0
    for team, keys in teams.items():
        page = _page(sandbox_engine, team, window_days=365)
        assert {s.key for s in page.sprints} == keys, team
        for sprint in page.sprints:
            assert sprint.window == windows[sprint.key]
            for metric in ("committed_points", "completed_points", "added_points"):
                assert sprint.get(metric) == stored[sprint.key][metric][sprint.window]
        velocity = _traces(page.velocity)
        for name, metric in (("committed", "committed_points"), ("completed", "completed_points")):
            for key, value in _xy(velocity[name]):
                assert value == stored[str(key)][metric][windows[str(key)]], (team, key)
        selected = page.selected
        assert selected is not None
        assert selected.state == ("active" if any(
            windows[k].startswith("active") for k in keys) else "closed")  # fmt: skip
        burndown = sorted(stored[selected.key].get("burndown_points", {}).items())
        if burndown:  # a sprint not started yet (an undated active one) has none stored
            remaining = _traces(page.burndown)["remaining points"]
            assert _xy(remaining) == burndown
            drawn += 1
        else:
            assert page.burndown is None
        response = client.get(f"/teams/{quote(team)}/sprints")
        assert response.status_code == 200, team
        html = response.get_data(as_text=True)
        assert set(re.findall(r'<tr data-sprint="([^"]+)"', html)) <= keys
        assert "<script>" not in html
    assert drawn >= 6  # most teams' current sprint has a burndown
