"""KPI values: saving diffs against what is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from pmo_sync.store.kpis import KpiValue, read_kpi_values, save_kpi_values

T1 = datetime(2026, 11, 20, 12, tzinfo=UTC)
T2 = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_save_inserts_then_touches_only_what_changed(engine: Engine) -> None:
    first = [
        KpiValue("item", "ABC-1", "cycle_time_days", "current", 5.0, "Team Alpha"),
        KpiValue("item", "ABC-2", "cycle_time_days", "current", None, "Team Alpha"),
        KpiValue(
            "team", "Team Alpha", "throughput_week", "2026-11-16/2026-11-22", 3.0, "Team Alpha"
        ),
    ]
    counts = save_kpi_values(engine, first, T1)
    assert (counts.inserted, counts.updated, counts.unchanged) == (3, 0, 0)

    second = [
        KpiValue("item", "ABC-1", "cycle_time_days", "current", 5.0, "Team Alpha"),  # same
        KpiValue("item", "ABC-2", "cycle_time_days", "current", 2.0, "Team Alpha"),  # changed
        KpiValue("team", "Team Beta", "wip", "current", 4.0, "Team Beta"),  # new
    ]  # the throughput value is gone
    counts = save_kpi_values(engine, second, T2)
    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 1)
    assert list(read_kpi_values(engine)) == [
        KpiValue("item", "ABC-1", "cycle_time_days", "current", 5.0, "Team Alpha"),
        KpiValue("item", "ABC-2", "cycle_time_days", "current", 2.0, "Team Alpha"),
        KpiValue("team", "Team Beta", "wip", "current", 4.0, "Team Beta"),
    ]
    assert [v.scope_key for v in read_kpi_values(engine, team="Team Beta")] == ["Team Beta"]
    assert [v.scope for v in read_kpi_values(engine, scopes=["item"])] == ["item", "item"]


def test_saving_the_same_values_again_writes_nothing(engine: Engine) -> None:
    values = [KpiValue("team", "A", "wip", f"2026-11-{d:02d}", float(d), "A") for d in range(1, 29)]
    save_kpi_values(engine, values, T1)
    counts = save_kpi_values(engine, values, T2)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 28)
