"""Per-item flow metrics on hand-worked histories: day counting, timelines, each edge case.

Every expected number is worked out in the test's docstring or comments. Unless
a test says otherwise, moments are 12:00 UTC in March 2026 and the workflow is
To Do | In Progress | In Review | Done, committed at In Progress, done at Done.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.days import date_range, local_date, span_days, week_start
from pmo_sync.kpi.items import ItemMetrics, item_metrics, item_metrics_from_timeline
from pmo_sync.kpi.model import (
    DayCounting,
    FlagChange,
    ItemHistory,
    KpiOptions,
    StatusChange,
    Workflow,
    WorkflowStage,
)
from pmo_sync.kpi.timeline import (
    StageInterval,
    commitment_and_done,
    commitment_and_done_from_timeline,
    stage_index_of,
    stage_timeline,
    with_status_categories,
)

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")

WORKFLOW = Workflow(
    stages=(
        WorkflowStage("To Do", frozenset({"Open", "To Do"}), Stage.TODO),
        WorkflowStage("In Progress", frozenset({"In Progress", "In Dev"}), Stage.IN_PROGRESS),
        WorkflowStage("In Review", frozenset({"In Review"}), Stage.IN_PROGRESS),
        WorkflowStage("Done", frozenset({"Done", "Closed"}), Stage.DONE),
    ),
    commitment_stage="In Progress",
    done_stage="Done",
)
TODO, PROGRESS, REVIEW, DONE = 0, 1, 2, 3


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def history(
    *moves: tuple[datetime, str],
    created: datetime | None = None,
    initial: str = "To Do",
    flags: tuple[tuple[datetime, bool], ...] = (),
    key: str = "ABC-1",
    team: str = "Alpha",
) -> ItemHistory:
    changes, previous = [], initial
    for moment, status in moves:
        changes.append(StatusChange(moment, previous, status))
        previous = status
    return ItemHistory(
        key=key,
        source="jira",
        team=team,
        item_type="story",
        created=created or at(1),
        initial_status=initial,
        status_changes=tuple(changes),
        flag_changes=tuple(FlagChange(m, f) for m, f in flags),
    )


def metrics(
    item: ItemHistory,
    counting: DayCounting = "inclusive",
    zone: ZoneInfo = UTC_ZONE,
    restart: bool = True,
    now: datetime | None = None,
    workflow: Workflow = WORKFLOW,
) -> ItemMetrics:
    options = KpiOptions(day_counting=counting, restart_on_backward_move=restart, zone=zone)
    return item_metrics(item, workflow, options, now or at(20))


# --- days -----------------------------------------------------------------------------------


def test_span_days_in_each_counting_and_zone() -> None:
    """In Progress 2 Mar 14:00 UTC, Done 4 Mar 04:30 UTC = 3 Mar 23:30 in New York (EST, -5).

    inclusive: New York 2 Mar..3 Mar = 1 + 1 = 2; UTC 2 Mar..4 Mar = 2 + 1 = 3.
    exclusive: New York 1, UTC 2. fractional: 10 h + 24 h + 4.5 h = 38.5 h / 24 = 1.6041666...
    """
    start, end = at(2, 14), at(4, 4, 30)
    assert span_days(start, end, "inclusive", NEW_YORK) == 2
    assert span_days(start, end, "inclusive", UTC_ZONE) == 3
    assert span_days(start, end, "exclusive", NEW_YORK) == 1
    assert span_days(start, end, "exclusive", UTC_ZONE) == 2
    assert span_days(start, end, "fractional", NEW_YORK) == pytest.approx(38.5 / 24)
    assert span_days(start, end, "fractional", UTC_ZONE) == span_days(
        start, end, "fractional", NEW_YORK
    )
    with pytest.raises(ValueError):
        span_days(start, end, "weekdays", UTC_ZONE)  # type: ignore[arg-type]


def test_same_moment_is_one_inclusive_day_and_zero_otherwise() -> None:
    assert span_days(at(5), at(5), "inclusive", UTC_ZONE) == 1
    assert span_days(at(5), at(5), "exclusive", UTC_ZONE) == 0
    assert span_days(at(5), at(5), "fractional", UTC_ZONE) == 0


def test_fractional_days_are_elapsed_time_across_a_dst_change() -> None:
    """US DST starts 8 Mar 2026: 7 Mar 12:00 EST (17:00 UTC) to 9 Mar 12:00 EDT (16:00 UTC)
    is 47 elapsed hours = 1.958 fractional days, though 3 inclusive calendar days."""
    start, end = at(7, 17), at(9, 16)
    assert span_days(start, end, "fractional", NEW_YORK) == pytest.approx(47 / 24)
    assert span_days(start, end, "inclusive", NEW_YORK) == 3


def test_local_date_and_monday_weeks() -> None:
    """04:30 UTC on 4 Mar is 23:30 on 3 Mar in New York; 8 Mar 2026 is a Sunday."""
    assert local_date(at(4, 4, 30), NEW_YORK) == date(2026, 3, 3)
    assert local_date(at(4, 4, 30), UTC_ZONE) == date(2026, 3, 4)
    assert week_start(date(2026, 3, 8)) == date(2026, 3, 2)
    assert week_start(date(2026, 3, 2)) == date(2026, 3, 2)
    assert week_start(date(2026, 3, 9)) == date(2026, 3, 9)
    assert date_range(date(2026, 3, 30), date(2026, 4, 1)) == [
        date(2026, 3, 30),
        date(2026, 3, 31),
        date(2026, 4, 1),
    ]
    assert date_range(date(2026, 3, 2), date(2026, 3, 1)) == []


# --- timeline -------------------------------------------------------------------------------


def test_timeline_merges_changes_within_a_stage_and_chains_intervals() -> None:
    """In Progress → In Dev stays in one stage; each interval ends where the next starts."""
    item = history((at(2), "In Progress"), (at(3), "In Dev"), (at(4), "In Review"), (at(6), "Done"))
    assert stage_timeline(item, WORKFLOW) == (
        StageInterval(TODO, at(1), at(2)),
        StageInterval(PROGRESS, at(2), at(4)),
        StageInterval(REVIEW, at(4), at(6)),
        StageInterval(DONE, at(6), None),
    )


def test_unknown_status_goes_to_the_first_in_progress_stage_or_its_category() -> None:
    """Without categories an unknown status is In Progress (`Workflow.index_of_status`'s
    default); `with_status_categories` lists it in its category's first stage instead."""
    assert stage_index_of("Triage", WORKFLOW) == PROGRESS
    assert stage_index_of("Triage", WORKFLOW) == WORKFLOW.index_of_status("Triage")
    full = with_status_categories(
        WORKFLOW, {"Triage": Stage.TODO, "Released": Stage.DONE, "Open": Stage.DONE}
    )
    assert stage_index_of("Triage", full) == TODO
    assert stage_index_of("Released", full) == DONE
    assert stage_index_of("Open", full) == TODO  # a listed status keeps its stage
    assert with_status_categories(WORKFLOW, {"Open": Stage.TODO}) is WORKFLOW
    item = history((at(2), "Triage"), (at(3), "In Progress"), initial="Triage")
    assert [i.stage for i in stage_timeline(item, full)] == [TODO, PROGRESS]


