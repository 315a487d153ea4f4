"""The dependency and release answers on the scripted portfolio (pmo_sync.sandbox.portfolio).

The portfolio every sandbox plays, read from the script's truth after both acts (day 42, the
second sync), not from a store: what the answers must say of it, worked out by hand, for the
store-fed answers of each tracker to be compared with. Day n is START + n days (START
2030-01-07, a Monday, as the e2e worlds use).
"""

from __future__ import annotations

from datetime import date, timedelta

from pmo_sync.domain import Stage
from pmo_sync.portfolio.dependency_risk import (
    TeamPairDependencies,
    dependency_risks,
)
from pmo_sync.portfolio.model import Dependency, PortfolioRelease, WorkItem
from pmo_sync.portfolio.releases import MonthReleases, ReleaseOutcome, release_delivery
from pmo_sync.sandbox import portfolio as script

from ..scripted_answers import dependencies_on_day_42

START = date(2030, 1, 7)
SOURCE = "sandbox"
STAGES = {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
ALPHA, BETA, GAMMA = "Team Alpha", "Team Beta", "Team Gamma"


def day(n: int) -> date:
    return START + timedelta(days=n)


def ref(label: str) -> tuple[str, str]:
    return (SOURCE, label)


def work_items() -> dict[tuple[str, str], WorkItem]:
    """The truth's items as WorkItems: started the first day moved in progress, done the
    last day moved to done (the Move steps' days)."""
    truth = script.truth(script.ALL_STEPS)
    started: dict[str, int] = {}
    done: dict[str, int] = {}
    for step in script.ALL_STEPS:
        if isinstance(step, script.Move):
            if step.stage == "In Progress":
                started.setdefault(step.label, step.at.days)
            if step.stage == "Done":
                done[step.label] = step.at.days
    items = {}
    for label, t in truth.items.items():
        stage = STAGES[t.stage]
        items[ref(label)] = WorkItem(
            ref=ref(label),
            team=script.TEAMS[t.team],
            level=t.level,
            item_type="epic" if t.level != "story" else "story",
            parent=ref(t.parent) if t.parent else None,
            stage=stage,
            created=START,
            started=day(started[label]) if label in started else None,
            done=day(done[label]) if stage is Stage.DONE else None,
            due_date=day(t.due) if t.due is not None else None,
            releases=tuple(sorted(t.releases)),
        )
    return items


def test_the_scripted_dependencies_on_day_42() -> None:
    items = work_items()
    links = script.truth(script.ALL_STEPS).links()
    deps = [Dependency(ref(b), ref(w)) for b, w in sorted(links)]
    # Forecasts (p85) given by hand for the two open blockers: B1 day 55, G2 day 56 (its due).
    forecasts = {ref("B1"): day(55), ref("G2"): day(56)}
    report = dependency_risks(deps, items, forecasts, today=day(42))
    # A3 and B4 have no due date: their epic E2's (day 50) stands in.
    # B1 → A3: 55 - 50 = 5 days late for E2; A3 in progress (day 10), B1 still to do.
    # G2 → B4: 56 - 50 = 6 days late for E2; G2 is in progress, B4 to do.
    # G1 was done on day 39, A1 on day 12: resolved.
    assert report.dependencies == dependencies_on_day_42(ref, day)
    assert report.team_pairs == (
        TeamPairDependencies(ALPHA, ALPHA, open=0, at_risk=0, unknown=0, resolved=1),
        TeamPairDependencies(BETA, ALPHA, open=1, at_risk=1, unknown=0, resolved=0),
        TeamPairDependencies(GAMMA, BETA, open=1, at_risk=1, unknown=0, resolved=1),
    )


def test_the_scripted_releases_on_day_62() -> None:
    # Nothing happens after the script; on day 62 (2030-03-10), over January and February:
    # 2030.1 (A1, Alpha) planned day 20 (01-27), shipped day 19 (01-26): 1 day early;
    # 2030.2 (B3, Beta) planned day 25 (02-01), shipped day 31 (02-07): 6 days late;
    # 2030.3 (A2, A4, Alpha) planned day 60 (03-08), not shipped: overdue 2 days, due in
    # March (after the window): listed, not judged.
    releases = [
        PortfolioRelease(
            SOURCE, r.name, None, day(r.planned), day(r.released) if r.released else None
        )
        for r in script.RELEASES
    ]
    report = release_delivery(work_items().values(), releases, day(62), months=2)
    alpha, beta = report.teams
    assert (alpha.team, beta.team) == (ALPHA, BETA)
    jan, feb = date(2030, 1, 1), date(2030, 2, 1)
    assert alpha.monthly == (MonthReleases(jan, 1), MonthReleases(feb, 0))
    assert alpha.shipped == (ReleaseOutcome(SOURCE, "2030.1", day(20), day(19), 1, -1),)
    assert alpha.overdue == (ReleaseOutcome(SOURCE, "2030.3", day(60), None, 2, 2),)
    assert (alpha.on_time_share, alpha.median_slip_days, alpha.per_month) == (1.0, -1.0, 0.5)
    assert beta.monthly == (MonthReleases(jan, 0), MonthReleases(feb, 1))
    assert beta.shipped == (ReleaseOutcome(SOURCE, "2030.2", day(25), day(31), 1, 6),)
    assert (beta.on_time_share, beta.median_slip_days, beta.overdue) == (0.0, 6.0, ())
    # The portfolio: 1 of 2 on time; the two ship days 01-26 and 02-07 are 12 days apart.
    assert (report.portfolio.on_time_share, report.portfolio.median_days_between) == (0.5, 12.0)
