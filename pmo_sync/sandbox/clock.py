"""The sandboxes' shared clock: each dataset's "now" (Jira, Azure DevOps, Trello).

A dataset is generated backwards from its "now": six months of history, sprints
laid out around it. The generators default to a fixed moment (their `DEFAULT_NOW`,
2026-11-20 12:00 UTC) so tests keep their expected figures; the demo and `pmo-sync
sandbox serve` start from `sandbox_now()`, relative to today, so what they show
(the active sprint, the age of the work in progress) does not decay with the
calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

__all__ = ["NOON", "Clock", "sandbox_now"]

NOON = time(12, 0, tzinfo=UTC)


def sandbox_now(today: date | None = None, *, wall: datetime | None = None) -> datetime:
    """Noon UTC of `today`; by default the latest noon UTC that has passed on `wall`
    (the real clock). Noon keeps a day's figures steady, and having passed it the
    sandbox never holds changes ahead of the clock a sync or a KPI run reads."""
    if today is not None:
        return datetime.combine(today, NOON)
    wall = wall if wall is not None else datetime.now(UTC)
    noon = datetime.combine(wall.astimezone(UTC).date(), NOON)
    return noon if noon <= wall else noon - timedelta(days=1)


class Clock:
    """The sandbox's "now" for mutations and relative JQL dates; only moves forward."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    @property
    def now(self) -> datetime:
        return self._now

    def advance(
        self, *, minutes: float = 0, hours: float = 0, days: float = 0, seconds: float = 0
    ) -> datetime:
        """Move time forward and return the new now."""
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._now = self._now + delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an absolute (aware, not earlier) time."""
        if when.tzinfo is None or when < self._now:
            raise ValueError("the clock only moves forward, to an aware datetime")
        self._now = when.astimezone(UTC)
        return self._now
