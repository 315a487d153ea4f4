"""Flow metrics over an item's stage history: cycle time, throughput, WIP.

Pure functions over plain data. Definitions (Vacanti's, as ActionableAgile):

- an item is *committed* when it first enters an in-progress stage; a move
  back to a to-do stage un-commits it, and the clock restarts at the next
  commitment;
- it is *done* at its final entry into a done stage (a reopened item is done
  only when it is done for good); an item that skips in-progress is committed
  and done at the same moment;
- cycle time counts calendar days inclusively: done the day it started = 1;
- dates are taken in the reporting time zone, so an item finished at 23:30
  in New York counts on that New York day.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pmo_sync.domain import Stage

__all__ = [
    "FlowItem",
    "TeamFlow",
    "commitment_and_done",
    "cycle_time_days",
    "percentile",
    "team_flow",
    "weekly_throughput",
]


@dataclass(frozen=True, slots=True)
class FlowItem:
    """An item's stage history: where it started and each stage it moved to, oldest first."""

    key: str
    team: str
    created: datetime
    initial_stage: Stage
    moves: tuple[tuple[datetime, Stage], ...]

    @property
    def current_stage(self) -> Stage:
        return self.moves[-1][1] if self.moves else self.initial_stage


def commitment_and_done(item: FlowItem) -> tuple[datetime | None, datetime | None]:
    """(committed at, done at) — either None when the item has not got there."""
    committed: datetime | None = None
    done: datetime | None = None
    stage = item.initial_stage
    if stage is not Stage.TODO:
        committed = item.created
    if stage is Stage.DONE:
        done = item.created
    for at, to_stage in item.moves:
        if to_stage is Stage.TODO:
            committed, done = None, None
        elif to_stage is Stage.IN_PROGRESS:
            committed = committed or at
            done = None
        elif to_stage is Stage.DONE:
            committed = committed or at
            done = done or at
        stage = to_stage
    return committed, done if stage is Stage.DONE else None


def cycle_time_days(committed: datetime, done: datetime, zone: ZoneInfo) -> int:
    """Calendar days from commitment to done, inclusive, in the reporting zone."""
    return (done.astimezone(zone).date() - committed.astimezone(zone).date()).days + 1


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def weekly_throughput(done_days: Iterable[date], last_week_start: date, weeks: int) -> list[int]:
    """Items done per Monday-starting week, oldest first, zero-filled, ending with that week."""
    counts = Counter(day - timedelta(days=day.weekday()) for day in done_days)
    starts = [last_week_start - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    return [counts.get(start, 0) for start in starts]


@dataclass(frozen=True, slots=True)
class TeamFlow:
    team: str
    items: int
    done: int
    wip: int
    cycle_time_p50: float | None
    cycle_time_p85: float | None
    weekly_throughput: tuple[int, ...]


def team_flow(
    items: Iterable[FlowItem], today: date, zone: ZoneInfo, weeks: int = 4
) -> list[TeamFlow]:
    """Per team: cycle-time median and 85th percentile, weekly throughput, current WIP."""
    by_team: dict[str, list[FlowItem]] = {}
    for item in items:
        by_team.setdefault(item.team, []).append(item)
    this_monday = today - timedelta(days=today.weekday())
    result = []
    for team, team_items in sorted(by_team.items()):
        cycle_times: list[float] = []
        done_days: list[date] = []
        wip = 0
        for item in team_items:
            committed, done = commitment_and_done(item)
            if done is not None and committed is not None:
                cycle_times.append(cycle_time_days(committed, done, zone))
                done_days.append(done.astimezone(zone).date())
            elif committed is not None:
                wip += 1
        result.append(
            TeamFlow(
                team=team,
                items=len(team_items),
                done=len(done_days),
                wip=wip,
                cycle_time_p50=percentile(cycle_times, 50),
                cycle_time_p85=percentile(cycle_times, 85),
                weekly_throughput=tuple(weekly_throughput(done_days, this_monday, weeks)),
            )
        )
    return result
