"""KPI values: saving diffs against what is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from pmo_sync.store.kpis import (
    KeptValues,
    KeptValuesStale,
    KpiValue,
    read_kpi_values,
    save_kpi_values,
)

from .records import WriteLog

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


def _selects_of_kpi_values(log: WriteLog) -> list[str]:
    """The SELECTs of `kpi_values` the log holds, white space folded."""
    return [
        " ".join(s.split())
        for s in log.statements
        if s.lstrip().upper().startswith("SELECT") and "kpi_values" in s
    ]


def test_a_kept_save_reads_and_writes_only_the_scopes_that_moved(
    engine: Engine, write_log: WriteLog
) -> None:
    items = [
        KpiValue("item", f"ABC-{n}", "lead_time_days", "current", float(n), "A") for n in (1, 2, 3)
    ]
    team = [KpiValue("team", "A", "wip", f"2026-11-{d:02d}", float(d), "A") for d in (18, 19, 20)]
    kept = KeptValues()
    counts = save_kpi_values(engine, [*items, *team], T1, kept)
    assert (counts.inserted, counts.updated, counts.unchanged) == (6, 0, 0)
    assert kept.token is not None and len(kept.digests) == 4

    write_log.clear()
    moved = [
        KpiValue("item", "ABC-1", "lead_time_days", "current", 1.0, "A"),
        KpiValue("item", "ABC-2", "lead_time_days", "current", 7.5, "A"),  # changed
        # ABC-3 is gone; ABC-4 is new
        KpiValue("item", "ABC-4", "lead_time_days", "current", 4.0, "A"),
        *team,
    ]
    counts = save_kpi_values(engine, moved, T2, kept)
    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 4)
    # one read of the moved scopes' rows by their keys, none of the whole table
    selects = _selects_of_kpi_values(write_log)
    assert len(selects) == 1 and "scope_key IN" in selects[0], selects
    assert sorted((v.scope_key, v.metric, v.window, v.value) for v in read_kpi_values(engine)) == [
        ("A", "wip", "2026-11-18", 18.0),
        ("A", "wip", "2026-11-19", 19.0),
        ("A", "wip", "2026-11-20", 20.0),
        ("ABC-1", "lead_time_days", "current", 1.0),
        ("ABC-2", "lead_time_days", "current", 7.5),
        ("ABC-4", "lead_time_days", "current", 4.0),
    ]


def test_a_kept_save_after_another_save_reads_the_whole_table_again(
    engine: Engine, write_log: WriteLog
) -> None:
    """Another process's save (a CLI refresh) writes another token: the kept digests no
    longer describe the table, so the next kept save compares every stored value."""
    values = [KpiValue("team", "A", "wip", f"2026-11-{d:02d}", float(d), "A") for d in (18, 19)]
    kept = KeptValues()
    save_kpi_values(engine, values, T1, kept)
    other = [*values, KpiValue("team", "B", "wip", "2026-11-19", 5.0, "B")]
    save_kpi_values(engine, other, T2)  # no kept copy: a new token
    counts = save_kpi_values(engine, values, T2, kept)  # the same values as its last save
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 2)
    assert [v.scope_key for v in read_kpi_values(engine)] == ["A", "A"]  # B's value removed
    # and now the copy holds again: nothing moved, nothing read but the write mark
    write_log.clear()
    counts = save_kpi_values(engine, values, T2, kept)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 2)
    assert _selects_of_kpi_values(write_log) == []


def test_scopes_known_unchanged_are_left_out_unless_another_save_came_between(
    engine: Engine,
) -> None:
    """`same_scopes`: the caller leaves out values it knows are stored as it last saved them;
    should another save have come between, nothing is written and `KeptValuesStale` says so
    (the refresh then gives every value)."""
    one = KpiValue("item", "ABC-1", "lead_time_days", "current", 1.0, "A")
    two = KpiValue("item", "ABC-2", "lead_time_days", "current", 2.0, "A")
    kept = KeptValues()
    save_kpi_values(engine, [one, two], T1, kept)
    moved = KpiValue("item", "ABC-2", "lead_time_days", "current", 3.0, "A")
    counts = save_kpi_values(engine, [moved], T2, kept, [("item", "ABC-1")])
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 1)
    assert [v.value for v in read_kpi_values(engine)] == [1.0, 3.0]
    save_kpi_values(engine, [one], T2)  # another process's save: ABC-2's value removed
    with pytest.raises(KeptValuesStale):
        save_kpi_values(engine, [moved], T2, kept, [("item", "ABC-1")])
    assert [v.value for v in read_kpi_values(engine)] == [1.0]  # nothing written
