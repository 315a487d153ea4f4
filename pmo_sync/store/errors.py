"""The store's failures as one line each: which store, what went wrong, what to check.

A database driver's error is a multi-line text about sockets, SQLSTATEs and
statements; what the admin needs is which store (``host:port/database`` or the
file path, never a password), what happened and what to do. `engine.py` turns
the failures it recognises into these exceptions (the CLI prints the message
and exits with the code its class stands for); anything else (a bug, a
constraint violated) is left as it is, so it is never disguised as a store
outage.

Everything here is pure: it reads exceptions and URLs, and connects to nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "READ_COMMANDS",
    "URL_VARIABLE",
    "StoreEmpty",
    "StoreError",
    "StoreOutdated",
    "StoreUnavailable",
    "describe_failure",
    "sqlite_file",
    "store_location",
]

URL_VARIABLE = "PMO_SYNC_DATABASE_URL"
READ_COMMANDS = "findings, export, status, kpis --no-refresh"
"""The commands that only read, named when a store refuses writes."""


class StoreError(Exception):
    """A store failure with the one line to show; `message` never holds a password."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreUnavailable(StoreError):
    """The store cannot be reached, opened or used (the CLI exits 3)."""


class StoreOutdated(StoreError):
    """The store's schema is older than this pmo-sync's: `pmo-sync db upgrade` (the CLI exits 4)."""


class StoreEmpty(StoreError):
    """A command that only reads found no store, or one without tables: nothing synced yet.

    Not a failure (the CLI exits 0): the store is fine, there is just nothing in
    it; `pmo-sync sync` creates the tables and fills them.
    """


def sqlite_file(url: URL) -> Path | None:
    """The absolute path of a SQLite store's file; None for other stores and `:memory:`.

    A `file:` URI (``sqlite:///file:/path?mode=ro&uri=true``) gives its path;
    a relative path is taken from the working directory, as SQLite does.
    """
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database.startswith("file:"):
        database = unquote(database.removeprefix("file:").split("?", 1)[0])
        if database.startswith("//"):  # file://host/path: only an empty host is local
            database = database[2:].partition("/")[2]
            database = "/" + database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(os.path.abspath(database))


