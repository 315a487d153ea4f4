"""One service cycle of one connector: sync → KPIs and governance → push.

What `pmo-sync serve` runs on each connector's schedule. A cycle never raises
for a tracker's failure: it returns a `CycleResult` saying how far it got, so
the scheduler can record it, back off and go on with the other connectors.
Every log line of a cycle carries the cycle's `run_id` (structlog context).

KPIs and findings are the portfolio's, recomputed from the whole store after
the connector's sync (they span teams and trackers); the push then writes only
this connector's items. A failed write-back is
reported (and retried by the next cycle) but does not make the connector
unhealthy: its sync works. A failed sync skips the KPI refresh and the push:
nothing new came in, and pushing values computed before a failed read would
only repeat the last cycle's.

A cycle whose sync left the store as the last refresh saw it, on the same day and with the
same configuration (`pmo_sync.evaluation.marks`), after a push of this connector that
wrote everything it planned from that refresh (`PushedMarks`), computes and pushes nothing:
what it would store and write is already there (issue 18). A push with failures, refusals
or errors is planned again by the next cycle, as before.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from connectors.base import ConnectorConfig
from connectors.registry import connector_for_kind
from pmo_sync.common.configfiles import DIRECTORY_FIELD, ConfigError
from pmo_sync.config import EXAMPLES_DIR, InvalidFile, load_connector_configs
from pmo_sync.evaluation.kept import KeptState
from pmo_sync.evaluation.marks import RefreshMark, canonical_digest, current_mark, is_current
from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.kpi.compute import KpiRun, kpi_values
from pmo_sync.kpi.config import KpiConfig, load_kpi_config
from pmo_sync.portfolio.config import PortfolioConfig, load_portfolio_config
from pmo_sync.portfolio.connector_settings import with_portfolio
from pmo_sync.store.errors import StoreUnavailable
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, SyncCancelled, sync_connector
from pmo_sync.writeback.service import PushSummary, push_connector

__all__ = ["CycleResult", "PushedMarks", "ServiceConfig", "load_service_config", "run_cycle"]

log = structlog.get_logger(__name__)
_KPI_THREADS = threading.Lock()


def _process_kpi_lock() -> AbstractContextManager[object]:
    return _KPI_THREADS


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything a cycle reads from the config directory, loaded and checked as one.

    An invalid connector file does not stop the others: it is left out of
    `connectors` and listed in `invalid` (for `/readyz` and `status`). What every
    connector shares (kpis.yaml, portfolio.yaml, the policies) must be valid, or there is no config:
    a reload then keeps the running one, so a bad file never replaces a working config.
    """

    connectors: Mapping[str, ConnectorConfig]
    kpi: KpiConfig
    rules: Sequence[RuleConfig]
    invalid: Sequence[InvalidFile] = ()
    """The connector files skipped, each with its errors: never run, always reported."""
    portfolio: PortfolioConfig = field(default_factory=PortfolioConfig)
    """portfolio.yaml: which items are requests, the funnel, the themes the refresh judges."""


def load_service_config(config_dir: Path) -> tuple[ServiceConfig | None, list[ConfigError]]:
    """The service config, or None and the errors that leave nothing to run.

    Those are: the config directory missing, no valid connector file (each invalid
    file's errors, or "no connector files"), an error in kpis.yaml, portfolio.yaml or a
    policy file. Each connector runs with portfolio.yaml's tracker settings where its own
    file sets none (`pmo_sync.portfolio.connector_settings`).
    """
    loaded = load_connector_configs(config_dir)
    kpi, kpi_errors = load_kpi_config(config_dir)
    rules, rule_errors = load_policies(config_dir)
    # portfolio.yaml's tracker settings fill what the connector files leave unset
    configs, portfolio_errors = (
        with_portfolio(config_dir, loaded.configs) if loaded.directory else ([], [])
    )
    errors = [*kpi_errors, *portfolio_errors, *rule_errors]
    if loaded.directory is None:
        errors = [*loaded.errors, *errors]
    elif loaded.no_files:
        message = f"no connector files: copy one from {EXAMPLES_DIR} (see config/README.md)"
        errors = [ConfigError(loaded.directory, DIRECTORY_FIELD, message), *errors]
    elif not loaded.configs:
        errors = [*loaded.errors, *errors]
    if errors:
        return None, errors
    connectors = {c.name: c for c in configs}
    portfolio, _ = load_portfolio_config(config_dir)  # its errors stopped us above
    return ServiceConfig(connectors, kpi, list(rules), tuple(loaded.invalid), portfolio), []