def test_a_change_stamped_before_the_previous_one_is_taken_at_the_previous_moment() -> None:
    """Clock skew: In Review stamped at 10:00 on the 3rd after In Progress at 12:00 on the 3rd."""
    item = history((at(3), "In Progress"), (at(3, 10), "In Review"))
    assert stage_timeline(item, WORKFLOW)[1:] == (
        StageInterval(PROGRESS, at(3), at(3)),
        StageInterval(REVIEW, at(3), None),
    )


def test_current_status_the_log_never_reached_is_taken_at_the_last_change() -> None:
    """The log ends In Progress (the 3rd) but the item is Done now: done the 3rd. With no
    changes at all, at creation. A current status in the log's last stage changes nothing."""
    item = replace(history((at(2), "In Progress"), (at(3), "In Dev")), status="Done")
    assert commitment_and_done(item, WORKFLOW) == (at(2), at(3))
    assert stage_timeline(replace(history(), status="In Review"), WORKFLOW) == (
        StageInterval(TODO, at(1), at(1)),
        StageInterval(REVIEW, at(1), None),
    )
    same = replace(history((at(2), "In Progress")), status="In Dev")
    assert stage_timeline(same, WORKFLOW) == stage_timeline(
        history((at(2), "In Progress")), WORKFLOW
    )


# --- commitment, done, cycle and lead time: the edge cases --------------------------------


