"""The dated history of each open request's forecast (table `request_forecasts`, issue 17).

`kpi_values` keeps a request's latest forecast only, so a slip leaves no trace there. The
refresh hands every open request's forecast to `save_forecasts` with its day; a row is added
only when the forecast (its p50/p85/p95 dates, due date, due probability, remaining items)
differs from the request's latest stored row. So a second refresh the same day with the same
forecast adds nothing, and neither does a new day whose forecast did not move: the history is
the list of moves, each dated by the first day it was seen. A changed forecast on a day that
already has a row replaces that row (one row per request per day at most): the day's last
word is its forecast. A request no longer open simply gets no new row; its history stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, Table, func, select

from pmo_sync.store.models import RequestForecastRow, SourceRow

__all__ = [
    "ForecastPoint",
    "forecast_histories",
    "forecast_history",
    "forecast_move",
    "save_forecasts",
]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_history: Table = RequestForecastRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """A request's forecast as made on `made_on` (what one `request_forecasts` row holds)."""

    made_on: date
    p50: date | None
    p85: date | None
    p95: date | None
    """None: beyond the forecast's horizon, or no forecast at all (see `remaining`)."""
    due_date: date | None
    due_probability: float | None
    remaining: int

    def same_forecast(self, other: ForecastPoint) -> bool:
        """Equal in everything but the day it was made."""
        return astuple(self)[1:] == astuple(other)[1:]


def save_forecasts(engine: Engine, forecasts: Iterable[tuple[str, str, ForecastPoint]]) -> int:
    """Keep each (source name, key, forecast) that differs from the request's latest row.

    Returns how many rows were added or replaced. A source name the store does not know is
    skipped (the forecasts come from the store's own items, so it does not happen).
    """
    wanted = list(forecasts)
    if not wanted:
        return 0
    written = 0
    with engine.begin() as conn:
        ids = {r.name: r.id for r in conn.execute(select(_sources.c.name, _sources.c.id))}
        latest = (
            select(_history.c.source_id, _history.c.key, func.max(_history.c.made_on).label("day"))
            .group_by(_history.c.source_id, _history.c.key)
            .subquery()
        )
        rows = conn.execute(
            select(_history).join(
                latest,
                (latest.c.source_id == _history.c.source_id)
                & (latest.c.key == _history.c.key)
                & (latest.c.day == _history.c.made_on),
            )
        ).all()
        last = {(r.source_id, r.key): (r.id, _point(r)) for r in rows}
        for source, key, point in wanted:
            source_id = ids.get(source)
            if source_id is None:
                continue
            row_id, stored = last.get((source_id, key), (None, None))
            if stored is not None and stored.same_forecast(point):
                continue
            values = {
                "source_id": source_id,
                "key": key,
                "made_on": point.made_on,
                "p50": point.p50,
                "p85": point.p85,
                "p95": point.p95,
                "due_date": point.due_date,
                "due_probability": point.due_probability,
                "remaining": point.remaining,
            }
            if stored is not None and stored.made_on == point.made_on:
                conn.execute(_history.update().where(_history.c.id == row_id).values(values))
            else:
                conn.execute(_history.insert().values(values))
            written += 1
    return written


def forecast_history(engine: Engine, source_id: int, key: str) -> list[ForecastPoint]:
    """One request's forecasts, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_history)
            .where(_history.c.source_id == source_id, _history.c.key == key)
            .order_by(_history.c.made_on)
        ).all()
    return [_point(r) for r in rows]


def forecast_histories(
    engine: Engine, ref: tuple[str, str] | None = None
) -> dict[tuple[str, str], list[ForecastPoint]]:
    """Every request's forecasts in one query (the dashboard's read), or only `ref`'s
    (source name, key: how the portfolio names a request): (source name, key) → oldest first."""
    query = (
        select(_sources.c.name.label("source"), _history)
        .join(_sources, _sources.c.id == _history.c.source_id)
        .order_by(_sources.c.name, _history.c.key, _history.c.made_on)
    )
    if ref is not None:
        query = query.where(_sources.c.name == ref[0], _history.c.key == ref[1])
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result: dict[tuple[str, str], list[ForecastPoint]] = {}
    for r in rows:
        result.setdefault((r.source, r.key), []).append(_point(r))
    return result


def forecast_move(history: list[ForecastPoint], until: date | None = None) -> str | None:
    """The p85 date's move over the history, in words; None when it never moved.

    From the oldest row's p85 to the latest's, since the oldest row's day:
    ``p85 moved from 2030-03-02 to 2030-03-09 since 2030-02-20``. p85 is the date the
    stakeholder sentence promises; a date beyond the horizon reads so. With `until`, only
    the rows made on or before that day count (`when KEY --today` asks as of a past day).
    """
    if until is not None:
        history = [point for point in history if point.made_on <= until]
    if len(history) < 2 or history[0].p85 == history[-1].p85:
        return None
    first, last = history[0], history[-1]
    return f"p85 moved from {_day(first.p85)} to {_day(last.p85)} since {first.made_on.isoformat()}"


def _day(day: date | None) -> str:
    return "beyond the horizon" if day is None else day.isoformat()


def _point(r: Any) -> ForecastPoint:
    """A `request_forecasts` row as its point."""
    return ForecastPoint(r.made_on, r.p50, r.p85, r.p95, r.due_date, r.due_probability, r.remaining)
