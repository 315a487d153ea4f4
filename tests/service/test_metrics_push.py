"""The push counters of the service's metrics: every outcome of a push, gone items included."""

from __future__ import annotations

from datetime import UTC, datetime

from pmo_sync.service.cycle import CycleResult
from pmo_sync.service.metrics import ServiceMetrics
from pmo_sync.writeback.service import PushSummary


def test_a_push_is_counted_by_outcome_gone_items_too() -> None:
    metrics = ServiceMetrics()
    started = datetime(2026, 3, 12, 12, tzinfo=UTC)
    push = PushSummary("acme-jira", False, planned=9, done=5, failed=1, deferred=1, gone=2)
    result = CycleResult(
        "acme-jira", "run-1", started, finished_at=started, stage="done", push=push
    )
    metrics.observe(result)
    metrics.observe(result)

    def pushes(outcome: str) -> float | None:
        return metrics.registry.get_sample_value(
            "pmo_sync_pushes_total", {"connector": "acme-jira", "outcome": outcome}
        )

    assert {o: pushes(o) for o in ("done", "failed", "deferred", "gone")} == {
        "done": 10.0,
        "failed": 2.0,
        "deferred": 2.0,
        "gone": 4.0,
    }