def test_forward_flow_in_each_day_counting() -> None:
    """Created the 1st, In Progress the 2nd, Done the 6th, all at 12:00 UTC.

    cycle: inclusive 2..6 = 5, exclusive 4, fractional 4.0;
    lead: inclusive 1..6 = 6, exclusive 5, fractional 5.0.
    """
    item = history((at(2), "In Progress"), (at(4), "In Review"), (at(6), "Done"))
    assert commitment_and_done(item, WORKFLOW) == (at(2), at(6))
    for counting, cycle, lead in (("inclusive", 5, 6), ("exclusive", 4, 5), ("fractional", 4, 5)):
        m = metrics(item, counting)
        assert (m.cycle_time_days, m.lead_time_days) == (cycle, lead)
        assert m.wip_age_days is None


def test_backward_move_behind_commitment_restarts_the_clock_or_keeps_the_first() -> None:
    """In Progress the 2nd, back to To Do the 3rd, In Progress again the 5th, Done the 7th.

    restart (default): committed the 5th, cycle 5..7 = 3 inclusive;
    keep the first (Azure DevOps): committed the 2nd, cycle 2..7 = 6. Lead 1..7 = 7 either way.
    """
    item = history(
        (at(2), "In Progress"), (at(3), "To Do"), (at(5), "In Progress"), (at(7), "Done")
    )
    assert commitment_and_done(item, WORKFLOW) == (at(5), at(7))
    assert commitment_and_done(item, WORKFLOW, restart_on_backward_move=False) == (at(2), at(7))
    restart, keep = metrics(item), metrics(item, restart=False)
    assert (restart.cycle_time_days, restart.lead_time_days) == (3, 7)
    assert (keep.cycle_time_days, keep.lead_time_days) == (6, 7)
    assert metrics(item, "fractional").cycle_time_days == 2.0


def test_backward_move_ahead_of_commitment_does_not_restart() -> None:
    """In Review → In Progress stays past the commitment point: committed the 2nd throughout."""
    item = history((at(2), "In Progress"), (at(3), "In Review"), (at(4), "In Dev"), (at(6), "Done"))
    assert commitment_and_done(item, WORKFLOW) == (at(2), at(6))
    assert metrics(item).cycle_time_days == 5


def test_item_moved_behind_commitment_and_left_there_is_not_committed_in_either_mode() -> None:
    item = history((at(2), "In Progress"), (at(3), "To Do"))
    assert commitment_and_done(item, WORKFLOW) == (None, None)
    assert commitment_and_done(item, WORKFLOW, restart_on_backward_move=False) == (None, None)
    assert metrics(item, restart=False).wip_age_days is None


def test_reopened_item_is_done_at_its_final_done() -> None:
    """Done the 4th, reopened (In Progress) the 6th, Done again the 9th: cycle 2..9 = 8.

    The two days it sat in Done before reopening are waiting, not work:
    lead 1..9 fractional = 8 d = To Do 1 + In Progress (2→4, 6→9) 5 + Done 2;
    active = 5, flow efficiency = 5/8.
    """
    item = history((at(2), "In Progress"), (at(4), "Done"), (at(6), "In Progress"), (at(9), "Done"))
    assert commitment_and_done(item, WORKFLOW) == (at(2), at(9))
    m = metrics(item)
    assert (m.cycle_time_days, m.lead_time_days) == (8, 9)
    assert m.time_in_stage_days == {"To Do": 1, "In Progress": 5, "In Review": 0, "Done": 2}
    assert (m.wait_days, m.active_days, m.blocked_days) == (3, 5, 0)
    assert m.flow_efficiency == 5 / 8


def test_reopened_and_still_open_is_work_in_progress_not_done() -> None:
    """Done the 4th, reopened the 6th: committed the 2nd, not done; WIP age on the 10th
    (12:00) = 2..10 = 9 inclusive."""
    item = history((at(2), "In Progress"), (at(4), "Done"), (at(6), "In Review"))
    assert commitment_and_done(item, WORKFLOW) == (at(2), None)
    m = metrics(item, now=at(10))
    assert (m.done_at, m.cycle_time_days, m.flow_efficiency) == (None, None, None)
    assert (m.stage, m.wip_age_days, m.in_progress) == ("In Review", 9, True)


