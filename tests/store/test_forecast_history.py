"""`store.forecast_history`: each request's forecast kept as a dated history, a row only when
it moved, on SQLite and PostgreSQL; and the 0017 upgrade of a filled store.

Days are in 2030. A point is (made on, p50, p85, p95, due date, due probability, remaining).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, inspect, select, text

from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.forecast_history import (
    ForecastPoint,
    forecast_histories,
    forecast_history,
    forecast_move,
    save_forecasts,
)
from pmo_sync.store.models import RequestForecastRow
from pmo_sync.store.repository import Store


def d(month: int, day: int) -> date:
    return date(2030, month, day)


def point(made_on: date, p85: date | None, remaining: int = 3) -> ForecastPoint:
    """p50 a week before p85, p95 a week after, due 1 March at 40%."""
    week = timedelta(days=7)
    return ForecastPoint(
        made_on,
        None if p85 is None else p85 - week,
        p85,
        None if p85 is None else p85 + week,
        d(3, 1),
        0.4,
        remaining,
    )


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    t = RequestForecastRow.__table__
    with engine.connect() as conn:
        query = select(t.c.source_id, t.c.key, t.c.made_on, t.c.p85, t.c.remaining).order_by(
            t.c.source_id, t.c.key, t.c.made_on
        )
        return [tuple(r) for r in conn.execute(query)]


def test_a_row_is_added_only_when_the_forecast_moved(engine: Engine) -> None:
    jira = Store(engine).ensure_source("jira-main", "jira", None)
    ado = Store(engine).ensure_source("ado-main", "azure_devops", None)
    # 20 Feb: E-1 (jira) p85 2 March, E-1 (ado, the same key elsewhere) beyond the horizon:
    # two rows.
    first = [
        ("jira-main", "E-1", point(d(2, 20), d(3, 2))),
        ("ado-main", "E-1", point(d(2, 20), None)),
    ]
    assert save_forecasts(engine, first) == 2
    # The same day again, same forecasts: nothing.
    assert save_forecasts(engine, first) == 0
    # 21 Feb, same forecasts (only the day differs): nothing; the history is the moves.
    assert save_forecasts(engine, [(s, k, point(d(2, 21), p.p85)) for s, k, p in first]) == 0
    # 22 Feb: jira's E-1 slips a week to 9 March (one row); ado's is unchanged (none); a
    # source the store does not know is skipped.
    moved = [
        ("jira-main", "E-1", point(d(2, 22), d(3, 9))),
        ("ado-main", "E-1", point(d(2, 22), None)),
        ("nope", "E-1", point(d(2, 22), d(3, 9))),
    ]
    assert save_forecasts(engine, moved) == 1
    # 22 Feb again, jira's E-1 now with 2 remaining (same dates): the day's row is replaced,
    # one row per request per day.
    assert save_forecasts(engine, [("jira-main", "E-1", point(d(2, 22), d(3, 9), 2))]) == 1
    assert _rows(engine) == [
        (jira, "E-1", d(2, 20), d(3, 2), 3),
        (jira, "E-1", d(2, 22), d(3, 9), 2),
        (ado, "E-1", d(2, 20), None, 3),
    ]
    assert forecast_history(engine, jira, "E-1") == [
        ForecastPoint(d(2, 20), d(2, 23), d(3, 2), d(3, 9), d(3, 1), 0.4, 3),
        ForecastPoint(d(2, 22), d(3, 2), d(3, 9), d(3, 16), d(3, 1), 0.4, 2),
    ]
    assert forecast_history(engine, jira, "E-9") == []
    # The whole store in one read, by source name then key, oldest first.
    assert forecast_histories(engine) == {
        ("ado-main", "E-1"): [ForecastPoint(d(2, 20), None, None, None, d(3, 1), 0.4, 3)],
        ("jira-main", "E-1"): forecast_history(engine, jira, "E-1"),
    }
    # Or one request's, by source name and key as the portfolio names it.
    assert forecast_histories(engine, ("ado-main", "E-1")) == {
        ("ado-main", "E-1"): [ForecastPoint(d(2, 20), None, None, None, d(3, 1), 0.4, 3)]
    }
    assert forecast_histories(engine, ("ado-main", "E-9")) == {}


def test_the_move_is_the_p85_from_the_oldest_row_to_the_latest() -> None:
    # One row: no move. p85 2 March → 9 March → 5 March: moved from 2 to 5 March since the
    # oldest row's day, 20 Feb. Back to 2 March: no move over the history.
    assert forecast_move([point(d(2, 20), d(3, 2))]) is None
    slipped = [point(d(2, 20), d(3, 2)), point(d(2, 22), d(3, 9)), point(d(2, 24), d(3, 5))]
    assert forecast_move(slipped) == "p85 moved from 2030-03-02 to 2030-03-05 since 2030-02-20"
    # As of 22 Feb (`when --today`), the 24 Feb row is not yet made: 2 → 9 March.
    assert forecast_move(slipped, d(2, 22)) == (
        "p85 moved from 2030-03-02 to 2030-03-09 since 2030-02-20"
    )
    assert forecast_move(slipped, d(2, 21)) is None  # one row by then
    back = [*slipped, point(d(2, 25), d(3, 2), 1)]
    assert forecast_move(back) is None
    lost = [point(d(2, 20), d(3, 2)), point(d(2, 21), None)]
    assert forecast_move(lost) == (
        "p85 moved from 2030-03-02 to beyond the horizon since 2030-02-20"
    )


def test_0017_adds_the_history_table_to_a_store_at_0016(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0016")
        with engine.begin() as conn:  # as a pmo-sync of 0016 stored it (no data_version yet)
            conn.execute(
                text(
                    "INSERT INTO sources (name, kind, created_at) "
                    "VALUES ('jira-main', 'jira', '2026-12-01 00:00:00')"
                )
            )
            source = conn.execute(text("SELECT id FROM sources")).scalar_one()
        assert "request_forecasts" not in inspect(engine).get_table_names()
        upgrade(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("request_forecasts")}
        assert columns == {
            "id",
            "source_id",
            "key",
            "made_on",
            "p50",
            "p85",
            "p95",
            "due_date",
            "due_probability",
            "remaining",
        }
        # The source stored before the upgrade is still there and takes history rows.
        assert save_forecasts(engine, [("jira-main", "E-1", point(d(2, 20), d(3, 2)))]) == 1
        assert _rows(engine) == [(source, "E-1", d(2, 20), d(3, 2), 3)]
    finally:
        engine.dispose()
