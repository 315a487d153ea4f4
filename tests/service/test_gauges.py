"""The service's KPI gauges: levels only, never a day series, a stage position or a forecast."""

from __future__ import annotations

from datetime import UTC, datetime

from pmo_sync.domain import Stage
from pmo_sync.kpi.compute import compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, StatusChange
from pmo_sync.service.cycle import team_gauges

NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)
STAGES = {"bench": {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}}


def _item(key: str, *moves: tuple[int, str, str]) -> ItemHistory:
    return ItemHistory(
        key=key,
        source="bench",
        team="Alpha",
        item_type="story",
        created=datetime(2026, 3, 1, tzinfo=UTC),
        initial_status="To Do",
        status_changes=tuple(
            StatusChange(datetime(2026, 3, d, tzinfo=UTC), f, t) for d, f, t in moves
        ),
    )


def test_gauges_leave_out_series_stage_positions_and_forecasts() -> None:
    items = [
        _item("A-1", (2, "To Do", "In Progress"), (6, "In Progress", "Done")),
        _item("A-2", (10, "To Do", "In Progress")),
    ]
    gauges = team_gauges(compute_kpis(items, [], KpiConfig(), STAGES, NOW))
    assert gauges[("Alpha", "wip")] == 1.0 and gauges[("Alpha", "open_items")] == 1.0
    left_out = ("stage_index:", "cfd_in_stage:", "forecast_", "throughput_day", "wip_day")
    assert [m for _, m in gauges if m.startswith(left_out)] == []
