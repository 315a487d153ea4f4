"""Domain records → column dicts plus a content hash of their canonical form.

The hash is what lets the store skip unchanged records with one SELECT per
batch: it must change whenever anything stored changes and *only* then, so it
is computed over a fixed-order, UTC-normalised serialisation of exactly the
values written, and is independent of the order a connector happened to list
an item's changes or sprint stays in.

The raw payload is deliberately not hashed: trackers put volatile, unmapped
fields in it (Jira's ``lastViewed``, avatar URLs), which would turn every sync
into a rewrite.

Neither are the tracker's own bookkeeping columns (`BOOKKEEPING_COLUMNS`: the
``updated`` stamp and the revision). Every write moves them, pmo-sync's own
write-back included (a KPI field set, the bot comment), and pmo-sync stores
neither its KPI fields nor its comment: hashing them made the sync right after
a push report every item it wrote as updated. The store still writes them (and
the raw payload) when they move (`pmo_sync.store.items`), without counting the
item as updated: the push's `test /rev` needs the revision as last read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from operator import attrgetter, itemgetter
from typing import Any

import structlog

from pmo_sync.domain import (
    ItemBundle,
    LinkDirection,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    WorkItemRecord,
)

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "HASH_VERSION",
    "PreparedBundle",
    "prepare_bundle",
    "release_row",
    "sprint_row",
    "status_row",
    "stored_content_hash",
    "utc",
]

log = structlog.get_logger(__name__)

HASH_VERSION = 7
"""Bump when the serialisation changes; every row then reloads once (when its connector next
emits it: a full sync rewrites every row, an incremental one the items that changed), and
that sync counts each such item as updated once.
4: the description, acceptance criteria, parent type and checklist columns (migration 0009).
5: the bookkeeping columns (`updated`, `revision`) out of the hash.
6: the portfolio facts (migration 0012): level, the four dates, priority, rank, the item's
links and releases.
7: what a theme matches beside labels (migration 0013): Jira's components, the Azure DevOps
area path."""

ITEM_COLUMNS = (
    "key",
    "url",
    "title",
    "item_type",
    "raw_type",
    "status",
    "status_category",
    "stage",
    "project",
    "team",
    "assignee",
    "estimate",
    "parent_key",
    "labels",
    "flagged",
    "created",
    "updated",
    "resolved",
    "last_activity",
    "revision",
    "archived",
    "description",
    "acceptance_criteria",
    "parent_type",
    "checklist",
    "level",
    "start_date",
    "due_date",
    "target_start",
    "target_end",
    "priority",
    "rank",
    "components",
    "area_path",
)
DATE_COLUMNS = ("start_date", "due_date", "target_start", "target_end")
"""Item columns that hold days (`datetime.date`), as SQL DATE."""
BOOKKEEPING_COLUMNS = ("updated", "revision")
"""Item columns every write moves, whoever makes it (see the module docstring): stored, not
hashed."""
_HASHED_COLUMNS = tuple(c for c in ITEM_COLUMNS if c not in BOOKKEEPING_COLUMNS)
CHANGE_COLUMNS = (
    "field",
    "at",
    "from_value",
    "to_value",
    "from_display",
    "to_display",
    "author",
)
SPRINT_COLUMNS = (
    "name",
    "state",
    "board_external_id",
    "team",
    "start",
    "end",
    "completed",
    "goal",
)
STATUS_COLUMNS = ("name", "category", "stage")
RELEASE_COLUMNS = (
    "name",
    "project",
    "start_date",
    "release_date",
    "released",
    "archived",
    "planned_date",
)

# CHANGE_COLUMNS is what the loader diffs on; prepare_bundle spells it out.
ChangeKey = str
MembershipKey = tuple[str, datetime]
LinkKey = tuple[str, str, str]
"""(link_type, direction, target_key): what makes a link one link (`uq_item_links_link`)."""


def utc(value: datetime, what: str) -> datetime:
    """`value` in UTC; a naive datetime is a connector bug and is refused."""
    tzinfo = value.tzinfo
    if tzinfo is UTC:  # what connectors emit: no conversion to make
        return value
    if tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in {what}; connectors must emit UTC")
    return value.astimezone(UTC)


def _plain(value: Any, what: str) -> Any:
    """A column value normalised for storage and comparison."""
    if isinstance(value, datetime):
        return utc(value, what)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):  # labels; the checklist's (text, checked) items too
        return [_plain(v, what) for v in value]
    return value


def _json_default(value: Any) -> str:
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def _digest(parts: Any) -> str:
    text = json.dumps(
        [HASH_VERSION, parts], separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class PreparedBundle:
    """One bundle as the store writes it: column dicts keyed for diffing."""

    external_id: str
    item: dict[str, Any]
    changes: dict[ChangeKey, dict[str, Any]]
    memberships: dict[MembershipKey, dict[str, Any]]
    raw: dict[str, Any] | None
    content_hash: str
    links: dict[LinkKey, str | None]
    """Link → the target's external id (None: not known to be in scope)."""
    release_ids: tuple[str, ...]
    """Sorted, each once."""


