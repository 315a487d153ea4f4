"""Loading item bundles: hash-compared upsert of items, their changes, sprint stays, links
and releases.

Works on a Core `Connection` inside the caller's transaction and never builds
ORM objects: a full sync of a big project is tens of thousands of items and
hundreds of thousands of changes, and executemany over plain dicts is what
keeps that in seconds on SQLite.

Per batch of bundles:

1. one SELECT of (external_id, id, content_hash, deleted_at, updated, revision)
   for the batch;
2. unchanged bundles (same hash, not deleted) stop there, but for those whose
   bookkeeping columns moved (`canonical.BOOKKEEPING_COLUMNS`: a write that
   changed nothing stored, as pmo-sync's own write-back): those columns and the
   raw payload are written, and the item counts as unchanged;
3. new items are bulk-inserted with their changes and stays;
4. changed (or deleted and back) items are bulk-updated, and their changes
   and stays diffed against what is stored: new ones inserted, differing ones
   updated in place (keeping their ids), vanished ones deleted; their links and
   releases are replaced with the bundle's (deleted and inserted: a handful per item,
   nothing refers to their ids);
5. raw payloads of new and changed bundles are upserted, zlib-compressed.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select

from pmo_sync.domain import ItemBundle
from pmo_sync.store.bulk import (
    BATCH_SIZE,
    bulk_insert,
    chunked,
    delete_ids,
    in_values,
    insert_rows,
    update_by_id,
)
from pmo_sync.store.canonical import (
    BOOKKEEPING_COLUMNS,
    CHANGE_COLUMNS,
    ITEM_COLUMNS,
    PreparedBundle,
    prepare_bundle,
)
from pmo_sync.store.models import (
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    RawRecordRow,
    SprintItemRow,
    WorkItemRow,
)
from pmo_sync.store.results import LoadCounts

__all__ = ["compress_raw", "decompress_raw", "load_item_bundles"]

work_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
item_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
sprint_items: Table = SprintItemRow.__table__  # type: ignore[assignment]
raw_records: Table = RawRecordRow.__table__  # type: ignore[assignment]
item_links: Table = ItemLinkRow.__table__  # type: ignore[assignment]
item_releases: Table = ItemReleaseRow.__table__  # type: ignore[assignment]


def load_item_bundles(
    conn: Connection, source_id: int, bundles: Iterable[ItemBundle], now: datetime
) -> LoadCounts:
    """Upsert `bundles` of one source; a later bundle for the same item wins."""
    latest: dict[str, ItemBundle] = {}
    for bundle in bundles:
        latest.pop(bundle.item.external_id, None)  # keep the last one, in its position
        latest[bundle.item.external_id] = bundle
    ordered = list(latest.values())

    counts = LoadCounts()
    for chunk in chunked(ordered):
        prepared = [prepare_bundle(b) for b in chunk]
        counts += _load_batch(conn, source_id, prepared, now)
    return counts


def _load_batch(
    conn: Connection, source_id: int, batch: list[PreparedBundle], now: datetime
) -> LoadCounts:
    existing = {
        row.external_id: row
        for row in conn.execute(
            select(
                work_items.c.external_id,
                work_items.c.id,
                work_items.c.content_hash,
                work_items.c.deleted_at,
                *(work_items.c[col] for col in BOOKKEEPING_COLUMNS),
            ).where(
                work_items.c.source_id == source_id,
                in_values(work_items.c.external_id, [p.external_id for p in batch]),
            )
        )
    }
    new: list[PreparedBundle] = []
    changed: list[tuple[int, PreparedBundle]] = []
    touched: list[tuple[int, PreparedBundle]] = []
    for p in batch:
        row = existing.get(p.external_id)
        if row is None:
            new.append(p)
        elif row.content_hash != p.content_hash or row.deleted_at is not None:
            changed.append((row.id, p))
        elif _bookkeeping_moved(row, p):
            touched.append((row.id, p))
    _touch(conn, source_id, touched, now)
    if not new and not changed:
        return LoadCounts(unchanged=len(batch))

    ids = _insert_items(conn, source_id, new, now)
    _insert_children(conn, source_id, [(ids[p.external_id], p) for p in new])
    update_by_id(
        conn,
        work_items,
        [
            {
                "_id": item_id,
                **p.item,
                "content_hash": p.content_hash,
                "deleted_at": None,
                "synced_at": now,
            }
            for item_id, p in changed
        ],
    )
    _sync_changes(conn, source_id, changed)
    _sync_memberships(conn, source_id, changed)
    _replace_links_and_releases(conn, source_id, changed)
    _upsert_raw(conn, source_id, [*new, *(p for _, p in changed)], now)
    return LoadCounts(
        inserted=len(new), updated=len(changed), unchanged=len(batch) - len(new) - len(changed)
    )


def _bookkeeping_moved(row: Any, p: PreparedBundle) -> bool:
    """Whether the tracker's `updated` stamp or revision moved while nothing hashed did."""
    return any(getattr(row, col) != p.item[col] for col in BOOKKEEPING_COLUMNS)


