"""The sandboxes' shared clock: each dataset's "now" (Jira, Azure DevOps, Trello)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


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
