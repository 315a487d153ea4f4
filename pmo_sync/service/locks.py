"""Who may run what: one cycle per connector at a time, and one replica per SQLite store.

`pmo-sync serve` runs one scheduled job per connector, possibly in several
replicas. Two guarantees keep the store sane:

**Never two cycles of one connector at once** — `ConnectorLocks.try_acquire`,
taken (without waiting) at the start of every cycle and released at its end.
A cycle that cannot get its connector's lock is skipped, not queued: the
running one already does the work.

* Within one process, a `threading.Lock` per connector: APScheduler's worker
  threads, a manual "sync now" and the scheduled job all share the process.
* On PostgreSQL, across replicas, a *session-level* advisory lock
  (``pg_try_advisory_lock``) held on a connection dedicated to that one cycle.
  A session lock lives exactly as long as its session: if the replica dies,
  even by SIGKILL or OOM, the kernel closes its socket, the server ends the
  backend and the lock is gone. A lease row with an expiry would instead stay
  behind until it expires, and would need renewing (and a clock) while a long
  cycle runs. The price is one idle connection per running cycle.
* On SQLite there is only one replica (see below), so the in-process lock is
  the whole story.

**One replica per SQLite store** — `replica_guard_for` / `acquire_single_replica`,
taken once when the service starts and held for the process lifetime: an
exclusive `flock` on a sidecar file ``<database>.serve.lock``. SQLite cannot
coordinate replicas (no advisory locks, and a file on shared storage is not
safe to write from several hosts anyway), so a second `serve` on the same file
refuses to start and says to use PostgreSQL. The kernel drops a `flock` when
its holder exits, however it exits, so there is never a stale lock to clean up.
On PostgreSQL the guard does nothing: any number of replicas may run.

What these locks do not cover: a one-shot ``pmo-sync sync`` started by hand
takes neither (the store still serialises each write transaction per source,
so the data stays consistent, but work may be done twice).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

try:  # POSIX only; Windows is not a target, but it gets a clear message (`_require_fcntl`).
    import fcntl
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_NAMESPACE",
    "ConnectorLock",
    "ConnectorLocks",
    "ReplicaConflictError",
    "ReplicaGuard",
    "ReplicaGuardError",
    "ReplicaHolder",
    "acquire_single_replica",
    "advisory_key",
    "conflict_message",
    "lock_file_for",
    "locks_for",
    "replica_guard_for",
    "sqlite_database_path",
]

LOCK_NAMESPACE = "pmo-sync/connector-cycle"
"""Hashed into every connector lock key. Never change it (nor `advisory_key`): during a
rolling upgrade old and new replicas must compute the same key for the same connector, or
both would run it. tests/service/test_locks.py pins a key value to catch such a change."""

LOCK_FILE_SUFFIX = ".serve.lock"
"""Appended to the SQLite database's file name to name the replica guard's lock file."""

SINGLE_REPLICA_HINT = "SQLite allows one pmo-sync serve; use PostgreSQL for several replicas."

# Applied to every lock session (all user-settable, so no privilege is needed):
# * a host that vanishes (power loss, network partition) sends no FIN, and by default the
#   server would keep its backend, and so the lock, until the OS keepalive gives up (often
#   after 2 h). Keepalives every 10 s after 30 s idle, 3 misses: the lock is freed ~1 min
#   after its holder disappears. (Ignored on Unix-socket connections, which cannot
#   partition.)
# * `idle_session_timeout` (PostgreSQL 14+) would end the lock session, which is idle for
#   the whole cycle, and with it the lock: turned off for this session only.
_LOCK_SESSION_SETTINGS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("tcp_keepalives_idle", "30", ()),
    ("tcp_keepalives_interval", "10", ()),
    ("tcp_keepalives_count", "3", ()),
    ("idle_session_timeout", "0", (14,)),
)


# -- connector locks ----------------------------------------------------------------------


def advisory_key(schema: str, connector: str, *, namespace: str = LOCK_NAMESPACE) -> int:
    """The PostgreSQL advisory lock key of one connector of one store: a signed bigint.

    The first 8 bytes of the SHA-256 of (namespace, schema, connector), read as a signed
    big-endian integer, so any connector name maps to a stable key with no registry.

    * Advisory locks are per *database*, not per schema, so two deployments sharing a
      database through different schemas (``search_path``) would block each other's
      same-named connectors; the schema is part of the key to keep them apart.
    * Collisions: keys are uniform over 2**64, so among n distinct locks in one database
      the chance of any clash is about n**2 / 2**65 (3e-14 for 1,000 connectors), and
      hitting one of another application's few hand-picked keys, or pmo-sync's own
      migration key, is less likely still. The store's per-source write locks use the two-int form
      ``pg_advisory_xact_lock(int, int)``, a separate key space. And a clash fails safe:
      two connectors would skip each other's overlapping cycles, never run one twice.
    * The parts are JSON-encoded before hashing, so no two (schema, connector) pairs
      produce the same input, whatever characters the names contain.
    """
    material = json.dumps([namespace, schema, connector], ensure_ascii=False)
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ConnectorLock:
    """The right to run one cycle of one connector, held until `release` (or `with` exit).

    On PostgreSQL it owns the connection its advisory lock lives on; closing that
    connection is what frees the lock, so the connection never goes back to a pool (a
    pooled session would carry the lock into unrelated work, and a later acquire landing
    on the same session would be granted again, since session locks are re-entrant).
    """

    def __init__(
        self,
        connector: str,
        thread_lock: threading.Lock,
        *,
        connection: Connection | None = None,
        key: int | None = None,
        backend_pid: int | None = None,
    ) -> None:
        self.connector = connector
        self.key = key
        """The advisory lock key (PostgreSQL); None on SQLite."""
        self.backend_pid = backend_pid
        """The PostgreSQL backend holding the lock (for logs and `pg_locks`); None on SQLite."""
        self._thread_lock = thread_lock
        self._connection = connection
        self._mutex = threading.Lock()  # the connection is not thread-safe; is_held may race
        self._released = False

    @property
    def released(self) -> bool:
        """True once `release` ran."""
        return self._released

    def is_held(self) -> bool:
        """Whether the lock is still ours; a long cycle can check it between batches.

        On PostgreSQL the lock goes with its session: if the server ended the session
        (restart, `pg_terminate_backend`, a network failure noticed by keepalives),
        another replica may already be running this connector, and the cycle should
        stop. Checked in `pg_locks` on the lock's own connection; any error means lost.
        """
        with self._mutex:
            if self._released:
                return False
            if self._connection is None or self.key is None:
                return True
            high, low = (self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF
            try:
                row = self._connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND granted AND objsubid = 1"
                        " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
                        " AND database = (SELECT oid FROM pg_database"
                        " WHERE datname = current_database())"
                    ),
                    {"high": high, "low": low},
                ).scalar_one()
            except Exception:
                return False
            return bool(row)

    def release(self) -> None:
        """Give the lock up; idempotent, and never raises for a connection already dead.

        The advisory lock is unlocked explicitly, then its connection closed (which
        would free it anyway); the in-process lock is released last, so no other thread
        of this process can start the connector before other replicas could.
        """
        with self._mutex:
            if self._released:
                return
            self._released = True
            try:
                if self._connection is not None:
                    try:
                        self._connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                        )
                    except Exception:
                        pass  # the session is gone, and the lock with it
                    finally:
                        _close_quietly(self._connection)
                        self._connection = None
            finally:
                self._thread_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<ConnectorLock {self.connector!r} {state} key={self.key}>"


class ConnectorLocks:
    """Non-blocking per-connector locks for one store; make one per process and store.

    The in-process locks belong to this object, so every job of a process must share
    it: `locks_for(engine)` hands out one instance per engine. (Two instances on one
    PostgreSQL store still exclude each other through the database, which is how the
    tests stand in for two replicas; two on one SQLite store would not.)

    On PostgreSQL the lock connections come from a private engine built from the store's
    URL (same server, database, role and ``search_path``) without a pool: one connection
    per running cycle, opened at acquire and closed at release, so they neither count
    against nor wait on the store's pool while the sync itself uses it. They run in
    autocommit, so an hours-long cycle never leaves an open transaction behind (which
    would hold back vacuum and could be ended by ``idle_in_transaction_session_timeout``,
    freeing the lock). They must reach PostgreSQL directly or through a *session*-pooling
    proxy: a transaction-pooling PgBouncer would hand the session, and its lock, around.
    """

    def __init__(self, engine: Engine, *, namespace: str = LOCK_NAMESPACE) -> None:
        """Only the engine's URL and dialect are kept, not the engine itself."""
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"connector locks support SQLite and PostgreSQL, not {dialect}")
        self.dialect = dialect
        self.namespace = namespace
        self._mutex = threading.Lock()
        self._thread_locks: dict[str, threading.Lock] = {}
        self._lock_engine: Engine | None = None
        if dialect == "postgresql":
            self._lock_engine = _lock_engine(engine.url)

    def try_acquire(self, connector: str) -> ConnectorLock | None:
        """The lock of `connector` if free right now, else None; never waits.

        Raises when PostgreSQL cannot be reached: a replica that cannot lock must not
        run the cycle. The caller releases the lock when the cycle ends, best as
        ``with lock:``.
        """
        if not connector:
            raise ValueError("a connector name is needed to lock it")
        thread_lock = self._thread_lock(connector)
        if not thread_lock.acquire(blocking=False):
            return None
        if self._lock_engine is None:
            return ConnectorLock(connector, thread_lock)
        try:
            lock = self._try_advisory(connector, thread_lock)
        except BaseException:
            thread_lock.release()
            raise
        if lock is None:
            thread_lock.release()
        return lock

    def _thread_lock(self, connector: str) -> threading.Lock:
        with self._mutex:
            return self._thread_locks.setdefault(connector, threading.Lock())

    def _try_advisory(self, connector: str, thread_lock: threading.Lock) -> ConnectorLock | None:
        assert self._lock_engine is not None
        connection = self._lock_engine.connect()
        try:
            _configure_lock_session(connection)
            # The schema the store's unqualified table names resolve to: the first existing
            # schema of this session's search_path (None if none exists; no store then).
            schema = connection.execute(text("SELECT current_schema()")).scalar_one_or_none()
            key = advisory_key(schema or "", connector, namespace=self.namespace)
            granted = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar_one()
            if not granted:
                _close_quietly(connection)
                return None
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        except BaseException:
            _close_quietly(connection)  # ends the session, and any lock it got
            raise
        return ConnectorLock(
            connector, thread_lock, connection=connection, key=key, backend_pid=int(pid)
        )


