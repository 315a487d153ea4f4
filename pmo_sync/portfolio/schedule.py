"""Traditional work beside agile (issue 17): schedule variance, milestones met on time, how
often and by how much promised dates moved, and which measures fit each delivery method. Pure.

A team run as a traditional project (`portfolio.delivery`) is judged against its dates, not by
velocity or sprints; and any item with a promised date, whatever its team, can be late. So the
schedule answers read the item's *target*: `target_end` (the plan's end: Advanced Roadmaps'
Target end, Azure DevOps' Target Date), else `due_date`. One date per item, the same one for
the variance and for its moves, so a tracker that keeps one field as two facts (Azure DevOps'
Target Date is both) counts each change once. docs/portfolio.md, "Traditional work:
schedule", defines every number with a worked example.

No clock and no store: `today` is a parameter, forecasts come in as a mapping (the request
forecasts compute them; an open item without one is measured only once its date has passed).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pmo_sync.portfolio.config import DeliveryMethod
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import DateMove, WorkItem

__all__ = [
    "MEASURES",
    "ItemDateMoves",
    "Measure",
    "Milestone",
    "TeamDateMoves",
    "TeamMilestones",
    "TeamVariance",
    "Variance",
    "date_moves",
    "items_move",
    "measures_for",
    "milestones",
    "schedule_variances",
    "target_of",
    "team_date_moves",
    "team_variances",
]

TargetField = Literal["target_end", "due_date"]
VarianceBasis = Literal["actual", "forecast", "overdue", "pending", "unknown"]
MilestoneStatus = Literal["met", "missed", "pending"]
Measure = Literal["velocity", "sprints", "flow", "schedule_variance", "milestones", "date_moves"]

MEASURES: tuple[Measure, ...] = (
    "velocity",
    "sprints",
    "flow",
    "schedule_variance",
    "milestones",
    "date_moves",
)
"""Every KPI family, in the order a view shows them."""


def target_of(item: WorkItem) -> tuple[date, TargetField] | None:
    """The date the item is promised for and the field it comes from: `target_end`, else
    `due_date`; None for an item with neither (never dated, or its dates cleared)."""
    if item.target_end is not None:
        return item.target_end, "target_end"
    if item.due_date is not None:
        return item.due_date, "due_date"
    return None


# -- schedule variance ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variance:
    """One dated item's finish against its target. `days` = finish - target: positive late,
    negative early, 0 on the day; None while nothing says when it finishes (`pending`) or a
    done item has no done day (`unknown`)."""

    ref: ItemRef
    team: str | None
    target: date
    target_field: TargetField
    basis: VarianceBasis
    """`actual`: done, finish = its done day. `forecast`: open, finish = its forecast (never
    before today). `overdue`: open, no forecast, its date passed: finish = today, a lower
    bound that grows each day. `pending`: open, no forecast, its date is today or later."""
    finish: date | None
    days: int | None


def schedule_variances(
    items: Iterable[WorkItem], forecasts: Mapping[ItemRef, date | None], today: date
) -> list[Variance]:
    """Every dated item's variance, in the order given; an undated item has none."""
    out: list[Variance] = []
    for item in items:
        dated = target_of(item)
        if dated is None:
            continue
        target, field = dated
        basis, finish = _finish(item, target, forecasts.get(item.ref), today)
        days = None if finish is None else (finish - target).days
        out.append(Variance(item.ref, item.team, target, field, basis, finish, days))
    return out


def _finish(
    item: WorkItem, target: date, forecast: date | None, today: date
) -> tuple[VarianceBasis, date | None]:
    if not item.is_open:
        return ("actual", item.done) if item.done is not None else ("unknown", None)
    if forecast is not None:
        # An open item finishes today at the earliest: a forecast day already past is
        # stale (made on an earlier day), and would claim an early finish it cannot have.
        return "forecast", max(forecast, today)
    if target < today:
        return "overdue", today
    return "pending", None


