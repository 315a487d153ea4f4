"""The whole computation on a tiny team, down to the exact stored values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.compute import compute_kpis, date_value, kpi_values, value_date
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, SprintInfo, SprintStay, StatusChange
from pmo_sync.store.kpis import KpiValue

NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)  # a Thursday
STAGES = {"bench": {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def item(key: str, created: int, *moves: tuple[int, str, str], **extra: object) -> ItemHistory:
    return ItemHistory(
        key=key,
        source="bench",
        team="Alpha",
        item_type="story",
        created=at(created),
        initial_status="To Do",
        status_changes=tuple(StatusChange(at(d), f, t) for d, f, t in moves),
        **extra,  # type: ignore[arg-type]
    )


ITEMS = [
    # In Progress on the 2nd, Done on the 6th: cycle 2..6 = 5 days, lead 1..6 = 6 days;
    # 1 day waiting in To Do out of 5 elapsed: flow efficiency 4 / 5 = 0.8.
    item(
        "A-1",
        1,
        (2, "To Do", "In Progress"),
        (6, "In Progress", "Done"),
        estimate=3.0,
        sprint_stays=(SprintStay("bench:1", at(1), None),),
    ),
    # Started on the 10th, open on the 12th: WIP age 10, 11, 12 = 3 days. Added to the
    # sprint on the 5th, after it started: added scope, 2 points.
    item(
        "A-2",
        3,
        (10, "To Do", "In Progress"),
        estimate=2.0,
        sprint_stays=(SprintStay("bench:1", at(5), None),),
    ),
    item("A-3", 4),  # never started
]
SPRINT = SprintInfo("bench:1", "Alpha Sprint 1", "Alpha", "active", at(2, 9), at(13, 17))


def values() -> dict[tuple[str, str, str, str], float | None]:
    run = compute_kpis(ITEMS, [SPRINT], KpiConfig(), STAGES, NOW)
    return {(v.scope, v.scope_key, v.metric, v.window): v.value for v in kpi_values(run)}


def test_item_values_are_exact() -> None:
    got = values()
    items = {k: v for k, v in got.items() if k[0] == "item"}
    assert items == {
        ("item", "A-1", "cycle_time_days", "current"): 5.0,
        ("item", "A-1", "lead_time_days", "current"): 6.0,
        ("item", "A-1", "flow_efficiency", "current"): 0.8,
        ("item", "A-2", "wip_age_days", "current"): 3.0,
        # elapsed days per stage, all moves at 12:00, up to done or, for the open
        # to the start of the 12th (an open item's clock: the day's start)
        ("item", "A-1", "time_in_stage_days:To Do", "current"): 1.0,
        ("item", "A-1", "time_in_stage_days:In Progress", "current"): 4.0,
        ("item", "A-2", "time_in_stage_days:To Do", "current"): 7.0,
        ("item", "A-2", "time_in_stage_days:In Progress", "current"): 1.5,
        ("item", "A-3", "time_in_stage_days:To Do", "current"): 7.5,
    }


def test_team_values_are_exact() -> None:
    """Window: 12 weeks before Monday 9 March (15 Dec 2025) to Thursday 12 March."""
    got = values()
    window = "2025-12-15/2026-03-12"
    for p in (50, 70, 85, 95):
        assert got[("team", "Alpha", f"cycle_time_p{p}_days", window)] == 5.0
        assert got[("team", "Alpha", f"lead_time_p{p}_days", window)] == 6.0
    assert got[("team", "Alpha", "items", "current")] == 3.0
    assert got[("team", "Alpha", "wip", "current")] == 1.0
    assert got[("team", "Alpha", "done_in_window", window)] == 1.0
    assert got[("team", "Alpha", "wip_age_max_days", "current")] == 3.0
    weekly = {k[3]: v for k, v in got.items() if k[1:3] == ("Alpha", "throughput_week")}
    assert weekly["2026-03-02/2026-03-08"] == 1.0
    assert weekly["2026-03-09/2026-03-12"] == 0.0  # the current, partial week
    assert sum(weekly.values()) == 1.0 and len(weekly) == 13
    wip = {k[3]: v for k, v in got.items() if k[1:3] == ("Alpha", "wip_day")}
    # committed 2nd..5th for A-1 (done on the 6th), from the 10th for A-2
    assert [wip[f"2026-03-{d:02d}"] for d in range(1, 13)] == [0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1]
    cfd = {k[2]: v for k, v in got.items() if k[1] == "Alpha" and k[3] == "2026-03-12"}
    assert (
        cfd["cfd_in_stage:To Do"],
        cfd["cfd_in_stage:In Progress"],
        cfd["cfd_in_stage:Done"],
    ) == (1.0, 1.0, 1.0)
    order = {k[2]: v for k, v in got.items() if k[1] == "Alpha" and k[2].startswith("stage_index:")}
    assert order == {
        "stage_index:To Do": 0.0,
        "stage_index:In Progress": 1.0,
        "stage_index:Done": 2.0,
    }


def test_sprint_values_are_exact() -> None:
    """Committed at start: A-1 (3 points); added after start: A-2 (2); A-1 done on the 6th."""
    got = {k[2]: v for k, v in values().items() if k[0] == "sprint" and k[3] == "active@2026-03-12"}
    assert got["committed_items"] == 1.0 and got["committed_points"] == 3.0
    assert got["added_items"] == 1.0 and got["added_points"] == 2.0
    assert got["completed_items"] == 1.0 and got["completed_points"] == 3.0
    assert got["remaining_points"] == 2.0
    assert got["say_do"] == 1.0


def test_team_forecast_is_reproducible_and_stored_as_dates() -> None:
    """One item done in the last 90 days: the two open items take a long, seeded while."""
    first, second = values(), values()
    forecast = {k: v for k, v in first.items() if k[2].startswith("forecast_done_p")}
    assert forecast == {k: v for k, v in second.items() if k[2].startswith("forecast_done_p")}
    dates = [value_date(v) for k, v in sorted(forecast.items()) if v is not None]
    assert dates == sorted(dates) and all(d >= date(2026, 3, 12) for d in dates)
    assert first[("team", "Alpha", "open_items", "current")] == 2.0


def test_team_forecast_distributions_are_stored_beside_their_percentiles() -> None:
    """Shares per day and per count: the p% date is the first day the running share reaches p%."""
    got = values()
    done = {
        date.fromisoformat(k[3]): v
        for k, v in got.items()
        if k[:3] == ("team", "Alpha", "forecast_done_share") and v is not None
    }
    counts = {
        int(k[3]): v
        for k, v in got.items()
        if k[:3] == ("team", "Alpha", "forecast_items_share") and v is not None
    }
    assert done and min(done) >= date(2026, 3, 12) and 0 < sum(done.values()) <= 1
    assert sum(counts.values()) == pytest.approx(1.0) and min(counts) >= 0
    for (_, _, metric, _), value in got.items():
        if metric.startswith("forecast_done_p") and value is not None:
            p = int(metric.removeprefix("forecast_done_p").removesuffix("_date")) / 100
            found = value_date(value)
            assert sum(s for d, s in done.items() if d <= found) >= p - 1e-9  # float sums
            assert sum(s for d, s in done.items() if d < found) < p - 1e-9


def test_date_values_round_trip() -> None:
    assert date_value(date(1970, 1, 2)) == 1.0
    assert value_date(date_value(date(2026, 11, 20))) == date(2026, 11, 20)


def test_keys_shared_by_two_sources_are_qualified() -> None:
    twin = ItemHistory("A-1", "other", "Alpha", "story", at(1), "To Do")
    run = compute_kpis([*ITEMS, twin], [], KpiConfig(), STAGES, NOW)
    keys = {v.scope_key for v in kpi_values(run) if isinstance(v, KpiValue) and v.scope == "item"}
    assert "bench:A-1" in keys and "A-1" not in keys and "A-2" in keys


def test_a_sprint_name_two_teams_use_is_qualified_by_the_team_then_by_the_id() -> None:
    """Trello boards and ADO teams often share "Sprint 15": the team tells them apart; two
    sprints of one name in one team (a renamed board sprint) need the id."""
    sprints = [
        SprintInfo("trello:b1:Sprint 15", "Sprint 15", "Delta", "closed", at(1), at(5), at(5)),
        SprintInfo("ado:9f", "Sprint 15", "Orion", "closed", at(1), at(5), at(5)),
        SprintInfo("ado:a0", "Sprint 16", "Orion", "active", at(6), at(12)),
        SprintInfo("ado:a1", "Sprint 16", "Orion", "future", None, None),
        SprintInfo("jira:7", "ABC Sprint 3", "Alpha", "future", None, None),
    ]
    run = compute_kpis(ITEMS, sprints, KpiConfig(), STAGES, NOW)
    keys = {v.scope_key for v in kpi_values(run) if isinstance(v, KpiValue) and v.scope == "sprint"}
    assert keys == {
        "Sprint 15 (Delta)",
        "Sprint 15 (Orion)",
        "Sprint 16 (ado:a0)",
        "Sprint 16 (ado:a1)",
        "ABC Sprint 3",
    }
