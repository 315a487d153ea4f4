"""Plain values the store hands back, so callers never hold ORM rows or sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

__all__ = [
    "RUN_STATUSES",
    "LinkRef",
    "LoadCounts",
    "ReleaseRef",
    "RunStatus",
    "SourceInfo",
    "SprintRef",
    "StatusChange",
    "StoredItem",
    "SyncRun",
]

RunStatus = Literal["running", "success", "partial", "failed"]
RUN_STATUSES: frozenset[str] = frozenset({"success", "partial", "failed"})
"""The statuses a run may finish with."""


@dataclass(frozen=True, slots=True)
class LoadCounts:
    """What one load did: rows inserted, rows rewritten, rows left untouched."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )

    @property
    def seen(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class SourceInfo:
    id: int
    name: str
    kind: str
    base_url: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SyncRun:
    id: int
    source_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    full: bool
    items_seen: int
    items_inserted: int
    items_updated: int
    items_deleted: int
    api_calls: int
    rate_limit_waits: int
    rate_limit_wait_seconds: float
    duration_seconds: float | None
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status transition; the display names are what people read."""

    at: datetime
    from_value: str | None
    to_value: str | None
    from_display: str | None
    to_display: str | None

    @property
    def from_name(self) -> str | None:
        return self.from_display if self.from_display is not None else self.from_value

    @property
    def to_name(self) -> str | None:
        return self.to_display if self.to_display is not None else self.to_value


@dataclass(frozen=True, slots=True)
class SprintRef:
    """A sprint an item has been in; `name` is None when the sprint itself is not stored."""

    external_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """A release an item is planned for; `name` is None when the release itself is not stored."""

    external_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class LinkRef:
    """One of an item's own links (`pmo_sync.domain.ItemLink`) as stored."""

    link_type: str
    direction: str
    target_key: str
    target_external_id: str | None


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A work item as stored, with its status history and sprints, for read-side code."""

    id: int
    source_id: int
    source: str
    external_id: str
    key: str
    url: str
    title: str
    item_type: str
    raw_type: str
    status: str
    status_category: str
    stage: str
    project: str
    team: str | None
    assignee: str | None
    estimate: float | None
    parent_key: str | None
    labels: tuple[str, ...]
    flagged: bool
    created: datetime
    updated: datetime
    resolved: datetime | None
    deleted_at: datetime | None
    synced_at: datetime
    status_changes: tuple[StatusChange, ...]
    """Ordered by time (then by load order for equal times)."""
    sprints: tuple[SprintRef, ...]
    """Each sprint once, in the order the item first entered it."""
    level: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    target_start: date | None = None
    target_end: date | None = None
    priority: str | None = None
    rank: str | None = None
    releases: tuple[ReleaseRef, ...] = ()
    """By release date (unknown last), then name, then external id."""
    links: tuple[LinkRef, ...] = ()
    """The item's own links, by link type, direction and target key."""
    components: tuple[str, ...] = ()
    """Jira's components by name."""
    area_path: str | None = None
    """The Azure DevOps area path."""

    @property
    def sprint_ids(self) -> tuple[str, ...]:
        return tuple(s.external_id for s in self.sprints)