@dataclass(frozen=True, slots=True)
class TeamVariance:
    """A team's dated items: how many have a variance, how many of those are late (> 0), and
    the median variance in days (None: none measured)."""

    team: str | None
    dated: int
    measured: int
    late: int
    median_days: float | None


def team_variances(variances: Iterable[Variance]) -> list[TeamVariance]:
    """Per team (by name, no team last), from `schedule_variances`."""
    by_team: dict[str | None, list[Variance]] = defaultdict(list)
    for v in variances:
        by_team[v.team].append(v)
    out = []
    for team in sorted(by_team, key=_team_order):
        days = [v.days for v in by_team[team] if v.days is not None]
        out.append(
            TeamVariance(
                team,
                dated=len(by_team[team]),
                measured=len(days),
                late=sum(1 for d in days if d > 0),
                median_days=_median(days),
            )
        )
    return out


def _team_order(team: str | None) -> tuple[bool, str]:
    return team is None, team or ""


# -- milestones -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Milestone:
    """A dated leaf item of a traditional team. `met`: done on or before its date. `missed`:
    done after it, or still open after it. `pending`: open, its date today or later.
    `late_days`: how much it was missed by (done - date; open: today - date, and growing);
    None unless missed."""

    ref: ItemRef
    team: str
    target: date
    done: date | None
    status: MilestoneStatus
    late_days: int | None


@dataclass(frozen=True, slots=True)
class TeamMilestones:
    """A traditional team's milestones (in the order given) and the share met on time among
    those decided (met + missed); None when none is decided yet."""

    source: str
    team: str
    milestones: tuple[Milestone, ...]
    met: int
    missed: int
    pending: int
    share_met: float | None


def milestones(
    items: Iterable[WorkItem], traditional: Collection[tuple[str, str]], today: date
) -> list[TeamMilestones]:
    """The milestones of each traditional team, `traditional` naming them as (source, team)
    (`TeamDelivery` with method `traditional`). `items` must be every live item: a leaf is an
    item no other item names as its parent, so an item passed without its children would
    count as a milestone. A team with no milestone is listed with none, in the order given."""
    items = list(items)
    parents = {item.parent for item in items if item.parent is not None}
    by_team: dict[tuple[str, str], list[Milestone]] = {key: [] for key in traditional}
    for item in items:
        key = (item.ref[0], item.team or "")
        if item.team is None or key not in by_team or item.ref in parents:
            continue
        dated = target_of(item)
        if dated is None:
            continue
        by_team[key].append(_milestone(item, item.team, dated[0], today))
    out = []
    for (source, team), found in by_team.items():
        met = sum(1 for m in found if m.status == "met")
        missed = sum(1 for m in found if m.status == "missed")
        decided = met + missed
        out.append(
            TeamMilestones(
                source,
                team,
                tuple(found),
                met=met,
                missed=missed,
                pending=len(found) - decided,
                share_met=met / decided if decided else None,
            )
        )
    return out


def _milestone(item: WorkItem, team: str, target: date, today: date) -> Milestone:
    done = item.done if not item.is_open else None
    if done is not None:
        late = (done - target).days
        if late <= 0:
            return Milestone(item.ref, team, target, done, "met", None)
        return Milestone(item.ref, team, target, done, "missed", late)
    if not item.is_open:
        # Done without a known done day: whether it was met cannot be said.
        return Milestone(item.ref, team, target, None, "pending", None)
    if target < today:
        return Milestone(item.ref, team, target, None, "missed", (today - target).days)
    return Milestone(item.ref, team, target, None, "pending", None)


# -- date moves -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemDateMoves:
    """How an item's target moved: each move later in days (`slips`, oldest first), their
    count, sum and median; the moves earlier (count, days: negative); and the net shift
    (later + earlier). Setting a date for the first time and clearing one are not moves."""

    ref: ItemRef
    team: str | None
    field: TargetField
    slips: tuple[int, ...]
    moves_later: int
    days_later: int
    median_later: float | None
    moves_earlier: int
    days_earlier: int
    net_days: int


