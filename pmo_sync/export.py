"""Export work items with their status transitions as JSON Lines or CSV.

The export is what analysts load into a notebook or a spreadsheet, so it is
one flat record per item with the history folded in, timestamps as ISO 8601
UTC with a ``Z`` suffix, and sprints by name wherever the sprint is known.
It streams from `Store.iter_items`, so memory stays constant however big the
store is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pmo_sync.store.repository import Store
from pmo_sync.store.results import StoredItem

__all__ = ["EXPORT_FIELDS", "ExportFormat", "export_items", "item_record"]

ExportFormat = Literal["jsonl", "csv"]

EXPORT_FIELDS = (
    "source",
    "key",
    "type",
    "status",
    "stage",
    "created",
    "resolved",
    "estimate",
    "sprints",
    "transitions",
)


def export_items(
    store: Store,
    out: TextIO,
    fmt: ExportFormat,
    source_names: Iterable[str] | None = None,
) -> int:
    """Write every live item (of `source_names`, default all) to `out`; return the count.

    JSONL: one JSON object per line. CSV: a header, then one row per item,
    with `sprints` joined by ``;`` and `transitions` as a JSON string; open the
    file with ``newline=""``. Unknown source names raise ValueError before
    anything is written, so a typo never yields a silently empty file.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    source_ids = _source_ids(store, source_names)

    count = 0
    if fmt == "jsonl":
        for item in store.iter_items(source_ids=source_ids):
            out.write(_json(item_record(item)) + "\n")
            count += 1
        return count

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for item in store.iter_items(source_ids=source_ids):
        record = item_record(item)
        record["sprints"] = ";".join(record["sprints"])
        record["transitions"] = _json(record["transitions"])
        writer.writerow(["" if record[f] is None else record[f] for f in EXPORT_FIELDS])
        count += 1
    return count


def item_record(item: StoredItem) -> dict[str, Any]:
    """The export record of one item, JSON-ready.

    Transitions use the status names people see (the tracker's display
    value), falling back to the raw value when the tracker gave no name.
    """
    return {
        "source": item.source,
        "key": item.key,
        "type": item.item_type,
        "status": item.status,
        "stage": item.stage,
        "created": iso_utc(item.created),
        "resolved": iso_utc(item.resolved),
        "estimate": item.estimate,
        "sprints": [s.name if s.name is not None else s.external_id for s in item.sprints],
        "transitions": [
            {"at": iso_utc(c.at), "from": c.from_name, "to": c.to_name} for c in item.status_changes
        ],
    }


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, which every tool parses as UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _source_ids(store: Store, source_names: Iterable[str] | None) -> list[int] | None:
    if source_names is None:
        return None
    names = list(source_names)
    by_name = {s.name: s.id for s in store.sources()}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise ValueError(f"unknown source(s): {', '.join(unknown)}")
    return [by_name[name] for name in names]
