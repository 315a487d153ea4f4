"""The run log: one row per service cycle or manual run, written at its start and its end.

A row is inserted when a cycle starts (so a replica that dies mid-cycle leaves a
row with no end, which `status` shows as interrupted) and completed when it ends.
`pmo-sync sync` and `push` run by hand write their rows here too (`run_kind`
`sync` or `push`, through `manual_run`), so `status` shows every run, not only
the service's.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, Table, func, insert, select, update

from pmo_sync.store.bulk import inserted_id
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import ServiceCycleRow

__all__ = [
    "CYCLE",
    "MANUAL_KINDS",
    "CycleRecord",
    "ManualRun",
    "finish_cycle",
    "iter_cycles",
    "latest_cycles",
    "manual_run",
    "start_cycle",
]

CYCLE = "cycle"
"""The `run_kind` of a `pmo-sync serve` cycle; `sync` and `push` are runs by hand."""
MANUAL_KINDS = ("sync", "push")

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
    run_kind: str = CYCLE


def start_cycle(
    engine: Engine,
    connector: str,
    run_id: str,
    replica: str,
    started_at: datetime,
    *,
    run_kind: str = CYCLE,
) -> int:
    with write_transaction(engine) as conn:
        result = conn.execute(
            insert(_cycles).values(
                connector=connector,
                run_id=run_id,
                replica=replica,
                started_at=started_at,
                run_kind=run_kind,
                stage="sync" if run_kind == CYCLE else run_kind,
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
        run_kind=row.run_kind,  # type: ignore[attr-defined]
    )


def iter_cycles(
    engine: Engine, connector: str | None = None, *, kinds: Collection[str] = (CYCLE,)
) -> Iterator[CycleRecord]:
    """Every recorded run of `kinds` (of one connector), oldest first: the service's cycles
    unless asked for the manual runs too."""
    query = select(_cycles).order_by(_cycles.c.started_at, _cycles.c.id)
    query = query.where(_cycles.c.run_kind.in_(list(kinds)))
    if connector is not None:
        query = query.where(_cycles.c.connector == connector)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        yield _record(row)


def latest_cycles(
    engine: Engine, *, kinds: Collection[str] = (CYCLE,)
) -> dict[str, tuple[CycleRecord, CycleRecord | None]]:
    """Per connector: its latest run of `kinds`, and its latest successful one (None if never)."""
    result: dict[str, tuple[CycleRecord, CycleRecord | None]] = {}
    of_kind = _cycles.c.run_kind.in_(list(kinds))
    with engine.connect() as conn:
        newest = (
            select(_cycles.c.connector, func.max(_cycles.c.id).label("id"))
            .where(of_kind)
            .group_by(_cycles.c.connector)
            .subquery()
        )
        best = (
            select(_cycles.c.connector, func.max(_cycles.c.id).label("id"))
            .where(_cycles.c.ok.is_(True), of_kind)
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


@dataclass(slots=True)
class ManualRun:
    """How a run by hand went: filled in by the command, written when the run ends."""

    ok: bool = False
    items_seen: int = 0
    api_calls: int = 0
    pushed: int = 0
    push_failed: int = 0
    errors: list[str] = field(default_factory=lambda: ["interrupted before the run finished"])


@contextmanager
def manual_run(
    engine: Engine, connector: str, run_kind: str, *, enabled: bool = True
) -> Iterator[ManualRun]:
    """Record one connector's `sync` or `push` run by hand as a row of the run log.

    The row is written at the start and completed at the end with what the command put
    in the `ManualRun`; a run that raises (Ctrl-C) is recorded as failed with "interrupted".
    `enabled=False` (a dry run) records nothing.
    """
    run = ManualRun()
    if not enabled:
        yield run
        return
    started = datetime.now(UTC)
    run_id = f"{connector}-{run_kind}-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    replica = f"{socket.gethostname()}:{os.getpid()}"
    row = start_cycle(engine, connector, run_id, replica, started, run_kind=run_kind)
    try:
        yield run
    finally:
        finish_cycle(
            engine,
            row,
            finished_at=datetime.now(UTC),
            stage=run_kind if not run.ok else "done",
            ok=run.ok,
            items_seen=run.items_seen,
            api_calls=run.api_calls,
            pushed=run.pushed,
            push_failed=run.push_failed,
            errors=run.errors,
        )
