"""The pure parts of the refresh's portfolio answers: the funnel's since-when from the status
history, each open item's forecast day (its request's p85), and the request values kept.

Days are in 2030; every instant is noon UTC and the zone is UTC, so an instant's day is its date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from pmo_sync.domain import Stage
from pmo_sync.evaluation.portfolio_facts import (
    funnel_since,
    has_requests,
    request_values,
)
from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.kpi.compute import date_value
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, StatusChange
from pmo_sync.portfolio.config import FunnelConfig, FunnelStageConfig
from pmo_sync.portfolio.forecast import RequestForecast, Scope
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.portfolio.overview import item_forecasts

UTC_ZONE = ZoneInfo("UTC")
STAGES = {
    "jira": {
        "Backlog": Stage.TODO,
        "Ready": Stage.TODO,
        "Approved": Stage.TODO,
        "In Progress": Stage.IN_PROGRESS,
        "Done": Stage.DONE,
    }
}
FUNNEL = FunnelConfig(approved=FunnelStageConfig(statuses=["Approved"]))
"""Approved is a to-do status, named under `approved`: it leaves intake though its category
is to-do."""


def at(month: int, day: int) -> datetime:
    return datetime(2030, month, day, 12, tzinfo=UTC)


def history(initial: str, *changes: tuple[datetime, str]) -> ItemHistory:
    moves = []
    before = initial
    for when, to in changes:
        moves.append(StatusChange(when, before, to))
        before = to
    return ItemHistory(
        key="E-1",
        source="jira",
        team="Alpha",
        item_type="epic",
        created=at(1, 1),
        initial_status=initial,
        status_changes=tuple(moves),
    )


def test_a_request_never_moved_is_in_its_stage_since_it_was_created() -> None:
    assert funnel_since(history("Backlog"), FUNNEL, STAGES, UTC_ZONE) == (
        "intake",
        date(2030, 1, 1),
    )


def test_a_move_within_a_stage_keeps_the_day_it_entered_it() -> None:
    # Backlog → Ready on 1 Feb: both to-do, both intake: in intake since creation (1 Jan).
    moved = history("Backlog", (at(2, 1), "Ready"))
    assert funnel_since(moved, FUNNEL, STAGES, UTC_ZONE) == ("intake", date(2030, 1, 1))


def test_a_move_out_and_back_starts_the_stage_again() -> None:
    # Backlog → Approved (5 Jan, approved) → Ready (8 Jan, intake again): intake since 8 Jan,
    # not since creation; then approved since 20 Jan after a second approval.
    back = history("Backlog", (at(1, 5), "Approved"), (at(1, 8), "Ready"))
    assert funnel_since(back, FUNNEL, STAGES, UTC_ZONE) == ("intake", date(2030, 1, 8))
    again = history("Backlog", (at(1, 5), "Approved"), (at(1, 8), "Ready"), (at(1, 20), "Approved"))
    assert funnel_since(again, FUNNEL, STAGES, UTC_ZONE) == ("approved", date(2030, 1, 20))


def test_a_status_outside_the_funnel_has_no_stage() -> None:
    # "Parked" is in no funnel stage's statuses and the store knows no category for it.
    parked = history("Backlog", (at(1, 5), "Parked"))
    assert funnel_since(parked, FUNNEL, STAGES, UTC_ZONE) == (None, None)


def item(key: str, level: str, parent: str | None = None, stage: Stage = Stage.TODO) -> WorkItem:
    return WorkItem(
        ref=("jira", key),
        team="Alpha",
        level=level,
        item_type="epic" if level == "epic" else "story",
        parent=None if parent is None else ("jira", parent),
        stage=stage,
        created=date(2030, 1, 1),
    )


def forecast(key: str, dates: dict[int, date | None], due: float | None) -> RequestForecast:
    return RequestForecast(
        ref=("jira", key),
        level="epic",
        scope=Scope(1, 3, 0.0, 0.0, 3),
        growth=(),
        remaining_by_team={("jira", "Alpha"): 3},
        ahead_by_team={("jira", "Alpha"): 0},
        share=None,
        due_date=date(2030, 3, 1) if due is not None else None,
        dates=dates,
        due_probability=due,
    )


def test_each_open_item_is_forecast_on_its_requests_p85() -> None:
    # E-1 (p85 10 March) holds S-1 (open), S-2 (done) and T-1 (open, under S-1);
    # E-2 has no dates (beyond the horizon), so neither has its story S-3; S-4 has no request.
    items = [
        item("E-1", "epic"),
        item("S-1", "story", "E-1"),
        item("S-2", "story", "E-1", Stage.DONE),
        item("T-1", "subtask", "S-1"),
        item("E-2", "epic"),
        item("S-3", "story", "E-2"),
        item("S-4", "story"),
    ]
    forecasts = {
        ("jira", "E-1"): forecast("E-1", {50: date(2030, 3, 2), 85: date(2030, 3, 10)}, 0.4),
        ("jira", "E-2"): forecast("E-2", {50: None, 85: None}, None),
    }
    assert item_forecasts(items, forecasts.values(), date(2030, 2, 20)) == {
        ("jira", "E-1"): date(2030, 3, 10),
        ("jira", "S-1"): date(2030, 3, 10),
        ("jira", "T-1"): date(2030, 3, 10),
    }


def test_request_values_are_the_forecast_as_the_epics_are_stored() -> None:
    # E-1: 3 remaining; 2030-01-01 is day 60 * 365 + 15 leap days (1972 to 2028) = 21915
    # since 1970-01-01, so p50 2 March (+ 31 + 28 + 1) is 21975 and p85 10 March 21983;
    # due probability 0.4; E-2 beyond the horizon: dates None, no due date: probability None.
    # E-2's key is shared with another source: its values name it "jira:E-2".
    forecasts = [
        forecast("E-1", {50: date(2030, 3, 2), 85: date(2030, 3, 10), 95: date(2030, 4, 1)}, 0.4),
        forecast("E-2", {50: None, 85: None, 95: None}, None),
    ]
    assert date_value(date(2030, 3, 2)) == 21975.0
    keys = {("jira", "E-1"): "E-1", ("jira", "E-2"): "jira:E-2"}
    teams = {("jira", "E-1"): "Alpha", ("jira", "E-2"): None}
    window = "2030-02-20/+3 items"
    assert [
        (v.scope, v.scope_key, v.metric, v.window, v.value, v.team)
        for v in request_values(forecasts, date(2030, 2, 20), keys, teams)
    ] == [
        ("request", "E-1", "remaining_items", "current", 3.0, "Alpha"),
        ("request", "E-1", "forecast_done_p50_date", window, 21975.0, "Alpha"),
        ("request", "E-1", "forecast_done_p85_date", window, 21983.0, "Alpha"),
        ("request", "E-1", "due_probability", window, 0.4, "Alpha"),
        ("request", "jira:E-2", "remaining_items", "current", 3.0, None),
        ("request", "jira:E-2", "forecast_done_p50_date", window, None, None),
        ("request", "jira:E-2", "forecast_done_p85_date", window, None, None),
        ("request", "jira:E-2", "due_probability", window, None, None),
    ]


def test_a_store_without_requests_computes_no_portfolio_answer(engine: Engine) -> None:
    # An empty store: no item at a request level, so no portfolio read and no request value.
    assert has_requests(engine, ("epic", "feature")) is False
    refreshed = refresh_kpis(engine, KpiConfig(), rules=[], now=at(2, 20))
    assert refreshed.portfolio is None
