"""How the work matches strategy: each theme's share of the work against its target share.

Issue 17's "Strategy" answer, pure over `WorkItem`s (docs/portfolio.md, "Strategy: themes
against their target share"). Per theme of portfolio.yaml, and for the work aligned to no
theme, over a window of days [first, last] (both count, as the KPIs' windows do):

- **work in progress**: the items in progress at the end of the last day, and the item-days in
  progress over the window (the average WIP's share, the one measured against the target:
  a target is a share of capacity over time, and one item finishing on the last day moves the
  snapshot, not the average);
- **throughput**: the items done within the window, counted and in points;
- **requests open**: the requests (the request levels, default epic and feature) open at the
  end of the last day;

each as `amount` of `total` (every theme's and the unaligned work's together), its percent, and
the percent minus the theme's target share (percentage points; positive: above the target).
A zero total gives no percent (None), never a division by zero. The same shares per
consecutive period ending on the last day make the trend.

What is work (WIP and throughput) is `pmo_sync.portfolio.work.is_work`: what the KPI engine
counts as throughput, and nothing above the story level (shared with the forecasts). An item is in
progress on day d when it started on or before d, is not done by the end of d, and is not back
in to-do now: the KPIs' WIP ("An item that sits behind the commitment point now is not
committed and not WIP", docs/metrics.md 2.3), with the first start as its commitment.

One pass over the items fills difference arrays per theme over the days the window and the
trend cover; the shares of every period are read off them: O(items + themes x periods x days).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import DEFAULT_REQUEST_LEVELS, ThemeConfig
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.portfolio.work import is_work

__all__ = [
    "DEFAULT_PERIODS",
    "DEFAULT_PERIOD_DAYS",
    "PeriodShares",
    "Share",
    "StrategyAnswer",
    "ThemeShares",
    "strategy_shares",
]

DEFAULT_PERIOD_DAYS = 14
"""Two weeks: a common sprint, two ISO weeks, short enough for six points in the KPIs' window."""
DEFAULT_PERIODS = 6
"""Six periods of two weeks: 84 days, about the KPIs' twelve-week window."""


@dataclass(frozen=True, slots=True)
class Share:
    """`amount` of `total`: `percent` is None when the total is 0; `off_target` is `percent`
    minus the theme's target share in percentage points (None without either)."""

    amount: float
    total: float
    percent: float | None
    off_target: float | None


@dataclass(frozen=True, slots=True)
class ThemeShares:
    """One theme's shares over one period; `theme` None is the work aligned to no theme."""

    theme: str | None
    target_share: float | None
    """Percent of all the work (aligned or not) the theme should get; None: no target."""
    wip: Share
    """Items in progress at the end of the period's last day."""
    wip_days: Share
    """Item-days in progress over the period: the average WIP's share, the one to steer by."""
    done_items: Share
    """Items done within the period."""
    done_points: Share
    """Their points; an item without points adds 0 (see `done_unpointed`)."""
    done_unpointed: int
    """Items done within the period that have no points."""
    requests_open: Share
    """Requests open at the end of the period's last day."""


@dataclass(frozen=True, slots=True)
class PeriodShares:
    """Every theme's shares over [first, last]: the configured themes in portfolio.yaml's order,
    then any theme an item names that the file does not (by name), then the unaligned work."""

    first: date
    last: date
    themes: tuple[ThemeShares, ...]

    @property
    def unaligned(self) -> ThemeShares:
        """The work aligned to no theme (always the last row)."""
        return self.themes[-1]


@dataclass(frozen=True, slots=True)
class StrategyAnswer:
    """The window's shares and the trend: `periods` of `period_days` ending on the window's
    last day, oldest first. `unplanned_room` is 100 minus the targets' sum (the share no theme
    is meant to take); None when no theme has a target."""

    window: PeriodShares
    trend: tuple[PeriodShares, ...]
    period_days: int
    unplanned_room: float | None


def strategy_shares(
    items: Iterable[WorkItem],
    themes: Sequence[ThemeConfig],
    first: date,
    last: date,
    request_levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
    period_days: int = DEFAULT_PERIOD_DAYS,
    periods: int = DEFAULT_PERIODS,
) -> StrategyAnswer:
    """Each theme's shares over [first, last] and per period of the trend (module docstring)."""
    if first > last:
        raise ValueError(f"the window's first day {first} is after its last {last}")
    if period_days < 1 or periods < 0:
        raise ValueError(f"need period_days >= 1 and periods >= 0, got {period_days}, {periods}")
    trend_first = last - timedelta(days=period_days * periods - 1)
    series = _Series(min(first, trend_first), last, themes, request_levels)
    for item in items:
        series.add(item)
    trend = tuple(
        series.period(
            last - timedelta(days=period_days * (periods - i) - 1),
            last - timedelta(days=period_days * (periods - 1 - i)),
        )
        for i in range(periods)
    )
    targets = [t.target_share for t in themes if t.target_share is not None]
    room = 100 - sum(targets) if targets else None
    return StrategyAnswer(series.period(first, last), trend, period_days, room)


