"""Compare every table of two SQLite stores row by row, leaving out only the run's clock.

What proves a change to the load path kept every stored value: the same recorded pages
(bench/ingest_replay.py `--cassettes`, `--keep-stores`) replayed by the code before and
after into two stores, then

    python bench/compare_stores.py /tmp/before/jira.db /tmp/after/jira.db

Every table, every column, ids included, in id order; left out are only the values that
hold the wall clock of the run (`IGNORED`: the rows' sync and fetch stamps, the run's
start, end and duration, the bookmarks' clock keys, `CLOCK_KEYS`). Raw payloads are
compared decompressed and parsed (their compression level is not a stored value; the JSON
they hold is). Exit status 1 and the first differences per table when anything differs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import zlib
from typing import Any

IGNORED = {
    "sources": {"created_at"},
    "work_items": {"synced_at"},
    "raw_records": {"fetched_at"},
    "sync_runs": {"started_at", "finished_at", "duration_seconds"},
    "sync_state": {"updated_at"},
    "service_cycles": {"started_at", "finished_at"},
}
CLOCK_KEYS = {"fetched_at", "refreshed_at", "resolved_at", "watermark"}
"""Bookmark keys that hold the run's wall clock (`sync_state.bookmark`); Jira's `watermark`
is the latest `updated` seen less the crawl's duration, so it moves with the run's speed."""


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_KEYS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _normalised(table: str, column: str, value: Any) -> Any:
    if table == "raw_records" and column == "payload" and value is not None:
        return json.loads(zlib.decompress(value))
    if table == "sync_state" and column == "bookmark" and value is not None:
        return _without_clock(json.loads(value))
    return value


def rows(db: sqlite3.Connection, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [r[1] for r in db.execute(f"PRAGMA table_info('{table}')")]
    kept = [c for c in columns if c not in IGNORED.get(table, set())]
    order = "id" if "id" in columns else ", ".join(kept)
    found = db.execute(f'SELECT {", ".join(kept)} FROM "{table}" ORDER BY {order}')
    return kept, [
        tuple(_normalised(table, c, v) for c, v in zip(kept, row, strict=True)) for row in found
    ]


def compare(before_path: str, after_path: str, show: int = 3) -> list[str]:
    """The differences, one line each (empty: the stores hold the same rows)."""
    before, after = sqlite3.connect(before_path), sqlite3.connect(after_path)
    query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    tables = [r[0] for r in before.execute(query)]
    other = [r[0] for r in after.execute(query)]
    problems = [] if tables == other else [f"tables differ: {tables} vs {other}"]
    for table in (t for t in tables if t in other):
        columns, left = rows(before, table)
        other_columns, right = rows(after, table)
        if columns != other_columns:
            problems.append(f"{table}: columns differ: {columns} vs {other_columns}")
            continue
        if len(left) != len(right):
            problems.append(f"{table}: {len(left)} rows vs {len(right)}")
        differing = [(a, b) for a, b in zip(left, right, strict=False) if a != b]
        for a, b in differing[:show]:
            cells = [
                f"{c}: {x!r} vs {y!r}" for c, x, y in zip(columns, a, b, strict=True) if x != y
            ]
            problems.append(f"{table} row {a[0]!r}: " + "; ".join(cells)[:500])
        if len(differing) > show:
            problems.append(f"{table}: {len(differing) - show} more rows differ")
        same = not differing and len(left) == len(right)
        print(f"{table:<20} {len(left):>9,} rows {'same' if same else 'DIFFERENT'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args(argv)
    problems = compare(args.before, args.after)
    for line in problems:
        print(line)
    print("identical" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