def test_reopened_behind_commitment_restarts_unless_keeping_the_first() -> None:
    """Done the 4th, back to To Do the 6th, In Progress the 8th, Done the 9th.

    restart: committed the 8th, cycle 8..9 = 2; keep first: committed the 2nd, cycle 8.
    """
    item = history(
        (at(2), "In Progress"),
        (at(4), "Done"),
        (at(6), "To Do"),
        (at(8), "In Dev"),
        (at(9), "Done"),
    )
    assert metrics(item).cycle_time_days == 2
    assert metrics(item, restart=False).cycle_time_days == 8


def test_done_to_closed_keeps_the_first_entry_into_done() -> None:
    """Done the 5th, Closed (also in the done region) the 7th: done the 5th."""
    item = history((at(2), "In Progress"), (at(5), "Done"), (at(7), "Closed"))
    assert commitment_and_done(item, WORKFLOW) == (at(2), at(5))


def test_skipped_stage_to_do_straight_to_done_commits_and_finishes_together() -> None:
    """To Do → Done at 10:00 on the 5th: cycle inclusive 1, exclusive 0, fractional 0;
    lead from the 1st 12:00: inclusive 5, fractional 3 d 22 h = 3.9166...; nothing active."""
    item = history((at(5, 10), "Done"))
    assert commitment_and_done(item, WORKFLOW) == (at(5, 10), at(5, 10))
    assert metrics(item).cycle_time_days == 1
    assert metrics(item, "exclusive").cycle_time_days == 0
    m = metrics(item, "fractional")
    assert m.cycle_time_days == 0
    assert m.lead_time_days == pytest.approx(3 + 22 / 24)
    assert (m.active_days, m.flow_efficiency) == (0, 0)


def test_skipped_stage_to_do_to_in_review_still_crosses_commitment() -> None:
    """To Do → In Review the 3rd (In Progress skipped), Done the 5th: committed the 3rd,
    cycle 3..5 = 3 inclusive; In Progress got no time."""
    item = history((at(3), "In Review"), (at(5), "Done"))
    assert commitment_and_done(item, WORKFLOW) == (at(3), at(5))
    m = metrics(item)
    assert m.cycle_time_days == 3
    assert m.time_in_stage_days == {"To Do": 2, "In Progress": 0, "In Review": 2, "Done": 0}


def test_same_day_done() -> None:
    """In Progress 09:00, Done 17:00 on the 4th: inclusive 1, exclusive 0, fractional 8/24."""
    item = history((at(4, 9), "In Progress"), (at(4, 17), "Done"))
    assert metrics(item).cycle_time_days == 1
    assert metrics(item, "exclusive").cycle_time_days == 0
    assert metrics(item, "fractional").cycle_time_days == pytest.approx(1 / 3)


def test_transition_at_2330_west_of_utc_counts_on_the_local_day() -> None:
    """In Progress 2 Mar 14:00 UTC, Done 4 Mar 04:30 UTC = 3 Mar 23:30 New York.

    cycle inclusive: 2 in New York, 3 in UTC; exclusive 1 / 2; fractional 1.604... in both.
    lead from 1 Mar 12:00 (07:00 New York): inclusive 1..3 = 3 in New York, 1..4 = 4 in UTC.
    """
    item = history((at(2, 14), "In Progress"), (at(4, 4, 30), "Done"))
    assert metrics(item, zone=NEW_YORK).cycle_time_days == 2
    assert metrics(item, zone=UTC_ZONE).cycle_time_days == 3
    assert metrics(item, "exclusive", NEW_YORK).cycle_time_days == 1
    assert metrics(item, "exclusive", UTC_ZONE).cycle_time_days == 2
    assert metrics(item, "fractional", NEW_YORK).cycle_time_days == pytest.approx(38.5 / 24)
    assert metrics(item, zone=NEW_YORK).lead_time_days == 3
    assert metrics(item, zone=UTC_ZONE).lead_time_days == 4


def test_item_never_started() -> None:
    """Created the 1st 12:00, still To Do on the 20th 12:00: no commitment, no cycle, lead,
    age or efficiency; 18.5 days in To Do (to the start of the 20th, the open item's clock),
    all of it waiting."""
    m = metrics(history(), now=at(20))
    assert (m.committed_at, m.done_at) == (None, None)
    assert (m.cycle_time_days, m.lead_time_days, m.wip_age_days, m.flow_efficiency) == (
        None,
        None,
        None,
        None,
    )
    assert m.time_in_stage_days == {"To Do": 18.5, "In Progress": 0, "In Review": 0, "Done": 0}
    assert (m.wait_days, m.active_days, m.in_progress, m.is_done) == (18.5, 0, False, False)


