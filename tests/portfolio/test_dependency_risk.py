"""dependency_risks: each dependency's risk and the team-pair counts, worked out by hand.

Every example is as of TODAY, 2030-03-01, in one Jira source; forecasts are p85 days.
"""

from __future__ import annotations

from datetime import date

from pmo_sync.domain import Stage
from pmo_sync.portfolio.dependency_risk import (
    DependencyRisk,
    DependencyStatus,
    Resolution,
    Risk,
    RiskFinding,
    TeamPairDependencies,
    dependency_risks,
)
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import Dependency, WorkItem

TODAY = date(2030, 3, 1)
ALPHA, BETA = "Team Alpha", "Team Beta"
AT_RISK, OPEN = DependencyStatus.AT_RISK, DependencyStatus.OPEN
UNKNOWN, RESOLVED = DependencyStatus.UNKNOWN, DependencyStatus.RESOLVED


def ref(key: str) -> ItemRef:
    return ("acme-jira", key)


def item(
    key: str,
    team: str | None,
    stage: Stage = Stage.TODO,
    *,
    level: str = "story",
    parent: str | None = None,
    due: date | None = None,
    done: date | None = None,
) -> WorkItem:
    return WorkItem(
        ref=ref(key),
        team=team,
        level=level,
        item_type="epic" if level == "epic" else "story",
        parent=ref(parent) if parent else None,
        stage=stage,
        created=date(2030, 1, 2),
        started=date(2030, 2, 1) if stage is not Stage.TODO else None,
        done=done,
        due_date=due,
    )


def dep(blocker: str, waiting: str, *, known: bool = True) -> Dependency:
    return Dependency(ref(blocker), ref(waiting), blocker_known=known)


def index(*items: WorkItem) -> dict[ItemRef, WorkItem]:
    return {i.ref: i for i in items}