class PushedMarks:
    """Per connector, the refresh mark (and write-back settings) its last clean push wrote.

    Kept in the service's memory: a restarted service, or another replica, recomputes once
    and plans a push that finds nothing to write.
    """

    def __init__(self) -> None:
        self._marks: dict[str, tuple[RefreshMark, str]] = {}
        self._lock = threading.Lock()

    def clean(self, connector: str, mark: RefreshMark, settings: str) -> bool:
        with self._lock:
            return self._marks.get(connector) == (mark, settings)

    def record(self, connector: str, mark: RefreshMark, settings: str) -> None:
        with self._lock:
            self._marks[connector] = (mark, settings)

    def forget(self, connector: str) -> None:
        with self._lock:
            self._marks.pop(connector, None)


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
    kpis_unchanged: bool = False
    """Nothing changed since the refresh this connector last pushed cleanly: no recompute,
    no push (`PushedMarks`)."""
    findings_open: int = 0
    team_kpis: dict[tuple[str, str], float] = field(default_factory=dict)
    """(team or ``portfolio``, metric) → value, for the metrics gauges."""
    errors: list[str] = field(default_factory=list)
    """What stopped the cycle (sync, KPIs): the connector is failing."""
    push_errors: list[str] = field(default_factory=list)
    """Write-backs that failed (retried next cycle): reported, but the connector is healthy."""

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
    stop: threading.Event | None = None,
    kpi_lock: Callable[[], AbstractContextManager[object]] | None = None,
    pushed: PushedMarks | None = None,
    kept: KeptState | None = None,
) -> CycleResult:
    """Sync `config`'s tracker, recompute KPIs and findings, push its write-back.

    `now` fixes the KPI clock (tests and the sandbox demo); the default is the
    time the KPIs are computed. `stop` set (shutdown) abandons the sync between
    records and skips the rest. `kpi_lock` makes the guard that serialises the
    portfolio-wide KPI refresh (between the cycles of one process, and with
    `serve` between replicas). `pushed` (the service's) lets a cycle that would recompute
    and push nothing new skip both; `kept` (the service's, used under `kpi_lock`) lets the
    refresh read only the items that changed since the last one. Never raises for a
    tracker's or a store's failure.
    """
    run_id = run_id or new_run_id(config.name)
    result = CycleResult(config.name, run_id, datetime.now(UTC))
    started = time.monotonic()
    with structlog.contextvars.bound_contextvars(run_id=run_id, connector=config.name):
        log.info("cycle_started")
        try:
            _run(
                config,
                service,
                store,
                result,
                now,
                stop,
                kpi_lock or _process_kpi_lock,
                pushed,
                kept,
            )
        except StoreUnavailable as exc:  # a lost store: its one line, the next cycle retries
            result.errors.append(f"{result.stage}: {exc.message}")
            log.error("cycle_store_unavailable", stage=result.stage, error=exc.message)
        except Exception as exc:  # a bug must not stop the scheduler
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
                push_errors=len(result.push_errors),
                kpis_unchanged=result.kpis_unchanged,
            )
    return result


def _run(
    config: ConnectorConfig,
    service: ServiceConfig,
    store: Store,
    result: CycleResult,
    now: datetime | None,
    stop: threading.Event | None,
    kpi_lock: Callable[[], AbstractContextManager[object]],
    pushed: PushedMarks | None,
    kept: KeptState | None,
) -> None:
    def check_stop(*_: object) -> None:
        if stop is not None and stop.is_set():
            raise SyncCancelled

    with connector_for_kind(config.kind)(config) as connector:
        result.sync = sync_connector(
            connector, store, run_id=result.run_id, progress=check_stop if stop else None
        )
    if not result.sync.ok:
        result.errors.extend(result.sync.errors)
        return
    if stop is not None and stop.is_set():
        result.errors.append("stopped by shutdown after the sync")
        return
    result.stage = "kpis"
    writeback = getattr(config, "writeback", None)
    settings = canonical_digest(writeback)
    if pushed is not None:
        mark = current_mark(
            store.engine,
            service.kpi,
            rules=list(service.rules),
            portfolio=service.portfolio,
            since=None,
            now=now or datetime.now(UTC),
        )
        if pushed.clean(config.name, mark, settings) and is_current(store.engine, mark):
            result.kpis_unchanged = True
            result.stage = "done"
            return
    with kpi_lock():
        refresh = refresh_kpis(
            store.engine,
            service.kpi,
            rules=list(service.rules),
            now=now,
            portfolio=service.portfolio,
            kept=kept,
        )
    log_new_notices(refresh.teams.notices)
    result.kpi_values_changed = refresh.saved.inserted + refresh.saved.updated
    result.findings_open = len(refresh.findings)
    result.team_kpis = team_gauges(refresh.run)
    result.stage = "push"
    if writeback is not None and writeback.enabled:
        if pushed is not None:
            pushed.forget(config.name)  # until this push is known clean
        result.push = push_connector(
            config,
            store.engine,
            refresh.run,
            refresh.findings,
            portfolio=refresh.portfolio.facts if refresh.portfolio else None,
            now=now or datetime.now(UTC),
        )
        result.push_errors.extend([*result.push.refusals, *result.push.errors])
    if pushed is not None and refresh.mark is not None and _push_clean(result.push):
        pushed.record(config.name, refresh.mark, settings)
    result.stage = "done"


def _push_clean(push: PushSummary | None) -> bool:
    """Nothing left for the next push to retry: no failed, deferred or skipped write (an item
    found gone is not retried: the next sync marks it deleted, a change of its own)."""
    if push is None:
        return True
    return not (push.failed or push.deferred or push.skipped or push.errors or push.refusals)


_NOTICED: set[str] = set()
_NOTICED_LOCK = threading.Lock()


def log_new_notices(notices: Iterable[str]) -> None:
    """Each team notice (a name two sources share, a kpis.yaml name that matches no team)
    logged once per process, not at every cycle: `sync` and `kpis` print them too."""
    with _NOTICED_LOCK:
        new = [notice for notice in notices if notice not in _NOTICED]
        _NOTICED.update(new)
    for notice in new:
        log.warning("team_notice", notice=notice)


_SERIES = ("throughput_day", "wip_day", "cfd_in_stage:", "stage_index:", "forecast_")


def team_gauges(run: KpiRun) -> dict[tuple[str, str], float]:
    """The team and portfolio values a dashboard graphs: counts, percentiles, oldest WIP.

    Day and week series, the flow diagram (and its stage order) and the
    forecasts are left out: one gauge per day would grow without end, and a
    date, a position or a share of trials is not a level.
    """
    gauges: dict[tuple[str, str], float] = {}
    for value in kpi_values(run):
        if value.scope not in ("team", "portfolio") or value.value is None:
            continue
        if value.metric.startswith(_SERIES) or value.metric.endswith("_week"):
            continue
        gauges[(value.scope_key, value.metric)] = value.value
    return gauges