def _touch(
    conn: Connection, source_id: int, touched: list[tuple[int, PreparedBundle]], now: datetime
) -> None:
    """Store the bookkeeping columns and raw payload of items whose content did not change."""
    if not touched:
        return
    update_by_id(
        conn,
        work_items,
        [
            {"_id": item_id, **{c: p.item[c] for c in BOOKKEEPING_COLUMNS}, "synced_at": now}
            for item_id, p in touched
        ],
    )
    _upsert_raw(conn, source_id, [p for _, p in touched], now)


def _insert_items(
    conn: Connection, source_id: int, new: list[PreparedBundle], now: datetime
) -> dict[str, int]:
    """Insert new items and return their ids by external id."""
    if not new:
        return {}
    rows = [
        {
            "source_id": source_id,
            "external_id": p.external_id,
            **p.item,
            "deleted_at": None,
            "content_hash": p.content_hash,
            "synced_at": now,
        }
        for p in new
    ]
    # executemany and one SELECT of the new ids: INSERT ... RETURNING over many
    # rows becomes one huge multi-VALUES statement, 8x slower on PostgreSQL.
    insert_rows(conn, work_items, rows)
    return {
        row.external_id: row.id
        for row in conn.execute(
            select(work_items.c.external_id, work_items.c.id).where(
                work_items.c.source_id == source_id,
                in_values(work_items.c.external_id, [p.external_id for p in new]),
            )
        )
    }


def _change_row(source_id: int, item_id: int, change_id: str, values: dict[str, Any]) -> dict:
    return {"source_id": source_id, "item_id": item_id, "change_id": change_id, **values}


def _stay_row(source_id: int, item_id: int, key: tuple[str, datetime], values: dict) -> dict:
    return {
        "source_id": source_id,
        "item_id": item_id,
        "sprint_external_id": key[0],
        "added_at": key[1],
        **values,
    }


def _insert_children(
    conn: Connection, source_id: int, items: list[tuple[int, PreparedBundle]]
) -> None:
    changes = [
        _change_row(source_id, item_id, cid, values)
        for item_id, p in items
        for cid, values in p.changes.items()
    ]
    stays = [
        _stay_row(source_id, item_id, key, values)
        for item_id, p in items
        for key, values in p.memberships.items()
    ]
    bulk_insert(conn, item_changes, changes)
    bulk_insert(conn, sprint_items, stays)
    _insert_links_and_releases(conn, source_id, items)


def _insert_links_and_releases(
    conn: Connection, source_id: int, items: list[tuple[int, PreparedBundle]]
) -> None:
    links = [
        {
            "source_id": source_id,
            "item_id": item_id,
            "link_type": link_type,
            "direction": direction,
            "target_key": target_key,
            "target_external_id": target_external_id,
        }
        for item_id, p in items
        for (link_type, direction, target_key), target_external_id in p.links.items()
    ]
    releases = [
        {"source_id": source_id, "item_id": item_id, "release_external_id": release_id}
        for item_id, p in items
        for release_id in p.release_ids
    ]
    bulk_insert(conn, item_links, links)
    bulk_insert(conn, item_releases, releases)


def _replace_links_and_releases(
    conn: Connection, source_id: int, changed: list[tuple[int, PreparedBundle]]
) -> None:
    """Make each changed item's stored links and releases exactly its bundle's."""
    if not changed:
        return
    for chunk in chunked([item_id for item_id, _ in changed], BATCH_SIZE):
        conn.execute(delete(item_links).where(in_values(item_links.c.item_id, chunk)))
        conn.execute(delete(item_releases).where(in_values(item_releases.c.item_id, chunk)))
    _insert_links_and_releases(conn, source_id, changed)


