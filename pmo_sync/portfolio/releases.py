"""Releases and delivery (issue 17): per team, how often working product ships and how
close to the day planned. Pure.

A release belongs to every team with an item planned for it (`WorkItem.releases`). Over the
last N whole calendar months: releases shipped per month (the trend of "frequent delivery of
working product", Agile Manifesto principle 3), the share shipped on or before the planned
day, the slip in days (shipped - planned: early is negative), the team's items per release
and the median days between release days; and every release past its planned day that has
not shipped. The same measures over every release, whoever's, are the portfolio's.
docs/portfolio.md, "Releases and delivery", defines each and works an example by hand.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pmo_sync.portfolio.model import PortfolioRelease, WorkItem

__all__ = [
    "MonthReleases",
    "ReleaseDelivery",
    "ReleaseOutcome",
    "ReleaseReport",
    "release_delivery",
    "window_months",
]

ReleaseKey = tuple[str, str]
"""(source, name): what an item's `releases` names within its source."""


@dataclass(frozen=True, slots=True)
class MonthReleases:
    month: date
    """The month's first day."""
    released: int


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    """One release as a team (or the portfolio) sees it."""

    source: str
    name: str
    planned: date | None
    released_on: date | None
    items: int
    """The team's items planned for it (the portfolio's: every item)."""
    slip_days: int | None
    """Shipped: released_on - planned (early: negative). Not shipped and past its planned
    day: today - planned, the slip so far. None without a planned day."""

    @property
    def on_time(self) -> bool | None:
        """Shipped on or before the planned day; None without one."""
        return None if self.slip_days is None else self.slip_days <= 0


@dataclass(frozen=True, slots=True)
class ReleaseDelivery:
    """One team's release delivery over the window (team None: the whole portfolio)."""

    team: str | None
    monthly: tuple[MonthReleases, ...]
    """Releases shipped in each month of the window, oldest first: the trend."""
    shipped: tuple[ReleaseOutcome, ...]
    """Releases shipped in the window, by day shipped, then source and name."""
    overdue: tuple[ReleaseOutcome, ...]
    """Releases not shipped whose planned day is before today (whenever), by planned day."""
    per_month: float
    """Releases shipped in the window ÷ its months."""
    on_time_share: float | None
    """Shipped on time ÷ (shipped with a planned day + not shipped, planned in the window);
    None when there is none to judge."""
    median_slip_days: float | None
    """Median slip of the releases shipped in the window with a planned day."""
    median_items: float | None
    """Median of `items` over the releases shipped in the window."""
    median_days_between: float | None
    """Median days between consecutive distinct ship days in the window (two or more)."""


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    window_start: date
    window_end: date
    teams: tuple[ReleaseDelivery, ...]
    """By team name; a team with no release in its items is absent."""
    portfolio: ReleaseDelivery


def window_months(today: date, months: int) -> tuple[date, ...]:
    """The first days of the `months` whole calendar months before today's month, oldest
    first: the month in progress is left out, so every month counted is whole."""
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        firsts.append(date(year, month, 1))
    return tuple(reversed(firsts))


def release_delivery(
    items: Iterable[WorkItem],
    releases: Iterable[PortfolioRelease],
    today: date,
    months: int = 6,
) -> ReleaseReport:
    """Each team's release delivery over the `months` whole months before today's month.

    A source listing one release name twice (two Jira projects' "1.0") is one release for
    this answer, since an item names its releases by name: planned the earlier planned day,
    shipped when the last of them shipped (not shipped while one has not). An item naming a
    release the source does not list has no dates to judge and is left out, as is a team-less
    item's team (its release still counts for the portfolio).
    """
    firsts = window_months(today, months)
    start, end = firsts[0], today.replace(day=1) - timedelta(days=1)
    merged = _merge(releases)
    per_team: dict[str, Counter[ReleaseKey]] = {}
    everyone: Counter[ReleaseKey] = Counter()
    for item in items:
        for name in dict.fromkeys(item.releases):
            key = (item.ref[0], name)
            if key not in merged:
                continue
            everyone[key] += 1
            if item.team is not None:
                per_team.setdefault(item.team, Counter())[key] += 1
    measure = _Measure(firsts, start, end, today)
    teams = tuple(
        measure(team, {key: merged[key] for key in counts}, counts)
        for team, counts in sorted(per_team.items())
    )
    return ReleaseReport(start, end, teams, measure(None, merged, everyone))


def _merge(releases: Iterable[PortfolioRelease]) -> dict[ReleaseKey, PortfolioRelease]:
    merged: dict[ReleaseKey, PortfolioRelease] = {}
    for release in releases:
        key = (release.source, release.name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = release
            continue
        planned = [d for d in (seen.planned, release.planned) if d is not None]
        shipped = (
            None
            if seen.released_on is None or release.released_on is None
            else max(seen.released_on, release.released_on)
        )
        merged[key] = PortfolioRelease(
            release.source, release.name, seen.project, min(planned, default=None), shipped
        )
    return merged


@dataclass(frozen=True, slots=True)
class _Measure:
    firsts: tuple[date, ...]
    start: date
    end: date
    today: date

    def __call__(
        self,
        team: str | None,
        releases: Mapping[ReleaseKey, PortfolioRelease],
        items: Mapping[ReleaseKey, int],
    ) -> ReleaseDelivery:
        shipped: list[ReleaseOutcome] = []
        overdue: list[ReleaseOutcome] = []
        late_unshipped_in_window = 0
        for key, release in releases.items():
            count = items.get(key, 0)
            if release.released_on is not None:
                if self.start <= release.released_on <= self.end:
                    slip = _days(release.released_on, release.planned)
                    shipped.append(_outcome(release, count, slip))
            elif release.planned is not None and release.planned < self.today:
                overdue.append(_outcome(release, count, _days(self.today, release.planned)))
                late_unshipped_in_window += self.start <= release.planned <= self.end
        shipped.sort(key=lambda r: (r.released_on, r.source, r.name))
        overdue.sort(key=lambda r: (r.planned, r.source, r.name))
        by_month = Counter(r.released_on.replace(day=1) for r in shipped if r.released_on)
        slips = [r.slip_days for r in shipped if r.slip_days is not None]
        judged = len(slips) + late_unshipped_in_window
        on_time = sum(slip <= 0 for slip in slips)
        days = sorted({r.released_on for r in shipped if r.released_on})
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        return ReleaseDelivery(
            team=team,
            monthly=tuple(MonthReleases(first, by_month[first]) for first in self.firsts),
            shipped=tuple(shipped),
            overdue=tuple(overdue),
            per_month=len(shipped) / len(self.firsts),
            on_time_share=on_time / judged if judged else None,
            median_slip_days=_median(slips),
            median_items=_median([r.items for r in shipped]),
            median_days_between=_median(gaps),
        )


def _outcome(release: PortfolioRelease, items: int, slip: int | None) -> ReleaseOutcome:
    return ReleaseOutcome(
        release.source, release.name, release.planned, release.released_on, items, slip
    )


def _days(later: date, earlier: date | None) -> int | None:
    return None if earlier is None else (later - earlier).days


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None
