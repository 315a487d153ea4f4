"""The filters every page reads from its URL (team, source, window), so a view is a link.

A filter the store does not know (a team nobody syncs, a source no connector
has) is kept in the URL and said on the page, never silently dropped: a
bookmark that stopped matching should say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import urlencode

__all__ = ["DEFAULT_WINDOW_DAYS", "WINDOW_CHOICES", "Filters"]

WINDOW_CHOICES = (30, 90, 180, 365)
"""Days of history the charts show; the stored series cover the KPI refresh's window."""
DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True, slots=True)
class Filters:
    team: str | None = None
    source: str | None = None
    window_days: int = DEFAULT_WINDOW_DAYS

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """The filters of a request's query string; an unknown window falls back to the default."""
        try:
            window = int(args.get("window", DEFAULT_WINDOW_DAYS))
        except ValueError:
            window = DEFAULT_WINDOW_DAYS
        if window not in WINDOW_CHOICES:
            window = DEFAULT_WINDOW_DAYS
        return cls(
            team=args.get("team") or None,
            source=args.get("source") or None,
            window_days=window,
        )

    def first_day(self, last: date) -> date:
        """The first day of the window that ends on `last` (both count: 90 days, 90 dates)."""
        return last - timedelta(days=self.window_days - 1)

    def query(self, **changes: object) -> str:
        """This view's query string with `changes` applied (`None` removes a filter)."""
        current = replace(self, **changes) if changes else self  # type: ignore[arg-type]
        pairs: list[tuple[str, str]] = []
        if current.team:
            pairs.append(("team", current.team))
        if current.source:
            pairs.append(("source", current.source))
        if current.window_days != DEFAULT_WINDOW_DAYS:
            pairs.append(("window", str(current.window_days)))
        return ("?" + urlencode(pairs)) if pairs else ""