class _Series:
    """Per theme, daily difference arrays (WIP, open requests) and daily sums (done items,
    points, unpointed) over [start, end]; index i is day start + i."""

    def __init__(
        self,
        start: date,
        end: date,
        themes: Sequence[ThemeConfig],
        request_levels: Collection[str],
    ) -> None:
        self.start = start
        self.days = (end - start).days + 1
        self.themes = list(themes)
        self.index = {t.name.casefold(): i for i, t in enumerate(themes)}
        self.request_levels = frozenset(level.casefold() for level in request_levels)
        self.rows = [_Row(self.days) for _ in themes]
        self.unknown: dict[str, _Row] = {}
        """Rows of themes an item names that portfolio.yaml does not (edited since)."""
        self.unaligned = _Row(self.days)

    def row(self, theme: str | None) -> _Row:
        if theme is None:
            return self.unaligned
        at = self.index.get(theme.casefold())
        if at is not None:
            return self.rows[at]
        return self.unknown.setdefault(theme, _Row(self.days))

    def add(self, item: WorkItem) -> None:
        request = item.level is not None and item.level.casefold() in self.request_levels
        work = is_work(item)
        if not (request or work):
            return
        row = self.row(item.theme)
        done = item.done if item.stage is Stage.DONE else None
        if request:
            self._interval(row.requests, item.created, done)
        if not work:
            return
        if item.started is not None and item.stage is not Stage.TODO:
            self._interval(row.wip, item.started, done)
        if done is not None and 0 <= (i := (done - self.start).days) < self.days:
            row.done[i] += 1
            if item.points is None:
                row.unpointed[i] += 1
            else:
                row.points[i] += item.points

    def _interval(self, diff: list[float], since: date, done: date | None) -> None:
        """+1 from `since` to the day before `done` (open: to the end), within the days."""
        begin = max((since - self.start).days, 0)
        stop = self.days if done is None else min((done - self.start).days, self.days)
        if begin < stop:
            diff[begin] += 1
            diff[stop] -= 1

    def period(self, first: date, last: date) -> PeriodShares:
        """Every row's shares over [first, last], which lies within the series' days."""
        lo, hi = (first - self.start).days, (last - self.start).days
        rows: list[tuple[str | None, float | None, _Row]] = [
            (t.name, t.target_share, row) for t, row in zip(self.themes, self.rows, strict=True)
        ]
        rows += [(name, None, self.unknown[name]) for name in sorted(self.unknown)]
        rows.append((None, None, self.unaligned))
        sums = [row.sums(lo, hi) for _, _, row in rows]
        totals = [sum(column) for column in zip(*sums, strict=True)]
        return PeriodShares(
            first,
            last,
            tuple(
                ThemeShares(
                    theme=name,
                    target_share=target,
                    wip=_share(amounts[0], totals[0], target),
                    wip_days=_share(amounts[1], totals[1], target),
                    done_items=_share(amounts[2], totals[2], target),
                    done_points=_share(amounts[3], totals[3], target),
                    done_unpointed=int(amounts[4]),
                    requests_open=_share(amounts[5], totals[5], target),
                )
                for (name, target, _), amounts in zip(rows, sums, strict=True)
            ),
        )


class _Row:
    """One theme's daily arrays. `wip` and `requests` start as difference arrays (one day
    longer, so an interval open to the end closes past it) and become each day's level once,
    when the first period is read."""

    __slots__ = ("done", "leveled", "points", "requests", "unpointed", "wip")

    def __init__(self, days: int) -> None:
        self.wip: list[float] = [0] * (days + 1)
        self.requests: list[float] = [0] * (days + 1)
        self.done: list[float] = [0] * days
        self.points: list[float] = [0.0] * days
        self.unpointed: list[float] = [0] * days
        self.leveled = False

    def sums(self, lo: int, hi: int) -> tuple[float, float, float, float, float, float]:
        """(WIP at the end of day hi, WIP item-days over lo..hi, done items, done points,
        done unpointed, requests open at the end of day hi). Points are summed with `fsum`:
        exact for any estimates, in any order."""
        if not self.leveled:
            self.wip = list(accumulate(self.wip[:-1]))
            self.requests = list(accumulate(self.requests[:-1]))
            self.leveled = True
        days = slice(lo, hi + 1)
        return (
            self.wip[hi],
            sum(self.wip[days]),
            sum(self.done[days]),
            math.fsum(self.points[days]),
            sum(self.unpointed[days]),
            self.requests[hi],
        )


def _share(amount: float, total: float, target: float | None) -> Share:
    percent = None if total == 0 else amount * 100 / total
    off = None if percent is None or target is None else percent - target
    return Share(amount, total, percent, off)
