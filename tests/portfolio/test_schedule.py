"""Traditional work beside agile, worked out by hand (docs/portfolio.md, "Traditional work:
schedule"). Days are written as offsets from 1 March 2026: `d(30)` is 31 March 2026.

The project: Team Gamma (Jira, run as a traditional project) with its epic E4 over the
milestones G1..G8; Team Alpha (scrum) with dated stories beside it. Today is d(45).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from pmo_sync.domain import Stage
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import DateMove, WorkItem
from pmo_sync.portfolio.schedule import (
    ItemDateMoves,
    Milestone,
    TeamDateMoves,
    TeamMilestones,
    TeamVariance,
    Variance,
    date_moves,
    items_move,
    measures_for,
    milestones,
    schedule_variances,
    target_of,
    team_date_moves,
    team_variances,
)
from pmo_sync.sandbox import portfolio as script

START = date(2026, 3, 1)
TODAY_N = 45


def d(n: int) -> date:
    return START + timedelta(days=n)


TODAY = d(TODAY_N)
GAMMA = "Team Gamma"
ALPHA = "Team Alpha"


def ref(key: str) -> ItemRef:
    return ("jira", key)


def item(
    key: str,
    team: str | None = GAMMA,
    *,
    done: int | None = None,
    due: int | None = None,
    target_end: int | None = None,
    parent: str | None = None,
    started: int | None = None,
    stage: Stage | None = None,
    level: str = "story",
) -> WorkItem:
    """An item created on d(0); done when `done` is given (or `stage` says so)."""
    return WorkItem(
        ref=ref(key),
        team=team,
        level=level,
        item_type="epic" if level == "epic" else "story",
        parent=ref(parent) if parent else None,
        stage=stage or (Stage.DONE if done is not None else Stage.TODO),
        created=d(0),
        started=d(started) if started is not None else None,
        done=d(done) if done is not None else None,
        due_date=d(due) if due is not None else None,
        target_end=d(target_end) if target_end is not None else None,
    )


# The project as it stands on d(45):
E4 = item("E4", due=60, level="epic")  # open, forecast d(58): -2; not a milestone (has children)
G1 = item("G1", parent="E4", due=30, done=38)  # finished 8 days late: +8
G2 = item("G2", parent="E4", due=56)  # open, forecast d(52): 4 days early, -4
G3 = item("G3", parent="E4", due=40, done=36)  # finished 4 days early: -4
G4 = item("G4", parent="E4", due=42)  # open, unforecast, 3 days past its date: +3 so far
G5 = item("G5", parent="E4", due=45)  # open, unforecast, due today: not late yet
G6 = item("G6", parent="E4")  # never dated: no variance, no milestone
G7 = item("G7", parent="E4", target_end=20, due=25, done=22)  # the target end rules: +2
G8 = item("G8", parent="E4", due=44, done=44)  # finished on the day: 0
A1 = item("A1", ALPHA, due=40, done=41)  # a scrum team's dated item: +1
A2 = item("A2", ALPHA)  # undated
A3 = item("A3", ALPHA, due=50)  # open, forecast d(43) made before today: finishes today at best
A4 = item("A4", ALPHA, due=30, stage=Stage.DONE)  # done, its done day unknown
ITEMS = [E4, G1, G2, G3, G4, G5, G6, G7, G8, A1, A2, A3, A4]
FORECASTS: dict[ItemRef, date | None] = {
    ref("E4"): d(58),
    ref("G2"): d(52),
    ref("G4"): None,  # no throughput history: no forecast, measured as overdue
    ref("A3"): d(43),
}


def test_the_target_is_the_target_end_else_the_due_date() -> None:
    assert target_of(G7) == (d(20), "target_end")
    assert target_of(G1) == (d(30), "due_date")
    assert target_of(G6) is None


def test_schedule_variance_of_each_dated_item() -> None:
    assert schedule_variances(ITEMS, FORECASTS, TODAY) == [
        # open, forecast d(58) against d(60): 58 - 60 = -2
        Variance(ref("E4"), GAMMA, d(60), "due_date", "forecast", d(58), -2),
        # done d(38) against d(30): 38 - 30 = +8 late
        Variance(ref("G1"), GAMMA, d(30), "due_date", "actual", d(38), 8),
        # forecast d(52) against d(56): 52 - 56 = -4
        Variance(ref("G2"), GAMMA, d(56), "due_date", "forecast", d(52), -4),
        # done d(36) against d(40): -4
        Variance(ref("G3"), GAMMA, d(40), "due_date", "actual", d(36), -4),
        # open past d(42), no forecast: at least today 45 - 42 = +3
        Variance(ref("G4"), GAMMA, d(42), "due_date", "overdue", d(45), 3),
        # due today, open, no forecast: nothing to measure yet
        Variance(ref("G5"), GAMMA, d(45), "due_date", "pending", None, None),
        # G6: never dated, absent. G7: target end d(20), not the due d(25): 22 - 20 = +2
        Variance(ref("G7"), GAMMA, d(20), "target_end", "actual", d(22), 2),
        # done on its day: 0
        Variance(ref("G8"), GAMMA, d(44), "due_date", "actual", d(44), 0),
        # any team's dated item: 41 - 40 = +1
        Variance(ref("A1"), ALPHA, d(40), "due_date", "actual", d(41), 1),
        # A2 undated. A3: forecast d(43) is before today; an open item finishes today at
        # the earliest: 45 - 50 = -5
        Variance(ref("A3"), ALPHA, d(50), "due_date", "forecast", d(45), -5),
        # done without a done day: unknown
        Variance(ref("A4"), ALPHA, d(30), "due_date", "unknown", None, None),
    ]


def test_a_forecast_past_the_date_of_an_overdue_item_wins_over_today() -> None:
    # G4 is 3 days past its date; a forecast of d(50) says 50 - 42 = +8, not today's +3.
    assert schedule_variances([G4], {ref("G4"): d(50)}, TODAY) == [
        Variance(ref("G4"), GAMMA, d(42), "due_date", "forecast", d(50), 8)
    ]


def test_a_reopened_item_is_measured_as_open_not_by_its_old_done_day() -> None:
    # Done on d(38), reopened: the stage is in progress; `done` is None for an open item, and
    # were a stale one passed it would be ignored. Past d(30), no forecast: 45 - 30 = +15.
    reopened = replace(G1, stage=Stage.IN_PROGRESS)
    assert schedule_variances([reopened], {}, TODAY) == [
        Variance(ref("G1"), GAMMA, d(30), "due_date", "overdue", d(45), 15)
    ]


def test_team_variance_counts_late_items_and_takes_the_median() -> None:
    assert team_variances(schedule_variances(ITEMS, FORECASTS, TODAY)) == [
        # Alpha: dated A1, A3, A4; measured +1 and -5 (A4 unknown); late: A1;
        # median of (-5, 1) = -2
        TeamVariance(ALPHA, dated=3, measured=2, late=1, median_days=-2.0),
        # Gamma: dated E4, G1, G2, G3, G4, G5, G7, G8 (8); measured all but G5 (7):
        # sorted -4, -4, -2, 0, 2, 3, 8, the median is the 4th: 0; late: G1, G4, G7
        TeamVariance(GAMMA, dated=8, measured=7, late=3, median_days=0.0),
    ]


def test_team_variance_of_items_without_a_team_comes_last() -> None:
    loose = item("L1", None, due=10, done=12)  # +2
    assert team_variances(schedule_variances([loose, A1], {}, TODAY)) == [
        TeamVariance(ALPHA, dated=1, measured=1, late=1, median_days=1.0),
        TeamVariance(None, dated=1, measured=1, late=1, median_days=2.0),
    ]


def test_milestones_are_the_dated_leaves_of_traditional_teams() -> None:
    teams = [("jira", GAMMA), ("jira", "Team Delta")]  # Delta: traditional, nothing synced
    assert milestones(ITEMS, teams, TODAY) == [
        TeamMilestones(
            "jira",
            GAMMA,
            (
                # E4 has children: not a milestone. G6 is undated: not a milestone.
                Milestone(ref("G1"), GAMMA, d(30), d(38), "missed", 8),  # 38 - 30
                Milestone(ref("G2"), GAMMA, d(56), None, "pending", None),  # its date to come
                Milestone(ref("G3"), GAMMA, d(40), d(36), "met", None),  # 4 days early
                Milestone(ref("G4"), GAMMA, d(42), None, "missed", 3),  # open: 45 - 42, growing
                Milestone(ref("G5"), GAMMA, d(45), None, "pending", None),  # due today
                Milestone(ref("G7"), GAMMA, d(20), d(22), "missed", 2),  # target end d(20)
                Milestone(ref("G8"), GAMMA, d(44), d(44), "met", None),  # on the day
            ),
            # met G3, G8; missed G1, G4, G7; decided 5: 2 / 5 = 0.4
            met=2,
            missed=3,
            pending=2,
            share_met=0.4,
        ),
        TeamMilestones("jira", "Team Delta", (), met=0, missed=0, pending=0, share_met=None),
    ]


def test_milestones_are_per_source_and_leaves_across_teams() -> None:
    # An Azure DevOps Team Gamma not named traditional has no milestones here; a Gamma item
    # whose only child is Alpha's is no leaf; an early milestone due after today is met.
    ado = WorkItem(("ado", "7"), GAMMA, "story", "story", None, Stage.DONE, d(0), done=d(5))
    ado = replace(ado, due_date=d(9))
    parent = item("G9", due=40)
    child = item("A9", ALPHA, parent="G9", due=35)
    early = item("G10", due=70, done=44)
    assert milestones([ado, parent, child, early], [("jira", GAMMA)], TODAY) == [
        TeamMilestones(
            "jira",
            GAMMA,
            (Milestone(ref("G10"), GAMMA, d(70), d(44), "met", None),),
            met=1,
            missed=0,
            pending=0,
            share_met=1.0,
        )
    ]


def test_a_done_milestone_without_a_done_day_stays_pending() -> None:
    unknown = item("G11", due=30, stage=Stage.DONE)
    (gamma,) = milestones([unknown], [("jira", GAMMA)], TODAY)
    assert gamma.milestones == (Milestone(ref("G11"), GAMMA, d(30), None, "pending", None),)
    assert (gamma.met, gamma.missed, gamma.pending, gamma.share_met) == (0, 0, 1, None)


def move(key: str, field: str, on: int, from_day: int | None, to_day: int | None) -> DateMove:
    return DateMove(
        ref(key),
        field,
        d(on),
        d(from_day) if from_day is not None else None,
        d(to_day) if to_day is not None else None,
    )


# The dates' history:
E1 = item("E1", ALPHA, due=61, level="epic")
C1 = item("C1", ALPHA)  # its due date was moved, then cleared
G20 = item("G20", due=56)
G21 = item("G21", due=35)
G22 = item("G22", target_end=20, due=30)
X1 = item("X1", target_end=55, due=55)  # Azure DevOps: Target Date is both facts
N1 = item("N1", due=40)  # dated once, never moved
MOVE_ITEMS = [E1, C1, G20, G21, G22, X1, N1, G6]
MOVES = [
    # E1: set d(40) on d(0) (no move), then three slips of 7 days: 40 -> 47 -> 54 -> 61
    move("E1", "due_date", 0, None, 40),
    move("E1", "due_date", 10, 40, 47),
    move("E1", "due_date", 20, 47, 54),
    move("E1", "due_date", 30, 54, 61),
    move("E1", "start_date", 12, 10, 30),  # a start date's move: not the target
    # C1: 30 -> 35 (+5), then cleared (no move)
    move("C1", "due_date", 5, 30, 35),
    move("C1", "due_date", 10, 35, None),
    # G20: moved earlier, 60 -> 56: -4
    move("G20", "due_date", 15, 60, 56),
    # G21, given out of order: 30 -> 33 (+3) on d(2), 33 -> 31 (-2) on d(4), 31 -> 35 (+4) on d(6)
    move("G21", "due_date", 6, 31, 35),
    move("G21", "due_date", 2, 30, 33),
    move("G21", "due_date", 4, 33, 31),
    # G22: its target end moved 18 -> 20 (+2); its due date's move (25 -> 30) is not its target
    move("G22", "target_end", 5, 18, 20),
    move("G22", "due_date", 5, 25, 30),
    # X1: one change of Target Date stored as two facts: counted once, +5
    move("X1", "target_end", 8, 50, 55),
    move("X1", "due_date", 8, 50, 55),
    move("N1", "due_date", 1, None, 40),
    move("GONE", "due_date", 3, 10, 20),  # an item no longer live: ignored
]


def test_date_moves_per_item() -> None:
    assert date_moves(MOVE_ITEMS, MOVES) == [
        # three moves later of 7: 21 days, median 7; net +21
        ItemDateMoves(ref("E1"), ALPHA, "due_date", (7, 7, 7), 3, 21, 7.0, 0, 0, 21),
        # undated now, its due date's history still counts: one move later of 5
        ItemDateMoves(ref("C1"), ALPHA, "due_date", (5,), 1, 5, 5.0, 0, 0, 5),
        # moved earlier: no slip, -4 days, net -4
        ItemDateMoves(ref("G20"), GAMMA, "due_date", (), 0, 0, None, 1, -4, -4),
        # oldest first: +3, -2, +4: two later (7 days, median 3.5), one earlier (-2), net +5
        ItemDateMoves(ref("G21"), GAMMA, "due_date", (3, 4), 2, 7, 3.5, 1, -2, 5),
        # the target end's +2 only
        ItemDateMoves(ref("G22"), GAMMA, "target_end", (2,), 1, 2, 2.0, 0, 0, 2),
        # one slip of 5, not two
        ItemDateMoves(ref("X1"), GAMMA, "target_end", (5,), 1, 5, 5.0, 0, 0, 5),
        # dated, never moved: zeros. G6, never dated: absent
        ItemDateMoves(ref("N1"), GAMMA, "due_date", (), 0, 0, None, 0, 0, 0),
    ]


def test_date_moves_per_team() -> None:
    assert team_date_moves(date_moves(MOVE_ITEMS, MOVES)) == [
        # Alpha: E1 (7, 7, 7) and C1 (5): 2 items moved later, 4 moves, 26 days;
        # the median of the moves 5, 7, 7, 7 is 7
        TeamDateMoves(ALPHA, 2, 2, 4, 26, 7.0, 0, 0),
        # Gamma: G20, G21, G22, X1, N1 dated (5); moved later G21, G22, X1 (3);
        # moves later 3, 4, 2, 5 (4 moves, 14 days, median of 2, 3, 4, 5 = 3.5);
        # earlier: G20 -4 and G21 -2 (2 moves, -6 days)
        TeamDateMoves(GAMMA, 5, 3, 4, 14, 3.5, 2, -6),
    ]


@pytest.mark.parametrize(
    ("method", "moves", "expected"),
    [
        ("scrum", True, ("velocity", "sprints", "flow")),
        ("kanban", True, ("flow",)),
        ("traditional", True, ("flow", "schedule_variance", "milestones", "date_moves")),
        ("traditional", False, ("schedule_variance", "milestones", "date_moves")),
        ("scrum", False, ("velocity", "sprints", "flow")),  # only a project's flow depends on it
    ],
)
def test_the_measures_that_fit_each_delivery_method(
    method: str, moves: bool, expected: tuple[str, ...]
) -> None:
    assert measures_for(method, moves=moves) == expected  # type: ignore[arg-type]


def test_items_move_when_any_was_ever_in_progress() -> None:
    # G1..G8 went to-do -> done with no start day: a plan ticked off, no flow to show
    assert items_move([G1, G3, G8]) is False
    assert items_move([G1, replace(G3, started=d(30))]) is True
    assert items_move([]) is False


def test_the_worked_example_shows_gamma_its_dates_and_no_flow() -> None:
    # docs/portfolio.md's worked example: none of Gamma's items has a start day
    gamma = [i for i in ITEMS if i.team == GAMMA]
    assert measures_for("traditional", moves=items_move(gamma)) == (
        "schedule_variance",
        "milestones",
        "date_moves",
    )


# -- the scripted portfolio (pmo_sync.sandbox.portfolio), the sandboxes' ground truth ------------
# Its Team Gamma is the traditional project: epic E4 over the milestones G1..G3. What the
# schedule answers say of it on day 42 (the second sync), worked from the script's steps.

SCRIPT_START = date(2030, 1, 7)  # a Monday; the releases' planned days are offsets from it
SCRIPT_STAGES = {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}


def scripted(today: int) -> tuple[list[WorkItem], list[DateMove]]:
    """The script's items and due-date moves after its steps up to day `today`, as the
    store's reads would give them (the done day: the day of the move to Done)."""
    steps = [step for step in script.ALL_STEPS if step.at.days <= today]
    truth = script.truth(steps)
    started: dict[str, int] = {}
    done: dict[str, int] = {}
    moves: list[DateMove] = []
    due: dict[str, int] = {}
    for step in steps:
        if isinstance(step, script.Move):
            if step.stage == "In Progress":
                started.setdefault(step.label, step.at.days)
            if step.stage == "Done":
                done[step.label] = step.at.days
        if isinstance(step, script.SetDates) and step.due is not None:
            before = due.get(step.label)
            if step.due != before:
                moves.append(
                    DateMove(
                        ("script", step.label),
                        "due_date",
                        script.day(SCRIPT_START, step.at.days),
                        script.day(SCRIPT_START, before) if before is not None else None,
                        script.day(SCRIPT_START, step.due),
                    )
                )
                due[step.label] = step.due

    def on(offset: int | None) -> date | None:
        return script.day(SCRIPT_START, offset) if offset is not None else None

    items = [
        WorkItem(
            ref=("script", t.label),
            team=script.TEAMS[t.team],
            level=t.level,
            item_type="epic" if t.level == "epic" else "story",
            parent=("script", t.parent) if t.parent else None,
            stage=SCRIPT_STAGES[t.stage],
            created=SCRIPT_START,
            started=on(started.get(t.label)),
            done=on(done.get(t.label)) if t.stage == "Done" else None,
            due_date=on(t.due),
        )
        for t in truth.items.values()
    ]
    return items, moves


