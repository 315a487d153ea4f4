"""Store helpers shared by test files: a migrated store at a URL, a PostgreSQL schema of a
test's own, the data tables dumped for before/after comparisons, and the stored items and
their changes read back by external id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine, MetaData, select

from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import Base, ItemChangeRow, WorkItemRow

DATA_TABLES = (
    "sources",
    "work_items",
    "item_changes",
    "sprints",
    "sprint_items",
    "workflow_statuses",
    "raw_records",
    "sync_state",
)
"""The tables a sync writes (not sync_runs, which records each run)."""


def migrated_engine(url: str) -> Engine:
    """An engine on `url`, its schema migrated to the newest revision."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def postgres_schema(libpq_url: str, schema: str) -> Iterator[None]:
    """`schema` created in the database at `libpq_url`; dropped, with all it holds, on exit."""
    with psycopg.connect(libpq_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield
    finally:
        with psycopg.connect(libpq_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def dump_tables(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every data table (not sync_runs), for before/after comparisons."""
    metadata: MetaData = Base.metadata
    result: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for name in DATA_TABLES:
            table = metadata.tables[name]
            result[name] = [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))
            ]
    return result


def stored_items(engine: Engine) -> dict[str, Any]:
    """Every stored work item's row (deleted ones too), by external id."""
    with engine.connect() as conn:
        return {row.external_id: row for row in conn.execute(select(WorkItemRow.__table__))}


def stored_changes(engine: Engine, field: str) -> dict[str, list[Any]]:
    """Each item's stored changes of one field (its `external_id` and the change's columns),
    oldest first, by the item's external id (an item without any: an empty list)."""
    query = (
        select(WorkItemRow.external_id, ItemChangeRow)
        .join(WorkItemRow, WorkItemRow.id == ItemChangeRow.item_id)
        .where(ItemChangeRow.field == field)
        .order_by(ItemChangeRow.at, ItemChangeRow.change_id)
    )
    result: dict[str, list[Any]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(query):
            result[row.external_id].append(row)
    return result