_ITEM_VALUES = attrgetter(*ITEM_COLUMNS)
_AS_STORED = frozenset({str, int, float, bool, type(None)})
"""Types `_plain` returns unchanged: the most of an item's values, kept without the call."""


def _item_columns(record: WorkItemRecord, what: str) -> dict[str, Any]:
    """`ITEM_COLUMNS` of `record`, each `_plain` (the types it would leave alone skip it)."""
    return {
        col: value if type(value) in _AS_STORED else _plain(value, what)
        for col, value in zip(ITEM_COLUMNS, _ITEM_VALUES(record), strict=True)
    }


def prepare_bundle(bundle: ItemBundle) -> PreparedBundle:
    """Normalise a bundle, check it is self-consistent, and hash it.

    Raises ValueError for a change, stay or link of another item, a duplicate change
    id or stay, a naive datetime, a datetime in a date column or a link direction
    that is neither outward nor inward: all connector bugs better caught here than
    as an integrity error halfway through a batch. What trackers let users make
    (a link to the item itself, a link listed twice, a release named twice) is
    dropped or collapsed instead (`_links`): never a failed load.
    """
    record = bundle.item
    ext = record.external_id
    what = f"item {ext}"
    item = _item_columns(record, what)
    for col in DATE_COLUMNS:
        if isinstance(item[col], datetime):
            raise ValueError(f"{col} of {what} is a datetime; the date columns hold days")

    # The hot loop of a full sync (hundreds of thousands of changes): spelled
    # out column by column rather than through `_plain`.
    changes: dict[ChangeKey, dict[str, Any]] = {}
    change_parts: list[list[Any]] = []
    for change in bundle.changes:
        cid = change.change_id
        if change.item_external_id != ext:
            raise ValueError(f"change {cid} of {change.item_external_id} in {what}")
        if cid in changes:
            raise ValueError(f"duplicate change id {cid!r} in {what}")
        at = utc(change.at, what)
        field = change.field.value if isinstance(change.field, Enum) else change.field
        changes[cid] = {
            "field": field,
            "at": at,
            "from_value": change.from_value,
            "to_value": change.to_value,
            "from_display": change.from_display,
            "to_display": change.to_display,
            "author": change.author,
        }
        change_parts.append(
            [
                cid,
                field,
                at.isoformat(),
                change.from_value,
                change.to_value,
                change.from_display,
                change.to_display,
                change.author,
            ]
        )
    change_parts.sort(key=itemgetter(0))

    memberships: dict[MembershipKey, dict[str, Any]] = {}
    for stay in bundle.memberships:
        if stay.item_external_id != ext:
            raise ValueError(f"sprint stay of {stay.item_external_id} in {what}")
        key = (stay.sprint_external_id, utc(stay.added_at, what))
        if key in memberships:
            raise ValueError(f"duplicate stay in sprint {key[0]} at {key[1]} in {what}")
        removed = None if stay.removed_at is None else utc(stay.removed_at, what)
        memberships[key] = {"removed_at": removed}

    links = _links(bundle, what)
    release_ids = tuple(sorted(set(record.release_ids)))
    content_hash = _content_digest(item, change_parts, memberships, links, release_ids)
    return PreparedBundle(
        ext, item, changes, memberships, bundle.raw, content_hash, links, release_ids
    )