def store_location(url: URL) -> str:
    """How a message names the store: its file, or ``backend://user@host:port/database``.

    The password is never part of it, nor the query (it may carry one, e.g.
    ``?password=``).
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = sqlite_file(url)
        return str(path) if path is not None else "in-memory SQLite"
    host = url.host or str(url.query.get("host") or "localhost")
    if host.startswith("/"):  # a Unix socket's directory
        host = f"[{host}]"
    port = url.port or (5432 if backend == "postgresql" else None)
    user = f"{url.username}@" if url.username else ""
    address = f"{host}:{port}" if port else host
    database = f"/{url.database}" if url.database else ""
    return f"{backend}://{user}{address}{database}"


# -- what a driver's error means ---------------------------------------------------------------

_SQLITE_FAILURES = (
    # (text in SQLite's message, the problem, what to do)
    (
        "database is locked",
        "locked by another writer past the busy timeout",
        "is another pmo-sync (sync, serve) writing to it? run this again when it is done",
    ),
    (
        "database table is locked",
        "locked by another writer past the busy timeout",
        "is another pmo-sync (sync, serve) writing to it? run this again when it is done",
    ),
    (
        "file is not a database",
        "not a SQLite database (file is not a database)",
        f"point {URL_VARIABLE} at pmo-sync's store file",
    ),
    (
        "readonly database",
        "read-only (attempt to write a readonly database)",
        f"this command writes: make the file and its directory writable, or use {READ_COMMANDS}",
    ),
    (
        "unable to open database file",
        "cannot open the file (unable to open database file)",
        f"check that its directory exists and is writable, and {URL_VARIABLE}",
    ),
    (
        "disk i/o error",
        "disk I/O error",
        "check the disk and the permissions of the file, its -wal and -shm files",
    ),
    ("database or disk is full", "the disk is full", "free space where the file lives"),
    (
        "malformed",
        "corrupt (database disk image is malformed)",
        "restore the file from a backup",
    ),
)


def describe_failure(
    error: BaseException, url: URL, *, connecting: bool, disconnected: bool
) -> str | None:
    """The one line for a driver error `error` on the store at `url`; None if not a store failure.

    `connecting`: the error came while opening a connection (then any error is
    the store's). `disconnected`: the driver says the connection is gone.
    Errors of statements (a constraint, a bug) give None and keep their own
    exception.
    """
    where = store_location(url)
    detail = _first_line(str(error), url)
    if url.get_backend_name() == "sqlite":
        lowered = detail.lower()
        for needle, problem, advice in _SQLITE_FAILURES:
            if needle in lowered:
                return f"store {where}: {problem}: {advice}"
        if connecting:
            return f"store {where}: cannot open ({detail}): check {URL_VARIABLE}"
        return None
    return _postgresql_failure(error, url, where, detail, connecting, disconnected)


def _postgresql_failure(
    error: BaseException,
    url: URL,
    where: str,
    detail: str,
    connecting: bool,
    disconnected: bool,
) -> str | None:
    state = str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")
    reason = _server_reason(detail)
    lowered = reason.lower()
    if connecting:
        return f"store {where}: cannot connect ({_connect_reason(reason, url)}): " + (
            _connect_advice(lowered)
        )
    if disconnected or state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        return (
            f"store {where}: lost the connection ({reason}): is PostgreSQL still running? "
            "run this again once it is back"
        )
    if state == "25006" or "read-only transaction" in lowered:
        return (
            f"store {where}: read-only ({reason}): this command writes: connect as a user "
            f"that may write, or use {READ_COMMANDS}"
        )
    if state == "42501":
        return (
            f"store {where}: permission denied ({reason}): grant the user of "
            f"{URL_VARIABLE} the rights on pmo-sync's tables"
        )
    if state.startswith("53"):
        return f"store {where}: out of resources ({reason}): check the database server"
    return None


def _connect_reason(reason: str, url: URL) -> str:
    lowered = reason.lower()
    if "resolve host" in lowered or "translate host" in lowered or "name or service" in lowered:
        return f"unknown host {url.host}"
    return reason


def _connect_advice(reason: str) -> str:
    if "refused" in reason:
        return f"is PostgreSQL running there, and is {URL_VARIABLE} right?"
    if "resolve host" in reason or "translate host" in reason or "name or service" in reason:
        return f"check the host in {URL_VARIABLE}"
    if "timeout" in reason or "timed out" in reason:
        return "is the host reachable (firewall, VPN) and PostgreSQL listening on that port?"
    if "database" in reason and "does not exist" in reason:
        return f"create the database, or fix its name in {URL_VARIABLE}"
    if "password" in reason or "authentication" in reason or "role" in reason:
        return f"check the user and password in {URL_VARIABLE}"
    if "pg_hba" in reason:
        return "the server's pg_hba.conf does not let this user in from here"
    return f"check {URL_VARIABLE} and that PostgreSQL is up"


def _server_reason(detail: str) -> str:
    """The part of a libpq message that says why: after ``FATAL:`` or the last ``failed:``."""
    if "FATAL:" in detail:
        detail = detail.rsplit("FATAL:", 1)[1]
    elif "failed: " in detail:
        detail = detail.rsplit("failed: ", 1)[1]
    detail = " ".join(detail.split())
    if detail[:2].istitle():  # "Connection refused" reads as the middle of a sentence
        detail = detail[0].lower() + detail[1:]
    return detail


def _first_line(text: str, url: URL) -> str:
    """The message's first non-empty line, without the password should the driver echo it."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "unknown error")
    if url.password:
        line = line.replace(str(url.password), "***")
    return line
