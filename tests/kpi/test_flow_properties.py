"""Invariants of the flow metrics on random histories (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pmo_sync.domain import Stage
from pmo_sync.kpi.flow import FlowItem, commitment_and_done, cycle_time_days, team_flow

START = datetime(2026, 1, 5, tzinfo=UTC)
ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])


@st.composite
def flow_items(draw: st.DrawFn) -> FlowItem:
    gaps = draw(st.lists(st.integers(min_value=0, max_value=5 * 24 * 60), max_size=8))
    stages = draw(st.lists(st.sampled_from(list(Stage)), min_size=len(gaps), max_size=len(gaps)))
    moves, at = [], START
    for gap, stage in zip(gaps, stages, strict=True):
        at += timedelta(minutes=gap)
        moves.append((at, stage))
    return FlowItem("X-1", draw(st.sampled_from(["A", "B"])), START, Stage.TODO, tuple(moves))


@settings(max_examples=300, deadline=None)
@given(flow_items(), ZONES)
def test_cycle_time_is_at_least_one_day_and_never_starts_after_done(
    item: FlowItem, zone: ZoneInfo
) -> None:
    committed, done = commitment_and_done(item)
    if done is not None:
        assert committed is not None and committed <= done
        assert item.current_stage is Stage.DONE
        assert cycle_time_days(committed, done, zone) >= 1
    if item.current_stage is not Stage.DONE:
        assert done is None


@settings(max_examples=200, deadline=None)
@given(st.lists(flow_items(), max_size=30), ZONES)
def test_throughput_totals_equal_items_done_and_wip_is_never_negative(
    items: list[FlowItem], zone: ZoneInfo
) -> None:
    """Eight weeks from 5 Jan cover every generated move, so every done item is counted once."""
    flows = team_flow(items, date(2026, 2, 27), zone, weeks=9)
    for flow in flows:
        assert flow.wip >= 0
        assert sum(flow.weekly_throughput) == flow.done
        assert flow.done + flow.wip <= flow.items