def test_item_created_in_progress_or_done() -> None:
    """Created In Progress: committed at creation. Created Done: committed and done at
    creation, lead 1 inclusive, no elapsed time, so no flow efficiency."""
    started = history((at(3), "Done"), initial="In Progress")
    assert commitment_and_done(started, WORKFLOW) == (at(1), at(3))
    assert metrics(started).cycle_time_days == 3
    finished = metrics(history(initial="Done"))
    assert (finished.committed_at, finished.done_at) == (at(1), at(1))
    assert (finished.cycle_time_days, finished.lead_time_days) == (1, 1)
    assert finished.flow_efficiency is None


def test_wip_age_follows_the_day_counting_and_zone() -> None:
    """Committed 2 Mar 14:00 UTC, now 4 Mar 04:30 UTC (3 Mar 23:30 New York): age inclusive
    2 in New York and 3 in UTC, exclusive 1 / 2, fractional to the open item's clock, the
    start of 4 Mar UTC: 34 h / 24."""
    item = history((at(2, 14), "In Progress"))
    now = at(4, 4, 30)
    assert metrics(item, zone=NEW_YORK, now=now).wip_age_days == 2
    assert metrics(item, zone=UTC_ZONE, now=now).wip_age_days == 3
    assert metrics(item, "exclusive", NEW_YORK, now=now).wip_age_days == 1
    assert metrics(item, "fractional", now=now).wip_age_days == pytest.approx(34 / 24)
    assert metrics(item, now=now).stage == "In Progress"


def test_an_open_items_clock_is_the_start_of_its_day_or_its_last_change() -> None:
    """Clock-dependent metrics move once a day: In Progress since 2 Mar 12:00, measured
    anywhere on 5 Mar, count to 5 Mar 00:00 (2.5 d in progress); moved to In Review at
    5 Mar 09:00, they count to that move (2.875 d in progress, 0 in review) until 6 Mar;
    a flag raised at 5 Mar 10:00 is the last change (the clock is 10:00: 1 h in review,
    none of it blocked yet).
    In New York the day starts at 05:00 UTC."""
    item = history((at(2), "In Progress"))
    for now in (at(5, 0), at(5, 8), at(5, 23, 59)):
        m = metrics(item, "fractional", now=now)
        assert (m.time_in_stage_days["In Progress"], m.wip_age_days) == (2.5, 2.5)
    moved = history((at(2), "In Progress"), (at(5, 9), "In Review"))
    m = metrics(moved, "fractional", now=at(5, 20))
    assert (m.time_in_stage_days["In Progress"], m.time_in_stage_days["In Review"]) == (2.875, 0)
    flagged = replace(moved, flag_changes=(FlagChange(at(5, 10), True),))
    m = metrics(flagged, "fractional", now=at(5, 20))
    assert m.time_in_stage_days["In Review"] == pytest.approx(1 / 24)
    assert m.blocked_days == 0
    m = metrics(item, "fractional", zone=NEW_YORK, now=at(5, 20))
    assert m.wip_age_days == pytest.approx((3 * 24 - 12 + 5) / 24)


def test_time_in_stage_of_an_open_item_runs_to_now() -> None:
    """To Do 1st→2nd, In Progress 2nd→ (now, the start of a day) 5th 00:00 = 2.5 d."""
    m = metrics(history((at(2), "In Progress")), now=at(5, 0))
    assert m.time_in_stage_days == {"To Do": 1, "In Progress": 2.5, "In Review": 0, "Done": 0}
    assert (m.wait_days, m.active_days) == (1, 2.5)


def test_metrics_from_a_timeline_equal_metrics_from_the_item() -> None:
    item = history((at(2), "In Progress"), (at(3), "To Do"), (at(5), "In Review"), (at(7), "Done"))
    options = KpiOptions()
    timeline = stage_timeline(item, WORKFLOW)
    assert item_metrics_from_timeline(item, timeline, WORKFLOW, options, at(20)) == item_metrics(
        item, WORKFLOW, options, at(20)
    )
    assert commitment_and_done_from_timeline(timeline, 1, 3) == (at(5), at(7))
    assert commitment_and_done_from_timeline((), 1, 3) == (None, None)


# --- blocked time, wait time, flow efficiency ---------------------------------------------

