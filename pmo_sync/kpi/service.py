"""The I/O edge of the KPI engine: read the store, compute, save what changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from pmo_sync.kpi.compute import KpiRun, compute_kpis, kpi_values
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.store.histories import iter_item_histories, read_sprints, read_status_stages
from pmo_sync.store.kpis import save_kpi_values
from pmo_sync.store.results import LoadCounts

__all__ = ["KpiRefresh", "refresh_kpis"]


@dataclass(frozen=True, slots=True)
class KpiRefresh:
    run: KpiRun
    saved: LoadCounts


def refresh_kpis(
    engine: Engine,
    config: KpiConfig,
    *,
    now: datetime | None = None,
    since: date | None = None,
) -> KpiRefresh:
    """Recompute every KPI from the store and keep them; unchanged values are not rewritten."""
    now = now or datetime.now(UTC)
    run = compute_kpis(
        iter_item_histories(engine),
        read_sprints(engine),
        config,
        read_status_stages(engine),
        now,
        since,
    )
    saved = save_kpi_values(engine, kpi_values(run), now)
    return KpiRefresh(run, saved)
