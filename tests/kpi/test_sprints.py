"""Sprint metrics on hand-worked examples (Jira velocity chart / sprint report semantics)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.model import (
    EstimateChange,
    ItemHistory,
    KpiOptions,
    SprintInfo,
    SprintStay,
    StatusChange,
    Workflow,
    WorkflowStage,
)
from pmo_sync.kpi.sprints import SprintMetrics, _done_at, sprint_metrics, velocity

WORKFLOW = Workflow(
    stages=(
        WorkflowStage("To Do", frozenset({"To Do"}), Stage.TODO),
        WorkflowStage("Doing", frozenset({"Doing"}), Stage.IN_PROGRESS),
        WorkflowStage("Review", frozenset({"Review"}), Stage.IN_PROGRESS),
        WorkflowStage("Done", frozenset({"Done"}), Stage.DONE),
        WorkflowStage("Released", frozenset({"Released"}), Stage.DONE),
    ),
    commitment_stage="Doing",
    done_stage="Done",
)
OPTIONS = KpiOptions()


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# Sprint 1: Monday 2 March 09:00 to Friday 13 March 17:00 (UTC), closed on time.
S1 = SprintInfo("1", "Sprint 1", "Alpha", "closed", at(2, 9), at(13, 17), at(13, 17))
# Sprint 2: started Monday 16 March 09:00, still active on the 19th at noon.
S2 = SprintInfo("2", "Sprint 2", "Alpha", "active", at(16, 9), at(27, 17))
# Sprint 3: planned, no dates yet.
S3 = SprintInfo("3", "Sprint 3", "Alpha", "future", None, None)
NOW = at(19, 12)


def item(
    key: str,
    points: float | None,
    *stays: tuple[str, datetime, datetime | None],
    moves: tuple[tuple[datetime, str], ...] = (),
    estimates: tuple[tuple[datetime, float | None, float | None], ...] = (),
    initial: str = "To Do",
) -> ItemHistory:
    changes, status = [], initial
    for moment, to in moves:
        changes.append(StatusChange(moment, status, to))
        status = to
    return ItemHistory(
        key=key,
        source="jira",
        team="Alpha",
        item_type="story",
        created=at(1, 8, month=2),
        initial_status=initial,
        status_changes=tuple(changes),
        estimate=points,
        estimate_changes=tuple(EstimateChange(m, f, t) for m, f, t in estimates),
        sprint_stays=tuple(SprintStay(s, added, removed) for s, added, removed in stays),
    )


def metrics(
    sprints: list[SprintInfo], items: list[ItemHistory], now: datetime = NOW, zone: str = "UTC"
) -> dict[str, SprintMetrics]:
    options = KpiOptions(zone=ZoneInfo(zone))
    return {m.sprint_id: m for m in sprint_metrics(sprints, items, WORKFLOW, options, now)}


# The whole scenario; each item is one edge case of the issue.
SCENARIO = [
    # Committed at the start, done on the 5th.
    item("A-1", 3, ("1", at(1), None), moves=((at(5), "Done"),)),
    # Committed, not done at the close -> carried over. Jira keeps sprint 1 in
    # the field (the stay stays open) and adds sprint 2 at the close; done in
    # sprint 2 on the 18th, which must not make it completed in sprint 1.
    item(
        "A-2",
        5,
        ("1", at(1), None),
        ("2", at(13, 17), None),
        moves=((at(10), "Doing"), (at(18), "Done")),
    ),
    # Committed, removed on the 6th at 10:00: removed scope, not a miss.
    item("A-3", 2, ("1", at(1), at(6, 10))),
    # In sprint 1 only before it started: nothing.
    item("A-4", 8, ("1", at(25, month=2), at(1))),
    # Committed at 3, re-estimated to 5 on the 4th at 10:00, done on the 10th.
    item("A-5", 5, ("1", at(1), None), moves=((at(10), "Done"),), estimates=((at(4, 10), 3, 5),)),
    # Added on the 4th at 10:00 (1 point), done on the 6th at 15:00.
    item("A-6", 1, ("1", at(4, 10), None), moves=((at(6, 15), "Done"),)),
    # Done on 27 February, before the sprint: "completed outside this sprint".
    item("A-7", 13, ("1", at(20, month=2), None), moves=((at(27, month=2), "Done"),)),
    # No estimate: an item, 0 points, reported as unestimated; done on the 11th.
    item("A-8", None, ("1", at(1), None), moves=((at(11), "Review"), (at(11, 15), "Released"))),
    # Sprint 2 only, committed (in since the 15th), not done yet.
    item("A-9", 2, ("2", at(15), None)),
    # Sprint 3 (future): 3 points and one unestimated.
    item("A-10", 3, ("3", at(12), None)),
    item("A-11", None, ("3", at(12), None)),
]


def test_closed_sprint_counts_every_edge_case() -> None:
    m = metrics([S1, S2, S3], SCENARIO)["1"]
    # Committed, A-8 = 5 items; 3 + 5 + 2 + 3 (A-5 at the start) + 0 = 13.
    assert (m.committed_items, m.committed_points) == (5, 13)
    assert (m.added_items, m.added_points) == (1, 1)
    assert (m.removed_items, m.removed_points) == (1, 2)
    # Completed: A-1 3 + A-5 5 (estimate at the close) + A-6 1 + A-8 0 = 4 items, 9 points.
    assert (m.completed_items, m.completed_points) == (4, 9)
    assert m.reestimate_delta_points == 2  # 3 -> 5
    assert (m.carried_over_items, m.carried_over_points) == (1, 5)
    assert (m.remaining_items, m.remaining_points) == (1, 5)
    assert m.unestimated_items == 1
    assert m.done_outside_items == 1
    assert (m.scope_items, m.scope_points) == (5, 14)  # completed 9 + carried over 5
    assert m.say_do == pytest.approx(9 / 13)
    # Balance: 13 + 1 - 2 + 2 = 14 = 9 + 5.
    assert m.measured_at == at(13, 17)


def test_closed_sprint_burndown_and_burnup_by_day() -> None:
    m = metrics([S1], SCENARIO)["1"]
    # Scope 13 at the start; the 4th: A-5 3 -> 5 and A-6 added = 16; the 6th: A-3 out = 14.
    # Done: A-1 3 on the 5th, A-6 1 on the 6th, A-5 5 on the 10th, A-8 0 on the 11th.
    expected = [
        (2, 0, 13),
        (3, 0, 13),
        (4, 0, 16),
        (5, 3, 16),
        (6, 4, 14),
        (7, 4, 14),
        (8, 4, 14),
        (9, 4, 14),
        (10, 9, 14),
        (11, 9, 14),
        (12, 9, 14),
        (13, 9, 14),
    ]
    assert m.burnup == tuple((date(2026, 3, d), done, scope) for d, done, scope in expected)
    assert m.burndown == tuple((date(2026, 3, d), scope - done) for d, done, scope in expected)


def test_active_sprint_is_measured_so_far() -> None:
    m = metrics([S1, S2, S3], SCENARIO)["2"]
    # A-2 (carried in at the close of sprint 1, before the start) and A-9: 7 points committed.
    assert (m.committed_items, m.committed_points) == (2, 7)
    assert (m.completed_items, m.completed_points) == (1, 5)  # A-2, done on the 18th
    assert (m.remaining_items, m.remaining_points) == (1, 2)
    assert (m.carried_over_items, m.carried_over_points) == (0, 0)  # nothing carried over yet
    assert m.say_do == pytest.approx(5 / 7)
    assert m.measured_at == NOW
    # Up to today, the 19th; today's point is "so far".
    assert m.burndown == (
        (date(2026, 3, 16), 7),
        (date(2026, 3, 17), 7),
        (date(2026, 3, 18), 2),
        (date(2026, 3, 19), 2),
    )


def test_future_sprint_has_only_scope() -> None:
    m = metrics([S1, S2, S3], SCENARIO)["3"]
    assert (m.scope_items, m.scope_points, m.unestimated_items) == (2, 3, 1)
    assert (m.committed_items, m.completed_items, m.added_items, m.removed_items) == (0, 0, 0, 0)
    assert (m.say_do, m.measured_at, m.burndown, m.burnup) == (None, None, (), ())


def test_sprint_with_a_start_still_ahead_is_future() -> None:
    ahead = SprintInfo("4", "Sprint 4", "Alpha", "active", at(30, 9), at(31, 17))
    m = metrics([ahead], [item("B-1", 2, ("4", at(12), None))])["4"]
    assert (m.scope_items, m.committed_items, m.burndown) == (1, 0, ())


def test_added_exactly_at_the_start_is_committed_a_microsecond_later_is_added() -> None:
    start = S1.start
    assert start is not None
    m = metrics(
        [S1],
        [
            item("B-1", 2, ("1", start, None)),
            item("B-2", 3, ("1", start + timedelta(microseconds=1), None)),
        ],
    )["1"]
    assert (m.committed_items, m.committed_points, m.added_items, m.added_points) == (1, 2, 1, 3)


def test_removed_before_the_start_is_not_committed() -> None:
    m = metrics([S1], [item("B-1", 8, ("1", at(20, month=2), at(2, 8)))])["1"]
    assert (m.committed_items, m.removed_items, m.scope_items, m.burnup[-1]) == (
        0,
        0,
        0,
        (date(2026, 3, 13), 0, 0),
    )
    assert m.say_do is None


def test_removed_after_the_start_is_removed_scope_not_a_miss() -> None:
    m = metrics([S1], [item("B-1", 8, ("1", at(20, month=2), at(3)))])["1"]
    assert (m.committed_items, m.committed_points) == (1, 8)  # the velocity chart's commitment
    assert (m.removed_items, m.removed_points) == (1, 8)
    assert (m.carried_over_items, m.completed_items, m.scope_items) == (0, 0, 0)
    assert m.say_do == 0


def test_removed_done_item_is_not_completed() -> None:
    b1 = item("B-1", 3, ("1", at(1), at(9)), moves=((at(5), "Done"),))
    m = metrics([S1], [b1])["1"]
    assert (m.completed_items, m.removed_items, m.removed_points) == (0, 1, 3)
    assert m.burnup[3] == (date(2026, 3, 5), 3, 3)  # done while in the sprint
    assert m.burnup[-1] == (date(2026, 3, 13), 0, 0)  # gone from scope on the 9th


def test_added_then_removed_within_the_sprint_counts_both() -> None:
    m = metrics([S1], [item("B-1", 2, ("1", at(3), at(5)))])["1"]
    assert (m.added_items, m.added_points, m.removed_items, m.removed_points) == (1, 2, 1, 2)


def test_removed_and_put_back_is_neither_added_nor_removed() -> None:
    m = metrics([S1], [item("B-1", 2, ("1", at(1), at(3)), ("1", at(5), None))])["1"]
    assert (m.committed_items, m.added_items, m.removed_items, m.carried_over_items) == (1, 0, 0, 1)
    assert [scope for _, _, scope in m.burnup[:5]] == [2, 0, 0, 2, 2]  # out on the 3rd and 4th


def test_added_after_the_close_is_not_counted() -> None:
    m = metrics([S1], [item("B-1", 2, ("1", at(14), None))])["1"]
    assert (m.added_items, m.scope_items) == (0, 0)


def test_reestimate_before_the_start_is_in_the_commitment() -> None:
    b1 = item("B-1", 5, ("1", at(1), None), estimates=((at(1, 20), 3, 5),))
    m = metrics([S1], [b1])["1"]
    assert (m.committed_points, m.reestimate_delta_points) == (5, 0)


def test_completed_points_use_the_estimate_at_the_close() -> None:
    """Done on the 5th at 3; re-estimated to 8 on the 9th (before the close) and to 20 after it."""
    b1 = item(
        "B-1",
        20,
        ("1", at(1), None),
        moves=((at(5), "Done"),),
        estimates=((at(9), 3, 8), (at(14), 8, 20)),
    )
    m = metrics([S1], [b1])["1"]
    assert (m.committed_points, m.completed_points, m.reestimate_delta_points) == (3, 8, 5)
    # The burnup follows the estimate of the day: 3 from the 5th, 8 from the 9th.
    assert [done for _, done, _ in m.burnup] == [0, 0, 0, 3, 3, 3, 3, 8, 8, 8, 8, 8]


def test_estimate_added_during_the_sprint_is_a_reestimate() -> None:
    b1 = item("B-1", 5, ("1", at(1), None), moves=((at(9), "Done"),), estimates=((at(3), None, 5),))
    m = metrics([S1], [b1])["1"]
    assert (m.committed_points, m.unestimated_items, m.completed_points) == (0, 1, 5)
    assert (m.reestimate_delta_points, m.say_do) == (5, None)  # nothing committed: no ratio


def test_completed_is_judged_at_the_close_not_now() -> None:
    """Done on the 5th, reopened on the 16th (after the close), done again on the 18th."""
    b1 = item(
        "B-1",
        3,
        ("1", at(1), None),
        moves=((at(5), "Done"), (at(16), "Doing"), (at(18), "Done")),
    )
    assert metrics([S1], [b1])["1"].completed_items == 1


def test_reopened_before_the_close_is_carried_over() -> None:
    b1 = item("B-1", 3, ("1", at(1), None), moves=((at(5), "Done"), (at(12), "Doing")))
    m = metrics([S1], [b1])["1"]
    assert (m.completed_items, m.carried_over_items) == (0, 1)
    assert [done for _, done, _ in m.burnup] == [0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 0, 0]


def test_done_exactly_at_the_close_counts() -> None:
    m = metrics([S1], [item("B-1", 3, ("1", at(1), None), moves=((at(13, 17), "Done"),))])["1"]
    assert m.completed_items == 1


def test_done_before_start_then_reopened_stays_outside() -> None:
    """Decision: judged when it entered the sprint; a reopen does not bring it back in."""
    b1 = item("B-1", 3, ("1", at(1), None), moves=((at(27, month=2), "Done"), (at(4), "Doing")))
    m = metrics([S1], [b1])["1"]
    assert (m.done_outside_items, m.committed_items, m.carried_over_items) == (1, 0, 0)


def test_added_while_already_done_is_outside() -> None:
    m = metrics([S1], [item("B-1", 3, ("1", at(4), None), moves=((at(3), "Done"),))])["1"]
    assert (m.done_outside_items, m.added_items, m.completed_items) == (1, 0, 0)


def test_created_done_counts_as_done() -> None:
    m = metrics([S1], [item("B-1", 3, ("1", at(1), None), initial="Done")])["1"]
    assert m.done_outside_items == 1


def test_closed_without_completion_time_uses_the_planned_end() -> None:
    sprint = SprintInfo("1", "Sprint 1", "Alpha", "closed", at(2, 9), at(6, 17))
    m = metrics([sprint], [item("B-1", 3, ("1", at(1), None), moves=((at(9), "Done"),))])["1"]
    assert (m.measured_at, m.carried_over_items, len(m.burndown)) == (at(6, 17), 1, 5)


def test_days_are_taken_in_the_reporting_zone() -> None:
    """Done 5 March 02:00 UTC = 4 March 21:00 in New York: it burns down on the 4th there."""
    b1 = item("B-1", 3, ("1", at(1), None), moves=((at(5, 2), "Done"),))
    utc = metrics([S1], [b1])["1"].burndown
    ny = metrics([S1], [b1], zone="America/New_York")["1"].burndown
    assert utc[2:4] == ((date(2026, 3, 4), 3), (date(2026, 3, 5), 0))
    # In New York the sprint starts 2 March 04:00, ends 13 March 13:00: same days.
    assert ny[2:4] == ((date(2026, 3, 4), 0), (date(2026, 3, 5), 0))


def test_stays_in_unknown_sprints_are_ignored_and_order_is_kept() -> None:
    b1 = item("B-1", 3, ("99", at(1), None), ("1", at(1), None))
    result = sprint_metrics([S3, S1], [b1], WORKFLOW, OPTIONS, NOW)
    assert [m.sprint_id for m in result] == ["3", "1"]
    assert result[1].committed_items == 1


def test_empty_stay_is_never_a_membership() -> None:
    m = metrics([S1], [item("B-1", 3, ("1", at(4), at(4)))])["1"]
    assert (m.added_items, m.removed_items) == (0, 0)


def closed(sprint_id: str, team: str, end_day: int, completed: float) -> SprintMetrics:
    m = metrics([SprintInfo(sprint_id, sprint_id, team, "closed", at(1), at(end_day))], [])
    return replace(m[sprint_id], completed_points=completed)


def test_velocity_is_the_rolling_mean_per_team() -> None:
    sprints = [
        closed("a1", "Alpha", 2, 10),
        closed("b1", "Beta", 3, 7),
        closed("a2", "Alpha", 4, 20),
        closed("a3", "Alpha", 6, 30),
        closed("a4", "Alpha", 8, 40),
        metrics([S2], [])["2"],  # active: left out
    ]
    assert velocity(reversed(sprints), 3) == [
        ("a1", 10),  # 10 / 1
        ("b1", 7),
        ("a2", 15),  # (10 + 20) / 2
        ("a3", 20),  # (10 + 20 + 30) / 3
        ("a4", 30),  # (20 + 30 + 40) / 3
    ]
    with pytest.raises(ValueError, match="window"):
        velocity(sprints, 0)


def test_done_at_is_the_final_entry_into_done() -> None:
    never = item("C-1", 1)
    assert _done_at(never, WORKFLOW) is None
    redone = item("C-2", 1, moves=((at(5), "Done"), (at(6), "Doing"), (at(8), "Done")))
    assert _done_at(redone, WORKFLOW) == at(8)
    released = item("C-3", 1, moves=((at(5), "Done"), (at(7), "Released")))
    assert _done_at(released, WORKFLOW) == at(5)  # Done -> Released is not a new entry
    reopened = item("C-4", 1, moves=((at(5), "Done"), (at(6), "Doing")))
    assert _done_at(reopened, WORKFLOW) is None
    created_done = item("C-5", 1, initial="Done")
    assert _done_at(created_done, WORKFLOW) == created_done.created
