"""The plain data the portfolio answers are computed from (issue 17), one shape for all of them.

The answers (request forecasts, strategy shares, dependency risks, release delivery, the
schedule of traditional work, the backtest) are pure functions over these values, worked out
by hand in tests; the store's reads build them at the edge. Days, not instants: every answer
is about calendar days in the reporting zone, as the KPIs are (docs/metrics.md).

An item is named by its `ItemRef`, (source, key): keys are what parents and links name, and a
key is unique within its source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from pmo_sync.domain import Stage
from pmo_sync.portfolio.items import ItemRef

__all__ = ["DateMove", "Dependency", "PortfolioRelease", "WorkItem", "ancestors"]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One live item as the portfolio answers read it."""

    ref: ItemRef
    team: str | None
    level: str | None
    """`initiative`, `epic`, `feature`, `story`, `task`, `subtask`, or a tracker's own name."""
    item_type: str
    """The normalised type: `story`, `bug`, `task`, `subtask`, `epic` or `other`."""
    parent: ItemRef | None
    stage: Stage
    """Where the item is now."""
    created: date
    started: date | None = None
    """The first day it entered an in-progress stage (None: never started)."""
    done: date | None = None
    """The day it last entered the done stage, if it is done now (None: open)."""
    points: float | None = None
    rank: str | None = None
    """Sorts within a team's backlog: the lower, the nearer the top (`common.rank`)."""
    priority: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    target_start: date | None = None
    target_end: date | None = None
    theme: str | None = None
    """The strategic theme portfolio.yaml gives it (`portfolio.themes.theme_of`), or None."""
    releases: tuple[str, ...] = ()
    """The names of the releases it is planned for."""

    @property
    def is_open(self) -> bool:
        return self.stage is not Stage.DONE


@dataclass(frozen=True, slots=True)
class DateMove:
    """One change of a promised date: `field` is `start_date`, `due_date`, `target_start` or
    `target_end` (`domain.DATE_FIELDS`); `on` the day it was changed; a date set for the
    first time has `from_day` None, a date cleared `to_day` None."""

    ref: ItemRef
    field: str
    on: date
    from_day: date | None
    to_day: date | None

    @property
    def later_by(self) -> int | None:
        """Days the date moved later (negative: earlier); None when either side is unset."""
        if self.from_day is None or self.to_day is None:
            return None
        return (self.to_day - self.from_day).days


@dataclass(frozen=True, slots=True)
class Dependency:
    """`blocker` must be done before `waiting` can be (a stored link read both ways,
    `domain.LinkDirection`). A blocker outside the synced scope is known by its key only
    (`blocker_known` False): its state is unknown, never assumed done."""

    blocker: ItemRef
    waiting: ItemRef
    blocker_known: bool = True


@dataclass(frozen=True, slots=True)
class PortfolioRelease:
    """A release of a source: the day it is planned for, and the day it shipped (None: not
    yet). A tracker that keeps one date (Jira's release date) gives it as `planned` until it
    ships and as `released_on` once it has; `planned` is then what was last seen before."""

    source: str
    name: str
    project: str | None
    planned: date | None
    released_on: date | None


def ancestors(item: WorkItem, by_ref: Mapping[ItemRef, WorkItem]) -> Iterator[ItemRef]:
    """The item's parents up the chain, nearest first. The walk ends at a parent not among
    `by_ref` (out of scope, deleted, or not yet created on the day asked about) and before a
    parent already seen, so a cycle in the tracker's data never loops. Lazy: a caller that
    wants the nearest match stops there."""
    seen = {item.ref}
    parent = item.parent
    while parent is not None and parent in by_ref and parent not in seen:
        seen.add(parent)
        yield parent
        parent = by_ref[parent].parent
