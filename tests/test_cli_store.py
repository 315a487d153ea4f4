"""The store's failures from the command line: one line naming the store, then exit 3 or 4.

Every test runs `pmo-sync` (typer's CliRunner, and once the real process) in an
empty working directory with its own config directory and store, and checks the
exit code and the exact line. The store URLs carry a password that must never
be shown (`invoke` fails any command whose output holds it). PostgreSQL variants
use a schema of their own (the `store_url` fixture of tests/conftest.py).

The read commands (`findings`, `export`, `status`, `kpis --no-refresh`, `report`) must not
migrate a store: on an older schema they say to run `pmo-sync db upgrade`, exit
4 and leave the schema as it was.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, make_url, text
from typer.testing import Result

from pmo_sync.cli import err, out
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store import engine as store_engine
from pmo_sync.store.engine import alembic_config, current_revision, make_engine, upgrade
from pmo_sync.store.errors import StoreUnavailable, store_location

from .cli_support import cli_state_restored, run_cli

PASSWORD = "st0re-pa55-9d2f61"  # in every PostgreSQL URL here; never in any output
TOKEN_VARIABLE = "PMO_SYNC_STORE_TEST_TOKEN"
TOKEN = "st0re-test-tok-41c7e0"
READ_COMMANDS = [
    ["findings"],
    ["export"],
    ["status"],
    ["kpis", "--no-refresh"],
    ["report", "--html", "-o", "report.html"],
]
WRITE_COMMANDS = [["sync"], ["push"], ["kpis"], ["db", "upgrade"], ["serve", "--port", "0"]]
POLICY = "rules:\n  - id: estimate-committed\n    rule: missing_estimate\n"
PMO_SYNC = Path(sys.executable).with_name("pmo-sync")

postgres_only = pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


NOTHING_SYNCED = "nothing synced yet: run `pmo-sync sync`\n"
NEVER_RUN = "".join(
    f"{line}\n"
    for line in (
        "pmo-sync status (times in UTC)",
        "connector     schedule  last run  outcome    next run  to push ",
        "───────────────────────────────────────────────────────────────",
        "sandbox-jira  by hand   -         never run  -         off     ",
    )
)  # what `status` shows of the `cli_env` connector before any sync


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cwd, a config dir and a SQLite store URL of the test's own.

    The config dir holds one valid connector file (its tracker is never reached:
    the store fails first), so commands get past "no connector files" to the store.
    """
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # also: no stray .env is read
    config_dir = tmp_path / "config"
    (config_dir / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    write_sandbox_connector(config_dir, "http://127.0.0.1:9")
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")  # stderr: the command's lines alone
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "json")
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setattr(out, "width", 160)
    monkeypatch.setattr(err, "width", 160)
    with cli_state_restored():
        yield config_dir


def invoke(*args: str) -> Result:
    """Run `pmo-sync ARGS`; fail on a crash, and on the password or token in any output."""
    return run_cli(args, secrets=(PASSWORD, TOKEN))


