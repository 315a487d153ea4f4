"""Connector locks and the SQLite single-replica guard, against real databases and processes.

"Two replicas" on PostgreSQL are two `ConnectorLocks` on two engines to the same URL and
schema (each lock on a session of its own, exactly as two processes would have), plus one
real second process for the SIGKILL case. On SQLite the competing replicas are real
processes, since the guard is an OS file lock.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from pmo_sync.service import locks as locks_module
from pmo_sync.service.locks import (
    ConnectorLock,
    ConnectorLocks,
    ReplicaConflictError,
    ReplicaGuardError,
    acquire_single_replica,
    advisory_key,
    lock_file_for,
    locks_for,
    replica_guard_for,
    sqlite_database_path,
)
from pmo_sync.store.engine import make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0

postgres_only = pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

T = TypeVar("T")


def _poll(attempt: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """`attempt()` until it returns something, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {timeout} s")
        time.sleep(0.02)


def _advisory_holders(engine: Engine, key: int) -> list[int]:
    """Backends granted the bigint advisory lock `key`, seen from another session."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key"
            ),
            {"key": key},
        )
        return [int(pid) for (pid,) in rows]


def _session_state(engine: Engine, pid: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one_or_none()


def _acquired(lock: ConnectorLock | None) -> ConnectorLock:
    assert lock is not None, "the lock should have been granted"
    return lock


@pytest.fixture
def second_replica(store_url: str) -> Iterator[ConnectorLocks]:
    """Connector locks of another replica: its own engine on the same URL and schema."""
    other = make_engine(store_url)
    yield ConnectorLocks(other)
    other.dispose()


# -- subprocesses ----------------------------------------------------------------------------

_GUARD_CHILD = """
import sys, time
from pmo_sync.service.locks import ReplicaConflictError, acquire_single_replica
try:
    guard = acquire_single_replica(sys.argv[1])
except ReplicaConflictError as exc:
    print(exc, flush=True)
    sys.exit(3)
print("acquired", guard.holder.pid, flush=True)
if sys.argv[2] == "hold":
    time.sleep(60)
guard.release()
"""

_CONNECTOR_LOCK_CHILD = """
import sys, time
from sqlalchemy import create_engine
from pmo_sync.service.locks import ConnectorLocks
lock = ConnectorLocks(create_engine(sys.argv[1])).try_acquire(sys.argv[2])
print("acquired" if lock is not None else "refused", flush=True)
time.sleep(60)
"""


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _python(code, *args),
        capture_output=True,
        text=True,
        timeout=30,
        env=_child_env(),
        cwd=REPO_ROOT,
        check=False,
    )


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start a long-lived child; any still alive at teardown is killed."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            _python(code, *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
            cwd=REPO_ROOT,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=TIMEOUT)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def _read_line(child: subprocess.Popen[str], timeout: float = 15.0) -> str:
    """The child's next stdout line, without ever hanging the test run."""
    assert child.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            child.kill()
            raise AssertionError(f"no output from the child in {timeout} s")
    line = child.stdout.readline()
    if not line:
        child.wait(timeout=TIMEOUT)
        assert child.stderr is not None
        raise AssertionError(f"the child exited {child.returncode}: {child.stderr.read()}")
    return line.strip()


def _sigkill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=TIMEOUT) == -signal.SIGKILL


# -- the lock key ----------------------------------------------------------------------------


def test_the_advisory_key_is_pinned_because_replicas_of_two_versions_must_agree() -> None:
    # A rolling upgrade runs old and new replicas side by side: a changed derivation would
    # give them different keys for one connector and let both run it.
    assert advisory_key("public", "jira") == 3564679574389817046


def test_the_key_depends_on_schema_connector_and_namespace_only() -> None:
    base = advisory_key("public", "jira")
    assert advisory_key("public", "jira") == base
    assert advisory_key("other", "jira") != base
    assert advisory_key("public", "ado") != base
    assert advisory_key("public", "jira", namespace="elsewhere") != base
    # No ambiguity from where one part ends and the next begins.
    assert advisory_key("ab", "c") != advisory_key("a", "bc")


