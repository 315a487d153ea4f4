"""`bulk.insert_rows` on SQLite writes exactly what SQLAlchemy's executemany writes.

The load path sends its rows straight to the driver (each column's bind processor looked
up once); these tests insert the same rows both ways into two fresh stores and compare
the bytes SQLite holds, for the types the store uses: UTC datetimes (also from another
zone, with and without microseconds, and NULL), JSON lists (empty too), booleans,
floats, dates.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert

from pmo_sync.store.bulk import insert_rows
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import ItemChangeRow, KpiValueRow, SourceRow, WorkItemRow

EAST = timezone(timedelta(hours=5, minutes=30))


def _item(external_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c.key: None for c in WorkItemRow.__table__.columns if not c.primary_key}
    row.update(
        source_id=1,
        external_id=external_id,
        key=f"ABC-{external_id}",
        url=f"https://jira.example.com/browse/ABC-{external_id}",
        title="Checkout — ünïcode title",
        item_type="story",
        raw_type="Story",
        status="In Progress",
        status_category="indeterminate",
        stage="in_progress",
        project="ABC",
        labels=["blocked", "ünïcode"],
        flagged=False,
        created=datetime(2026, 3, 5, 17, 30, tzinfo=UTC),
        updated=datetime(2026, 3, 6, 9, 0, 0, 123456, tzinfo=EAST),
        archived=False,
        checklist=[["Write tests", True], ["Ship", False]],
        components=[],
        content_hash="0" * 64,
        synced_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        estimate=3.5,
        start_date=date(2026, 3, 1),
    )
    row.update(values)
    return row


def _stored(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()


@pytest.mark.parametrize(
    ("table", "rows"),
    [
        (
            WorkItemRow.__table__,
            [
                _item("1"),
                _item("2", labels=[], flagged=True, resolved=datetime(2026, 4, 1, tzinfo=EAST)),
                _item("3", estimate=None, last_activity=None, start_date=None),
            ],
        ),
        (
            ItemChangeRow.__table__,
            [
                {"source_id": 1, "item_id": None, "change_id": f"{n}:status", "field": "status",
                 "at": datetime(2026, 3, 5, 17, n, tzinfo=UTC if n % 2 else EAST),
                 "from_value": "To Do", "to_value": "In Progress", "from_display": None,
                 "to_display": "In Progress", "author": "acc-1"}
                for n in range(5)
            ],
        ),
        (
            KpiValueRow.__table__,  # `window` is a keyword; its column comes after `team`
            [
                {"metric": "cycle_time", "scope": "team", "scope_key": "Alpha",
                 "window": "current", "value": 4.25, "team": "Alpha",
                 "computed_at": datetime(2026, 11, 20, 12, 0, tzinfo=UTC)},
                {"metric": "wip", "scope": "team", "scope_key": "Beta", "window": "current",
                 "value": None, "team": None, "computed_at": datetime(2026, 11, 20, tzinfo=EAST)},
            ],
        ),
    ],
    ids=["work_items", "item_changes", "kpi_values"],
)  # fmt: skip
def test_insert_rows_stores_what_sqlalchemy_stores(
    tmp_path: Path, table: Table, rows: list[dict[str, Any]]
) -> None:
    stored = []
    for name, write in (("sqlalchemy", None), ("driver", insert_rows)):
        path = tmp_path / f"{name}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(SourceRow.__table__), [{"name": "jira", "kind": "jira"}])
            if table.name == "item_changes":  # the changes' item
                conn.execute(insert(WorkItemRow.__table__), [_item("1")])
                rows = [{**r, "item_id": 1} for r in rows]
            if write is None:
                conn.execute(insert(table), rows)
            else:
                write(conn, table, rows)
        engine.dispose()
        stored.append(_stored(path, table.name))
    assert stored[0] == stored[1]
    assert len(stored[1]) == len(rows)


def test_insert_rows_refuses_a_naive_datetime_as_the_column_type_does(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with pytest.raises(ValueError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(SourceRow.__table__), [{"name": "jira", "kind": "jira"}])
        insert_rows(conn, WorkItemRow.__table__, [_item("1", created=datetime(2026, 3, 5))])
    engine.dispose()
