"""Dependencies at risk (issue 17): every blocker → waiting link with what it puts at risk. Pure.

A dependency is at risk when the blocker cannot be done in time for what waits on it: its
forecast finish is later than the waiting item's due date, or than the waiting item's own
forecast (which then ignores the link), or the waiting item is already in progress while its
blocker has not started. The blocker done (or deleted), or the waiting item done, resolves
it; a blocker outside the synced scope is unknown, never assumed done. Per pair of teams
(blocker's team, waiting team) the open dependencies and those at risk are counted, the
team-to-team view a PMO reads first. docs/portfolio.md, "Dependencies at risk", defines
each rule and works an example by hand.

Forecasts come in as plain days (`Forecasts`: an item's forecast done date, the p85 where
the caller follows the docs), so this module needs neither the Monte Carlo nor the clock:
`today` is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from pmo_sync.domain import Stage
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import Dependency, WorkItem, ancestors

__all__ = [
    "DEFAULT_REQUEST_LEVELS",
    "DependencyReport",
    "DependencyRisk",
    "DependencyStatus",
    "Forecasts",
    "Resolution",
    "Risk",
    "RiskFinding",
    "TeamPairDependencies",
    "dependency_risks",
]

Forecasts = Mapping[ItemRef, date]
"""Each open item's forecast done day (the p85 of the request forecast, docs/portfolio.md);
an item absent has no forecast (no throughput history, not forecast)."""

_DayOf = Callable[[WorkItem], date | None]

DEFAULT_REQUEST_LEVELS: frozenset[str] = frozenset({"epic", "feature"})
"""portfolio.yaml's default `requests.levels`: the waiting item's request is its nearest
ancestor (itself first) at one of these levels."""


class DependencyStatus(StrEnum):
    AT_RISK = "at_risk"
    """Open, with at least one `Risk`."""
    OPEN = "open"
    """Open, no risk found (with what is known: a waiting item without a due date or
    forecast has no date to miss)."""
    UNKNOWN = "unknown"
    """The blocker is outside the synced scope: known by its key only."""
    RESOLVED = "resolved"
    """Nothing waits any more (`Resolution` says why)."""


class Risk(StrEnum):
    LATE_FOR_DUE = "late_for_due"
    """The blocker finishes after the waiting item's due date."""
    LATE_FOR_FORECAST = "late_for_forecast"
    """The blocker finishes after the waiting item's own forecast done day."""
    STARTED_BEFORE_BLOCKER = "started_before_blocker"
    """The waiting item is in progress while its blocker is still to do."""


class Resolution(StrEnum):
    BLOCKER_DONE = "blocker_done"
    BLOCKER_DELETED = "blocker_deleted"
    """The blocker was synced once (its id is known) but is no longer a live item: the
    tracker deleted it; its work will never be done, so nothing is left to wait for."""
    WAITING_DONE = "waiting_done"
    """The waiting item finished anyway: the link no longer holds anything up."""


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """One risk: for the date risks, the date compared (`against`), whose it is (`of`: the
    waiting item, or its request when the waiting item has none of its own) and by how
    many days the blocker passes it."""

    risk: Risk
    days: int | None = None
    """The blocker's finish minus `against` (> 0); None for `STARTED_BEFORE_BLOCKER`."""
    against: date | None = None
    of: ItemRef | None = None
    at_least: bool = False
    """The blocker has no forecast: `days` counts from today, the earliest it can finish."""


@dataclass(frozen=True, slots=True)
class DependencyRisk:
    """One dependency and its risk."""

    blocker: ItemRef
    waiting: ItemRef
    blocker_team: str | None
    waiting_team: str | None
    status: DependencyStatus
    risks: tuple[RiskFinding, ...] = ()
    resolution: Resolution | None = None
    blocker_finish: date | None = None
    """The blocker's done day, else its forecast (never before today), else None."""
    waiting_request: ItemRef | None = None
    """The waiting item's request: it, or its nearest ancestor at a request level."""

    @property
    def within_team(self) -> bool:
        """Both ends in one team (both teams known): reported, flagged, counted in the
        team's own pair (Alpha → Alpha)."""
        return self.blocker_team is not None and self.blocker_team == self.waiting_team

    @property
    def is_open(self) -> bool:
        return self.status is not DependencyStatus.RESOLVED


@dataclass(frozen=True, slots=True)
class TeamPairDependencies:
    """The dependencies of one (blocker's team, waiting team) pair; None: no team known."""

    blocker_team: str | None
    waiting_team: str | None
    open: int
    """At risk, open and unknown ones: every one not resolved."""
    at_risk: int
    unknown: int
    resolved: int


@dataclass(frozen=True, slots=True)
class DependencyReport:
    dependencies: tuple[DependencyRisk, ...]
    """At risk first, then unknown, open, resolved; by waiting item, then blocker."""
    team_pairs: tuple[TeamPairDependencies, ...]
    """By blocker's team, then waiting team; a pair without a team last."""

    def at_risk(self) -> tuple[DependencyRisk, ...]:
        return tuple(d for d in self.dependencies if d.status is DependencyStatus.AT_RISK)

    def waiting_on(self, ref: ItemRef) -> tuple[DependencyRisk, ...]:
        """What `ref` still waits on, itself or through an item below it (a request's
        stories): the open dependencies, at risk first. What a request's sentence for
        stakeholders names ("waiting on ABC-12 of Team Beta")."""
        return tuple(
            d for d in self.dependencies if d.is_open and ref in (d.waiting, d.waiting_request)
        )


