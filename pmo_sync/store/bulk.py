"""Batch SQL helpers shared by the writer and the readers.

Everything here works on a Core `Connection` with plain dicts: the store
handles tens of thousands of rows per call, where per-row ORM objects would
dominate the run time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Table,
    bindparam,
    delete,
    insert,
    update,
)

__all__ = [
    "BATCH_SIZE",
    "bulk_insert",
    "chunked",
    "delete_ids",
    "in_values",
    "inserted_id",
    "update_by_id",
]

BATCH_SIZE = 500
"""Keys per IN (...) list: small enough for any SQLite, large enough to amortise a round trip."""

T = TypeVar("T")


def chunked(values: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def in_values(column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (...)`` as an expanding bound parameter.

    Every full batch renders the same statement text, so SQLite's statement
    cache reuses it (inline literals made each batch a new text and filled the
    cache with statements never reused). PostgreSQL connections are opened
    without server-side preparation (`make_engine`), so each batch still gets
    a plan for its own keys.
    """
    return column.in_(bindparam(f"in_{column.key}", list(values), expanding=True, unique=True))


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an INSERT made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def update_by_id(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany ``UPDATE ... WHERE id = :_id`` for rows that share their keys.

    SQLAlchemy reserves bind names equal to column names, hence the prefix.
    """
    if not rows:
        return
    columns = [key for key in rows[0] if key != "_id"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({col: bindparam(f"v_{col}") for col in columns})
    )
    conn.execute(
        stmt, [{"_id": row["_id"], **{f"v_{col}": row[col] for col in columns}} for row in rows]
    )


def delete_ids(conn: Connection, table: Table, ids: Sequence[int]) -> None:
    for chunk in chunked(ids):
        conn.execute(delete(table).where(in_values(table.c.id, chunk)))


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that share their keys, as fast as the database allows.

    On PostgreSQL with psycopg this is ``COPY ... FROM STDIN`` in the current
    transaction, about seven times faster than executemany for the hundreds of
    thousands of change rows of a full sync. COPY bypasses SQLAlchemy's type
    processing and events, so only use it for rows of plain values (str, int,
    float, bool, None, aware datetimes), which is what the loader produces.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    import psycopg  # the driver of this branch, only then

    dbapi_connection = conn.connection.dbapi_connection
    if not isinstance(dbapi_connection, psycopg.Connection):
        raise TypeError(f"COPY needs a psycopg connection, not {type(dbapi_connection).__name__}")
    with dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