def s(offset: int) -> date:
    return script.day(SCRIPT_START, offset)


def test_the_scripted_portfolio_schedule_on_day_42() -> None:
    items, moves = scripted(42)
    today = s(42)
    variances = schedule_variances(items, {}, today)
    # Dated: E1 61, E2 50, E3 60, E4 70, G1 38, G2 56, G3 70, A5 56. Only G1 is done (day 39,
    # due 38 after its slip): 39 - 38 = +1. The rest are open with dates after day 42 and no
    # forecast: pending.
    assert [(v.ref[1], v.basis, v.days) for v in variances] == [
        ("E1", "pending", None),
        ("E2", "pending", None),
        ("E3", "pending", None),
        ("E4", "pending", None),
        ("G1", "actual", 1),
        ("G2", "pending", None),
        ("G3", "pending", None),
        ("A5", "pending", None),
    ]
    assert team_variances(variances) == [
        TeamVariance("Team Alpha", dated=2, measured=0, late=0, median_days=None),  # E1, A5
        TeamVariance("Team Beta", dated=2, measured=0, late=0, median_days=None),  # E2, E3
        TeamVariance("Team Gamma", dated=4, measured=1, late=1, median_days=1.0),
    ]
    # Gamma's milestones: G1..G3 (E4 has children). G1 met its date a day late; G2 (56) and
    # G3 (70) are to come: 0 of 1 decided met.
    (gamma,) = milestones(items, [("script", "Team Gamma")], today)
    assert gamma.milestones == (
        Milestone(("script", "G1"), "Team Gamma", s(38), s(39), "missed", 1),
        Milestone(("script", "G2"), "Team Gamma", s(56), None, "pending", None),
        Milestone(("script", "G3"), "Team Gamma", s(70), None, "pending", None),
    )
    assert (gamma.met, gamma.missed, gamma.pending, gamma.share_met) == (0, 1, 2, 0.0)
    # E1: 40 -> 47 (day 15) -> 54 (day 30) -> 61 (day 36): three slips of 7. E3: 45 -> 60 on
    # day 36: +15. G1: 30 -> 38 on day 22: +8. Every other dated item was set once.
    assert team_date_moves(date_moves(items, moves)) == [
        TeamDateMoves("Team Alpha", 2, 1, 3, 21, 7.0, 0, 0),
        TeamDateMoves("Team Beta", 2, 1, 1, 15, 15.0, 0, 0),
        TeamDateMoves("Team Gamma", 4, 1, 1, 8, 8.0, 0, 0),
    ]
    # G1 and G2 went through In Progress: the project's flow is shown beside its dates.
    gamma_items = [i for i in items if i.team == "Team Gamma"]
    assert measures_for("traditional", moves=items_move(gamma_items)) == (
        "flow",
        "schedule_variance",
        "milestones",
        "date_moves",
    )