_STATUS_ORDER = {
    DependencyStatus.AT_RISK: 0,
    DependencyStatus.UNKNOWN: 1,
    DependencyStatus.OPEN: 2,
    DependencyStatus.RESOLVED: 3,
}


def dependency_risks(
    dependencies: Iterable[Dependency],
    items: Mapping[ItemRef, WorkItem],
    forecasts: Forecasts,
    today: date,
    request_levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
) -> DependencyReport:
    """Every dependency whose waiting item is among `items` (every live item of the synced
    sources), with its risk as of `today`, and the count per team pair.

    The same (blocker, waiting) pair given twice (a link stored at both ends) is one
    dependency; a link of an item to itself is none. A waiting item not among the items
    (out of scope, deleted) leaves its dependency out: nothing of the portfolio waits.
    """
    known: dict[tuple[ItemRef, ItemRef], bool] = {}
    for dep in dependencies:
        if dep.blocker == dep.waiting:
            continue
        pair = (dep.blocker, dep.waiting)
        known[pair] = known.get(pair, False) or dep.blocker_known
    judged = [
        _judge(blocker, items[waiting], blocker_known, items, forecasts, today, request_levels)
        for (blocker, waiting), blocker_known in known.items()
        if waiting in items
    ]
    judged.sort(key=lambda d: (_STATUS_ORDER[d.status], d.waiting, d.blocker))
    return DependencyReport(tuple(judged), _team_pairs(judged))


def _judge(
    blocker_ref: ItemRef,
    waiting: WorkItem,
    blocker_known: bool,
    items: Mapping[ItemRef, WorkItem],
    forecasts: Forecasts,
    today: date,
    request_levels: Collection[str],
) -> DependencyRisk:
    blocker = items.get(blocker_ref)
    request = _request_of(waiting, items, request_levels)
    base = DependencyRisk(
        blocker=blocker_ref,
        waiting=waiting.ref,
        blocker_team=blocker.team if blocker else None,
        waiting_team=waiting.team,
        status=DependencyStatus.OPEN,
        waiting_request=request.ref if request else None,
    )
    resolved = DependencyStatus.RESOLVED
    if blocker is not None and not blocker.is_open:
        return replace(
            base, status=resolved, resolution=Resolution.BLOCKER_DONE, blocker_finish=blocker.done
        )
    if blocker is None and blocker_known:
        return replace(base, status=resolved, resolution=Resolution.BLOCKER_DELETED)
    if not waiting.is_open:
        return replace(base, status=resolved, resolution=Resolution.WAITING_DONE)
    if blocker is None:
        return replace(base, status=DependencyStatus.UNKNOWN)

    forecast = forecasts.get(blocker.ref)
    finish = max(forecast, today) if forecast is not None else today
    at_least = forecast is None
    risks: list[RiskFinding] = []
    due_of = _first_with(waiting, request, lambda item: item.due_date)
    if due_of is not None and finish > due_of[1]:
        risks.append(_late(Risk.LATE_FOR_DUE, finish, due_of, at_least))
    waiting_forecast = _first_with(waiting, request, lambda item: forecasts.get(item.ref))
    if waiting_forecast is not None and finish > waiting_forecast[1]:
        risks.append(_late(Risk.LATE_FOR_FORECAST, finish, waiting_forecast, at_least))
    if waiting.stage is Stage.IN_PROGRESS and blocker.stage is Stage.TODO:
        risks.append(RiskFinding(Risk.STARTED_BEFORE_BLOCKER))
    status = DependencyStatus.AT_RISK if risks else DependencyStatus.OPEN
    return replace(
        base,
        status=status,
        risks=tuple(risks),
        blocker_finish=finish if forecast is not None else None,
    )


def _late(risk: Risk, finish: date, against: tuple[ItemRef, date], at_least: bool) -> RiskFinding:
    return RiskFinding(risk, (finish - against[1]).days, against[1], against[0], at_least)


def _first_with(
    waiting: WorkItem, request: WorkItem | None, read: _DayOf
) -> tuple[ItemRef, date] | None:
    """The waiting item's own day, else its request's: a story without a due date waits
    for the date its epic is promised by."""
    for item in (waiting, request):
        if item is not None:
            day = read(item)
            if day is not None:
                return item.ref, day
    return None


def _request_of(
    item: WorkItem, items: Mapping[ItemRef, WorkItem], levels: Collection[str]
) -> WorkItem | None:
    """The item itself or its nearest ancestor at a request level; the walk
    (`model.ancestors`) stops at a parent not among the items and at a cycle."""
    if item.level in levels:
        return item
    return next((items[r] for r in ancestors(item, items) if items[r].level in levels), None)


def _team_pairs(judged: Iterable[DependencyRisk]) -> tuple[TeamPairDependencies, ...]:
    counts: dict[tuple[str | None, str | None], list[int]] = {}
    for dep in judged:
        row = counts.setdefault((dep.blocker_team, dep.waiting_team), [0, 0, 0, 0])
        row[0] += dep.is_open
        row[1] += dep.status is DependencyStatus.AT_RISK
        row[2] += dep.status is DependencyStatus.UNKNOWN
        row[3] += dep.status is DependencyStatus.RESOLVED
    order = sorted(counts, key=lambda p: (p[0] is None, p[0] or "", p[1] is None, p[1] or ""))
    return tuple(TeamPairDependencies(b, w, *counts[(b, w)]) for b, w in order)