def _lock_engine(url: URL) -> Engine:
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _configure_lock_session(connection: Connection) -> None:
    version = connection.dialect.server_version_info or ()
    for name, value, since in _LOCK_SESSION_SETTINGS:
        if tuple(version[: len(since)]) >= since:
            connection.execute(
                text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
            )


def _close_quietly(connection: Connection) -> None:
    with suppress(Exception):
        connection.close()


_locks_by_engine: weakref.WeakKeyDictionary[Engine, ConnectorLocks] = weakref.WeakKeyDictionary()
_locks_by_engine_mutex = threading.Lock()


def locks_for(engine: Engine) -> ConnectorLocks:
    """The `ConnectorLocks` of a store engine: the same instance on every call.

    So two parts of one process locking connectors of one engine share the in-process
    locks. (The instance keeps no reference to the engine, so the cache entry goes with
    the engine.)
    """
    with _locks_by_engine_mutex:
        locks = _locks_by_engine.get(engine)
        if locks is None:
            locks = _locks_by_engine[engine] = ConnectorLocks(engine)
        return locks


# -- the single-replica guard for SQLite --------------------------------------------------


class ReplicaGuardError(RuntimeError):
    """The replica guard could not be taken (no fcntl, lock file not writable, ...)."""


@dataclass(frozen=True, slots=True)
class ReplicaHolder:
    """Who holds a replica guard, as written into its lock file."""

    pid: int
    host: str
    started_at: str  # ISO 8601, UTC

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started_at": self.started_at})

    @classmethod
    def from_json(cls, raw: str) -> ReplicaHolder | None:
        """The holder in a lock file's text; None if empty or not ours."""
        try:
            data = json.loads(raw)
            return cls(
                pid=int(data["pid"]), host=str(data["host"]), started_at=str(data["started_at"])
            )
        except (ValueError, TypeError, KeyError):
            return None


