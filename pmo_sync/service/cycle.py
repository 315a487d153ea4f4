"""One service cycle of one connector: sync → KPIs and governance → push.

What `pmo-sync serve` runs on each connector's schedule. A cycle never raises
for a tracker's failure: it returns a `CycleResult` saying how far it got, so
the scheduler can record it, back off and go on with the other connectors.
Every log line of a cycle carries the cycle's `run_id` (structlog context).

KPIs and findings are the portfolio's, recomputed from the whole store after
the connector's sync (they span teams and trackers); the push then writes only
this connector's items. A failed sync skips the KPI refresh and the push:
nothing new came in, and pushing values computed before a failed read would
only repeat the last cycle's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from connectors.base import ConnectorConfig
from connectors.registry import connector_for_kind
from pmo_sync.config import ConfigError, load_connector_configs
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.kpi.config import KpiConfig, load_kpi_config
from pmo_sync.kpi.service import refresh_kpis
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector
from pmo_sync.writeback.service import PushSummary, push_connector

__all__ = ["CycleResult", "ServiceConfig", "load_service_config", "run_cycle"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything a cycle reads from the config directory, loaded and checked as one.

    A reload builds a new one and swaps it in only when it has no error, so a bad
    file never replaces a working config.
    """

    connectors: Mapping[str, ConnectorConfig]
    kpi: KpiConfig
    rules: Sequence[RuleConfig]


def load_service_config(config_dir: Path) -> tuple[ServiceConfig | None, list[ConfigError]]:
    """The service config, or None and every error (`file: field: message`)."""
    loaded = load_connector_configs(config_dir)
    kpi, kpi_errors = load_kpi_config(config_dir)
    rules, rule_errors = load_policies(config_dir)
    errors = [*loaded.errors, *kpi_errors, *rule_errors]
    if errors:
        return None, errors
    return ServiceConfig({c.name: c for c in loaded.configs}, kpi, list(rules)), []


@dataclass(slots=True)
class CycleResult:
    """How one cycle went; `stage` is where it stopped (`done` when it went all the way)."""

    connector: str
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    stage: str = "sync"  # sync | kpis | push | done
    sync: RunSummary | None = None
    push: PushSummary | None = None
    kpi_values_changed: int = 0
    findings_open: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stage == "done" and not self.errors

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()


def new_run_id(connector: str) -> str:
    return f"{connector}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_cycle(
    config: ConnectorConfig,
    service: ServiceConfig,
    store: Store,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> CycleResult:
    """Sync `config`'s tracker, recompute KPIs and findings, push its write-back.

    `now` fixes the KPI clock (tests and the sandbox demo); the default is the
    time the KPIs are computed. Never raises for a tracker's or a store's failure.
    """
    run_id = run_id or new_run_id(config.name)
    result = CycleResult(config.name, run_id, datetime.now(UTC))
    started = time.monotonic()
    with structlog.contextvars.bound_contextvars(run_id=run_id, connector=config.name):
        log.info("cycle_started")
        try:
            _run(config, service, store, result, now)
        except Exception as exc:  # a bug or a lost store must not stop the scheduler
            result.errors.append(f"{result.stage}: {type(exc).__name__}: {exc}")
            log.exception("cycle_crashed", stage=result.stage)
        finally:
            result.finished_at = datetime.now(UTC)
            log.info(
                "cycle_finished",
                stage=result.stage,
                ok=result.ok,
                duration_s=round(time.monotonic() - started, 3),
                errors=len(result.errors),
            )
    return result


def _run(
    config: ConnectorConfig,
    service: ServiceConfig,
    store: Store,
    result: CycleResult,
    now: datetime | None,
) -> None:
    with connector_for_kind(config.kind)(config) as connector:
        result.sync = sync_connector(connector, store, run_id=result.run_id)
    if not result.sync.ok:
        result.errors.extend(result.sync.errors)
        return
    result.stage = "kpis"
    refresh = refresh_kpis(store.engine, service.kpi, rules=list(service.rules), now=now)
    result.kpi_values_changed = refresh.saved.inserted + refresh.saved.updated
    result.findings_open = len(refresh.findings)
    result.stage = "push"
    writeback = getattr(config, "writeback", None)
    if writeback is not None and writeback.enabled:
        result.push = push_connector(
            config, store.engine, refresh.run, refresh.findings, now=now or datetime.now(UTC)
        )
        result.errors.extend(result.push.errors)
    result.stage = "done"
