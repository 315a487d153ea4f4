"""The failure figures of the service's metrics: pushes with failures, failures in a row,
recoveries; what a PMO reads off `/metrics` when a tracker misbehaves."""

from __future__ import annotations

from datetime import UTC, datetime

from pmo_sync.service.cycle import CycleResult
from pmo_sync.service.metrics import ServiceMetrics
from pmo_sync.sync import RunSummary
from pmo_sync.writeback.service import PushSummary

STARTED = datetime(2026, 3, 12, 12, tzinfo=UTC)


def _cycle(ok: bool, push: PushSummary | None = None) -> CycleResult:
    sync = RunSummary("acme-jira", status="success" if ok else "failed")
    return CycleResult(
        "acme-jira",
        "run",
        STARTED,
        finished_at=STARTED,
        stage="done" if ok else "sync",
        sync=sync,
        push=push,
        errors=[] if ok else ["sync: HTTP 500"],
    )


def _value(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"connector": "acme-jira", **labels})


def test_failures_in_a_row_and_recoveries_are_counted_per_connector() -> None:
    metrics = ServiceMetrics()
    for ok in (True, False, False, False, True, True, False, True):
        metrics.observe(_cycle(ok))
        if ok is False:
            assert _value(metrics, "pmo_sync_connector_up") == 0
    assert _value(metrics, "pmo_sync_cycles_total", outcome="failure") == 4
    assert _value(metrics, "pmo_sync_errors_total", stage="sync") == 4
    assert _value(metrics, "pmo_sync_recoveries_total") == 2  # after 3 failures, after 1
    assert _value(metrics, "pmo_sync_consecutive_failures") == 0
    metrics.observe(_cycle(False))
    metrics.observe(_cycle(False))
    assert _value(metrics, "pmo_sync_consecutive_failures") == 2
    metrics.forget("acme-jira")
    assert _value(metrics, "pmo_sync_consecutive_failures") is None
    assert _value(metrics, "pmo_sync_recoveries_total") == 2  # counters stay


def test_a_push_with_a_failed_write_or_stopped_counts_as_a_failed_push() -> None:
    metrics = ServiceMetrics()
    pushes = [
        PushSummary("acme-jira", False, planned=4, done=4),
        PushSummary("acme-jira", False, planned=4, done=3, failed=1, errors=["ABC-1: 500"]),
        PushSummary("acme-jira", False, planned=4, errors=["push stopped: /myself failed"]),
        PushSummary("acme-jira", False, planned=3, done=1, gone=2),  # gone is no failure
        PushSummary("acme-jira", False),  # nothing planned: no push was run
    ]
    for push in pushes:
        metrics.observe(_cycle(True, push))
    assert _value(metrics, "pmo_sync_push_runs_total", outcome="ok") == 2
    assert _value(metrics, "pmo_sync_push_runs_total", outcome="failed") == 2
    assert _value(metrics, "pmo_sync_pushes_total", outcome="failed") == 1
    assert _value(metrics, "pmo_sync_recoveries_total") is None  # never failed


def test_retries_of_the_sync_and_the_push_are_counted() -> None:
    """A tracker that fails now and then shows in the retries before it shows in failures."""
    metrics = ServiceMetrics()
    result = _cycle(
        True, PushSummary("acme-jira", False, planned=2, done=2, api_calls=4, retries=1)
    )
    assert result.sync is not None
    result.sync.api_calls, result.sync.retries = 9, 3
    metrics.observe(result)
    assert _value(metrics, "pmo_sync_retries_total") == 4
    assert _value(metrics, "pmo_sync_api_calls_total") == 13
