"""The service: one APScheduler job per scheduled connector, each run a locked cycle.

- **Schedule**: a connector's `schedule` (interval or cron) becomes its job;
  `coalesce` folds runs missed while the process was busy or asleep into one,
  `max_instances=1` and the connector lock (`locks.py`: in-process and, on
  PostgreSQL, an advisory lock shared by every replica) keep two cycles of one
  connector from ever overlapping. A replica that finds the lock taken skips
  that run: the other replica is doing it.
- **Back-off**: a failed cycle (tracker down, wrong token) makes the connector
  skip its runs for `interval * 2^(failures-1)` (capped at an hour) and report
  itself unready; the other connectors keep their own schedule.
- **Invalid files** (at start and on reload): a connector file that does not
  validate is skipped and reported (the log, `/readyz`'s `invalid`, `status`);
  the valid connectors run. On reload, a connector whose file turned invalid keeps
  running its previous config (reported as invalid until the file is fixed): a
  typo must not stop a connector that worked.
- **Reload** (`reload()`, on SIGHUP): the whole config directory is read again;
  an error in what every connector shares (kpis.yaml, a policy file), or no valid
  connector at all, keeps the old config running and logs the errors; else jobs
  are added, removed or rescheduled to match.
- **Stop** (`stop()`, on SIGTERM): no new cycle starts; a running sync stops
  between records (`SyncCancelled`: committed batches stay, its bookmark does
  not move), and the scheduler waits for the cycles to return.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, text

from connectors.base import ConnectorConfig, Schedule
from pmo_sync.common.configfiles import ConfigError
from pmo_sync.evaluation.kept import KeptState
from pmo_sync.service.cycle import (
    CycleResult,
    PushedMarks,
    ServiceConfig,
    load_service_config,
    new_run_id,
    run_cycle,
)
from pmo_sync.service.locks import locks_for
from pmo_sync.service.metrics import ServiceMetrics
from pmo_sync.store.cycles import finish_cycle, latest_cycles, start_cycle
from pmo_sync.store.repository import Store

__all__ = ["ConnectorState", "Service", "backoff_delay", "trigger_for"]

log = structlog.get_logger(__name__)

MAX_BACKOFF = timedelta(hours=1)
KPI_REFRESH_LOCK = "__kpi_refresh__"  # never a connector's name (names start with [a-z0-9])
KPI_LOCK_WAIT_SECONDS = 600.0
MISFIRE_GRACE_SECONDS = 3600  # a run missed by less than this still happens (once: coalesced)


def trigger_for(schedule: Schedule) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a connector's schedule (cron in UTC)."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    seconds = schedule.interval_seconds or 60 * (schedule.interval_minutes or 0)
    return IntervalTrigger(seconds=seconds, timezone=UTC)


def backoff_delay(schedule: Schedule, failures: int) -> timedelta:
    """How long a connector waits after its `failures`-th failure in a row."""
    return min(_period(schedule) * 2 ** (failures - 1), MAX_BACKOFF)


def _period(schedule: Schedule) -> timedelta:
    if schedule.cron is not None:
        return timedelta(minutes=5)  # the back-off base of a cron schedule
    return timedelta(seconds=schedule.interval_seconds or 60 * (schedule.interval_minutes or 0))


@dataclass(slots=True)
class ConnectorState:
    """What this replica knows of one connector, for `/readyz` and back-off."""

    name: str
    running: bool = False
    failures: int = 0
    backoff_until: datetime | None = None
    last: CycleResult | None = None
    last_success_at: datetime | None = None
    skipped_locked: int = 0

    @property
    def ready(self) -> bool:
        return self.failures == 0


class Service:
    """`pmo-sync serve` without its process concerns (signals, HTTP): testable in-process."""

    def __init__(
        self,
        engine: Engine,
        config_dir: Path,
        *,
        metrics: ServiceMetrics | None = None,
        max_workers: int = 4,
        kpi_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.store = Store(engine)
        self.config_dir = Path(config_dir)
        self.metrics = metrics or ServiceMetrics()
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self.kpi_clock = kpi_clock
        self.stopping = threading.Event()
        self.states: dict[str, ConnectorState] = {}
        self._locks = locks_for(engine)
        self._kpi_lock = threading.Lock()
        self._pushed = PushedMarks()
        """What each connector last pushed cleanly: a cycle with nothing new skips its work."""
        self._kept_refresh = KeptState()
        """What the last refresh read (under the KPI lock): the next reads what changed."""
        self._config: ServiceConfig | None = None
        self._kept: set[str] = set()
        """Connectors whose file turned invalid on a reload: still running the previous one."""
        # "skipped: maximum number of running instances reached" is the design working (a
        # cycle outlasting its interval; coalesced), not a warning: our cycle logs tell it.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            timezone=UTC,
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> list[ConfigError]:
        """Load the config and start the scheduler; the errors when the config is invalid."""
        config, errors = load_service_config(self.config_dir)
        if config is None:
            return errors
        for invalid in config.invalid:
            for error in invalid.errors:
                log.error("connector_file_skipped", connector=invalid.name, error=str(error))
        self._config = config
        self._scheduler.start()
        self._sync_jobs(config, first=True)
        log.info(
            "service_started",
            replica=self.replica,
            connectors=sorted(self.states),
            invalid_files=[str(f.path) for f in config.invalid],
        )
        return []

    def reload(self) -> list[ConfigError]:
        """Read the config directory again; keep the running config if it has any error.

        Invalid connector files are skipped as at start; a connector that was running
        and whose file turned invalid keeps its previous config (see the module doc).
        """
        config, errors = load_service_config(self.config_dir)
        if config is None:
            for error in errors:
                log.error("reload_rejected", error=str(error))
            return errors
        config = self._keep_running(config)
        self._config = config
        self._sync_jobs(config, first=False)
        log.info(
            "config_reloaded",
            connectors=sorted(self.states),
            invalid_files=[str(f.path) for f in config.invalid],
        )
        return []

    def _keep_running(self, config: ServiceConfig) -> ServiceConfig:
        """`config`, plus the previous config of each running connector whose file is invalid."""
        previous = self._config.connectors if self._config else {}
        connectors = dict(config.connectors)
        self._kept = set()
        for invalid in config.invalid:
            name = invalid.name
            kept = name is not None and name in previous and name not in connectors
            for error in invalid.errors:
                if kept:
                    log.error("reload_rejected", connector=name, error=str(error),
                              kept="the previous config keeps running")  # fmt: skip
                else:
                    log.error("connector_file_skipped", connector=name, error=str(error))
            if kept and name is not None:
                connectors[name] = previous[name]
                self._kept.add(name)
        return replace(config, connectors=connectors)

    def stop(self, wait: bool = True) -> None:
        """No new cycle; running syncs stop between records; wait for them to return."""
        self.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        log.info("service_stopped", replica=self.replica)

    @property
    def config(self) -> ServiceConfig | None:
        return self._config

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    # -- jobs ----------------------------------------------------------------------------------

    def _sync_jobs(self, config: ServiceConfig, *, first: bool) -> None:
        scheduled = {n: c for n, c in config.connectors.items() if c.schedule is not None}
        for job in self._scheduler.get_jobs():
            if job.id not in scheduled:
                job.remove()
                self.states.pop(job.id, None)
                self.metrics.forget(job.id)
                log.info("connector_unscheduled", connector=job.id)
        now = datetime.now(UTC)
        for name, connector in scheduled.items():
            assert connector.schedule is not None
            trigger = trigger_for(connector.schedule)
            self.states.setdefault(name, ConnectorState(name))
            if self._scheduler.get_job(name) is None:
                # the first cycle at once: a restarted service catches up without waiting
                self._scheduler.add_job(
                    self.run_connector, trigger, args=[name], id=name, name=name,
                    next_run_time=now,
                )  # fmt: skip
            elif not first:
                self._scheduler.reschedule_job(name, trigger=trigger)

    def run_connector(self, name: str) -> CycleResult | None:
        """The job: one cycle of `name`, unless backing off, stopping, or another replica has it."""
        config = self._config.connectors.get(name) if self._config else None
        state = self.states.get(name)
        if config is None or state is None or self.stopping.is_set():
            return None
        now = datetime.now(UTC)
        if state.backoff_until is not None and now < state.backoff_until:
            log.info("cycle_backing_off", connector=name, until=state.backoff_until.isoformat())
            return None
        lock = self._locks.try_acquire(name)
        if lock is None:
            state.skipped_locked += 1
            log.info("cycle_skipped_locked", connector=name)
            return None
        with lock:
            return self._locked_cycle(config, state)

    def _locked_cycle(self, config: ConnectorConfig, state: ConnectorState) -> CycleResult:
        assert self._config is not None
        run_id = new_run_id(config.name)
        state.running = True
        cycle_id = start_cycle(self.engine, config.name, run_id, self.replica, datetime.now(UTC))
        try:
            result = run_cycle(
                config,
                self._config,
                self.store,
                run_id=run_id,
                now=self.kpi_clock() if self.kpi_clock else None,
                stop=self.stopping,
                kpi_lock=self._kpi_guard,
                pushed=self._pushed,
                kept=self._kept_refresh,
            )
        finally:
            state.running = False
        push = result.push
        finish_cycle(
            self.engine,
            cycle_id,
            finished_at=result.finished_at or datetime.now(UTC),
            stage=result.stage,
            ok=result.ok,
            items_seen=result.sync.items_seen if result.sync else 0,
            api_calls=(result.sync.api_calls if result.sync else 0)
            + (push.api_calls if push else 0),
            pushed=push.done if push else 0,
            push_failed=push.failed if push else 0,
            errors=[*result.errors, *result.push_errors],
        )
        self._record(config, state, result)
        return result

    @contextmanager
    def _kpi_guard(self) -> Iterator[None]:
        """One KPI refresh at a time: in this process, and (PostgreSQL) across replicas.

        The refresh rewrites the whole portfolio's values and findings; two at once would
        race on the same rows. Waits (polling the advisory lock) rather than skipping: the
        cycle's sync brought new data that must reach the KPIs and the push.
        """
        with self._kpi_lock:
            deadline = time.monotonic() + KPI_LOCK_WAIT_SECONDS
            while (lock := self._locks.try_acquire(KPI_REFRESH_LOCK)) is None:
                if self.stopping.is_set() or time.monotonic() > deadline:
                    raise TimeoutError("another replica kept the KPI refresh lock")
                time.sleep(0.2)
            with lock:
                yield

    def _record(self, config: ConnectorConfig, state: ConnectorState, result: CycleResult) -> None:
        state.last = result
        self.metrics.observe(result)
        if result.ok:
            state.failures, state.backoff_until = 0, None
            state.last_success_at = result.finished_at
            return
        if self.stopping.is_set():
            return  # stopped mid-cycle: not the tracker's fault
        state.failures += 1
        assert config.schedule is not None
        delay = backoff_delay(config.schedule, state.failures)
        state.backoff_until = (result.finished_at or datetime.now(UTC)) + delay
        log.warning(
            "connector_backing_off",
            connector=config.name,
            failures=state.failures,
            until=state.backoff_until.isoformat(),
            error=result.errors[0] if result.errors else result.stage,
        )

    # -- health ----------------------------------------------------------------------------

    def alive(self) -> bool:
        return self._scheduler.running and not self.stopping.is_set()

    def readiness(self, connector: str | None = None) -> tuple[bool, dict[str, Any]]:
        """Store reachable, and per connector: ready, last success and its age, back-off.

        With `connector`, only that one counts (and is shown): one tracker down need not
        fail a probe that asks about another. An unknown name raises KeyError.

        Invalid connector files are listed under `invalid` (file, connector, errors,
        and whether a previous config of it still runs) but leave the service ready:
        it is ready for what it can run. A probe asking about a skipped file's
        connector (`connector=NAME`, not running) gets not-ready.
        """
        invalid = list(self._config.invalid) if self._config else []
        skipped = {f.name for f in invalid if f.name and f.name not in self.states}
        if connector is not None and connector not in self.states and connector not in skipped:
            raise KeyError(connector)
        body: dict[str, Any] = {
            "replica": self.replica,
            "store": "ok",
            "connectors": {},
            "invalid": [
                {
                    "file": str(f.path),
                    "connector": f.name,
                    "errors": [str(e) for e in f.errors],
                    "running_previous_config": f.name in self._kept,
                }
                for f in invalid
                if connector is None or f.name == connector
            ],
        }
        ok = connector not in skipped
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            stored = latest_cycles(self.engine)
        except Exception as exc:  # the store is down: say so, do not crash the endpoint
            body["store"] = f"unreachable: {type(exc).__name__}"
            ok, stored = False, {}
        now = datetime.now(UTC)
        for name, state in sorted(self.states.items()):
            if connector is not None and name != connector:
                continue
            last_success = state.last_success_at
            succeeded = stored[name][1] if name in stored else None
            if last_success is None and succeeded is not None:
                last_success = succeeded.finished_at  # another replica's, or before restart
            body["connectors"][name] = {
                "ready": state.ready,
                "running": state.running,
                "last_success": last_success.isoformat() if last_success else None,
                "last_success_age_seconds": round((now - last_success).total_seconds(), 1)
                if last_success
                else None,
                "consecutive_failures": state.failures,
                "backing_off_until": state.backoff_until.isoformat()
                if state.backoff_until
                else None,
                "last_error": state.last.errors[0] if state.last and state.last.errors else None,
            }
            ok = ok and state.ready
        return ok and self.alive(), body