def date_moves(items: Iterable[WorkItem], moves: Iterable[DateMove]) -> list[ItemDateMoves]:
    """Per item, in the order given, the moves of its target field (`target_of`; an item
    with neither date now: `target_end` if it ever had a change of it, else `due_date`). An
    item with no date now and no change of one is left out; moves of items not given are
    ignored (out of scope or deleted)."""
    history: dict[tuple[ItemRef, str], list[int]] = defaultdict(list)
    for move in sorted(moves, key=lambda m: m.on):
        shift = history[(move.ref, move.field)]  # a change that is no move still dates the item
        if move.later_by:
            shift.append(move.later_by)
    out = []
    for item in items:
        dated = target_of(item)
        if dated is not None:
            field: TargetField = dated[1]
        elif (item.ref, "target_end") in history:
            field = "target_end"
        elif (item.ref, "due_date") in history:
            field = "due_date"
        else:
            continue
        shifts = history.get((item.ref, field), [])
        later = tuple(d for d in shifts if d > 0)
        earlier = [d for d in shifts if d < 0]
        out.append(
            ItemDateMoves(
                item.ref,
                item.team,
                field,
                slips=later,
                moves_later=len(later),
                days_later=sum(later),
                median_later=_median(later),
                moves_earlier=len(earlier),
                days_earlier=sum(earlier),
                net_days=sum(shifts),
            )
        )
    return out


def _median(values: Collection[int]) -> float | None:
    return float(statistics.median(values)) if values else None


@dataclass(frozen=True, slots=True)
class TeamDateMoves:
    """A team's dated items: how many moved later at least once, the moves later and their
    days, the median of those moves (each move one value, not each item's sum), the moves
    earlier and their days (negative)."""

    team: str | None
    dated: int
    items_moved_later: int
    moves_later: int
    days_later: int
    median_later: float | None
    moves_earlier: int
    days_earlier: int


def team_date_moves(per_item: Iterable[ItemDateMoves]) -> list[TeamDateMoves]:
    """Per team (by name, no team last), from `date_moves`."""
    by_team: dict[str | None, list[ItemDateMoves]] = defaultdict(list)
    for row in per_item:
        by_team[row.team].append(row)
    out = []
    for team in sorted(by_team, key=_team_order):
        rows = by_team[team]
        out.append(
            TeamDateMoves(
                team,
                dated=len(rows),
                items_moved_later=sum(1 for row in rows if row.moves_later),
                moves_later=sum(row.moves_later for row in rows),
                days_later=sum(row.days_later for row in rows),
                median_later=_median([d for row in rows for d in row.slips]),
                moves_earlier=sum(row.moves_earlier for row in rows),
                days_earlier=sum(row.days_earlier for row in rows),
            )
        )
    return out


# -- the measures that fit each delivery method ---------------------------------------------------

_FITS: dict[DeliveryMethod, tuple[Measure, ...]] = {
    "scrum": ("velocity", "sprints", "flow"),
    "kanban": ("flow",),
    "traditional": ("flow", "schedule_variance", "milestones", "date_moves"),
}


def measures_for(method: DeliveryMethod, *, moves: bool = True) -> tuple[Measure, ...]:
    """The KPI families a team of this method is shown with, in `MEASURES` order: no
    velocity for a Kanban team, no sprint for a project. A traditional team gets flow only
    where its items move through the board (`moves`, `items_move`): a plan whose items go
    from to-do straight to done has no cycle time or WIP to show."""
    fits = _FITS[method]
    if method == "traditional" and not moves:
        fits = tuple(m for m in fits if m != "flow")
    return tuple(m for m in MEASURES if m in fits)


def items_move(items: Iterable[WorkItem]) -> bool:
    """Whether any of a team's items was ever in progress (has a start day)."""
    return any(item.started is not None for item in items)
