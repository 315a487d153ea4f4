"""Storing and reading computed KPI values.

Each computation produces the complete set of values; saving diffs it
against what is stored, so an unchanged value is never rewritten (its
`computed_at` says when it was last *changed*), a changed one is updated in
place, and a value that no longer exists (a deleted item, an old window) is
removed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, select

from pmo_sync.store.bulk import bulk_insert, chunked, delete_ids, update_by_id
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import KpiValueRow
from pmo_sync.store.results import LoadCounts

__all__ = ["KpiValue", "read_kpi_values", "save_kpi_values"]

_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]


@dataclass(slots=True)  # not frozen: a run makes hundreds of thousands, and frozen costs 5x
class KpiValue:
    """One metric value: what it measures, over what, for whom."""

    scope: str  # item | team | sprint | epic | portfolio
    scope_key: str
    metric: str
    window: str
    value: float | None
    team: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.metric, self.scope, self.scope_key, self.window)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def save_kpi_values(engine: Engine, values: Iterable[KpiValue], now: datetime) -> LoadCounts:
    """Make the stored values exactly `values`; returns inserted / updated / unchanged counts."""
    desired: dict[tuple[str, str, str, str], KpiValue] = {}
    for value in values:
        desired[value.key] = value
    inserted: list[dict] = []
    updated: list[dict] = []
    unchanged = 0
    with write_transaction(engine) as conn:
        stored = conn.execute(
            select(
                _kpi.c.id,
                _kpi.c.metric,
                _kpi.c.scope,
                _kpi.c.scope_key,
                _kpi.c.window,
                _kpi.c.value,
                _kpi.c.team,
            )
        )
        gone: list[int] = []
        take = desired.pop
        # plain tuples and the exact comparison first: this loop runs once per stored value
        for row_id, metric, scope, scope_key, window, value, team in stored:
            want = take((metric, scope, scope_key, window), None)
            if want is None:
                gone.append(row_id)
            elif (want.value == value or _same(want.value, value)) and want.team == team:
                unchanged += 1
            else:
                updated.append(
                    {"_id": row_id, "value": want.value, "team": want.team, "computed_at": now}
                )
        inserted = [
            {
                "metric": v.metric,
                "scope": v.scope,
                "scope_key": v.scope_key,
                "window": v.window,
                "value": v.value,
                "team": v.team,
                "computed_at": now,
            }
            for v in desired.values()
        ]
        for chunk in chunked(gone):
            delete_ids(conn, _kpi, list(chunk))
        if updated:
            update_by_id(conn, _kpi, updated)
        if inserted:
            bulk_insert(conn, _kpi, inserted)
    return LoadCounts(inserted=len(inserted), updated=len(updated), unchanged=unchanged)


def read_kpi_values(
    engine: Engine, *, team: str | None = None, scopes: Iterable[str] | None = None
) -> Iterator[KpiValue]:
    """Stored values, ordered by scope, key, metric and window; optionally one team's."""
    query = select(
        _kpi.c.scope, _kpi.c.scope_key, _kpi.c.metric, _kpi.c.window, _kpi.c.value, _kpi.c.team
    ).order_by(_kpi.c.scope, _kpi.c.scope_key, _kpi.c.metric, _kpi.c.window)
    if team is not None:
        query = query.where(_kpi.c.team == team)
    if scopes is not None:
        query = query.where(_kpi.c.scope.in_(list(scopes)))
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield KpiValue(row.scope, row.scope_key, row.metric, row.window, row.value, row.team)
