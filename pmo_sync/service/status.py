"""`pmo-sync status`: per connector the last run, its outcome, the next run, pending pushes.

Read from the store and the config; nothing is written. The last run is the
latest of any replica's service cycles and the `sync` and `push` runs by hand
(`run_kind`). The next run is worked out as the service would: the schedule
after the last *cycle's* start (a run by hand does not move the schedule),
pushed back by the back-off of the cycles failed in a row. Pending pushes are
planned exactly as `push` would (KPIs and findings evaluated from the store,
compared with the ledger), without saving either. An invalid connector file is
a row of its own, outcome `invalid`, with its first error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from pmo_sync.service.cycle import ServiceConfig
from pmo_sync.service.runner import backoff_delay, trigger_for
from pmo_sync.store.cycles import CYCLE, MANUAL_KINDS, CycleRecord, iter_cycles, latest_cycles
from pmo_sync.store.ledger import load_ledger
from pmo_sync.writeback.plan import desired_state, plan

__all__ = ["STATUS_KEYS", "ConnectorStatus", "connector_statuses", "status_rows"]

EVERY_RUN = (CYCLE, *MANUAL_KINDS)


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    connector: str
    schedule: str
    last_run: datetime | None
    last_run_kind: str | None  # cycle (serve) | sync | push (by hand)
    outcome: str  # success | failed at <stage> | running or interrupted | never run | invalid
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


STATUS_KEYS = tuple(ConnectorStatus.__dataclass_fields__)
"""The keys of `--format json` and the columns of `--format csv`, in order."""


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
    from pmo_sync.evaluation.refresh import evaluate_store_for_push

    now = now or datetime.now(UTC)
    latest = latest_cycles(engine, kinds=EVERY_RUN)
    scheduled = latest_cycles(engine)
    pushing = [c for c in service.connectors.values() if getattr(c, "writeback", None)]
    pushing = [c for c in pushing if c.writeback.enabled]  # type: ignore[attr-defined]
    pending: dict[str, int] = {}
    if pushing:
        run, findings, answers = evaluate_store_for_push(
            engine, service.kpi, rules=list(service.rules), now=now, portfolio=service.portfolio
        )
        for config in pushing:
            writeback = config.writeback  # type: ignore[attr-defined]
            ledger = load_ledger(engine, config.name)
            # planned as `push_connector` plans: with the portfolio answers (the open
            # requests' forecast fields and sentences) and the ledger (kept forecasts)
            wanted = desired_state(
                run,
                findings,
                writeback,
                config.name,
                item_sources=run.item_sources,
                portfolio=answers,
                ledger=ledger,
            )
            pending[config.name] = len(plan(wanted, ledger, writeback, source=config.name))
    result: list[ConnectorStatus] = []
    for name, config in sorted(service.connectors.items()):
        last, good = latest.get(name, (None, None))
        last_cycle = scheduled[name][0] if name in scheduled else None
        failures = _failures_in_a_row(engine, name) if last_cycle else 0
        next_run = None
        if config.schedule is not None:
            trigger = trigger_for(config.schedule)
            previous = last_cycle.started_at if last_cycle else None
            next_run = trigger.get_next_fire_time(previous, now) if previous else now
            if failures and last_cycle is not None and last_cycle.finished_at is not None:
                next_run = max(
                    next_run, last_cycle.finished_at + backoff_delay(config.schedule, failures)
                )
        result.append(
            ConnectorStatus(
                connector=name,
                schedule=describe_schedule(config.schedule) if config.schedule else "by hand",
                last_run=last.started_at if last else None,
                last_run_kind=last.run_kind if last else None,
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
    for invalid in service.invalid:
        # a file reusing a valid connector's name is named by its file, not that name
        duplicate = invalid.name in service.connectors
        last, good = (None, None) if duplicate else latest.get(invalid.name or "", (None, None))
        result.append(
            ConnectorStatus(
                connector=invalid.path.name if duplicate else invalid.label,
                schedule="-",
                last_run=last.started_at if last else None,
                last_run_kind=last.run_kind if last else None,
                outcome="invalid",
                duration_seconds=None,
                replica=last.replica if last else None,
                last_success=good.finished_at if good else None,
                failures_in_a_row=0,
                next_run=None,
                pending_pushes=None,
                last_error=str(invalid.errors[0]),
            )
        )
    return result


STATUS_HEADERS = ("connector", "schedule", "last run", "outcome", "next run", "to push")


def status_rows(statuses: Sequence[ConnectorStatus], now: datetime) -> list[list[str]]:
    """The table `pmo-sync status` prints (`STATUS_HEADERS`), compact for 80 columns.

    Times are UTC `MM-DD HH:MM`; a run by hand is named after its time (`sync (manual)`).
    """

    def when(value: datetime | None) -> str:
        return value.strftime("%m-%d %H:%M") if value else "-"

    rows = []
    for s in statuses:
        last_run = when(s.last_run)
        if s.last_run is not None and s.last_run_kind in MANUAL_KINDS:
            last_run += f" {s.last_run_kind} (manual)"
        next_run = when(s.next_run)
        if s.next_run is not None and s.next_run <= now:
            next_run = "due now"
        rows.append(
            [
                s.connector,
                s.schedule,
                last_run,
                s.outcome,
                next_run,
                "off" if s.pending_pushes is None else str(s.pending_pushes),
            ]
        )
    return rows
