"""The team page: worked out by hand on a tiny store, and equal to the stored values of the
sandboxes' store for every team."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.charts import Chart
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.team import (
    TeamPage,
    aging_columns,
    build_team,
    histogram_bins,
    stage_order,
)
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_flow import FlowReads, ItemPoint
from pmo_sync.store.kpis import KpiValue, read_kpi_values

from . import handbuilt
from .conftest import SANDBOX_DAY


def _page(engine: Engine, team: str, **filters: object) -> TeamPage:
    reads = DashboardReads(engine)
    today = reads.as_of()
    assert today is not None
    page = build_team(reads, FlowReads(engine), team, Filters(**filters), today)  # type: ignore[arg-type]
    assert page is not None
    return page


def _traces(chart: Chart | None) -> dict[str, dict]:
    assert chart is not None
    return {trace["name"]: trace for trace in chart.figure["data"]}


def _xy(trace: dict) -> list[tuple[object, object]]:
    return list(zip(trace["x"], trace["y"], strict=True))


# -- pure helpers -----------------------------------------------------------------------------


def test_histogram_bins_are_whole_days_with_the_gaps_kept() -> None:
    assert histogram_bins([1.0, 2.0, 2.5, 4.0, 4.99]) == [(1, 1), (2, 2), (3, 0), (4, 2)]
    assert histogram_bins([0.2]) == [(0, 1)]
    assert histogram_bins([]) == []


def _point(key: str, status: str, stage: str) -> ItemPoint:
    return ItemPoint(key, "s", key, "u", status, stage, None, None, 1.0)


def test_aging_columns_follow_the_workflow_then_the_category_then_the_name() -> None:
    order = {"To Do": 0.0, "In Progress": 1.0, "Review": 2.0, "Done": 3.0}
    points = [
        _point("A", "Review", "in_progress"),
        _point("B", "Waiting", "todo"),
        _point("C", "Blocked", "in_progress"),
        _point("D", "In Progress", "in_progress"),
        _point("E", "Appeal", "in_progress"),
    ]
    assert aging_columns(points, order) == ["Waiting", "In Progress", "Review", "Appeal", "Blocked"]


def test_stage_order_is_the_stored_positions_then_unpositioned_cfd_stages_by_name() -> None:
    def v(metric: str, value: float) -> list[KpiValue]:
        return [KpiValue("team", "T", metric, "current", value, "T")]

    metrics = {
        m: v(m, value)
        for m, value in [
            ("stage_index:Done", 2.0),
            ("stage_index:To Do", 0.0),
            ("stage_index:Doing", 1.0),
            ("cfd_in_stage:Zeta", 0.0),
            ("cfd_in_stage:Alpha", 0.0),
            ("cfd_in_stage:Done", 0.0),
        ]
    }
    assert list(stage_order(metrics)) == ["To Do", "Doing", "Done", "Alpha", "Zeta"]


# -- the hand-built store -----------------------------------------------------------------------


@pytest.fixture
def tiny(engine: Engine) -> Engine:
    handbuilt.fill(engine)
    return engine


def test_the_flow_charts_are_the_stored_series_in_the_window(tiny: Engine) -> None:
    page = _page(tiny, "Alpha")  # 90 days: from 2025-12-13
    assert (page.first, page.last) == (date(2025, 12, 13), handbuilt.AS_OF)
    cfd = _traces(page.cfd)
    # stacked last stage first: Done at the bottom, To Do on top
    assert list(cfd) == ["Done", "Review", "In Progress", "To Do"]
    days = ["2026-01-01", "2026-03-10", "2026-03-11", "2026-03-12"]
    assert _xy(cfd["Done"]) == list(zip(days, [0.0, 2.0, 3.0, 4.0], strict=True))
    assert _xy(cfd["Review"]) == list(zip(days, [0.0, 1.0, 1.0, 1.0], strict=True))
    assert _xy(cfd["In Progress"]) == list(zip(days, [1.0, 2.0, 2.0, 2.0], strict=True))
    assert _xy(cfd["To Do"]) == list(zip(days, [5.0, 3.0, 2.0, 2.0], strict=True))
    assert all(trace["stackgroup"] == "cfd" for trace in cfd.values())
    assert page.cfd is not None and (page.cfd.series_count, page.cfd.point_count) == (4, 16)
    assert _xy(_traces(page.throughput)["done per day"]) == [
        ("2026-01-05", 1.0), ("2026-03-10", 1.0), ("2026-03-11", 1.0), ("2026-03-12", 1.0)
    ]  # fmt: skip
    assert _xy(_traces(page.wip)["WIP per day"]) == [
        ("2026-01-01", 1.0), ("2026-03-10", 3.0), ("2026-03-11", 3.0), ("2026-03-12", 3.0)
    ]  # fmt: skip

    short = _page(tiny, "Alpha", window_days=30)  # from 2026-02-11: January drops out
    assert _traces(short.cfd)["Done"]["x"] == days[1:]
    assert [x for x, _ in _xy(_traces(short.throughput)["done per day"])] == days[1:]
    assert short.cfd is not None and short.cfd.point_count == 12


def test_the_scatter_and_histogram_are_the_done_items_with_their_stored_cycle_times(
    tiny: Engine,
) -> None:
    page = _page(tiny, "Alpha")
    dots = _traces(page.scatter)["done items"]
    # by done day: A-3 (5 Jan), A-1 (10 Mar), A-2 (11 Mar), X-1 of jira-a (12 Mar)
    assert _xy(dots) == [
        ("2026-01-05", 2.0), ("2026-03-10", 2.5), ("2026-03-11", 4.0), ("2026-03-12", 1.0)
    ]  # fmt: skip
    keys = [c[0] for c in dots["customdata"]]
    assert keys == ["A-3", "A-1", "A-2", "jira-a:X-1"]
    titles = [f"Item {k} of Alpha" for k in ("A-3", "A-1", "A-2", "X-1")]
    assert [c[1] for c in dots["customdata"]] == titles
    # A-1 is jira-a's item, not the deleted trello-b item of the same key
    assert re.fullmatch(r"https://tracker\.test/\d+/A-1", dots["customdata"][1][2])
    assert dots["customdata"][1][2] != dots["customdata"][3][2]
    lines = _traces(page.scatter)
    for p, value in handbuilt.PERCENTILES.items():
        assert _xy(lines[f"p{p}"]) == [("2026-01-05", value), ("2026-03-12", value)]
    assert page.cycle_time_percentiles == handbuilt.PERCENTILES
    assert page.percentile_window == handbuilt.WINDOW
    # 1.0 -> bin 1; 2.0, 2.5 -> bin 2; none in bin 3; 4.0 -> bin 4
    assert _xy(_traces(page.histogram)["done items"]) == [(1, 1.0), (2, 2.0), (3, 0.0), (4, 1.0)]

    short = _page(tiny, "Alpha", window_days=30)  # A-3, done in January, drops out
    assert [c[0] for c in _traces(short.scatter)["done items"]["customdata"]] == keys[1:]
    assert _xy(_traces(short.histogram)["done items"]) == [(1, 1.0), (2, 1.0), (3, 0.0), (4, 1.0)]


def test_the_aging_chart_puts_each_open_item_in_its_status_over_the_percentile_bands(
    tiny: Engine,
) -> None:
    page = _page(tiny, "Alpha")
    traces = _traces(page.aging)
    assert list(traces) == ["p50", "p70", "p85", "p95", "open items"]
    items = traces["open items"]
    assert _xy(items) == [("Review", 6.0), ("In Progress", 1.0), ("Blocked", 2.0)]
    assert [c[0] for c in items["customdata"]] == ["A-4", "A-5", "A-7"]
    columns = ["In Progress", "Review", "Blocked"]  # workflow order; Blocked is no stage
    assert page.aging is not None
    assert page.aging.figure["layout"]["xaxis"]["categoryarray"] == columns
    for p, value in handbuilt.PERCENTILES.items():
        assert _xy(traces[f"p{p}"]) == [(c, value) for c in columns]
    assert traces["p50"]["fill"] == "tozeroy" and traces["p95"]["fill"] == "tonexty"


def test_the_forecast_charts_are_the_stored_distributions_and_percentiles(tiny: Engine) -> None:
    page = _page(tiny, "Alpha")
    assert page.open_items == 3
    assert page.forecast_dates == handbuilt.FORECAST_DATES
    assert page.forecast_counts == handbuilt.FORECAST_COUNTS
    when = _traces(page.when)
    assert _xy(when["share of trials"]) == list(handbuilt.DONE_SHARES.items())
    assert _xy(when["p50"]) == [("2026-03-14", 0), ("2026-03-14", 0.5)]
    assert _xy(when["p95"]) == [("2026-03-16", 0), ("2026-03-16", 0.5)]
    how_many = _traces(page.how_many)
    assert _xy(how_many["share of trials"]) == [(0, 0.1), (2, 0.3), (10, 0.6)]
    assert [how_many[f"p{p}"]["x"][0] for p in (50, 85, 95)] == [10, 2, 0]
    assert page.how_many is not None and page.how_many.series_count == 4


def test_a_source_filter_keeps_that_sources_items_and_an_unknown_one_is_said(
    tiny: Engine,
) -> None:
    page = _page(tiny, "Alpha", source="jira-a")
    assert page.scatter is not None and not page.unknown_source
    other = _page(tiny, "Alpha", source="trello-b")  # Alpha has no trello-b item
    assert other.unknown_source and other.scatter is None and other.aging is None
    assert other.cfd is not None  # the team's own series stay
    beta = _page(tiny, "Beta")
    assert [c[0] for c in _traces(beta.aging)["open items"]["customdata"]] == ["trello-b:X-1"]
    client = create_app(tiny).test_client()
    html = client.get("/teams/Alpha?source=trello-b").get_data(as_text=True)
    assert "No item of this team comes from “trello-b”" in html


def test_the_page_serves_every_chart_and_an_unknown_team_is_404(tiny: Engine) -> None:
    client = create_app(tiny).test_client()
    response = client.get("/teams/Alpha")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    kinds = re.findall(r'data-chart-kind="([^"]+)" data-series="(\d+)" data-points="(\d+)"', html)
    assert kinds == [
        ("cfd", "4", "16"),
        ("scatter", "5", "12"),  # 4 items + 4 lines of 2 points
        ("aging", "5", "15"),  # 4 bands of 3 columns + 3 items
        ("run", "1", "4"),
        ("run", "1", "4"),
        ("histogram", "1", "4"),
        ("distribution", "4", "9"),  # 3 days + 3 lines of 2 points
        ("distribution", "4", "9"),
    ]
    assert 'data-metric="cycle_time_p85_days">4.0 d<' in html
    assert "p50 <strong>2026-03-14</strong>" in html
    assert client.get("/teams/Nobody").status_code == 404
    portfolio = client.get("/").get_data(as_text=True)
    assert 'href="/teams/Alpha"' in portfolio


# -- the sandboxes' store -----------------------------------------------------------------------


def _stored(engine: Engine) -> dict[str, dict[str, dict[str, float | None]]]:
    """Team (or item team) → metric → window or item key → value."""
    found: dict[str, dict[str, dict[str, float | None]]] = defaultdict(lambda: defaultdict(dict))
    for v in read_kpi_values(engine, scopes=["team"]):
        found[v.scope_key][v.metric][v.window] = v.value
    for v in read_kpi_values(engine, scopes=["item"]):
        if v.metric in ("cycle_time_days", "wip_age_days") and v.team is not None:
            found[v.team][v.metric][v.scope_key] = v.value
    return found


def test_every_team_page_draws_its_stored_values(sandbox_engine: Engine) -> None:
    stored = _stored(sandbox_engine)
    first = SANDBOX_DAY - timedelta(days=364)
    teams = DashboardReads(sandbox_engine).team_names()
    assert len(teams) == 8
    for team in teams:
        page = _page(sandbox_engine, team, window_days=365)  # the whole stored history
        mine = stored[team]
        stages = sorted(
            (m.removeprefix("stage_index:") for m in mine if m.startswith("stage_index:")),
            key=lambda s: mine[f"stage_index:{s}"]["current"] or 0.0,
        )
        assert list(_traces(page.cfd)) == list(reversed(stages)), team
        for stage, trace in _traces(page.cfd).items():
            assert _xy(trace) == sorted(mine[f"cfd_in_stage:{stage}"].items()), (team, stage)
        for metric, chart in (("throughput_day", page.throughput), ("wip_day", page.wip)):
            (trace,) = _traces(chart).values()
            assert _xy(trace) == sorted(mine[metric].items()), (team, metric)
            assert all(date.fromisoformat(x) >= first for x in trace["x"])
        dots = _traces(page.scatter)["done items"]
        cycle = {c[0]: y for c, y in zip(dots["customdata"], dots["y"], strict=True)}
        assert cycle == mine["cycle_time_days"], team
        aging: dict[str, float | None] = {}
        if page.aging is not None:  # a team with nothing in progress has no aging chart
            ages = _traces(page.aging)["open items"]
            aging = {c[0]: y for c, y in zip(ages["customdata"], ages["y"], strict=True)}
        assert aging == mine.get("wip_age_days", {}), team
        assert sum(_traces(page.histogram)["done items"]["y"]) == len(cycle)
        for p in (50, 70, 85, 95):
            window, value = next(iter(mine[f"cycle_time_p{p}_days"].items()))
            assert page.cycle_time_percentiles[p] == value and page.percentile_window == window
        when = _traces(page.when)["share of trials"]
        assert _xy(when) == sorted(mine["forecast_done_share"].items())
        counts = _traces(page.how_many)["share of trials"]
        assert _xy(counts) == sorted((int(n), s) for n, s in mine["forecast_items_share"].items())


def test_every_team_page_is_served_and_the_window_narrows_it(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    teams = DashboardReads(sandbox_engine).team_names()
    for team in teams:
        url = f"/teams/{quote(team)}"
        response = client.get(url)
        assert response.status_code == 200, team
        html = response.get_data(as_text=True)
        assert f'<h1 data-team="{team}">' in html
        assert "<script>" not in html  # no inline script
        runs = re.findall(r'data-chart-kind="run" data-series="1" data-points="(\d+)"', html)
        assert runs == ["89", "89"]  # the refresh's 89 stored days, all inside 90
        short = client.get(f"{url}?window=30").get_data(as_text=True)
        runs = re.findall(r'data-chart-kind="run" data-series="1" data-points="(\d+)"', short)
        assert runs == ["30", "30"]
    assert client.get("/teams/Nobody").status_code == 404
    portfolio = client.get("/").get_data(as_text=True)
    for team in teams:
        assert f'href="/teams/{quote(team)}"' in portfolio
