"""Engines, sessions and schema migration for the store.

The store runs on an embedded SQLite file by default and on PostgreSQL in
production; everything dialect-specific about *connecting* lives here so the
repository code can stay portable.

SQLite needs some care to behave like a real multi-process database:

* foreign keys are off unless asked for on every connection;
* WAL lets the exporter read while a sync writes;
* a busy timeout makes a second writer wait instead of failing at once;
* the stdlib driver opens transactions lazily (only before the first INSERT),
  so a read-then-write call would read outside its transaction. We switch the
  driver to autocommit and emit ``BEGIN`` ourselves, so every SQLAlchemy
  transaction is a real SQLite transaction; a connection carrying the
  execution option ``sqlite_begin="IMMEDIATE"`` takes the write lock up front,
  which is what the writer uses so concurrent syncs queue on the busy timeout
  rather than failing with ``SQLITE_BUSY`` mid-transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "SQLITE_BEGIN_OPTION",
    "alembic_config",
    "current_revision",
    "make_engine",
    "session_factory",
    "upgrade",
    "write_transaction",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming the SQLite BEGIN mode (DEFERRED, IMMEDIATE, EXCLUSIVE)."""

_MIGRATION_LOCK = 0x706D6F5F6D6967  # "pmo_mig": any constant unique to pmo-sync
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def make_engine(url: str) -> Engine:
    """Create an engine for a store URL, configured for the way pmo-sync uses it.

    SQLite: the parent directory of a file database is created, and every
    connection gets foreign keys, WAL and a 30 s busy timeout. PostgreSQL:
    connections are pinged before use, since a long-running scheduler outlives
    server restarts and idle-connection reapers, and statements are never
    prepared server-side (see below).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=False)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        # No server-side prepared statements: a prepared 500-key IN lookup turns into a
        # generic plan after five runs that compares every row with every key (180 ms
        # instead of 2 ms a batch); planned afresh, it stays a hashed key lookup.
        return create_engine(
            parsed, echo=False, pool_pre_ping=True, connect_args={"prepare_threshold": None}
        )
    return create_engine(parsed, echo=False, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" event below
        # decides when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED"))
        if mode.upper() not in _BEGIN_MODES:
            raise ValueError(f"unknown SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode.upper()}")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory for read-side code (KPIs, demo) that prefers the ORM.

    `expire_on_commit=False` so rows read in a transaction stay usable after it.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def _migrations_dir() -> Path:
    import migrations  # the package shipped next to pmo_sync; imported lazily

    return Path(migrations.__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code, so no alembic.ini is needed at runtime.

    The script location is the installed `migrations` package, which works for
    editable and regular installs alike. A given connection is handed to
    `migrations/env.py` through `config.attributes`.
    """
    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and then writes, safe beside other writers.

    On SQLite a plain (deferred) transaction that reads first fails at once with
    "database is locked" when another connection committed in between (the busy
    timeout does not apply to that upgrade); taking the write lock up front
    (`BEGIN IMMEDIATE`) waits for it instead. Elsewhere it is `engine.begin()`.
    """
    with engine.connect() as connection:
        connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            yield connection


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest) in one transaction.

    Two processes starting at once migrate one after the other instead of
    interleaving DDL: SQLite takes the write lock first, PostgreSQL takes a
    transaction-scoped advisory lock.
    """
    with engine.connect() as connection:
        connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at; None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
