"""Time arithmetic for the simulation, on integer epoch seconds.

The generator creates millions of timestamps for large datasets, so it works on
plain ints rather than datetimes, and knows just enough about America/New_York
(the teams' and the API user's zone) to keep most activity in office hours while
letting some happen at odd hours.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "DAY",
    "HOUR",
    "USER_TZ",
    "from_epoch",
    "is_office_hours",
    "late_evening",
    "local_to_epoch",
    "next_office_morning",
    "to_epoch",
    "work_time",
]

USER_TZ = ZoneInfo("America/New_York")
HOUR = 3600
DAY = 86400

_offset_cache: dict[int, int] = {}


def _offset(t: int) -> int:
    """UTC offset of New York at epoch second `t`, cached per hour (DST flips on the hour)."""
    bucket = t // HOUR
    off = _offset_cache.get(bucket)
    if off is None:
        moment = datetime.fromtimestamp(bucket * HOUR, UTC)
        delta = USER_TZ.utcoffset(moment.replace(tzinfo=None))
        off = int(delta.total_seconds()) if delta is not None else 0
        _offset_cache[bucket] = off
    return off


def to_epoch(dt: datetime) -> int:
    """Whole epoch seconds of an aware datetime."""
    return int(dt.timestamp())


def from_epoch(t: int) -> datetime:
    """The aware UTC datetime of an epoch second."""
    return datetime.fromtimestamp(t, UTC)


def local_to_epoch(local_seconds: int) -> int:
    """Epoch second of a New York wall-clock time given as seconds since 1970-01-01 local."""
    guess = local_seconds - _offset(local_seconds)
    return local_seconds - _offset(guess)


def _local(t: int) -> tuple[int, int, int]:
    """(local day number, weekday Mon=0, seconds into the local day) in New York."""
    lt = t + _offset(t)
    day = lt // DAY
    return day, (day + 3) % 7, lt % DAY


def is_office_hours(t: int) -> bool:
    """Whether `t` falls on a weekday between 09:00 and 18:00 New York time."""
    _, weekday, sod = _local(t)
    return weekday < 5 and 9 * HOUR <= sod < 18 * HOUR


def next_office_morning(t: int, rng: random.Random) -> int:
    """A time in the first three office hours of the next working morning after `t`."""
    day, weekday, sod = _local(t)
    if sod >= 9 * HOUR or weekday >= 5:
        day += 1
    while (day + 3) % 7 >= 5:
        day += 1
    return max(t + 1, local_to_epoch(day * DAY + 9 * HOUR + rng.randint(0, 3 * HOUR)))


def work_time(t: int, rng: random.Random, odd: float = 0.07) -> int:
    """Push `t` into office hours, except for a share `odd` left at whatever hour it fell."""
    if is_office_hours(t) or rng.random() < odd:
        return t
    return next_office_morning(t, rng)


def late_evening(t: int) -> int:
    """23:30:00 New York time on the local day of `t` (or the next day if already past)."""
    day, _, sod = _local(t)
    if sod >= 23 * HOUR + 30 * 60:
        day += 1
    return local_to_epoch(day * DAY + 23 * HOUR + 30 * 60)
