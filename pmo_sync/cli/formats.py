"""`--format table|json|csv` for the commands that list records (`connectors list`, `status`).

One place decides how records leave the process: JSON is a list of objects, CSV has
a header row and the same keys (a list value joined with `; `), and the table is the
command's own Rich table, built to stay legible at 80 columns: no box lines between
columns and cells that wrap (never cut with "…").
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from pmo_sync.cli.common import EXIT_INVALID_CONFIG, err

__all__ = ["FORMATS", "check_format", "narrow_table", "write_csv", "write_json"]

FORMATS = ("table", "json", "csv")


def check_format(format: str) -> None:
    """Exit 2 with one line when `--format` is not one of table, json, csv."""
    if format not in FORMATS:
        err.print(f"--format must be table, json or csv, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)


KEEP_WHOLE = 40
"""A cell up to this long is never wrapped (a URL, a cron line); longer ones may be."""
MIN_WRAP = 12
"""The narrowest the wrapping column gets, however wide the others are."""


def narrow_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, wrap: str, width: int
) -> Table:
    """A table for `width` columns (80 on a terminal): a rule under the header, two
    spaces between columns.

    Every column but `wrap` keeps its cells whole (up to `KEEP_WHOLE` characters); the
    `wrap` column (a message) takes the width left and wraps at spaces. Nothing is
    ever cut with "…": a word too long for its column folds onto the next line.
    """
    table = Table(*headers, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    longest = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    used = 0
    for index, column in enumerate(table.columns):
        column.overflow = "fold"
        if column.header != wrap:
            column.min_width = min(longest[index], KEEP_WHOLE)
            used += column.min_width + 2  # its right padding and the space between columns
    for column in table.columns:
        if column.header == wrap:
            column.max_width = max(MIN_WRAP, width - used - 2)  # and its own right padding
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def write_json(records: Sequence[Mapping[str, Any]]) -> None:
    json.dump(list(records), sys.stdout, indent=2)
    sys.stdout.write("\n")


def write_csv(records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(keys)
    for record in records:
        writer.writerow([_cell(record.get(key)) for key in keys])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)