def _content_digest(
    item: dict[str, Any],
    change_parts: list[list[Any]],
    memberships: dict[MembershipKey, dict[str, Any]],
    links: dict[LinkKey, str | None],
    release_ids: tuple[str, ...],
) -> str:
    """The content hash of one item: its hashed columns, changes (sorted by id), stays,
    links and releases. `change_parts` is sorted by change id."""
    return _digest(
        [
            [item[col] for col in _HASHED_COLUMNS],
            change_parts,
            [
                [sid, added, memberships[sid, added]["removed_at"]]
                for sid, added in sorted(memberships)
            ],
            [[*key, links[key]] for key in sorted(links)],
            list(release_ids),
        ]
    )


def stored_content_hash(
    item: dict[str, Any],
    changes: dict[ChangeKey, dict[str, Any]],
    memberships: dict[MembershipKey, dict[str, Any]],
    links: dict[LinkKey, str | None],
    release_ids: tuple[str, ...],
) -> str:
    """The content hash of an item as the store holds it, read back from its rows (the
    `ITEM_COLUMNS` values, its changes by change id with `CHANGE_COLUMNS`, its stays, links
    and releases): what `prepare_bundle` gives a bundle of exactly that content, so the
    next sync that reads the item unchanged finds it unchanged. The re-conversion
    (`pmo_sync.store.reconvert`) hashes an item again after writing its facts."""
    change_parts = [
        [
            cid,
            values["field"],
            utc(values["at"], f"change {cid}").isoformat(),
            values["from_value"],
            values["to_value"],
            values["from_display"],
            values["to_display"],
            values["author"],
        ]
        for cid, values in sorted(changes.items(), key=itemgetter(0))
    ]
    plain = {col: _plain(item[col], "a stored item") for col in _HASHED_COLUMNS}
    return _content_digest(plain, change_parts, memberships, links, tuple(sorted(release_ids)))


def _links(bundle: ItemBundle, what: str) -> dict[LinkKey, str | None]:
    """The bundle's links, each once; bad data is dropped with a log line, never raised.

    A link of another item is a connector bug like a change of another item, and raises.
    A link to the item itself (by key or external id: a tracker lets one be made) is
    dropped. Links that repeat collapse into one, keeping a target external id any of
    them knows (the same link listed twice, once with the target resolved).
    """
    record = bundle.item
    links: dict[LinkKey, str | None] = {}
    for link in bundle.links:
        if link.item_external_id != record.external_id:
            raise ValueError(f"link of {link.item_external_id} in {what}")
        if link.target_key == record.key or link.target_external_id == record.external_id:
            log.warning(
                "item_link_to_itself_dropped",
                item=record.key,
                link_type=link.link_type,
                direction=str(link.direction),
            )
            continue
        key = (link.link_type, LinkDirection(link.direction).value, link.target_key)
        if links.get(key) is None:
            links[key] = link.target_external_id
    return links


def sprint_row(record: SprintRecord) -> tuple[dict[str, Any], str]:
    """A sprint's column values (without keys) and their content hash."""
    what = f"sprint {record.external_id}"
    row = {col: _plain(getattr(record, col), what) for col in SPRINT_COLUMNS}
    return row, _digest([row[col] for col in SPRINT_COLUMNS])


def release_row(record: ReleaseRecord) -> tuple[dict[str, Any], str]:
    """A release's column values (without keys) and their content hash."""
    what = f"release {record.external_id}"
    row = {col: _plain(getattr(record, col), what) for col in RELEASE_COLUMNS}
    return row, _digest([row[col] for col in RELEASE_COLUMNS])


def status_row(record: StatusRecord) -> tuple[dict[str, Any], str]:
    """A workflow status's column values (without keys) and their content hash."""
    what = f"status {record.external_id}"
    row = {col: _plain(getattr(record, col), what) for col in STATUS_COLUMNS}
    return row, _digest([row[col] for col in STATUS_COLUMNS])
