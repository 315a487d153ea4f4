"""Flow metrics on hand-worked examples (Vacanti's definitions, inclusive day counting)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pmo_sync.domain import Stage
from pmo_sync.kpi.flow import (
    FlowItem,
    commitment_and_done,
    cycle_time_days,
    percentile,
    team_flow,
    weekly_throughput,
)

T, P, D = Stage.TODO, Stage.IN_PROGRESS, Stage.DONE
UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def item(*moves: tuple[datetime, Stage], team: str = "Alpha", initial: Stage = T) -> FlowItem:
    return FlowItem(key="ABC-1", team=team, created=at(1), initial_stage=initial, moves=moves)


def cycle(flow: FlowItem, zone: ZoneInfo = UTC_ZONE) -> int | None:
    committed, done = commitment_and_done(flow)
    if committed is None or done is None:
        return None
    return cycle_time_days(committed, done, zone)


def test_forward_flow_counts_days_inclusively() -> None:
    """In progress on the 2nd, done on the 6th: 2,3,4,5,6 = 5 days."""
    assert cycle(item((at(2), P), (at(4), P), (at(6), D))) == 5


def test_backward_move_behind_commitment_restarts_the_clock() -> None:
    """Started on the 2nd, back to To Do on the 3rd, restarted on the 5th, done on the 7th = 3."""
    assert cycle(item((at(2), P), (at(3), T), (at(5), P), (at(7), D))) == 3


def test_reopened_item_is_done_at_its_final_done() -> None:
    """Done on the 4th, reopened on the 6th, done again on the 9th: from the 2nd = 8 days."""
    flow = item((at(2), P), (at(4), D), (at(6), P), (at(9), D))
    assert commitment_and_done(flow) == (at(2), at(9))
    assert cycle(flow) == 8


def test_reopened_and_still_open_is_not_done() -> None:
    assert commitment_and_done(item((at(2), P), (at(4), D), (at(6), P))) == (at(2), None)


def test_skipped_stage_and_same_day_done_is_one_day() -> None:
    """To Do straight to Done at 10:00 on the 5th: committed and done together = 1 day."""
    assert cycle(item((at(5, 10), D))) == 1


def test_never_started_item_has_no_cycle_time() -> None:
    assert commitment_and_done(item()) == (None, None)


def test_transition_at_2330_west_of_utc_counts_on_the_local_day() -> None:
    """Done at 04:30 UTC on the 4th = 23:30 on the 3rd in New York: 2 days there, 3 in UTC."""
    flow = item((at(2, 14), P), (at(4, 4, 30), D))
    assert cycle(flow, NEW_YORK) == 2
    assert cycle(flow, UTC_ZONE) == 3


def test_percentile_interpolates_linearly() -> None:
    """[1, 2, 3, 4]: p50 at rank 1.5 = 2.5; p85 at rank 2.55 = 3.55."""
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([4, 1, 3, 2], 85) == 3.55
    assert percentile([7], 85) == 7
    assert percentile([], 50) is None


def test_weekly_throughput_starts_weeks_on_monday_and_zero_fills() -> None:
    """Weeks of 2 Mar, 9 Mar, 16 Mar 2026 (Mondays): Sunday 8 Mar belongs to the week of 2 Mar."""
    days = [date(2026, 3, 2), date(2026, 3, 8), date(2026, 3, 16), date(2026, 3, 18)]
    assert weekly_throughput(days, date(2026, 3, 16), 3) == [2, 0, 2]
    assert weekly_throughput([], date(2026, 3, 16), 2) == [0, 0]


def test_team_flow_rolls_up_cycle_time_throughput_and_wip() -> None:
    """Alpha: cycle times 5 and 1, one in progress, one never started."""
    items = [
        item((at(2), P), (at(6), D)),
        item((at(10, 9), D)),
        item((at(11), P)),
        item(),
        item((at(3), P), (at(4), D), team="Beta"),
    ]
    alpha, beta = team_flow(items, date(2026, 3, 12), UTC_ZONE, weeks=2)
    assert (alpha.team, alpha.items, alpha.done, alpha.wip) == ("Alpha", 4, 2, 1)
    assert (alpha.cycle_time_p50, alpha.cycle_time_p85) == (3.0, 4.4)
    assert alpha.weekly_throughput == (1, 1)  # week of 2 Mar: the 6th; week of 9 Mar: the 10th
    assert (beta.done, beta.wip, beta.cycle_time_p50) == (1, 0, 2.0)
