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

from rich import box
from rich.markup import escape
from rich.table import Table

__all__ = ["FORMATS", "narrow_table", "write_csv", "write_json"]

FORMATS = ("table", "json", "csv")  # checked by `pmo_sync.cli.listing.check_format`


KEEP_WHOLE = 40
"""A cell up to this long is never wrapped (a URL, a cron line); longer ones may be."""
MIN_WRAP = 11
"""The narrowest a wrapping column gets (`12-07 06:17`, `environment`)."""


def narrow_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wrap: Sequence[str],
    width: int,
) -> Table:
    """A table for `width` columns (80 on a terminal): a rule under the header, two
    spaces between columns.

    Every column but those in `wrap` keeps its cells whole (up to `KEEP_WHOLE`
    characters); the `wrap` columns share the width left, in proportion to their
    longest cell, and wrap at spaces. Nothing is ever cut with "…": a word too long
    for its column folds onto the next line.
    """
    table = Table(*headers, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    longest = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    left = width + 1  # no space after the last column
    for index, column in enumerate(table.columns):
        column.overflow = "fold"
        left -= 2  # its right padding, and the space before the next column
        if column.header not in wrap:
            column.min_width = min(longest[index], KEEP_WHOLE)
            left -= column.min_width
    wrapped = [i for i, h in enumerate(headers) if h in wrap]
    share = sum(longest[i] for i in wrapped) or 1
    for index in wrapped:
        table.columns[index].max_width = max(MIN_WRAP, left * longest[index] // share)
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
