"""An export folder, read into pmo-sync's records.

    <folder>/statuses.csv          name,category,stage  (stage: todo, in_progress or done)
    <folder>/sprints.csv           id,name,state,start,end,team,goal  (optional)
    <folder>/items/<KEY>.json      one work item, its status history and its sprint stays
    <folder>/writeback/<KEY>.json  what pmo-sync writes back (`pmo_sync_folder.writer`)

A sprint's state is future, active or closed; its times are ISO 8601 with a zone.

An item file's name is the item's key and its external id (``OPS-7.json``). It holds::

    {"title": "Rotate the TLS certificates", "type": "task", "status": "In Progress",
     "created": "2026-03-02T09:00:00Z", "updated": "2026-03-05T14:30:00Z",
     "project": "OPS", "team": "Platform", "assignee": "ana", "estimate": 3,
     "parent": "OPS-1", "labels": ["security"], "flagged": false, "resolved": null,
     "archived": false,
     "history": [{"at": "2026-03-03T10:00:00Z", "field": "status",
                  "from": "To Do", "to": "In Progress", "by": "ana"}],
     "sprints": [{"sprint": "S-12", "added": "2026-03-02T09:00:00Z", "removed": null}]}

`title`, `status`, `created` and `updated` are required; times carry a zone (``Z`` or an
offset). `history` is the item's whole history, oldest first, appended to as the item changes
(a change's id is its place in that list). A file that does not read as such an item raises
`ExportError` naming the file and the field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pmo_sync.domain import (
    ChangeField,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
    WorkItemRecord,
)

__all__ = [
    "ITEMS",
    "ExportError",
    "read_item",
    "read_sprints",
    "read_statuses",
]

ITEMS = "items"
ITEM_TYPES = {"story", "bug", "task", "subtask", "epic"}


class ExportError(ValueError):
    """A file of the export is not what the layout says: the message names file and field."""


def read_statuses(folder: Path) -> dict[str, StatusRecord]:
    """`statuses.csv`: every status by name."""
    statuses: dict[str, StatusRecord] = {}
    for row in _csv(folder / "statuses.csv", ("name", "category", "stage")):
        try:
            stage = Stage(row["stage"])
        except ValueError:
            raise ExportError(
                f"statuses.csv: status {row['name']!r}: stage {row['stage']!r} is not one of "
                f"{', '.join(s.value for s in Stage)}"
            ) from None
        statuses[row["name"]] = StatusRecord(row["name"], row["name"], row["category"], stage)
    return statuses


def read_sprints(folder: Path) -> list[SprintRecord]:
    """`sprints.csv`, when there is one (an export without sprints has none)."""
    path = folder / "sprints.csv"
    if not path.exists():
        return []
    sprints = []
    for row in _csv(path, ("id", "name", "state", "start", "end", "team", "goal")):
        where = f"sprints.csv: sprint {row['id']!r}"
        if row["state"] not in ("future", "active", "closed"):
            raise ExportError(f"{where}: state {row['state']!r} is not future, active or closed")
        start = _time(row["start"] or None, where, "start")
        end = _time(row["end"] or None, where, "end")
        sprints.append(
            SprintRecord(
                external_id=row["id"],
                name=row["name"],
                state=row["state"],
                board_external_id=None,
                team=row["team"] or None,
                start=start,
                end=end,
                completed=end if row["state"] == "closed" else None,
                goal=row["goal"] or None,
            )
        )
    return sprints


def read_item(path: Path, statuses: Mapping[str, StatusRecord]) -> ItemBundle:
    """One item file as an `ItemBundle` (its whole history)."""
    key = path.stem
    where = f"{ITEMS}/{path.name}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{where}: not readable as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ExportError(f"{where}: not a JSON object")
    status = _text(data, "status", where)
    known = statuses.get(status)
    if known is None:
        raise ExportError(f"{where}: status {status!r} is not in statuses.csv")
    raw_type = str(data.get("type") or "other")
    created = _time(data.get("created"), where, "created")
    updated = _time(data.get("updated"), where, "updated")
    if created is None or updated is None:
        raise ExportError(f"{where}: created and updated are required")
    item = WorkItemRecord(
        external_id=key,
        key=key,
        url=path.resolve().as_uri(),
        title=_text(data, "title", where),
        item_type=raw_type if raw_type in ITEM_TYPES else "other",
        raw_type=raw_type,
        status=status,
        status_category=known.category,
        stage=known.stage,
        project=str(data.get("project") or key.rsplit("-", 1)[0]),
        team=data.get("team"),
        assignee=data.get("assignee"),
        estimate=_number(data.get("estimate"), where),
        parent_key=data.get("parent"),
        labels=tuple(str(label) for label in data.get("labels") or ()),
        flagged=bool(data.get("flagged", False)),
        created=created,
        updated=updated,
        resolved=_time(data.get("resolved"), where, "resolved"),
        archived=bool(data.get("archived", False)),
    )
    return ItemBundle(
        item=item,
        changes=[_change(key, n, e, where) for n, e in enumerate(data.get("history") or ())],
        memberships=[_stay(key, entry, where) for entry in data.get("sprints") or ()],
        raw=data,
    )


def _change(key: str, n: int, entry: Any, where: str) -> ItemChange:
    where = f"{where}: history[{n}]"
    if not isinstance(entry, dict):
        raise ExportError(f"{where}: not an object")
    try:
        field = ChangeField(str(entry.get("field")))
    except ValueError:
        known = ", ".join(f.value for f in ChangeField)
        raise ExportError(f"{where}: field {entry.get('field')!r} is not one of {known}") from None
    at = _time(entry.get("at"), where, "at")
    if at is None:
        raise ExportError(f"{where}: at is required")
    before, after = entry.get("from"), entry.get("to")
    return ItemChange(
        item_external_id=key,
        change_id=f"{n}:{field.value}",
        field=field,
        at=at,
        from_value=None if before is None else str(before),
        to_value=None if after is None else str(after),
        author=entry.get("by"),
    )


def _stay(key: str, entry: Any, where: str) -> SprintMembership:
    if not isinstance(entry, dict) or not entry.get("sprint"):
        raise ExportError(f"{where}: sprints: each stay needs a sprint")
    added = _time(entry.get("added"), where, "sprints.added")
    if added is None:
        raise ExportError(f"{where}: sprints: each stay needs added")
    return SprintMembership(
        item_external_id=key,
        sprint_external_id=str(entry["sprint"]),
        added_at=added,
        removed_at=_time(entry.get("removed"), where, "sprints.removed"),
    )


def _csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or ())]
            if missing:
                raise ExportError(f"{path.name}: missing column(s) {', '.join(missing)}")
            return [{c: (row.get(c) or "").strip() for c in columns} for row in reader]
    except OSError as exc:
        raise ExportError(f"{path.name}: {exc.strerror or exc}") from None


def _text(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ExportError(f"{where}: {name} is required (a non-empty string)")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExportError(f"{where}: estimate {value!r} is not a number")
    return float(value)


def _time(value: Any, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ExportError(f"{where}: {name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ExportError(f"{where}: {name} {value!r} has no zone (add Z or an offset)")
    return parsed.astimezone(UTC)