class ReplicaConflictError(ReplicaGuardError):
    """Another process already serves this SQLite store."""

    def __init__(self, database: Path, lock_path: Path, holder: ReplicaHolder | None) -> None:
        self.database = database
        self.lock_path = lock_path
        self.holder = holder
        super().__init__(conflict_message(database, lock_path, holder))


def conflict_message(database: Path, lock_path: Path, holder: ReplicaHolder | None) -> str:
    """The refusal a second `pmo-sync serve` on one SQLite file prints."""
    if holder is None:
        # The holder locks first and writes its details just after: caught in between.
        who = "a process that has not written its pid yet"
    else:
        who = f"pid {holder.pid} on host {holder.host}, started {holder.started_at}"
    return (
        f"another pmo-sync serve already uses the SQLite store {database}: "
        f"its lock file {lock_path} is held by {who}. {SINGLE_REPLICA_HINT}"
    )


class ReplicaGuard:
    """An exclusive `flock` on ``<database>.serve.lock``, held until `release` or exit.

    `flock` rather than POSIX record locks (`fcntl.lockf`): a record lock belongs to the
    process and is silently dropped when the process closes *any* descriptor of the file,
    and a second lock from the same process is granted; a `flock` belongs to its open
    file, so even a second attempt within one process is refused. The descriptor is
    close-on-exec, so programs the service starts do not inherit the lock.

    The lock file is never deleted: unlinking it while another process has it open but
    not yet locked would let that process and a newcomer (who creates a fresh file) both
    "hold" the lock. Only its content is cleared on release.
    """

    def __init__(self, database: Path, lock_path: Path, fd: int, holder: ReplicaHolder) -> None:
        self.database = database
        self.lock_path = lock_path
        self.holder = holder
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """True until `release`."""
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder's details and unlock; idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # still locked: nobody reads a half-cleared file
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"<ReplicaGuard {self.lock_path} {state} pid={self.holder.pid}>"