def use_store(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", url)


def free_port() -> int:
    """A port nothing listens on (bound and closed again: connecting to it is refused)."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_password(url: str) -> str:
    """`url` with PASSWORD as its password (the trust-auth test server ignores it)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def pg_where(url: str) -> str:
    """How the messages name a PostgreSQL store: user@host:port/database, no password."""
    parsed = make_url(url)
    return f"postgresql://{parsed.username}@{parsed.host}:{parsed.port or 5432}/{parsed.database}"


def where(url: str) -> str:
    return pg_where(url) if url.startswith("postgresql") else str(make_url(url).database)


def libpq(url: str) -> str:
    """A psycopg conninfo for a store URL (its search_path option kept)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def previous(revision: str) -> str:
    down = ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


def migrated(url: str, revision: str = "head") -> Engine:
    engine = make_engine(url)
    upgrade(engine, revision)
    return engine


def write_sandbox_connector(config_dir: Path, url: str) -> None:
    (config_dir / "connectors" / "sandbox-jira.yaml").write_text(
        f"name: sandbox-jira\nkind: jira\nurl: {url}\nemail: pmo-bot@acme.example\n"
        f"token: ${{{TOKEN_VARIABLE}}}\njql: project in (ABC, DEF, GHI)\n",
        encoding="utf-8",
    )
    (config_dir / "policies").mkdir(exist_ok=True)
    (config_dir / "policies" / "scrum.yaml").write_text(POLICY, encoding="utf-8")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JiraSandbox]:
    """A small sandbox Jira (3 x 20 issues); syncs only read it."""
    with JiraSandbox(token=TOKEN, issues_per_project=20) as running:
        yield running


def sync_into(url: str, config_dir: Path, sandbox: JiraSandbox) -> None:
    """What the admin did before: a sync of the sandbox into the store at `url`."""
    write_sandbox_connector(config_dir, sandbox.url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PMO_SYNC_DATABASE_URL", url)
        result = invoke("sync")
    assert result.exit_code == 0, result.stderr


# -- PostgreSQL that cannot be reached or used ---------------------------------------------------


@pytest.mark.parametrize("args", READ_COMMANDS + WRITE_COMMANDS, ids=" ".join)
def test_postgresql_refusing_connections_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    port = free_port()
    use_store(monkeypatch, f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/test")
    result = invoke(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"store postgresql://postgres@127.0.0.1:{port}/test: cannot connect (connection "
        "refused): is PostgreSQL running there, and is PMO_SYNC_DATABASE_URL right?\n"
    )


def test_an_unknown_postgresql_host_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """`.invalid` never resolves (RFC 6761), with or without a network."""
    use_store(monkeypatch, f"postgresql+psycopg://pmo:{PASSWORD}@pmo-db.invalid:5432/pmo")
    result = invoke("sync")
    assert result.exit_code == 3
    assert result.stderr == (
        "store postgresql://pmo@pmo-db.invalid:5432/pmo: cannot connect (unknown host "
        "pmo-db.invalid): check the host in PMO_SYNC_DATABASE_URL\n"
    )


def test_a_postgresql_host_that_never_answers_gives_up_after_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A firewall that drops packets: without a timeout every command would hang forever.
    Here a socket that listens and never answers; psycopg waits at least 2 s."""
    monkeypatch.setattr(store_engine, "POSTGRESQL_CONNECT_TIMEOUT_S", 1)
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = int(silent.getsockname()[1])
        use_store(monkeypatch, f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/test")
        result = invoke("status")
    assert result.exit_code == 3
    assert result.stderr == (
        f"store postgresql://postgres@127.0.0.1:{port}/test: cannot connect (connection timeout "
        "expired): is the host reachable (firewall, VPN) and PostgreSQL listening on that port?\n"
    )


@postgres_only
def test_postgresql_without_the_database_or_the_user_says_which(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_url(store_url).set(query={})
    address = f"{server.host}:{server.port or 5432}"
    missing_db = server.set(password=PASSWORD, database="pmo_sync_no_such_db")
    use_store(monkeypatch, missing_db.render_as_string(hide_password=False))
    result = invoke("sync")
    assert result.exit_code == 3
    assert result.stderr == (
        f"store postgresql://{server.username}@{address}/pmo_sync_no_such_db: cannot connect "
        '(database "pmo_sync_no_such_db" does not exist): create the database, or fix its '
        "name in PMO_SYNC_DATABASE_URL\n"
    )
    missing_user = server.set(username="pmo_sync_nobody", password=PASSWORD)
    use_store(monkeypatch, missing_user.render_as_string(hide_password=False))
    result = invoke("findings")
    assert result.exit_code == 3
    assert result.stderr == (
        f"store postgresql://pmo_sync_nobody@{address}/{server.database}: cannot connect "
        '(role "pmo_sync_nobody" does not exist): check the user and password in '
        "PMO_SYNC_DATABASE_URL\n"
    )


def test_debug_adds_the_traceback_before_the_line_and_still_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    use_store(monkeypatch, f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/test")
    line = (
        f"store postgresql://postgres@127.0.0.1:{port}/test: cannot connect (connection "
        "refused): is PostgreSQL running there, and is PMO_SYNC_DATABASE_URL right?"
    )
    quiet = invoke("findings")
    assert quiet.stderr == line + "\n"
    debug = invoke("--debug", "findings")
    assert debug.exit_code == 3
    lines = debug.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any(x.startswith("psycopg.OperationalError: connection failed: ") for x in lines)
    assert lines[-2] == f"pmo_sync.store.errors.StoreUnavailable: {line}"
    assert lines[-1] == line


def test_serve_exits_3_with_the_line_as_a_real_process(tmp_path: Path) -> None:
    """The console script, not CliRunner: the line is all of stderr, nothing else ran."""
    port = free_port()
    env = {
        "PATH": str(PMO_SYNC.parent),
        "PMO_SYNC_DATABASE_URL": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/x",
        "PMO_SYNC_CONFIG_DIR": str(tmp_path / "config"),
        "PMO_SYNC_HTTP_PORT": "0",
        "PMO_SYNC_LOG_FORMAT": "json",
        TOKEN_VARIABLE: TOKEN,  # the connector file of `cli_env` is valid: serve gets to the store
    }
    done = subprocess.run(
        [str(PMO_SYNC), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == (
        f"store postgresql://postgres@127.0.0.1:{port}/x: cannot connect (connection "
        "refused): is PostgreSQL running there, and is PMO_SYNC_DATABASE_URL right?\n"
    )


# -- URLs that are not a store's ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (
            f"mysql://pmo:{PASSWORD}@db.example.com/pmo",
            "store mysql://pmo@db.example.com/pmo: pmo-sync does not support 'mysql' "
            "databases: set PMO_SYNC_DATABASE_URL to sqlite:///path/to/pmo-sync.sqlite3 or "
            "postgresql+psycopg://user@host:5432/db",
        ),
        (
            "nosuch://somewhere/db",
            "store nosuch://somewhere/db: pmo-sync does not support 'nosuch' databases: set "
            "PMO_SYNC_DATABASE_URL to sqlite:///path/to/pmo-sync.sqlite3 or "
            "postgresql+psycopg://user@host:5432/db",
        ),
        (
            f"postgres ql://pmo:{PASSWORD}@db/pmo",
            "store URL in PMO_SYNC_DATABASE_URL is not a database URL: use "
            "sqlite:///path/to/pmo-sync.sqlite3 or postgresql+psycopg://user@host:5432/db",
        ),
        (
            f"postgresql+nodriver://pmo:{PASSWORD}@db.example.com/pmo",
            "store postgresql://pmo@db.example.com:5432/pmo: cannot load the driver "
            "'postgresql+nodriver' (Can't load plugin: sqlalchemy.dialects:postgresql.nodriver)"
            ": set PMO_SYNC_DATABASE_URL to sqlite:///path/to/pmo-sync.sqlite3 or "
            "postgresql+psycopg://user@host:5432/db",
        ),
    ],
    ids=["mysql", "unknown scheme", "malformed", "unknown driver"],
)
@pytest.mark.parametrize("args", [["sync"], ["findings"]], ids=" ".join)
def test_a_url_pmo_sync_cannot_use_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, url: str, line: str, args: list[str]
) -> None:
    use_store(monkeypatch, url)
    result = invoke(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == line + "\n"


# -- SQLite files that cannot be used ------------------------------------------------------------


def test_a_sqlite_directory_that_cannot_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing directory is created for a command that writes (the default ./data/ is);
    here it cannot be, as a path component is a file."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be\n", encoding="utf-8")
    path = blocker / "data" / "pmo-sync.sqlite3"
    use_store(monkeypatch, f"sqlite:///{path}")
    result = invoke("sync")
    assert result.exit_code == 3
    assert result.stderr == (
        f"store {path}: cannot create its directory {path.parent} (Not a directory): check "
        "PMO_SYNC_DATABASE_URL and the permissions\n"
    )


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_missing_file_says_nothing_was_synced_there_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    path = tmp_path / "elsewhere" / "data" / "pmo-sync.sqlite3"
    use_store(monkeypatch, f"sqlite:///{path}")
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout == ("" if args != ["status"] else NEVER_RUN)
    assert result.stderr == (
        f"store {path} does not exist: nothing has been synced there yet; run `pmo-sync "
        "sync`, or check PMO_SYNC_DATABASE_URL\n"
    )
    assert not (tmp_path / "elsewhere").exists()


def test_the_default_relative_path_is_shown_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first-hour mistake: `findings` run from another directory than the sync."""
    monkeypatch.delenv("PMO_SYNC_DATABASE_URL")
    result = invoke("findings")
    assert result.exit_code == 0
    assert result.stderr == (
        f"store {Path.cwd() / 'data' / 'pmo-sync.sqlite3'} does not exist: nothing has been "
        "synced there yet; run `pmo-sync sync`, or check PMO_SYNC_DATABASE_URL\n"
    )


@pytest.mark.parametrize("args", [["sync"], ["db", "upgrade"], ["findings"], ["export"]])
def test_a_file_that_is_not_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("name,team\nABC-1,Team Alpha\n" * 200, encoding="utf-8")
    before = path.read_bytes()
    use_store(monkeypatch, f"sqlite:///{path}")
    result = invoke(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"store {path}: not a SQLite database (file is not a database): point "
        "PMO_SYNC_DATABASE_URL at pmo-sync's store file\n"
    )
    assert path.read_bytes() == before


def test_a_locked_sqlite_store_fails_writers_after_the_busy_timeout_and_readers_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite3"
    migrated(f"sqlite:///{path}").dispose()
    monkeypatch.setattr(store_engine, "SQLITE_BUSY_TIMEOUT_MS", 50)  # not 30 s of waiting
    line = (
        f"store {path}: locked by another writer past the busy timeout: is another pmo-sync "
        "(sync, serve) writing to it? run this again when it is done\n"
    )
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")  # another process, mid-write
        for args in (["sync"], ["db", "upgrade"], ["kpis"]):
            result = invoke(*args)
            assert (result.exit_code, result.stdout, result.stderr) == (3, "", line), args
        reading = invoke("findings", "--format", "json")  # WAL: readers pass a writer
        assert (reading.exit_code, reading.stdout, reading.stderr) == (0, "", NOTHING_SYNCED)
        holder.execute("ROLLBACK")
    assert invoke("db", "upgrade").exit_code == 0  # once it is released


# -- the schema: older, newer, none --------------------------------------------------------------


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_an_older_schema_exits_4_and_leaves_it_as_it_was(
    store_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    older = previous(head())
    engine = migrated(store_url, older)
    use_store(monkeypatch, store_url)
    result = invoke(*args)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (
        f"store {where(store_url)} has schema {older}, this pmo-sync needs {head()}: run "
        "`pmo-sync db upgrade`\n"
    )
    assert current_revision(engine) == older
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0
    assert current_revision(engine) == head()
    assert invoke(*args).exit_code == 0
    engine.dispose()


def test_a_command_that_writes_still_migrates_an_older_schema(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrated(store_url, previous(head()))
    use_store(monkeypatch, store_url)
    result = invoke("kpis")  # it migrates, then finds nothing synced
    assert (result.exit_code, result.stderr) == (0, NOTHING_SYNCED)
    assert current_revision(engine) == head()
    engine.dispose()


@pytest.mark.parametrize("args", [*READ_COMMANDS, ["sync"], ["db", "upgrade"]], ids=" ".join)
def test_a_schema_newer_than_this_pmo_sync_is_exit_3_and_untouched(
    store_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    engine = migrated(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    use_store(monkeypatch, store_url)
    result = invoke(*args)
    assert result.exit_code == 3
    assert result.stderr == (
        f"store {where(store_url)} has schema 9999, newer than this pmo-sync knows "
        f"({head()}): run the pmo-sync that upgraded it, or newer\n"
    )
    assert current_revision(engine) == "9999"
    engine.dispose()


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_store_without_tables_says_nothing_was_synced_yet(
    store_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    if store_url.startswith("sqlite"):  # an empty database file (a PostgreSQL schema is one)
        path = Path(str(make_url(store_url).database))
        path.parent.mkdir()
        sqlite3.connect(path).close()
    use_store(monkeypatch, store_url)
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout == ("" if args != ["status"] else NEVER_RUN)
    assert result.stderr == (
        f"store {where(store_url)} has no tables: nothing has been synced yet; run "
        "`pmo-sync sync`\n"
    )
    engine = make_engine(store_url)
    assert current_revision(engine) is None  # still nothing: not migrated
    engine.dispose()


def test_a_read_command_on_another_applications_database_exit_3(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    use_store(monkeypatch, store_url)
    result = invoke("export")
    assert result.exit_code == 3
    assert result.stderr == (
        f"store {where(store_url)} holds tables but no pmo-sync schema: point "
        "PMO_SYNC_DATABASE_URL at pmo-sync's own database (or an empty one)\n"
    )


# -- read commands on a store they may not write --------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_commands_work_on_a_read_only_sqlite_file_and_write_nothing(
    tmp_path: Path, cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What this proves, honestly: tests run as root, whom file permissions do not stop, so
    the read-only store is the file opened with SQLite's `mode=ro` URI, the way SQLite
    opens a file it may not write. The read commands give the same output through it as
    through the plain URL, a command that writes fails there with its line, and the read
    commands leave the file's bytes as they were."""
    path = tmp_path / "store.sqlite3"
    sync_into(f"sqlite:///{path}", cli_env, sandbox)
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    before = _digest(path)
    for args in (
        ["findings", "--format", "json"],
        ["export"],
        ["status"],
        ["kpis", "--no-refresh"],
        ["portfolio", "--format", "json"],
        ["portfolio", "backtest", "--weeks", "4"],
    ):
        use_store(monkeypatch, f"sqlite:///{path}")
        plain = invoke(*args)
        use_store(monkeypatch, read_only)
        through_ro = invoke(*args)
        assert plain.exit_code == through_ro.exit_code == 0, through_ro.stderr
        assert through_ro.stdout == plain.stdout
        assert through_ro.stderr == plain.stderr
    assert json.loads(invoke("findings", "--format", "json").stdout)  # there is something
    assert _digest(path) == before
    writing = invoke("sync")
    assert writing.exit_code == 3
    assert writing.stderr == (
        f"store {path}: read-only (attempt to write a readonly database): this command writes:"
        " make the file and its directory writable, or use findings, export, status, "
        "kpis --no-refresh\n"
    )


@postgres_only
def test_read_commands_work_for_a_postgresql_user_who_may_only_select(
    store_url: str, cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_into(store_url, cli_env, sandbox)
    schema = make_url(store_url).query["options"].removeprefix("-csearch_path=")
    role = f"pmo_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(store_url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    try:
        reader = with_password(str(make_url(store_url).set(username=role)))
        use_store(monkeypatch, reader)
        exported = invoke("export")
        assert exported.exit_code == 0, exported.stderr
        assert exported.stderr == "exported 60 work items\n"
        findings = invoke("findings", "--format", "json")
        assert findings.exit_code == 0 and json.loads(findings.stdout)
        assert invoke("status").exit_code == 0
        assert invoke("kpis", "--no-refresh", "--format", "json").exit_code == 0
        portfolio = invoke("portfolio", "--format", "json")
        assert portfolio.exit_code == 0 and json.loads(portfolio.stdout)["requests"]
        writing = invoke("sync")
        assert writing.exit_code == 3
        assert writing.stderr == (
            f"store {pg_where(reader).replace('postgres@', f'{role}@')}: permission denied "
            "(permission denied for table service_cycles): grant the user of PMO_SYNC_DATABASE_URL "
            "the rights on pmo-sync's tables\n"
        )
    finally:
        with psycopg.connect(libpq(store_url), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_an_engine_opened_to_read_refuses_every_write(store_url: str) -> None:
    """What makes the read commands safe: their engine cannot write, even by mistake."""
    migrated(store_url).dispose()
    reader = make_engine(store_url, read_only=True)
    try:
        with pytest.raises(StoreUnavailable) as refused, reader.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (name, kind, created_at) "
                    "VALUES ('jira-main', 'jira', CURRENT_TIMESTAMP)"
                )
            )
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sources")).scalar_one() == 0
    finally:
        reader.dispose()
    if store_url.startswith("sqlite"):
        problem = "read-only (attempt to write a readonly database): this command writes: make "
        problem += "the file and its directory writable"
    else:
        problem = "read-only (cannot execute INSERT in a read-only transaction): this command "
        problem += "writes: connect as a user that may write"
    assert refused.value.message == (
        f"store {where(store_url)}: {problem}, or use findings, export, status, kpis --no-refresh"
    )


def test_kpis_no_refresh_shows_the_kept_values_and_writes_nothing(
    tmp_path: Path, cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite3"
    sync_into(f"sqlite:///{path}", cli_env, sandbox)
    refreshed = invoke("kpis", "--format", "json")
    assert refreshed.exit_code == 0
    before = _digest(path)
    kept = invoke("kpis", "--no-refresh", "--format", "json")
    assert kept.exit_code == 0
    assert kept.stderr == ""

    def rows(output: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(str(v) for v in row.values()) for row in json.loads(output))

    assert rows(kept.stdout) == rows(refreshed.stdout) != []
    beta = invoke("kpis", "--no-refresh", "--team", "Team Beta", "--format", "csv")
    assert beta.exit_code == 0
    assert {
        line.split(",")[1] for line in beta.stdout.splitlines()[1:] if line.startswith("team,")
    } == {"Team Beta"}
    assert _digest(path) == before
    since = invoke("kpis", "--no-refresh", "--since", "2026-10-01")
    assert since.exit_code == 2
    assert since.stderr == (
        "--since needs a refresh: --no-refresh shows the last refresh's window\n"
    )


# -- a store lost mid-run ------------------------------------------------------------------------


@postgres_only
def test_a_store_lost_mid_run_raises_its_line_and_an_idle_connection_lost_is_replaced(
    store_url: str,
) -> None:
    engine = migrated(store_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with psycopg.connect(libpq(store_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(StoreUnavailable) as lost:
                conn.execute(text("SELECT count(*) FROM work_items"))
        assert lost.value.message == (
            f"store {pg_where(store_url)}: lost the connection (terminating connection due to "
            "administrator command): is PostgreSQL still running? run this again once it is back"
        )
        # A pooled connection that died while idle is not a failure: the pre-ping replaces it.
        with engine.connect() as conn:
            idle_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(libpq(store_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (idle_pid,))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != idle_pid
    finally:
        engine.dispose()


def test_a_statement_that_fails_for_its_own_reasons_keeps_its_error(store_url: str) -> None:
    """Only the store's failures become StoreUnavailable: a bug or a constraint violated
    must not read as "the store is down"."""
    from sqlalchemy.exc import IntegrityError

    engine = migrated(store_url)
    try:
        insert = text(
            "INSERT INTO sources (name, kind, created_at) "
            "VALUES ('jira-main', 'jira', CURRENT_TIMESTAMP)"
        )
        with engine.begin() as conn:
            conn.execute(insert)
        with pytest.raises(IntegrityError, match=r"(?i)unique"), engine.begin() as conn:
            conn.execute(insert)
    finally:
        engine.dispose()


# -- how a store is named ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (
            f"postgresql+psycopg://pmo:{PASSWORD}@db.internal:6432/pmo",
            "postgresql://pmo@db.internal:6432/pmo",
        ),
        (
            f"postgresql+psycopg://pmo@db.internal/pmo?password={PASSWORD}",
            "postgresql://pmo@db.internal:5432/pmo",
        ),
        (
            "postgresql+psycopg://pmo@/pmo?host=/run/postgresql",
            "postgresql://pmo@[/run/postgresql]:5432/pmo",
        ),
        ("sqlite:///data/pmo-sync.sqlite3", "{cwd}/data/pmo-sync.sqlite3"),
        ("sqlite:////srv/pmo/store.sqlite3", "/srv/pmo/store.sqlite3"),
        (
            "sqlite:///file:/srv/pmo/store%20one.sqlite3?mode=ro&uri=true",
            "/srv/pmo/store one.sqlite3",
        ),
        ("sqlite://", "in-memory SQLite"),
    ],
)
def test_a_store_is_named_by_its_file_or_address_never_its_password(url: str, named: str) -> None:
    assert store_location(make_url(url)) == named.format(cwd=Path.cwd())


def test_a_store_lost_during_a_sync_is_its_one_line_in_the_summary_and_the_log(
    tmp_path: Path, cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "internal error" and a traceback in the log: the store's own line, as the CLI says."""
    from pmo_sync.config import load_connector_configs
    from pmo_sync.store.repository import Store
    from pmo_sync.sync import sync_all

    write_sandbox_connector(cli_env, sandbox.url)
    (config,) = load_connector_configs(cli_env).configs
    line = (
        f"store {tmp_path / 'lost.sqlite3'}: lost the connection (disk I/O error): check the disk"
    )

    def lost(*_args: Any, **_kwargs: Any) -> None:
        raise StoreUnavailable(line)

    store = Store(migrated(f"sqlite:///{tmp_path / 'lost.sqlite3'}"))
    monkeypatch.setattr(Store, "set_bookmark", lost)
    with structlog.testing.capture_logs() as logged:
        (summary,) = sync_all([config], store)
    store.engine.dispose()
    assert (summary.status, summary.errors) == ("failed", [line])
    failures = [entry for entry in logged if entry["log_level"] in ("error", "critical")]
    assert failures == [{"event": "sync_store_unavailable", "error": line, "log_level": "error"}]
