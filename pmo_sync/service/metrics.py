"""Prometheus metrics of the service, on a registry of its own (standard client library).

Counters and histograms are fed by each finished cycle; gauges hold the last
known state (last success, up, KPI values per team). A registry of our own
rather than the client's global one, so tests and two services in one process
never mix their figures, and the client's default process collectors are added
explicitly (memory, CPU, open files: what a soak run watches).
"""

from __future__ import annotations

from contextlib import suppress

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

from pmo_sync.service.cycle import CycleResult

__all__ = ["ServiceMetrics"]

_DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.cycles = Counter(
            "pmo_sync_cycles", "Cycles finished, by outcome", ["connector", "outcome"], registry=r
        )
        self.duration = Histogram(
            "pmo_sync_cycle_duration_seconds",
            "Duration of a whole cycle (sync, KPIs, push)",
            ["connector"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.sync_duration = Histogram(
            "pmo_sync_sync_duration_seconds",
            "Duration of the sync part of a cycle",
            ["connector"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.items = Counter(
            "pmo_sync_items_synced", "Work items seen by syncs", ["connector"], registry=r
        )
        self.api_calls = Counter(
            "pmo_sync_api_calls", "Tracker API calls made by syncs", ["connector"], registry=r
        )
        self.retries = Counter(
            "pmo_sync_retries",
            "Tracker requests sent again (429, 5xx, timeout, dropped connection), sync and push",
            ["connector"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "pmo_sync_rate_limit_waits",
            "Waits after a 429 or Retry-After",
            ["connector"],
            registry=r,
        )
        self.rate_limit_seconds = Counter(
            "pmo_sync_rate_limit_wait_seconds",
            "Seconds spent waiting on rate limits",
            ["connector"],
            registry=r,
        )
        self.errors = Counter(
            "pmo_sync_errors",
            "Errors, by the stage they stopped",
            ["connector", "stage"],
            registry=r,
        )
        self.pushes = Counter(
            "pmo_sync_pushes",
            "Write-back actions, by outcome",
            ["connector", "outcome"],
            registry=r,
        )
        self.push_runs = Counter(
            "pmo_sync_push_runs",
            "Pushes run, by outcome: ok, or failed (a write failed, or the push stopped)",
            ["connector", "outcome"],
            registry=r,
        )
        self.consecutive_failures = Gauge(
            "pmo_sync_consecutive_failures",
            "Failed cycles in a row (0 after a success)",
            ["connector"],
            registry=r,
        )
        self.recoveries = Counter(
            "pmo_sync_recoveries",
            "Successful cycles after one or more failed ones: the connector recovered",
            ["connector"],
            registry=r,
        )
        self._failing: dict[str, int] = {}
        self.last_success = Gauge(
            "pmo_sync_last_success_timestamp_seconds",
            "When the connector's last successful cycle finished (Unix time)",
            ["connector"],
            registry=r,
        )
        self.up = Gauge(
            "pmo_sync_connector_up", "1 when the last cycle succeeded", ["connector"], registry=r
        )
        self.kpi = Gauge(
            "pmo_sync_kpi", "KPI values per team (and portfolio)", ["team", "metric"], registry=r
        )

    def observe(self, result: CycleResult) -> None:
        """Count one finished cycle."""
        name = result.connector
        self.cycles.labels(name, "success" if result.ok else "failure").inc()
        self.duration.labels(name).observe(result.duration_seconds)
        if result.sync is not None:
            sync = result.sync
            self.sync_duration.labels(name).observe(sync.duration_seconds)
            self.items.labels(name).inc(sync.items_seen)
            self.api_calls.labels(name).inc(sync.api_calls)
            self.retries.labels(name).inc(sync.retries)
            self.rate_limit_waits.labels(name).inc(sync.rate_limit_waits)
            self.rate_limit_seconds.labels(name).inc(sync.rate_limit_wait_seconds)
        if result.push is not None:
            self.pushes.labels(name, "done").inc(result.push.done)
            self.pushes.labels(name, "failed").inc(result.push.failed)
            self.pushes.labels(name, "deferred").inc(result.push.deferred)
            self.pushes.labels(name, "gone").inc(result.push.gone)
            self.api_calls.labels(name).inc(result.push.api_calls)
            self.retries.labels(name).inc(result.push.retries)
            if not result.push.dry_run and (result.push.planned or result.push.errors):
                self.push_runs.labels(name, "ok" if result.push.ok else "failed").inc()
        if result.errors:
            self.errors.labels(name, result.stage).inc()
        failing = self._failing.get(name, 0)
        if result.ok and failing:
            self.recoveries.labels(name).inc()
        self._failing[name] = 0 if result.ok else failing + 1
        self.consecutive_failures.labels(name).set(self._failing[name])
        self.up.labels(name).set(1 if result.ok else 0)
        if result.ok and result.finished_at is not None:
            self.last_success.labels(name).set(result.finished_at.timestamp())
        if result.team_kpis:
            self.kpi.clear()  # a team that left the store leaves the gauges too
            for (team, metric), value in sorted(result.team_kpis.items()):
                self.kpi.labels(team, metric).set(value)

    def forget(self, connector: str) -> None:
        """A connector removed by a reload: its gauges go (counters stay, as Prometheus wants)."""
        for gauge in (self.up, self.last_success, self.consecutive_failures):
            with suppress(KeyError):
                gauge.remove(connector)
        self._failing.pop(connector, None)

    def render(self) -> bytes:
        return generate_latest(self.registry)
