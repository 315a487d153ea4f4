"""How the pages write numbers and moments: the same words as the CLI's tables."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_days", "format_moment"]


def format_days(value: float | None) -> str:
    """`12.5 d`, or an en dash when there is no value (as `kpis` prints `-`)."""
    return "\u2013" if value is None else f"{value:.1f} d"


def format_moment(value: datetime | None) -> str:
    """A stored moment in UTC to the minute: `2026-11-20 14:05 UTC`; `never` when absent."""
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
