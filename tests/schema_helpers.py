"""Store helpers shared by test files: a migrated store at a URL, a PostgreSQL schema of a
test's own, the data tables dumped for before/after comparisons, and the stored items and
their changes read back by external id.

`migrated_engine` migrates a process's first store of each database for real (Alembic, every
revision) and keeps what that gave as a template: on SQLite the migrated file, copied for
each later new store; on PostgreSQL the statements the migration sent, sent again in one
transaction to each later empty schema. The same schema for a fraction of the cost (Alembic
takes 0.15 s a SQLite store and 0.4 s a PostgreSQL one, for some 800 stores a run);
tests/test_schema_helpers.py checks that a templated store is the migrated one, table by
table, and tests/store/test_store_migrations.py runs the migrations themselves.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, MetaData, event, inspect, make_url, select

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


_sqlite_template: list[Path] = []  # the migrated file, once this process made one
_postgresql_template: list[list[tuple[str, Any, bool]]] = []  # the migration's statements


def migrated_engine(url: str) -> Engine:
    """An engine on `url`, its schema migrated to the newest revision.

    A new SQLite file, or an empty PostgreSQL schema, gets this process's template of the
    migrated schema (see the module docstring); any other store is migrated by Alembic."""
    path = _new_sqlite_file(url)
    if path is not None and _sqlite_template:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template[0], path)
        return make_engine(url)
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql" and _postgresql_template and _empty(engine):
            _replay(engine, _postgresql_template[0])
        elif path is not None:
            upgrade(engine)
            _keep_sqlite_template(engine, path)
        elif engine.dialect.name == "postgresql" and not _postgresql_template and _empty(engine):
            _postgresql_template.append(_recorded_upgrade(engine))
        else:
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def migrated_by_alembic(url: str) -> Engine:
    """An engine on `url` migrated by Alembic itself, never from a template."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL whose file does not exist yet, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query or not parsed.database:
        return None
    if parsed.database.startswith("file:") or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _keep_sqlite_template(engine: Engine, path: Path) -> None:
    """Copy the file just migrated as this process's template (the engine's connections
    closed first, so its WAL is checkpointed into the file and gone)."""
    engine.dispose()
    directory = Path(tempfile.mkdtemp(prefix="pmo-sync-test-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    shutil.copyfile(path, directory / "migrated.db")
    _sqlite_template.append(directory / "migrated.db")


def _empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def _recorded_upgrade(engine: Engine) -> list[tuple[str, Any, bool]]:
    """Alembic's upgrade of an empty schema, with every statement it sent recorded."""
    statements: list[tuple[str, Any, bool]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        statements.append((statement, parameters, many))

    event.listen(engine, "before_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def _replay(engine: Engine, statements: list[tuple[str, Any, bool]]) -> None:
    """The recorded migration's statements sent again, in one transaction, as they were sent."""
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters, many in statements:
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters)


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
