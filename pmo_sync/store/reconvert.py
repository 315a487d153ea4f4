"""Re-converting a source's stored raw payloads into the portfolio facts, offline.

A store filled before migration 0012 has the portfolio columns and tables empty, while
its raw payloads (`raw_records`, the last payload per item) may hold what the connector's
converter reads for them. A migration cannot re-convert (it has no connector config), so
this runs where the config is at hand: `pmo-sync db upgrade` after migrating, and
otherwise the first sync of a source not yet re-converted (`sources.converted_version`
below `CONVERSION_VERSION`), before its streams. No call is made, no bookmark written,
nothing counted as updated by the tracker.

Per batch of live items with a payload (by item id): the payloads are read and
decompressed and the connector's `Reconversion` turns each into the facts it holds (pure;
a payload that cannot be read is skipped, logged in one line and counted, never fatal).
Then, in one write transaction (the source's writer lock, as a sync's batch):

- the portfolio columns the payload knows are written, the others kept;
- links and releases the payload knows replace the stored ones (as a sync's reload
  does); unknown, they stay;
- date changes the payload holds in full are added where the store lacks them (by change
  id), none deleted; release records it names are added where not stored, none overwritten;
- the item's content hash is computed again from what is now stored
  (`canonical.stored_content_hash`), so the next sync that reads it unchanged counts it
  unchanged.

The source is marked re-converted at the end; a run cut short repeats (it is idempotent).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Connection, Table, delete, insert, select, update

from connectors.base import Reconversion, Reconverted, StoredItem
from pmo_sync.domain import LinkDirection
from pmo_sync.store.bulk import bulk_insert, in_values, update_by_id
from pmo_sync.store.canonical import (
    CHANGE_COLUMNS,
    ITEM_COLUMNS,
    ChangeKey,
    LinkKey,
    MembershipKey,
    release_row,
    stored_content_hash,
    utc,
)
from pmo_sync.store.models import (
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    RawRecordRow,
    ReleaseRow,
    SourceRow,
    SprintItemRow,
    WorkItemRow,
)

__all__ = [
    "CONVERSION_VERSION",
    "ReconvertResult",
    "conversion_due",
    "mark_converted",
    "reconvert_batch",
    "stored_batch",
]

log = structlog.get_logger(__name__)

CONVERSION_VERSION = 1
"""1: the portfolio facts (migration 0012). Bump when a converter learns a fact that stored
payloads hold, so every source is re-converted once more."""

_work_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_item_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
_sprint_items: Table = SprintItemRow.__table__  # type: ignore[assignment]
_item_links: Table = ItemLinkRow.__table__  # type: ignore[assignment]
_item_releases: Table = ItemReleaseRow.__table__  # type: ignore[assignment]
_raw_records: Table = RawRecordRow.__table__  # type: ignore[assignment]
_releases: Table = ReleaseRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class ReconvertResult:
    """What one source's re-conversion did."""

    source: str
    items: int = 0
    """Items whose payload was re-converted and whose facts were written."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(item key, why) of each payload that could not be read."""
    changes_added: int = 0
    releases_added: int = 0
    kept: tuple[str, ...] = ()
    """The facts its payloads cannot give, in words (`Reconversion.kept`)."""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Stored:
    item_id: int
    external_id: str
    key: str
    status: str
    labels: tuple[str, ...]
    payload: bytes


def conversion_due(conn: Connection, source_id: int) -> bool:
    """Whether the source's stored items have not been through this re-conversion yet."""
    version = conn.execute(
        select(_sources.c.converted_version).where(_sources.c.id == source_id)
    ).scalar_one_or_none()
    return version is None or version < CONVERSION_VERSION


def mark_converted(conn: Connection, source_id: int) -> None:
    conn.execute(
        update(_sources)
        .where(_sources.c.id == source_id)
        .values(converted_version=CONVERSION_VERSION)
    )


def stored_batch(conn: Connection, source_id: int, after: int, size: int) -> list[_Stored]:
    """The next `size` live items with a raw payload, by item id after `after`."""
    query = (
        select(
            _work_items.c.id,
            _work_items.c.external_id,
            _work_items.c.key,
            _work_items.c.status,
            _work_items.c.labels,
            _raw_records.c.payload,
        )
        .join(
            _raw_records,
            (_raw_records.c.source_id == _work_items.c.source_id)
            & (_raw_records.c.external_id == _work_items.c.external_id),
        )
        .where(
            _work_items.c.source_id == source_id,
            _work_items.c.deleted_at.is_(None),
            _work_items.c.id > after,
        )
        .order_by(_work_items.c.id)
        .limit(size)
    )
    return [
        _Stored(r.id, r.external_id, r.key, r.status, tuple(r.labels or ()), r.payload)
        for r in conn.execute(query)
    ]


