"""Storing and reading computed KPI values.

Each computation produces the complete set of values; saving diffs it
against what is stored, so an unchanged value is never rewritten (its
`computed_at` says when it was last *changed*), a changed one is updated in
place, and a value that no longer exists (a deleted item, an old window) is
removed.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from pmo_sync.store.bulk import bulk_insert, chunked, delete_ids, in_values, update_by_id
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import KpiValueRow, WriteMarkRow
from pmo_sync.store.results import LoadCounts

__all__ = ["KeptValues", "KeptValuesStale", "KpiValue", "read_kpi_values", "save_kpi_values"]

_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]
_marks: Table = WriteMarkRow.__table__  # type: ignore[assignment]


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


Scope = tuple[str, str]
"""(scope, scope key): the values of one item, team, sprint, epic or the portfolio."""


@dataclass(slots=True)
class KeptValues:
    """What a process's last save stored, per scope, for its next save (a service's).

    Keeping every stored value would cost a service hundreds of megabytes at 100,000 items;
    a digest per scope (Python's 64-bit hash of the scope's values in the order computed, in
    this process) costs a few, and is what the next save needs: the scopes whose digest
    moved (or that came or went) are the only ones it reads and writes. The copy holds for
    the table as long as the table's write mark is the `token` it was kept with (migration
    0019): any other save of the table writes another.
    """

    token: str | None = None
    digests: dict[Scope, tuple[int, int]] = field(default_factory=dict)
    """Scope → (digest of its values, how many)."""


class KeptValuesStale(Exception):
    """A save was told some scopes hold what the last kept save stored, but another save
    came between: the caller must give every value (`save_kpi_values`)."""


_KPI_VALUES = "kpi_values"


def _digests(desired: dict[tuple[str, str, str, str], KpiValue]) -> dict[Scope, tuple[int, int]]:
    groups: dict[Scope, list[tuple[str, str, float | None, str | None]]] = defaultdict(list)
    for v in desired.values():
        groups[v.scope, v.scope_key].append((v.metric, v.window, v.value, v.team))
    return {scope: (hash(tuple(values)), len(values)) for scope, values in groups.items()}


def save_kpi_values(
    engine: Engine,
    values: Iterable[KpiValue],
    now: datetime,
    kept: KeptValues | None = None,
    same_scopes: Collection[Scope] = (),
) -> LoadCounts:
    """Make the stored values exactly `values`; returns inserted / updated / unchanged counts.

    With `kept` (what this process's last save kept, `KeptValues`), only the scopes whose
    values moved since are read and written, when the table is still as that save left it;
    `kept` then describes this save. Without it, or when another save came between, every
    stored value is read and compared. `same_scopes` (with `kept`) are scopes whose values
    the caller knows are the ones it last saved and leaves out of `values`; should another
    save have come between, `KeptValuesStale` is raised and nothing is written."""
    desired: dict[tuple[str, str, str, str], KpiValue] = {}
    for value in values:
        desired[value.key] = value
    digests = _digests(desired) if kept is not None else {}
    inserted: list[dict] = []
    updated: list[dict] = []
    unchanged = 0
    with write_transaction(engine) as conn:
        token = conn.execute(
            select(_marks.c.token).where(_marks.c.name == _KPI_VALUES).with_for_update()
        ).scalar()
        current = kept is not None and kept.token is not None and kept.token == token
        if same_scopes and not current:
            raise KeptValuesStale
        if kept is not None and current:
            for scope in same_scopes:  # a scope the last save stored nothing of has no digest
                if scope in kept.digests:
                    digests[scope] = kept.digests[scope]
            moved = {
                scope for scope, digest in digests.items() if kept.digests.get(scope) != digest
            }
            moved.update(scope for scope in kept.digests if scope not in digests)
            unchanged = sum(n for scope, (_, n) in digests.items() if scope not in moved)
            desired = {k: v for k, v in desired.items() if (v.scope, v.scope_key) in moved}
            stored: Iterable[Any] = _stored_of(conn, moved)
        else:
            stored = conn.execute(select(*_STORED))
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
        if gone or updated or inserted or (kept is not None and token is None):
            token = uuid.uuid4().hex
            _write_mark(conn, token, now)
    if kept is not None:
        kept.token, kept.digests = token, digests
    return LoadCounts(inserted=len(inserted), updated=len(updated), unchanged=unchanged)


_STORED = (
    _kpi.c.id,
    _kpi.c.metric,
    _kpi.c.scope,
    _kpi.c.scope_key,
    _kpi.c.window,
    _kpi.c.value,
    _kpi.c.team,
)


def _stored_of(conn: Connection, scopes: set[Scope]) -> Iterator[Any]:
    """The stored values of `scopes`, a page of scope keys per query (by the scope index)."""
    keys: dict[str, list[str]] = defaultdict(list)
    for scope, scope_key in scopes:
        keys[scope].append(scope_key)
    for scope, scope_keys in sorted(keys.items()):
        for chunk in chunked(sorted(scope_keys)):
            yield from conn.execute(
                select(*_STORED).where(_kpi.c.scope == scope, in_values(_kpi.c.scope_key, chunk))
            )


def _write_mark(conn: Connection, token: str, now: datetime) -> None:
    done = conn.execute(
        update(_marks).where(_marks.c.name == _KPI_VALUES).values(token=token, written_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(_marks).values(name=_KPI_VALUES, token=token, written_at=now))


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
