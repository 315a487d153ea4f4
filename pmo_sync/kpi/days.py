"""Turning moments into reporting days, and spans into day counts.

Every flow tool the PMO compares us with counts days differently, so the
counting is an option (`KpiOptions.day_counting`), never a hidden choice:

- ``inclusive`` — calendar days, both ends counted: (end date - start date) + 1.
  Vacanti, *Actionable Agile Metrics for Predictability*, and
  ActionableAgile: an item started and finished on the same day took 1 day.
- ``exclusive`` — whole calendar days between the dates: end date - start date.
  jira-agile-metrics (whole days between the two dates): same day = 0.
- ``fractional`` — elapsed time / 24 h. Azure DevOps Analytics ``CycleTimeDays``
  and ``LeadTimeDays`` are decimal days of elapsed time.

The calendar countings take dates in the reporting zone: a change at 23:30 in
New York is on that New York day even though it is already tomorrow in UTC.
Fractional counting does not depend on the zone (elapsed time is elapsed time,
DST included).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from pmo_sync.kpi.model import DayCounting

__all__ = ["SECONDS_PER_DAY", "date_range", "local_date", "span_days", "week_start"]

SECONDS_PER_DAY = 86_400.0


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The calendar day `moment` (aware) falls on in the reporting zone."""
    return moment.astimezone(zone).date()


def span_days(start: datetime, end: datetime, counting: DayCounting, zone: tzinfo) -> float:
    """The length of [start, end] in days under `counting` (see the module docstring).

    >>> from datetime import UTC; from zoneinfo import ZoneInfo
    >>> a = datetime(2026, 3, 2, 14, tzinfo=UTC); b = datetime(2026, 3, 4, 4, 30, tzinfo=UTC)
    >>> span_days(a, b, "inclusive", ZoneInfo("America/New_York"))  # 2 Mar .. 3 Mar local
    2.0
    >>> span_days(a, b, "exclusive", ZoneInfo("UTC"))  # 2 Mar .. 4 Mar
    2.0
    >>> round(span_days(a, b, "fractional", ZoneInfo("UTC")), 4)  # 38.5 h / 24
    1.6042
    """
    if counting == "fractional":
        return (end - start).total_seconds() / SECONDS_PER_DAY
    days = (local_date(end, zone) - local_date(start, zone)).days
    if counting == "inclusive":
        return float(days + 1)
    if counting == "exclusive":
        return float(days)
    raise ValueError(f"unknown day counting {counting!r}")


def week_start(day: date) -> date:
    """The Monday of `day`'s week (ISO weeks; the PMO's weeks start on Monday)."""
    return day - timedelta(days=day.weekday())


def date_range(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included (empty when end < start)."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