def lock_file_for(database_path: str | os.PathLike[str]) -> Path:
    """The guard's lock file: next to the database (symlinks resolved), named after it."""
    database = Path(database_path).expanduser().resolve()
    return database.with_name(database.name + LOCK_FILE_SUFFIX)


def acquire_single_replica(database_path: str | os.PathLike[str]) -> ReplicaGuard:
    """Take the single-replica guard of a SQLite file, or fail at once.

    Raises `ReplicaConflictError` (naming the lock file and the holder's pid, host and
    start time) when another process holds it, `ReplicaGuardError` when it cannot be
    taken at all. The lock file's directory must exist (`make_engine` creates it).
    """
    _require_fcntl()
    database = Path(database_path).expanduser().resolve()
    lock_path = lock_file_for(database)
    try:
        # Not O_TRUNC: the file may hold the current holder's details, read below.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ReplicaGuardError(
            f"cannot open the pmo-sync serve lock file {lock_path}: {exc.strerror or exc}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = ReplicaHolder.from_json(_read_fd(fd))
        os.close(fd)
        raise ReplicaConflictError(database, lock_path, holder) from None
    except OSError as exc:
        os.close(fd)
        raise ReplicaGuardError(
            f"cannot lock the pmo-sync serve lock file {lock_path}: {exc.strerror or exc}"
        ) from exc
    holder = ReplicaHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder.to_json() + "\n").encode("utf-8"), 0)
    except BaseException:
        os.close(fd)
        raise
    return ReplicaGuard(database, lock_path, fd, holder)


def _require_fcntl() -> None:
    if fcntl is None:
        raise ReplicaGuardError(
            "the single-replica guard of a SQLite store needs fcntl.flock, which this "
            "platform lacks (pmo-sync serve supports Linux and macOS). " + SINGLE_REPLICA_HINT
        )


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return ""


def sqlite_database_path(url: URL) -> Path | None:
    """The file behind a SQLite URL; None for an in-memory database.

    With ``?uri=true`` the database is a SQLite URI filename (``file:path``): SQLAlchemy
    moves its parameters into the URL's query and SQLite decodes ``%XX`` in its path.
    """
    database = url.database
    if not database or database == ":memory:":
        return None
    if not database.startswith("file:") or str(url.query.get("uri", "")).lower() not in (
        "true",
        "1",
    ):
        return Path(database)
    parts = urlsplit(database)
    modes = set(parse_qs(parts.query).get("mode", []))
    query_mode = url.query.get("mode")
    modes.update([query_mode] if isinstance(query_mode, str) else query_mode or [])
    path = unquote(parts.path)
    if "memory" in modes or path in ("", ":memory:"):
        return None
    return Path(path)


@contextmanager
def replica_guard_for(engine: Engine) -> Iterator[ReplicaGuard | None]:
    """Hold the store's single-replica guard while the block runs (the whole service).

    SQLite file: `acquire_single_replica` on it. In-memory SQLite: nothing to guard
    (no other process can open it), yields None. PostgreSQL: many replicas are fine,
    the connector locks keep them apart; yields None.
    """
    dialect = engine.dialect.name
    if dialect == "postgresql":
        yield None
        return
    if dialect != "sqlite":
        raise ValueError(f"pmo-sync serve supports SQLite and PostgreSQL stores, not {dialect}")
    path = sqlite_database_path(engine.url)
    if path is None:
        yield None
        return
    with acquire_single_replica(path) as guard:
        yield guard