def _sync_changes(
    conn: Connection, source_id: int, changed: list[tuple[int, PreparedBundle]]
) -> None:
    """Make each changed item's stored changes exactly its bundle's."""
    if not changed:
        return
    wanted = {item_id: p.changes for item_id, p in changed}
    cols = [item_changes.c[col] for col in CHANGE_COLUMNS]
    stored = conn.execute(
        select(item_changes.c.id, item_changes.c.item_id, item_changes.c.change_id, *cols).where(
            in_values(item_changes.c.item_id, list(wanted))
        )
    )
    to_update: list[dict[str, Any]] = []
    to_delete: list[int] = []
    seen: set[tuple[int, str]] = set()
    for row in stored:
        values = wanted[row.item_id].get(row.change_id)
        if values is None:
            to_delete.append(row.id)
            continue
        seen.add((row.item_id, row.change_id))
        if any(getattr(row, col) != values[col] for col in CHANGE_COLUMNS):
            to_update.append({"_id": row.id, **values})
    to_insert = [
        _change_row(source_id, item_id, cid, values)
        for item_id, changes in wanted.items()
        for cid, values in changes.items()
        if (item_id, cid) not in seen
    ]
    delete_ids(conn, item_changes, to_delete)
    update_by_id(conn, item_changes, to_update)
    bulk_insert(conn, item_changes, to_insert)


def _sync_memberships(
    conn: Connection, source_id: int, changed: list[tuple[int, PreparedBundle]]
) -> None:
    """Make each changed item's stored sprint stays exactly its bundle's."""
    if not changed:
        return
    wanted = {item_id: p.memberships for item_id, p in changed}
    stored = conn.execute(
        select(
            sprint_items.c.id,
            sprint_items.c.item_id,
            sprint_items.c.sprint_external_id,
            sprint_items.c.added_at,
            sprint_items.c.removed_at,
        ).where(in_values(sprint_items.c.item_id, list(wanted)))
    )
    to_update: list[dict[str, Any]] = []
    to_delete: list[int] = []
    seen: set[tuple[int, tuple[str, datetime]]] = set()
    for row in stored:
        key = (row.sprint_external_id, row.added_at)
        values = wanted[row.item_id].get(key)
        if values is None:
            to_delete.append(row.id)
            continue
        seen.add((row.item_id, key))
        if row.removed_at != values["removed_at"]:
            to_update.append({"_id": row.id, **values})
    to_insert = [
        _stay_row(source_id, item_id, key, values)
        for item_id, stays in wanted.items()
        for key, values in stays.items()
        if (item_id, key) not in seen
    ]
    delete_ids(conn, sprint_items, to_delete)
    update_by_id(conn, sprint_items, to_update)
    bulk_insert(conn, sprint_items, to_insert)


RAW_COMPRESSION_LEVEL = 1
"""zlib's fastest level: a full sync compresses every payload it stores, and the default
level (6) cost about four times as long for payloads a tenth smaller still; what is read
back (`decompress_raw`) is the same JSON whatever the level."""


def compress_raw(raw: dict[str, Any]) -> bytes:
    """zlib-compressed compact JSON; raw tracker JSON compresses about tenfold."""
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode(), RAW_COMPRESSION_LEVEL)


def decompress_raw(payload: bytes) -> dict[str, Any]:
    return json.loads(zlib.decompress(payload))


def _upsert_raw(
    conn: Connection, source_id: int, bundles: list[PreparedBundle], now: datetime
) -> None:
    """Keep the latest raw payload per item; a bundle without one leaves the old in place."""
    payloads = {p.external_id: compress_raw(p.raw) for p in bundles if p.raw is not None}
    if not payloads:
        return
    stored = {
        row.external_id: row.id
        for row in conn.execute(
            select(raw_records.c.external_id, raw_records.c.id).where(
                raw_records.c.source_id == source_id,
                in_values(raw_records.c.external_id, list(payloads)),
            )
        )
    }
    update_by_id(
        conn,
        raw_records,
        [
            {"_id": stored[ext], "payload": payload, "fetched_at": now}
            for ext, payload in payloads.items()
            if ext in stored
        ],
    )
    fresh = [
        {"source_id": source_id, "external_id": ext, "payload": payload, "fetched_at": now}
        for ext, payload in payloads.items()
        if ext not in stored
    ]
    insert_rows(conn, raw_records, fresh)


# Fail at import, not mid-sync, if models and the serialisation drift apart.
assert set(ITEM_COLUMNS) <= set(work_items.c.keys())
assert set(CHANGE_COLUMNS) <= set(item_changes.c.keys())
