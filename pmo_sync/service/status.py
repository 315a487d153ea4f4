"""`pmo-sync status`: per connector the last cycle, its outcome, the next run, pending pushes.

Read from the store (any replica's cycles) and the config; nothing is written.
The next run is worked out as the service would: the schedule after the last
cycle's start, pushed back by the back-off of the failures in a row. Pending
pushes are planned exactly as `push` would (KPIs and findings evaluated from
the store, compared with the ledger), without saving either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from pmo_sync.service.cycle import ServiceConfig
from pmo_sync.service.runner import backoff_delay, trigger_for
from pmo_sync.store.cycles import CycleRecord, iter_cycles, latest_cycles
from pmo_sync.store.ledger import load_ledger
from pmo_sync.writeback.plan import desired_state, plan

__all__ = ["ConnectorStatus", "connector_statuses"]


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    connector: str
    schedule: str
    last_run: datetime | None
    outcome: str  # success | failed at <stage> | running | interrupted | never run
    duration_seconds: float | None
    replica: str | None
    last_success: datetime | None
    failures_in_a_row: int
    next_run: datetime | None
    pending_pushes: int | None  # None: write-back off
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("last_run", "last_success", "next_run"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _outcome(cycle: CycleRecord) -> str:
    if cycle.finished_at is None:
        return "running or interrupted"
    return "success" if cycle.ok else f"failed at {cycle.stage}"


def _failures_in_a_row(engine: Engine, connector: str) -> int:
    count = 0
    for cycle in reversed(list(iter_cycles(engine, connector))):
        if cycle.ok or cycle.finished_at is None:
            break
        count += 1
    return count


def connector_statuses(
    engine: Engine, service: ServiceConfig, *, now: datetime | None = None
) -> list[ConnectorStatus]:
    from connectors.base import describe_schedule
    from pmo_sync.evaluation.refresh import evaluate_store

    now = now or datetime.now(UTC)
    latest = latest_cycles(engine)
    pushing = [c for c in service.connectors.values() if getattr(c, "writeback", None)]
    pushing = [c for c in pushing if c.writeback.enabled]  # type: ignore[attr-defined]
    pending: dict[str, int] = {}
    if pushing:
        run, findings = evaluate_store(engine, service.kpi, rules=list(service.rules), now=now)
        for config in pushing:
            writeback = config.writeback  # type: ignore[attr-defined]
            wanted = desired_state(
                run, findings, writeback, config.name, item_sources=run.item_sources
            )
            pending[config.name] = len(
                plan(wanted, load_ledger(engine, config.name), writeback, source=config.name)
            )
    result: list[ConnectorStatus] = []
    for name, config in sorted(service.connectors.items()):
        last, good = latest.get(name, (None, None))
        failures = _failures_in_a_row(engine, name) if last else 0
        next_run = None
        if config.schedule is not None:
            trigger = trigger_for(config.schedule)
            previous = last.started_at if last else None
            next_run = trigger.get_next_fire_time(previous, now) if previous else now
            if failures and last is not None and last.finished_at is not None:
                next_run = max(
                    next_run, last.finished_at + backoff_delay(config.schedule, failures)
                )
        result.append(
            ConnectorStatus(
                connector=name,
                schedule=describe_schedule(config.schedule) if config.schedule else "by hand",
                last_run=last.started_at if last else None,
                outcome=_outcome(last) if last else "never run",
                duration_seconds=round((last.finished_at - last.started_at).total_seconds(), 1)
                if last and last.finished_at
                else None,
                replica=last.replica if last else None,
                last_success=good.finished_at if good else None,
                failures_in_a_row=failures,
                next_run=next_run,
                pending_pushes=pending.get(name),
                last_error=last.errors[0] if last and last.errors else None,
            )
        )
    return result


def status_rows(statuses: Sequence[ConnectorStatus], now: datetime) -> list[list[str]]:
    """The table `pmo-sync status` prints."""

    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"

    rows = []
    for s in statuses:
        next_run = when(s.next_run)
        if s.next_run is not None and s.next_run <= now:
            next_run = "due now"
        rows.append(
            [
                s.connector,
                s.schedule,
                when(s.last_run),
                s.outcome,
                f"{s.duration_seconds:g} s" if s.duration_seconds is not None else "-",
                when(s.last_success),
                next_run,
                "off" if s.pending_pushes is None else str(s.pending_pushes),
            ]
        )
    return rows
