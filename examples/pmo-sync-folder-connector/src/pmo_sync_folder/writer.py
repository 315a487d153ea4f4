"""Write-back into the export folder: `writeback/<KEY>.json`, one file per item, which the tool
that made the export reads back::

    {"fields": {"Cycle time (days)": 4.5},
     "comments": [{"id": "3f2a9c1e0b7d", "author": "pmo-sync", "body": "[pmo-sync] ..."}]}

Each write replaces the file whole (written beside it, then renamed), so a reader never sees
half of one. Writing a field twice with the same value is harmless; a comment is found again
by its author and the marker in its body, as on a tracker.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.errors import CommentNotFoundError, FieldNotFoundError, IssueNotFoundError
from connectors.http import CallStats
from pmo_sync_folder.config import FolderConfig
from pmo_sync_folder.export import ITEMS

__all__ = ["WRITEBACK", "FolderWriter"]

WRITEBACK = "writeback"


class FolderWriter:
    """The write-back transport of an export folder (a `connectors.writer.Writer`)."""

    checks_revisions = False  # an export has no revision number to test

    def __init__(self, config: FolderConfig, stats: CallStats) -> None:
        self.config, self.stats = config, stats

    def close(self) -> None:
        """Nothing is held open between writes."""

    def bot_account_id(self) -> str:
        return self.config.account

    def field_ids(self, names: list[str]) -> dict[str, str]:
        """Fields are named by their names; one the export's reader does not accept raises."""
        unknown = [name for name in names if name not in self.config.writable_fields]
        if unknown:
            accepted = ", ".join(self.config.writable_fields) or "none"
            raise FieldNotFoundError(
                f"no writable field named {', '.join(map(repr, unknown))} in "
                f"{self.config.folder} (writable_fields: {accepted})"
            )
        return {name: name for name in names}

    def set_fields(
        self, key: str, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        if not values:
            raise ValueError("set_fields needs at least one field")
        if expected_rev is not None:
            raise ValueError("an export has no revision to test: expected_rev must be None")
        record = self._load(key)
        record["fields"].update(values)
        self._save(key, record)

    def add_comment(self, key: str, body: str, marker_property: Mapping[str, Any]) -> str:
        """Add the bot comment; `marker_property` is ignored (the marker is in `body`)."""
        if not body:
            raise ValueError("a comment body cannot be empty")
        record = self._load(key)
        comment_id = uuid.uuid4().hex[:12]
        record["comments"].append({"id": comment_id, "author": self.config.account, "body": body})
        self._save(key, record)
        return comment_id

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        if not body:
            raise ValueError("a comment body cannot be empty")
        try:
            record = self._load(key)
        except IssueNotFoundError as exc:
            raise CommentNotFoundError(f"{exc}: comment {comment_id} is gone with it") from None
        for comment in record["comments"]:
            if comment["id"] == comment_id:
                comment["body"] = body
                self._save(key, record)
                return
        raise CommentNotFoundError(f"{key} has no comment {comment_id} any more")

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Delete a comment; one already gone (or its item) counts as done."""
        try:
            record = self._load(key)
        except IssueNotFoundError:
            return
        kept = [c for c in record["comments"] if c["id"] != comment_id]
        if len(kept) != len(record["comments"]):
            record["comments"] = kept
            self._save(key, record)

    def find_bot_comments(
        self, key: str, bot_account_id: str, marker: str
    ) -> list[tuple[str, str]]:
        """(id, body) of the comments by the bot holding the marker, oldest first."""
        return [
            (c["id"], c["body"])
            for c in self._load(key)["comments"]
            if c["author"] == bot_account_id and marker in c["body"]
        ]

    # -- the files -----------------------------------------------------------------------------

    def _load(self, key: str) -> dict[str, Any]:
        """The item's write-back record; `IssueNotFoundError` when the item has no file."""
        path = self._path(key)
        self.stats.add_call()
        if not (self.config.folder / ITEMS / f"{key}.json").is_file():
            raise IssueNotFoundError(f"{key} is gone: {ITEMS}/{key}.json does not exist")
        if not path.exists():
            return {"fields": {}, "comments": []}
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        record.setdefault("fields", {})
        record.setdefault("comments", [])
        return record

    def _save(self, key: str, record: dict[str, Any]) -> None:
        self.stats.add_call()
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)

    def _path(self, key: str) -> Path:
        if Path(key).name != key or key.startswith("."):
            raise IssueNotFoundError(f"{key!r} is not an item key of this folder")
        return self.config.folder / WRITEBACK / f"{key}.json"