def _reconvert_one(stored: _Stored, reconversion: Reconversion) -> Reconverted | str:
    """The facts of one stored payload, or why it cannot be read. Pure."""
    try:
        raw = json.loads(zlib.decompress(stored.payload))
        if not isinstance(raw, dict):
            return "the payload is not a JSON object"
        item = StoredItem(stored.external_id, stored.key, raw, stored.status, stored.labels)
        return reconversion.reconvert(item)
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"the payload cannot be decompressed or parsed ({type(exc).__name__}: {exc})"
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return f"the payload cannot be converted ({type(exc).__name__}: {exc})"


def reconvert_batch(
    conn: Connection,
    source_id: int,
    batch: Sequence[_Stored],
    reconversion: Reconversion,
    result: ReconvertResult,
) -> None:
    """Re-convert one batch and write its facts (inside the caller's transaction)."""
    facts: dict[int, tuple[_Stored, Reconverted]] = {}
    for stored in batch:
        found = _reconvert_one(stored, reconversion)
        if isinstance(found, str):
            log.warning("raw_record_unreadable", item=stored.key, error=found, then="skipped")
            result.skipped.append((stored.key, found))
        else:
            facts[stored.item_id] = (stored, found)
    if not facts:
        return
    _write_columns(conn, facts)
    _write_links_and_releases(conn, source_id, facts)
    result.changes_added += _add_date_changes(conn, source_id, facts)
    result.releases_added += _add_releases(conn, source_id, facts)
    _rehash(conn, list(facts))
    result.items += len(facts)