def test_a_portfolio_of_dependencies_by_hand() -> None:
    items = index(
        item("ABC-10", ALPHA, Stage.IN_PROGRESS, level="epic", due=date(2030, 3, 20)),
        item("ABC-11", ALPHA, Stage.IN_PROGRESS, parent="ABC-10"),  # no date of its own
        item("ABC-12", ALPHA, due=date(2030, 3, 15)),
        item("ABC-13", ALPHA),
        item("ABC-14", ALPHA, Stage.DONE, done=date(2030, 2, 27)),
        item("ABC-20", ALPHA),
        item("ABC-21", ALPHA, due=date(2030, 2, 25)),
        item("DEF-5", BETA),
        item("DEF-6", BETA, Stage.IN_PROGRESS),
        item("DEF-7", BETA, Stage.DONE, done=date(2030, 2, 20)),
        item("DEF-8", BETA, Stage.IN_PROGRESS),
    )
    forecasts = {
        ref("ABC-10"): date(2030, 3, 25),
        ref("ABC-12"): date(2030, 3, 15),
        ref("DEF-5"): date(2030, 3, 28),
        ref("DEF-6"): date(2030, 3, 15),
        ref("DEF-8"): date(2030, 4, 1),
    }
    deps = [
        dep("DEF-5", "ABC-11"),
        dep("DEF-5", "ABC-11"),  # the same link read from its other end: one dependency
        dep("DEF-6", "ABC-12"),
        dep("DEF-7", "ABC-13"),
        dep("DEF-99", "ABC-13"),  # synced once, deleted since
        dep("XYZ-1", "ABC-12", known=False),  # out of the synced scope
        dep("ABC-20", "ABC-21"),
        dep("DEF-8", "ABC-14"),
        dep("ABC-12", "ABC-12"),  # a link to itself: none
        dep("DEF-6", "GONE-1"),  # nothing of ours waits: left out
    ]
    report = dependency_risks(deps, items, forecasts, TODAY)

    base = {"blocker_team": BETA, "waiting_team": ALPHA}
    assert report.dependencies == (
        # DEF-5 → ABC-11: the story has no due date or forecast, so its epic's count.
        # DEF-5 finishes 03-28: 28 - 20 = 8 days after ABC-10's due date (03-20),
        # 28 - 25 = 3 days after ABC-10's forecast (03-25); and ABC-11 is in progress
        # while DEF-5 is to do.
        DependencyRisk(
            ref("DEF-5"),
            ref("ABC-11"),
            **base,
            status=AT_RISK,
            risks=(
                RiskFinding(Risk.LATE_FOR_DUE, 8, date(2030, 3, 20), ref("ABC-10")),
                RiskFinding(Risk.LATE_FOR_FORECAST, 3, date(2030, 3, 25), ref("ABC-10")),
                RiskFinding(Risk.STARTED_BEFORE_BLOCKER),
            ),
            blocker_finish=date(2030, 3, 28),
            waiting_request=ref("ABC-10"),
        ),
        # ABC-20 → ABC-21, within Alpha: ABC-20 has no forecast, so it finishes today at
        # the earliest; ABC-21 was due 02-25: at least 03-01 - 02-25 = 4 days late.
        DependencyRisk(
            ref("ABC-20"),
            ref("ABC-21"),
            ALPHA,
            ALPHA,
            AT_RISK,
            risks=(RiskFinding(Risk.LATE_FOR_DUE, 4, date(2030, 2, 25), ref("ABC-21"), True),),
        ),
        # XYZ-1 is out of scope: unknown, never assumed done.
        DependencyRisk(ref("XYZ-1"), ref("ABC-12"), None, ALPHA, UNKNOWN),
        # DEF-6 finishes 03-15, the day ABC-12 is due and forecast: not later, no risk.
        DependencyRisk(
            ref("DEF-6"), ref("ABC-12"), **base, status=OPEN, blocker_finish=date(2030, 3, 15)
        ),
        # DEF-7 is done: resolved the day it was done.
        DependencyRisk(
            ref("DEF-7"),
            ref("ABC-13"),
            **base,
            status=RESOLVED,
            resolution=Resolution.BLOCKER_DONE,
            blocker_finish=date(2030, 2, 20),
        ),
        # DEF-99 was synced (its id known) and is no longer live: deleted, resolved.
        DependencyRisk(
            ref("DEF-99"),
            ref("ABC-13"),
            None,
            ALPHA,
            RESOLVED,
            resolution=Resolution.BLOCKER_DELETED,
        ),
        # ABC-14 finished without waiting for DEF-8.
        DependencyRisk(
            ref("DEF-8"), ref("ABC-14"), **base, status=RESOLVED, resolution=Resolution.WAITING_DONE
        ),
    )
    assert [d.within_team for d in report.dependencies] == [False, True] + [False] * 5
    assert [d.blocker for d in report.at_risk()] == [ref("DEF-5"), ref("ABC-20")]
    # what ABC-10 waits on: its story's blocker; ABC-12 its unknown and open ones; ABC-13
    # nothing any more (both resolved)
    assert [d.blocker for d in report.waiting_on(ref("ABC-10"))] == [ref("DEF-5")]
    assert [d.blocker for d in report.waiting_on(ref("ABC-12"))] == [ref("XYZ-1"), ref("DEF-6")]
    assert report.waiting_on(ref("ABC-13")) == ()
    # open = every one not resolved (at risk, unknown, open)
    assert report.team_pairs == (
        TeamPairDependencies(ALPHA, ALPHA, open=1, at_risk=1, unknown=0, resolved=0),
        TeamPairDependencies(BETA, ALPHA, open=2, at_risk=1, unknown=0, resolved=2),
        TeamPairDependencies(None, ALPHA, open=1, at_risk=0, unknown=1, resolved=1),
    )


def test_the_waiting_items_own_dates_come_before_its_requests() -> None:
    # ABC-2 (story, due 03-10, forecast 03-12) under ABC-1 (epic, due 04-30, forecast 05-02);
    # DEF-1 finishes 03-20: 20 - 10 = 10 days after ABC-2's due, 20 - 12 = 8 after its forecast.
    items = index(
        item("ABC-1", ALPHA, level="epic", due=date(2030, 4, 30)),
        item("ABC-2", ALPHA, parent="ABC-1", due=date(2030, 3, 10)),
        item("DEF-1", BETA, Stage.IN_PROGRESS),
    )
    forecasts = {
        ref("ABC-1"): date(2030, 5, 2),
        ref("ABC-2"): date(2030, 3, 12),
        ref("DEF-1"): date(2030, 3, 20),
    }
    (found,) = dependency_risks([dep("DEF-1", "ABC-2")], items, forecasts, TODAY).dependencies
    assert found.risks == (
        RiskFinding(Risk.LATE_FOR_DUE, 10, date(2030, 3, 10), ref("ABC-2")),
        RiskFinding(Risk.LATE_FOR_FORECAST, 8, date(2030, 3, 12), ref("ABC-2")),
    )
    assert found.waiting_request == ref("ABC-1")
    # the epic waiting itself is its own request; 03-20 is before its due and forecast
    (epic,) = dependency_risks([dep("DEF-1", "ABC-1")], items, forecasts, TODAY).dependencies
    assert (epic.status, epic.waiting_request, epic.risks) == (OPEN, ref("ABC-1"), ())


