"""The streams of an export folder, in load order: statuses, sprints, items, census.

Statuses and sprints are two small CSV files read whole every run. Items are incremental: the
`items` bookmark is a modification time, the *mark*; a run reads the item files modified after
it. Timestamps are coarse on some file systems (ext4 ticks, FAT's 2 s), so a file rewritten in
the same tick as the newest one read could look unchanged: the mark therefore trails the run's
start by `SETTLE_NS`, and the files modified after it are kept in the bookmark with a hash of
their content, so the next run reads them again only if the content differs. Nothing is lost
and nothing unchanged is yielded twice.

A file that does not read as an item (a half-written export, a status missing from
statuses.csv) is reported and skipped, never guessed; its name goes into the bookmark's
`retry`, so the next run reads it again even if it has not changed.

An item deleted from the tracker is a file gone from `items/`: the items stream owes a census
(`context.census.owe`) when the store holds a live item with no file, and the census stream,
which runs only when one is owed, lists the files present.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Stream, StreamContext
from connectors.errors import ConnectorError
from connectors.http import CallStats
from pmo_sync.domain import Census, ItemBundle, SprintRecord, StatusRecord
from pmo_sync_folder.config import FolderConfig
from pmo_sync_folder.export import ITEMS, ExportError, read_item, read_sprints, read_statuses

__all__ = [
    "SETTLE_NS",
    "CensusStream",
    "ItemsBookmark",
    "ItemsStream",
    "RunState",
    "SprintsStream",
    "StatusesStream",
]

SETTLE_NS = 2_000_000_000
"""How far the mark trails a run's start: coarser than any file system's timestamps."""


@dataclass(slots=True)
class RunState:
    """What the streams of one run share: the statuses, read first."""

    statuses: dict[str, StatusRecord] = field(default_factory=dict)


def _read(stats: CallStats, what: str, read: Any, *args: Any) -> Any:
    """One read of the folder (counted as a call), an unreadable file a `ConnectorError`."""
    stats.add_call()
    try:
        return read(*args)
    except ExportError as exc:
        raise ConnectorError(f"the export folder's {what} cannot be read: {exc}") from None


class StatusesStream(Stream):
    name = "statuses"
    record_type = StatusRecord
    primary_keys = ("external_id",)

    def __init__(self, config: FolderConfig, stats: CallStats, state: RunState) -> None:
        self.config, self.stats, self.state = config, stats, state

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        self.state.statuses = _read(self.stats, "statuses", read_statuses, self.config.folder)
        yield from self.state.statuses.values()

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class SprintsStream(Stream):
    name = "sprints"
    record_type = SprintRecord
    primary_keys = ("external_id",)

    def __init__(self, config: FolderConfig, stats: CallStats) -> None:
        self.config, self.stats = config, stats

    def records(self, context: StreamContext) -> Iterator[SprintRecord]:
        yield from _read(self.stats, "sprints", read_sprints, self.config.folder)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True, slots=True)
class ItemsBookmark:
    """Where the items stream resumes: the mark, the files modified after it as last read
    (name → hash of the content), and the files to read again."""

    VERSION = 1

    mark_ns: int
    recent: Mapping[str, str]
    retry: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "mark_ns": self.mark_ns,
            "recent": dict(sorted(self.recent.items())),
            "retry": list(self.retry),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ItemsBookmark | None:
        if not data:
            return None
        if data.get("version") != cls.VERSION:
            raise ConnectorError(
                f"the items bookmark is version {data.get('version')!r}, this connector "
                f"reads {cls.VERSION}: run `pmo-sync sync --full` once"
            )
        return cls(int(data["mark_ns"]), dict(data["recent"]), tuple(data["retry"]))


class ItemsStream(Stream):
    name = "items"
    record_type = ItemBundle
    primary_keys = ("external_id",)
    replication_key = "mark_ns"
    is_sorted = True  # oldest modification first

    def __init__(self, config: FolderConfig, stats: CallStats, state: RunState) -> None:
        self.config, self.stats, self.state = config, stats, state
        self._bookmark: ItemsBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        """Read the bookmark → list the files → owe a census for files gone → read the files
        modified since → the next bookmark."""
        previous = None if context.full else ItemsBookmark.from_json(context.bookmark)
        started_ns = time.time_ns()
        files = _list_items(self.config.folder, self.stats)
        self._owe_census_for_files_gone(files, context)
        mark = max(previous.mark_ns if previous else 0, started_ns - SETTLE_NS)
        recent: dict[str, str] = {}
        retry: list[str] = []
        for mtime_ns, name in sorted((m, n) for n, m in files.items()):
            was_due = previous is None or mtime_ns > previous.mark_ns or name in previous.retry
            if not was_due:
                continue
            path = self.config.folder / ITEMS / name
            self.stats.add_call()
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                continue  # deleted since the listing: the next run's census finds it gone
            digest = hashlib.sha256(content).hexdigest()
            if mtime_ns > mark:
                recent[name] = digest
            seen = previous.recent.get(name) if previous and name not in previous.retry else None
            if seen == digest:
                continue  # read by a run before, unchanged since
            try:
                bundle = read_item(path, self.state.statuses)
            except ExportError as exc:
                context.report_error(f"{exc} (skipped; read again next run)")
                retry.append(name)
                continue
            yield bundle
        self._bookmark = ItemsBookmark(mark, recent, tuple(retry))

    def _owe_census_for_files_gone(self, files: Mapping[str, int], context: StreamContext) -> None:
        stored = context.store.live_item_count()
        if not stored or context.census.owed:
            return
        present = {Path(name).stem for name in files}
        gone = stored - len(context.store.live_ids_among(present))
        if gone > 0:
            context.census.owe(f"{gone} stored item(s) have no file in {ITEMS}/ any more")

    def final_bookmark(self) -> dict[str, Any] | None:
        return None if self._bookmark is None else self._bookmark.to_json()


class CensusStream(Stream):
    """The files present, when a census is owed (see the module docstring)."""

    name = "census"
    record_type = Census
    primary_keys = ("external_id",)

    def __init__(self, config: FolderConfig, stats: CallStats) -> None:
        self.config, self.stats = config, stats

    def records(self, context: StreamContext) -> Iterator[Census]:
        if not context.census.owed:
            return
        files = _list_items(self.config.folder, self.stats)
        yield Census(
            frozenset(Path(name).stem for name in files),
            f"{self.config.folder / ITEMS} holds no item file (check the config's folder)",
        )

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


def _list_items(folder: Path, stats: CallStats) -> dict[str, int]:
    """Every item file's name and modification time (ns), in one listing."""
    stats.add_call()
    files: dict[str, int] = {}
    try:
        entries = list((folder / ITEMS).iterdir())
    except OSError as exc:
        raise ConnectorError(f"cannot list {folder / ITEMS}: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.suffix != ".json":
            continue
        try:
            files[entry.name] = entry.stat().st_mtime_ns
        except FileNotFoundError:
            continue  # deleted since the listing
    return files