FLOW = Workflow(
    stages=(
        WorkflowStage("To Do", frozenset({"To Do"}), Stage.TODO),
        WorkflowStage("In Progress", frozenset({"In Progress"}), Stage.IN_PROGRESS),
        WorkflowStage("Waiting", frozenset({"Waiting"}), Stage.IN_PROGRESS),
        WorkflowStage("Blocked", frozenset({"Blocked"}), Stage.IN_PROGRESS),
        WorkflowStage("Done", frozenset({"Done"}), Stage.DONE),
    ),
    commitment_stage="In Progress",
    done_stage="Done",
    wait_stages=frozenset({"Waiting"}),
    blocked_stages=frozenset({"Blocked"}),
)


def test_blocked_wait_active_and_flow_efficiency_without_double_counting() -> None:
    """All at midnight UTC. Created 1 Mar, In Progress 2 Mar, Waiting 3 Mar, In Progress
    4 Mar, Blocked 5 Mar, In Progress 6 Mar, Done 8 Mar: lead 7 d.
    Flagged 2 Mar 12:00 → 3 Mar 00:00 (0.5 d in In Progress), 3 Mar 12:00 → 4 Mar 00:00
    (0.5 d while Waiting: blocked, not waiting), 5 Mar 06:00 → 18:00 (inside the Blocked
    stage: not counted twice).

    time in stage: To Do 1, In Progress 1 + 1 + 2 = 4, Waiting 1, Blocked 1, Done 0 (sum 7);
    blocked = 0.5 + 0.5 + 1 = 2; wait = To Do 1 + Waiting 1 - 0.5 flagged = 1.5;
    active = 7 - 2 - 1.5 = 3.5 (= In Progress 4 - 0.5 flagged); efficiency 3.5 / 7 = 0.5.
    Waiting → In Progress is a move back ahead of the commitment point: no restart, so
    cycle 2..8 = 7 inclusive.
    """
    item = history(
        (at(2, 0), "In Progress"),
        (at(3, 0), "Waiting"),
        (at(4, 0), "In Progress"),
        (at(5, 0), "Blocked"),
        (at(6, 0), "In Progress"),
        (at(8, 0), "Done"),
        created=at(1, 0),
        flags=(
            (at(2, 12), True),
            (at(3, 0), False),
            (at(3, 12), True),
            (at(4, 0), False),
            (at(5, 6), True),
            (at(5, 18), False),
        ),
    )
    m = metrics(item, workflow=FLOW)
    assert m.time_in_stage_days == {
        "To Do": 1,
        "In Progress": 4,
        "Waiting": 1,
        "Blocked": 1,
        "Done": 0,
    }
    assert (m.blocked_days, m.wait_days, m.active_days) == (2, 1.5, 3.5)
    assert m.flow_efficiency == 0.5
    assert (m.cycle_time_days, m.lead_time_days) == (7, 8)


def test_flag_still_up_is_clipped_at_done_or_now_and_repeats_do_not_restart_it() -> None:
    """Flagged 3 Mar 00:00, flagged again 4 Mar 00:00 (no effect), never cleared.
    Done 5 Mar 12:00: blocked 2.5 d. Open as of 6 Mar 00:00: blocked 3 d."""
    flags = ((at(3, 0), True), (at(4, 0), True))
    done = history((at(2, 0), "In Progress"), (at(5), "Done"), created=at(1, 0), flags=flags)
    assert metrics(done, workflow=FLOW).blocked_days == 2.5
    open_ = history((at(2, 0), "In Progress"), created=at(1, 0), flags=flags)
    m = metrics(open_, workflow=FLOW, now=at(6, 0))
    assert (m.blocked_days, m.wait_days, m.active_days) == (3, 1, 1)


def test_flags_before_creation_or_unflag_without_flag_are_harmless() -> None:
    """Unflagged on the 2nd (never flagged), flagged 28 Feb (before creation, taken at
    creation 1 Mar 00:00) to 1 Mar 12:00: 0.5 d blocked while in To Do (not waiting)."""
    item = history(
        (at(2, 0), "In Progress"),
        (at(3, 0), "Done"),
        created=at(1, 0),
        flags=((at(28, 0, month=2), True), (at(1, 12), False), (at(2, 6), False)),
    )
    m = metrics(item, workflow=FLOW)
    assert (m.blocked_days, m.wait_days, m.active_days, m.flow_efficiency) == (0.5, 0.5, 1, 0.5)