def test_a_forecast_before_today_counts_from_today() -> None:
    # DEF-1's forecast 02-20 is stale: it is open today, so it finishes 03-01 at the
    # earliest: 1 day after ABC-1's due 02-28 (not at_least: the forecast is known).
    items = index(item("ABC-1", ALPHA, due=date(2030, 2, 28)), item("DEF-1", BETA))
    forecasts = {ref("DEF-1"): date(2030, 2, 20)}
    (found,) = dependency_risks([dep("DEF-1", "ABC-1")], items, forecasts, TODAY).dependencies
    assert found.blocker_finish == TODAY
    assert found.risks == (RiskFinding(Risk.LATE_FOR_DUE, 1, date(2030, 2, 28), ref("ABC-1")),)


def test_a_blocker_without_a_forecast_and_a_waiting_item_without_dates_is_open() -> None:
    # nothing to compare: no due date, no forecast; both to do, so not started early
    items = index(item("ABC-1", ALPHA), item("DEF-1", BETA))
    (found,) = dependency_risks([dep("DEF-1", "ABC-1")], items, {}, TODAY).dependencies
    assert (found.status, found.risks, found.blocker_finish) == (OPEN, (), None)
    # the blocker in progress and the waiting item too: no "started before its blocker"
    started = index(item("ABC-1", ALPHA, Stage.IN_PROGRESS), item("DEF-1", BETA, Stage.IN_PROGRESS))
    (both,) = dependency_risks([dep("DEF-1", "ABC-1")], started, {}, TODAY).dependencies
    assert both.status is OPEN


def test_a_blocker_the_link_calls_unknown_but_now_synced_is_judged() -> None:
    # the link was stored before DEF-1 came into scope (blocker_known False): the items know it
    items = index(item("ABC-1", ALPHA, Stage.IN_PROGRESS), item("DEF-1", BETA))
    deps = [dep("DEF-1", "ABC-1", known=False)]
    (found,) = dependency_risks(deps, items, {}, TODAY).dependencies
    assert (found.status, found.blocker_team) == (AT_RISK, BETA)
    assert found.risks == (RiskFinding(Risk.STARTED_BEFORE_BLOCKER),)
    # a link read from both ends, once without the blocker's id: known wins
    gone = dependency_risks(
        [*deps, dep("DEF-9", "ABC-1"), dep("DEF-9", "ABC-1", known=False)], items, {}, TODAY
    )
    assert [(d.blocker, d.resolution) for d in gone.dependencies] == [
        (ref("DEF-1"), None),
        (ref("DEF-9"), Resolution.BLOCKER_DELETED),
    ]


def test_the_request_walk_stops_at_a_cycle_and_at_a_parent_out_of_scope() -> None:
    # ABC-1's parent is ABC-2, ABC-2's is ABC-1: no request; ABC-3's parent is not synced
    items = index(
        item("ABC-1", ALPHA, parent="ABC-2"),
        item("ABC-2", ALPHA, parent="ABC-1"),
        item("ABC-3", ALPHA, parent="OUT-1"),
        item("DEF-1", BETA),
    )
    deps = [dep("DEF-1", "ABC-1"), dep("DEF-1", "ABC-3")]
    report = dependency_risks(deps, items, {}, TODAY)
    assert [d.waiting_request for d in report.dependencies] == [None, None]
    # with initiatives as the requests, the walk passes the epic and finds the initiative
    items[ref("ABC-2")] = item("ABC-2", ALPHA, level="initiative", parent="ABC-1")
    report = dependency_risks(deps, items, {}, TODAY, request_levels={"initiative"})
    assert [d.waiting_request for d in report.dependencies] == [ref("ABC-2"), None]