# -- both databases: the in-process guarantees ---------------------------------------------


def test_threads_racing_for_one_connector_get_it_exactly_once(engine: Engine) -> None:
    locks = locks_for(engine)
    threads_count = 8
    start = threading.Barrier(threads_count, timeout=TIMEOUT)
    tried = threading.Barrier(threads_count + 1, timeout=TIMEOUT)
    results: list[ConnectorLock | None] = []
    results_mutex = threading.Lock()
    failures: list[BaseException] = []

    def contend() -> None:
        try:
            start.wait()
            lock = locks.try_acquire("jira")
            with results_mutex:
                results.append(lock)
        except BaseException as exc:
            failures.append(exc)
        finally:
            tried.wait()  # the winner keeps its lock until every thread has tried

    threads = [threading.Thread(target=contend) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    tried.wait()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not failures
    winners = [lock for lock in results if lock is not None]
    assert len(results) == threads_count
    assert len(winners) == 1
    assert winners[0].is_held()
    winners[0].release()
    _acquired(locks.try_acquire("jira")).release()


def test_connectors_are_locked_independently(engine: Engine) -> None:
    locks = locks_for(engine)
    with _acquired(locks.try_acquire("jira")) as jira:
        assert locks.try_acquire("jira") is None
        with _acquired(locks.try_acquire("ado")) as ado:
            assert ado.is_held()
            assert jira.is_held()
        assert locks.try_acquire("jira") is None
    _acquired(locks.try_acquire("jira")).release()


def test_a_lock_is_released_on_exit_even_when_the_cycle_fails(engine: Engine) -> None:
    locks = locks_for(engine)
    held = _acquired(locks.try_acquire("jira"))
    with pytest.raises(RuntimeError, match="tracker down"), held:
        raise RuntimeError("tracker down")
    assert held.released
    assert not held.is_held()
    held.release()  # idempotent: must not release anyone else's lock
    again = _acquired(locks.try_acquire("jira"))
    held.release()
    assert again.is_held()
    assert locks.try_acquire("jira") is None
    again.release()


def test_locks_for_hands_out_one_instance_per_engine(engine: Engine) -> None:
    assert locks_for(engine) is locks_for(engine)
    with _acquired(locks_for(engine).try_acquire("jira")):
        assert locks_for(engine).try_acquire("jira") is None


def test_a_connector_needs_a_name(engine: Engine) -> None:
    with pytest.raises(ValueError, match="connector name"):
        locks_for(engine).try_acquire("")


# -- PostgreSQL: replicas -------------------------------------------------------------------


def test_an_unreachable_postgresql_raises_and_frees_the_in_process_lock() -> None:
    # Port 1: nothing listens, so connecting fails at once. A replica that cannot lock
    # must not run the cycle, and must be able to try again next time.
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    locks = ConnectorLocks(unreachable)
    for _ in range(2):  # the second attempt raises too, rather than returning None
        with pytest.raises(OperationalError):
            locks.try_acquire("jira")


@postgres_only
def test_a_second_replica_cannot_run_a_connector_the_first_holds(
    engine: Engine, second_replica: ConnectorLocks
) -> None:
    first = ConnectorLocks(engine)
    held = _acquired(first.try_acquire("jira"))
    assert held.key is not None and held.backend_pid is not None
    assert _advisory_holders(engine, held.key) == [held.backend_pid]
    # Autocommit: the lock session waits idle, never "idle in transaction".
    assert _session_state(engine, held.backend_pid) == "idle"

    assert second_replica.try_acquire("jira") is None
    with _acquired(second_replica.try_acquire("ado")) as ado:
        assert ado.backend_pid != held.backend_pid

    held.release()
    assert _advisory_holders(engine, held.key) == []
    assert _poll(lambda: _session_state(engine, held.backend_pid) is None or None, "closed")

    taken_over = _acquired(second_replica.try_acquire("jira"))
    assert taken_over.key == held.key
    assert first.try_acquire("jira") is None
    taken_over.release()
    _acquired(first.try_acquire("jira")).release()


@postgres_only
def test_a_killed_lock_session_frees_the_connector(
    engine: Engine, second_replica: ConnectorLocks
) -> None:
    first = ConnectorLocks(engine)
    held = _acquired(first.try_acquire("jira"))
    assert held.is_held()
    assert second_replica.try_acquire("jira") is None
    with engine.connect() as admin:
        terminated = admin.execute(
            text("SELECT pg_terminate_backend(:pid)"), {"pid": held.backend_pid}
        ).scalar_one()
    assert terminated is True

    taken_over = _poll(lambda: second_replica.try_acquire("jira"), "taken over")
    assert not held.is_held()  # the first replica can tell it lost the lock
    held.release()  # on a dead connection: quiet, and it must not free the new holder
    assert taken_over.is_held()
    assert _advisory_holders(engine, advisory_key(_schema(engine), "jira")) == [
        taken_over.backend_pid
    ]
    assert first.try_acquire("jira") is None
    taken_over.release()


@postgres_only
def test_a_sigkilled_replica_leaves_no_lock_behind(
    engine: Engine, store_url: str, second_replica: ConnectorLocks, spawn: Any
) -> None:
    child = spawn(_CONNECTOR_LOCK_CHILD, store_url, "jira")
    assert _read_line(child) == "acquired"
    key = advisory_key(_schema(engine), "jira")
    assert len(_advisory_holders(engine, key)) == 1
    assert second_replica.try_acquire("jira") is None

    _sigkill(child)
    taken_over = _poll(lambda: second_replica.try_acquire("jira"), "taken over")
    assert _advisory_holders(engine, key) == [taken_over.backend_pid]
    taken_over.release()


@postgres_only
def test_two_schemas_in_one_database_are_two_stores(engine: Engine) -> None:
    schema = "t_" + uuid.uuid4().hex[:16]
    with engine.connect() as conn, conn.begin():
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(engine.url).update_query_dict({"options": f"-csearch_path={schema}"})
    other = make_engine(url.render_as_string(hide_password=False))
    try:
        here = _acquired(ConnectorLocks(engine).try_acquire("jira"))
        there = _acquired(ConnectorLocks(other).try_acquire("jira"))
        assert here.key == advisory_key(_schema(engine), "jira")
        assert there.key == advisory_key(schema, "jira")
        assert here.key != there.key
        here.release()
        there.release()
    finally:
        other.dispose()
        with engine.connect() as conn, conn.begin():
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def _schema(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


# -- SQLite: one replica --------------------------------------------------------------------


def _database(engine: Engine) -> Path:
    path = sqlite_database_path(engine.url)
    assert path is not None
    return path.resolve()


@sqlite_only
def test_a_second_process_on_the_same_sqlite_file_is_refused_by_name(engine: Engine) -> None:
    database = _database(engine)
    with replica_guard_for(engine) as guard:
        assert guard is not None and guard.held
        assert guard.lock_path == database.parent / "pmo.db.serve.lock"
        written = json.loads(guard.lock_path.read_text())
        assert written == {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": guard.holder.started_at,
        }

        refused = _run(_GUARD_CHILD, str(database), "release")
        assert refused.returncode == 3, refused.stderr
        assert refused.stdout.strip() == (
            f"another pmo-sync serve already uses the SQLite store {database}: "
            f"its lock file {database}.serve.lock is held by pid {os.getpid()} "
            f"on host {socket.gethostname()}, started {guard.holder.started_at}. "
            "SQLite allows one pmo-sync serve; use PostgreSQL for several replicas."
        )
    assert not guard.held
    assert guard.lock_path.exists()  # never unlinked (see ReplicaGuard)
    assert guard.lock_path.read_text() == ""

    accepted = _run(_GUARD_CHILD, str(database), "release")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.split()[0] == "acquired"
    assert int(accepted.stdout.split()[1]) != os.getpid()


@sqlite_only
def test_a_sigkilled_holder_leaves_the_sqlite_file_lockable(engine: Engine, spawn: Any) -> None:
    database = _database(engine)
    child = spawn(_GUARD_CHILD, str(database), "hold")
    assert _read_line(child) == f"acquired {child.pid}"
    with pytest.raises(ReplicaConflictError) as refused:
        acquire_single_replica(database)
    assert refused.value.holder is not None
    assert refused.value.holder.pid == child.pid
    assert f"held by pid {child.pid} on host " in str(refused.value)

    _sigkill(child)
    # The kernel dropped the flock with the process; its details are still in the file.
    assert json.loads(lock_file_for(database).read_text())["pid"] == child.pid
    with acquire_single_replica(database) as guard:
        assert guard.holder.pid == os.getpid()
        assert json.loads(guard.lock_path.read_text())["pid"] == os.getpid()


@sqlite_only
def test_the_guard_refuses_a_second_taker_in_the_same_process(engine: Engine) -> None:
    # flock belongs to the open file, not the process (unlike fcntl.lockf): even a
    # second `serve` inside one interpreter is refused.
    database = _database(engine)
    guard = acquire_single_replica(database)
    with pytest.raises(ReplicaConflictError) as refused:
        acquire_single_replica(database)
    assert refused.value.holder == guard.holder
    assert refused.value.lock_path == guard.lock_path
    guard.release()
    guard.release()  # idempotent
    acquire_single_replica(database).release()


@sqlite_only
def test_a_holder_caught_before_writing_its_details_is_reported_as_such(engine: Engine) -> None:
    import fcntl

    database = _database(engine)
    lock_path = lock_file_for(database)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked, nothing written yet
        with pytest.raises(ReplicaConflictError) as refused:
            acquire_single_replica(database)
    finally:
        os.close(fd)
    assert refused.value.holder is None
    assert str(refused.value) == (
        f"another pmo-sync serve already uses the SQLite store {database}: its lock file "
        f"{lock_path} is held by a process that has not written its pid yet. "
        "SQLite allows one pmo-sync serve; use PostgreSQL for several replicas."
    )


def test_postgresql_and_in_memory_sqlite_need_no_guard(engine: Engine) -> None:
    with replica_guard_for(engine) as guard:
        assert (guard is None) == (engine.dialect.name == "postgresql")
        if guard is not None:
            assert guard.held
    memory = make_engine("sqlite://")
    try:
        with replica_guard_for(memory) as none:
            assert none is None
    finally:
        memory.dispose()


@sqlite_only
def test_without_fcntl_the_guard_says_why(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks_module, "fcntl", None)
    with pytest.raises(ReplicaGuardError, match=r"needs fcntl\.flock"), replica_guard_for(engine):
        pass
    assert not lock_file_for(_database(engine)).exists()


def test_an_unwritable_lock_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "pmo.db"
    with pytest.raises(ReplicaGuardError, match="cannot open the pmo-sync serve lock file"):
        acquire_single_replica(missing)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("sqlite:////srv/pmo/pmo.db", Path("/srv/pmo/pmo.db")),
        ("sqlite:///relative/pmo.db", Path("relative/pmo.db")),
        ("sqlite:///file:/srv/pmo/my%2520db.db?mode=rw&uri=true", Path("/srv/pmo/my db.db")),
        ("sqlite:///file:/srv/pmo/pmo.db", Path("file:/srv/pmo/pmo.db")),  # no uri: a name
    ],
)
def test_the_sqlite_file_behind_a_url(url: str, expected: Path | None) -> None:
    assert sqlite_database_path(make_url(url)) == expected
