"""What a driver's error means for the admin: `describe_failure` on the drivers' own texts.

The failures a test server cannot produce on demand (a wrong password under trust auth, a
pg_hba.conf refusal, a full disk, a corrupt file) are checked here on the exceptions the
drivers raise for them, with the texts libpq, PostgreSQL and SQLite use; the ones a test
can produce for real are in tests/test_cli_store.py.
"""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest
from sqlalchemy import make_url

from pmo_sync.store.errors import describe_failure

PG = make_url("postgresql+psycopg://pmo:s3cret-pw-0a1b@db.internal:5432/pmo")
SQLITE = make_url("sqlite:////srv/pmo/pmo-sync.sqlite3")
WHERE = "store postgresql://pmo@db.internal:5432/pmo"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
                'FATAL:  password authentication failed for user "pmo"'
            ),
            f'{WHERE}: cannot connect (password authentication failed for user "pmo"): '
            "check the user and password in PMO_SYNC_DATABASE_URL",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
                'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "pmo", database "pmo", '
                "no encryption"
            ),
            f'{WHERE}: cannot connect (no pg_hba.conf entry for host "10.0.0.9", user "pmo", '
            'database "pmo", no encryption): the server\'s pg_hba.conf does not let this user '
            "in from here",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
                "FATAL:  the database system is starting up"
            ),
            f"{WHERE}: cannot connect (the database system is starting up): check "
            "PMO_SYNC_DATABASE_URL and that PostgreSQL is up",
        ),
    ],
    ids=["wrong password", "pg_hba", "starting up"],
)
def test_postgresql_refusing_a_connection(error: Exception, line: str) -> None:
    assert describe_failure(error, PG, connecting=True, disconnected=False) == line


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            psycopg.errors.DiskFull('could not extend file "base/16384/16390": No space left'),
            f'{WHERE}: out of resources (could not extend file "base/16384/16390": No space '
            "left): check the database server",
        ),
        (
            psycopg.errors.ReadOnlySqlTransaction(
                "cannot execute INSERT in a read-only transaction"
            ),
            f"{WHERE}: read-only (cannot execute INSERT in a read-only transaction): this "
            "command writes: connect as a user that may write, or use findings, export, "
            "status, kpis --no-refresh",
        ),
        (
            psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
            f"{WHERE}: lost the connection (terminating connection due to administrator "
            "command): is PostgreSQL still running? run this again once it is back",
        ),
    ],
    ids=["disk full", "read-only transaction", "shut down"],
)
def test_postgresql_failing_mid_run(error: Exception, line: str) -> None:
    assert describe_failure(error, PG, connecting=False, disconnected=False) == line


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            sqlite3.OperationalError("database or disk is full"),
            "store /srv/pmo/pmo-sync.sqlite3: the disk is full: free space where the file lives",
        ),
        (
            sqlite3.DatabaseError("database disk image is malformed"),
            "store /srv/pmo/pmo-sync.sqlite3: corrupt (database disk image is malformed): "
            "restore the file from a backup",
        ),
        (
            sqlite3.OperationalError("disk I/O error"),
            "store /srv/pmo/pmo-sync.sqlite3: disk I/O error: check the disk and the "
            "permissions of the file, its -wal and -shm files",
        ),
    ],
    ids=["disk full", "corrupt", "I/O"],
)
def test_sqlite_failures(error: Exception, line: str) -> None:
    assert describe_failure(error, SQLITE, connecting=False, disconnected=False) == line


@pytest.mark.parametrize(
    ("error", "url"),
    [
        (psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"), PG),
        (psycopg.errors.UndefinedColumn('column "nope" does not exist'), PG),
        (sqlite3.IntegrityError("UNIQUE constraint failed: sources.name"), SQLITE),
        (sqlite3.OperationalError("no such column: nope"), SQLITE),
    ],
    ids=["pg unique", "pg bug", "sqlite unique", "sqlite bug"],
)
def test_a_statements_own_error_is_not_a_store_failure(error: Exception, url: object) -> None:
    assert describe_failure(error, url, connecting=False, disconnected=False) is None  # type: ignore[arg-type]


def test_a_password_echoed_by_a_driver_is_hidden() -> None:
    error = psycopg.OperationalError("invalid connection option: password=s3cret-pw-0a1b")
    line = describe_failure(error, PG, connecting=True, disconnected=False)
    assert line == (
        f"{WHERE}: cannot connect (invalid connection option: password=***): check the user "
        "and password in PMO_SYNC_DATABASE_URL"
    )
