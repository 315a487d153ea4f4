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

Failures a person must act on (PostgreSQL down, a wrong URL, a locked or
read-only file, a schema older or newer than this pmo-sync) are raised as the
one-line exceptions of `pmo_sync.store.errors`, whichever call hits them: the
engine translates its driver's errors (`handle_error`), so a store lost in the
middle of a run reads the same as one down at the start.

Commands that only read open the store with ``read_only=True`` and check its
schema with `require_current_schema` instead of migrating it: they work on a
store they may not write, and never change one behind the admin's back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL, Connection, ExceptionContext
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from pmo_sync.store.errors import (
    URL_VARIABLE,
    StoreEmpty,
    StoreOutdated,
    StoreUnavailable,
    describe_failure,
    sqlite_file,
    store_location,
)

__all__ = [
    "SQLITE_BEGIN_OPTION",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "require_current_schema",
    "session_factory",
    "upgrade",
    "write_transaction",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRESQL_CONNECT_TIMEOUT_S = 10
"""How long connecting waits for an unanswering host (a firewall drops, never refuses)."""
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
URL_EXAMPLES = "sqlite:///path/to/pmo-sync.sqlite3 or postgresql+psycopg://user@host:5432/db"
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming the SQLite BEGIN mode (DEFERRED, IMMEDIATE, EXCLUSIVE)."""

_MIGRATION_LOCK = 0x706D6F5F6D6967  # "pmo_mig": any constant unique to pmo-sync
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine for a store URL, configured for the way pmo-sync uses it.

    SQLite: the parent directory of a file database is created, and every
    connection gets foreign keys, WAL and a 30 s busy timeout. PostgreSQL:
    connections are pinged before use, since a long-running scheduler outlives
    server restarts and idle-connection reapers, statements are never
    prepared server-side (see below), and connecting gives up after 10 s
    unless the URL sets ``connect_timeout``.

    `read_only`: for commands that only read. SQLite opens the file with
    ``mode=ro`` (nothing is created, not even its directory; any write fails)
    and PostgreSQL sessions are read-only, so such a command cannot change the
    store even by mistake.

    Raises `StoreUnavailable` for a URL that is not a supported store's and a
    directory that cannot be created; the engine raises it for the failures
    `errors.describe_failure` recognises.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:  # the text is not shown: it may hold a password
        raise StoreUnavailable(
            f"store URL in {URL_VARIABLE} is not a database URL: use {URL_EXAMPLES}"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StoreUnavailable(
            f"store {store_location(parsed)}: pmo-sync does not support {backend!r} "
            f"databases: set {URL_VARIABLE} to {URL_EXAMPLES}"
        )
    if backend == "sqlite":
        engine = _sqlite_engine(parsed, read_only=read_only)
    else:
        engine = _postgresql_engine(parsed, read_only=read_only)
    _translate_failures(engine)
    return engine


def _sqlite_engine(parsed: URL, *, read_only: bool) -> Engine:
    path = sqlite_file(parsed)
    if path is not None and read_only:
        parsed = parsed.set(database=f"file:{quote(str(path))}").update_query_dict(
            {"mode": "ro", "uri": "true"}
        )
    elif path is not None and not (parsed.database or "").startswith("file:"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"store {path}: cannot create its directory {path.parent} "
                f"({exc.strerror or exc}): check {URL_VARIABLE} and the permissions"
            ) from exc
    engine = _create(parsed, {})
    _configure_sqlite(engine, read_only=parsed.query.get("mode") == "ro")
    return engine


def _postgresql_engine(parsed: URL, *, read_only: bool) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True}
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = POSTGRESQL_CONNECT_TIMEOUT_S
    if parsed.get_driver_name() == "psycopg":
        # No server-side prepared statements: a prepared 500-key IN lookup turns into a
        # generic plan after five runs that compares every row with every key (180 ms
        # instead of 2 ms a batch); planned afresh, it stays a hashed key lookup.
        connect_args["prepare_threshold"] = None
    options["connect_args"] = connect_args
    engine = _create(parsed, options)
    if read_only:

        @event.listens_for(engine, "connect")
        def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            finally:
                cursor.close()
            dbapi_connection.commit()

    return engine


def _create(parsed: URL, options: dict[str, Any]) -> Engine:
    """`create_engine`, with a missing driver said as such (`postgresql+asyncpg://`, ...)."""
    try:
        return create_engine(parsed, echo=False, **options)
    except (ArgumentError, ImportError) as exc:
        raise StoreUnavailable(
            f"store {store_location(parsed)}: cannot load the driver "
            f"{parsed.drivername!r} ({exc}): set {URL_VARIABLE} to {URL_EXAMPLES}"
        ) from exc


def _translate_failures(engine: Engine) -> None:
    """Raise the store's failures as `StoreUnavailable`, wherever they happen.

    Not during the pool's pre-ping: there a dead connection is expected, and
    replaced by a new one without the caller noticing.
    """
    url = engine.url

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping:
            return None
        message = describe_failure(
            context.original_exception,
            url,
            connecting=context.connection is None,
            disconnected=context.is_disconnect,
        )
        return StoreUnavailable(message) if message is not None else None


def _configure_sqlite(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" event below
        # decides when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if not read_only:  # switching a file to WAL writes it; a reader keeps its mode
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
    transaction-scoped advisory lock. A schema newer than this pmo-sync's
    raises `StoreUnavailable` (Alembic would only say it cannot find the revision).
    """
    with engine.connect() as connection:
        connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            current = MigrationContext.configure(connection).get_current_revision()
            _refuse_unknown(engine.url, current)
            command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at; None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest schema revision this pmo-sync knows (what `upgrade` migrates to)."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def require_current_schema(engine: Engine) -> None:
    """Check, without changing anything, that the store's schema is this pmo-sync's.

    For commands that only read. Raises `StoreEmpty` when there is no store
    file or no table yet (nothing synced), `StoreOutdated` when the schema is
    older (`pmo-sync db upgrade`), `StoreUnavailable` when it is newer or the
    database holds tables that are not a pmo-sync store's.
    """
    where = store_location(engine.url)
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        raise StoreEmpty(
            f"store {where} does not exist: nothing has been synced there yet; "
            f"run `pmo-sync sync`, or check {URL_VARIABLE}"
        )
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        tables = inspect(connection).get_table_names() if current is None else []
    head = head_revision()
    if current == head:
        return
    if current is None and not tables:
        raise StoreEmpty(
            f"store {where} has no tables: nothing has been synced yet; run `pmo-sync sync`"
        )
    if current is None:
        raise StoreUnavailable(
            f"store {where} holds tables but no pmo-sync schema: point {URL_VARIABLE} at "
            "pmo-sync's own database (or an empty one)"
        )
    _refuse_unknown(engine.url, current)
    raise StoreOutdated(
        f"store {where} has schema {current}, this pmo-sync needs {head}: run `pmo-sync db upgrade`"
    )


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _refuse_unknown(url: URL, current: str | None) -> None:
    """A revision this pmo-sync has no migration for: a newer pmo-sync upgraded the store."""
    if current is None:
        return
    scripts = _scripts()
    if current not in {script.revision for script in scripts.walk_revisions()}:
        raise StoreUnavailable(
            f"store {store_location(url)} has schema {current}, newer than this pmo-sync "
            f"knows ({scripts.get_current_head()}): run the pmo-sync that upgraded it, or newer"
        )