def _write_columns(conn: Connection, facts: dict[int, tuple[_Stored, Reconverted]]) -> None:
    """The known columns, one UPDATE per set of columns known (usually one)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item_id, (_, found) in facts.items():
        columns = tuple(sorted(found.columns))
        if columns:
            groups.setdefault(columns, []).append({"_id": item_id, **found.columns})
    for rows in groups.values():
        update_by_id(conn, _work_items, rows)


def _write_links_and_releases(
    conn: Connection, source_id: int, facts: dict[int, tuple[_Stored, Reconverted]]
) -> None:
    """Replace the links and releases the payloads know; keep those they do not."""
    links_known = [i for i, (_, f) in facts.items() if f.links is not None]
    releases_known = [i for i, (_, f) in facts.items() if f.release_ids is not None]
    if links_known:
        conn.execute(delete(_item_links).where(in_values(_item_links.c.item_id, links_known)))
    if releases_known:
        conn.execute(
            delete(_item_releases).where(in_values(_item_releases.c.item_id, releases_known))
        )
    link_rows: list[dict[str, Any]] = []
    for item_id in links_known:
        stored, found = facts[item_id]
        for (link_type, direction, target_key), target_id in _links_of(stored, found).items():
            link_rows.append(
                {
                    "source_id": source_id,
                    "item_id": item_id,
                    "link_type": link_type,
                    "direction": direction,
                    "target_key": target_key,
                    "target_external_id": target_id,
                }
            )
    release_rows = [
        {"source_id": source_id, "item_id": item_id, "release_external_id": release_id}
        for item_id in releases_known
        for release_id in sorted(set(facts[item_id][1].release_ids or ()))
    ]
    bulk_insert(conn, _item_links, link_rows)
    bulk_insert(conn, _item_releases, release_rows)


def _links_of(stored: _Stored, found: Reconverted) -> dict[LinkKey, str | None]:
    """The links as the loader keeps them (`canonical._links`): none to the item itself,
    each once, keeping a target id any copy knows."""
    links: dict[LinkKey, str | None] = {}
    for link in found.links or ():
        if link.target_key == stored.key or link.target_external_id == stored.external_id:
            continue
        key = (link.link_type, LinkDirection(link.direction).value, link.target_key)
        if links.get(key) is None:
            links[key] = link.target_external_id
    return links


def _add_date_changes(
    conn: Connection, source_id: int, facts: dict[int, tuple[_Stored, Reconverted]]
) -> int:
    """Add the date changes the store lacks, by change id; return how many."""
    wanted = {i: f.date_changes for i, (_, f) in facts.items() if f.date_changes}
    if not wanted:
        return 0
    have = {
        (r.item_id, r.change_id)
        for r in conn.execute(
            select(_item_changes.c.item_id, _item_changes.c.change_id).where(
                in_values(_item_changes.c.item_id, list(wanted))
            )
        )
    }
    rows = [
        {
            "source_id": source_id,
            "item_id": item_id,
            "change_id": change.change_id,
            "field": change.field.value,
            "at": utc(change.at, f"change {change.change_id}"),
            "from_value": change.from_value,
            "to_value": change.to_value,
            "from_display": change.from_display,
            "to_display": change.to_display,
            "author": change.author,
        }
        for item_id, changes in wanted.items()
        for change in {c.change_id: c for c in changes}.values()
        if (item_id, change.change_id) not in have
    ]
    bulk_insert(conn, _item_changes, rows)
    return len(rows)


def _add_releases(
    conn: Connection, source_id: int, facts: dict[int, tuple[_Stored, Reconverted]]
) -> int:
    """Add the release records named that the store lacks; return how many."""
    named = {r.external_id: r for _, f in facts.values() for r in f.releases}
    if not named:
        return 0
    stored = set(
        conn.execute(
            select(_releases.c.external_id).where(
                _releases.c.source_id == source_id,
                in_values(_releases.c.external_id, list(named)),
            )
        ).scalars()
    )
    rows = []
    for external_id in sorted(set(named) - stored):
        values, digest = release_row(named[external_id])
        rows.append(
            {"source_id": source_id, "external_id": external_id, **values, "content_hash": digest}
        )
    if rows:
        conn.execute(insert(_releases), rows)
    return len(rows)


def _rehash(conn: Connection, item_ids: list[int]) -> None:
    """Hash each item again from what is stored now (`canonical.stored_content_hash`)."""
    items = {
        row.id: {col: getattr(row, col) for col in ITEM_COLUMNS}
        for row in conn.execute(
            select(_work_items.c.id, *(_work_items.c[c] for c in ITEM_COLUMNS)).where(
                in_values(_work_items.c.id, item_ids)
            )
        )
    }
    changes: dict[int, dict[ChangeKey, dict[str, Any]]] = {i: {} for i in items}
    for row in conn.execute(
        select(
            _item_changes.c.item_id,
            _item_changes.c.change_id,
            *(_item_changes.c[c] for c in CHANGE_COLUMNS),
        ).where(in_values(_item_changes.c.item_id, item_ids))
    ):
        changes[row.item_id][row.change_id] = {c: getattr(row, c) for c in CHANGE_COLUMNS}
    stays: dict[int, dict[MembershipKey, dict[str, Any]]] = {i: {} for i in items}
    for row in conn.execute(
        select(
            _sprint_items.c.item_id,
            _sprint_items.c.sprint_external_id,
            _sprint_items.c.added_at,
            _sprint_items.c.removed_at,
        ).where(in_values(_sprint_items.c.item_id, item_ids))
    ):
        stay: MembershipKey = (row.sprint_external_id, utc(row.added_at, "a stored stay"))
        removed = None if row.removed_at is None else utc(row.removed_at, "a stored stay")
        stays[row.item_id][stay] = {"removed_at": removed}
    links: dict[int, dict[LinkKey, str | None]] = {i: {} for i in items}
    for row in conn.execute(
        select(
            _item_links.c.item_id,
            _item_links.c.link_type,
            _item_links.c.direction,
            _item_links.c.target_key,
            _item_links.c.target_external_id,
        ).where(in_values(_item_links.c.item_id, item_ids))
    ):
        link: LinkKey = (row.link_type, row.direction, row.target_key)
        links[row.item_id][link] = row.target_external_id
    releases: dict[int, list[str]] = {i: [] for i in items}
    for row in conn.execute(
        select(_item_releases.c.item_id, _item_releases.c.release_external_id).where(
            in_values(_item_releases.c.item_id, item_ids)
        )
    ):
        releases[row.item_id].append(row.release_external_id)
    update_by_id(
        conn,
        _work_items,
        [
            {
                "_id": item_id,
                "content_hash": stored_content_hash(
                    item, changes[item_id], stays[item_id], links[item_id], tuple(releases[item_id])
                ),
            }
            for item_id, item in items.items()
        ],
    )
