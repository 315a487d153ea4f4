"""The service's cycle log: one row per cycle, written at its start and at its end.

A row is inserted when a cycle starts (so a replica that dies mid-cycle leaves a
row with no end, which `status` shows as interrupted) and completed when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Table, func, insert, select, update

from pmo_sync.store.bulk import inserted_id
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import ServiceCycleRow

__all__ = ["CycleRecord", "finish_cycle", "iter_cycles", "latest_cycles", "start_cycle"]

_cycles: Table = ServiceCycleRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class CycleRecord:
    connector: str
    run_id: str
    replica: str
    started_at: datetime
    finished_at: datetime | None
    stage: str
    ok: bool | None
    items_seen: int
    api_calls: int
    pushed: int
    push_failed: int
    errors: tuple[str, ...]


def start_cycle(
    engine: Engine, connector: str, run_id: str, replica: str, started_at: datetime
) -> int:
    with write_transaction(engine) as conn:
        result = conn.execute(
            insert(_cycles).values(
                connector=connector,
                run_id=run_id,
                replica=replica,
                started_at=started_at,
                stage="sync",
                items_seen=0,
                api_calls=0,
                pushed=0,
                push_failed=0,
                errors=[],
            )
        )
        return inserted_id(result)


def finish_cycle(
    engine: Engine,
    cycle_id: int,
    *,
    finished_at: datetime,
    stage: str,
    ok: bool,
    items_seen: int,
    api_calls: int,
    pushed: int,
    push_failed: int,
    errors: list[str],
) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            update(_cycles)
            .where(_cycles.c.id == cycle_id)
            .values(
                finished_at=finished_at,
                stage=stage,
                ok=ok,
                items_seen=items_seen,
                api_calls=api_calls,
                pushed=pushed,
                push_failed=push_failed,
                errors=errors[:20],
            )
        )


def _record(row: object) -> CycleRecord:
    return CycleRecord(
        connector=row.connector,  # type: ignore[attr-defined]
        run_id=row.run_id,  # type: ignore[attr-defined]
        replica=row.replica,  # type: ignore[attr-defined]
        started_at=row.started_at,  # type: ignore[attr-defined]
        finished_at=row.finished_at,  # type: ignore[attr-defined]
        stage=row.stage,  # type: ignore[attr-defined]
        ok=row.ok,  # type: ignore[attr-defined]
        items_seen=row.items_seen,  # type: ignore[attr-defined]
        api_calls=row.api_calls,  # type: ignore[attr-defined]
        pushed=row.pushed,  # type: ignore[attr-defined]
        push_failed=row.push_failed,  # type: ignore[attr-defined]
        errors=tuple(row.errors or ()),  # type: ignore[attr-defined]
    )


def iter_cycles(engine: Engine, connector: str | None = None) -> Iterator[CycleRecord]:
    """Every recorded cycle (of one connector), oldest first."""
    query = select(_cycles).order_by(_cycles.c.started_at, _cycles.c.id)
    if connector is not None:
        query = query.where(_cycles.c.connector == connector)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        yield _record(row)


def latest_cycles(engine: Engine) -> dict[str, tuple[CycleRecord, CycleRecord | None]]:
    """Per connector: its latest cycle, and its latest successful one (None if never)."""
    result: dict[str, tuple[CycleRecord, CycleRecord | None]] = {}
    with engine.connect() as conn:
        newest = (
            select(_cycles.c.connector, func.max(_cycles.c.id).label("id"))
            .group_by(_cycles.c.connector)
            .subquery()
        )
        best = (
            select(_cycles.c.connector, func.max(_cycles.c.id).label("id"))
            .where(_cycles.c.ok.is_(True))
            .group_by(_cycles.c.connector)
            .subquery()
        )
        latest = {
            r.connector: _record(r)
            for r in conn.execute(select(_cycles).join(newest, newest.c.id == _cycles.c.id))
        }
        good = {
            r.connector: _record(r)
            for r in conn.execute(select(_cycles).join(best, best.c.id == _cycles.c.id))
        }
    for name, record in latest.items():
        result[name] = (record, good.get(name))
    return result
