"""Read queries for export, demo and KPI code: streaming, page by page.

`iter_items` walks work_items by keyset pagination on the primary key, so
memory stays flat however big the store is, and each page needs exactly five
queries (items, their status changes, their sprint stays, their releases, their links)
whatever its size.
Every page runs in its own short read transaction, so a slow consumer never
holds a snapshot or a lock open between pages; the price is that pages are
not one consistent snapshot if a sync commits meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, and_, select

from pmo_sync.domain import ChangeField
from pmo_sync.store.bulk import in_values
from pmo_sync.store.models import (
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    ReleaseRow,
    SourceRow,
    SprintItemRow,
    SprintRow,
    WorkItemRow,
)
from pmo_sync.store.results import LinkRef, ReleaseRef, SprintRef, StatusChange, StoredItem

__all__ = [
    "item_places",
    "item_revisions",
    "iter_stored_items",
    "iter_stored_items_by_id",
    "live_item_keys",
]

sources: Table = SourceRow.__table__  # type: ignore[assignment]
work_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
item_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
sprint_items: Table = SprintItemRow.__table__  # type: ignore[assignment]
sprints: Table = SprintRow.__table__  # type: ignore[assignment]
item_links: Table = ItemLinkRow.__table__  # type: ignore[assignment]
item_releases: Table = ItemReleaseRow.__table__  # type: ignore[assignment]
releases: Table = ReleaseRow.__table__  # type: ignore[assignment]

_ITEM_COLUMNS = [c for c in work_items.c if c.key != "content_hash"]


def iter_stored_items(
    engine: Engine,
    source_ids: Collection[int] | None,
    include_deleted: bool,
    batch: int,
) -> Iterator[StoredItem]:
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if source_ids is not None and not source_ids:
        return
    last_id = 0
    while True:
        with engine.connect() as conn:
            query = (
                select(*_ITEM_COLUMNS, sources.c.name.label("source_name"))
                .join(sources, sources.c.id == work_items.c.source_id)
                .where(work_items.c.id > last_id)
                .order_by(work_items.c.id)
                .limit(batch)
            )
            if source_ids is not None:
                query = query.where(work_items.c.source_id.in_(list(source_ids)))
            if not include_deleted:
                query = query.where(work_items.c.deleted_at.is_(None))
            page = conn.execute(query).all()
            if not page:
                return
            stored = _stored_page(conn, page)
        yield from stored.values()
        if len(page) < batch:
            return
        last_id = page[-1].id


def _status_changes(conn: Connection, ids: list[int]) -> dict[int, list[StatusChange]]:
    result: dict[int, list[StatusChange]] = defaultdict(list)
    rows = conn.execute(
        select(
            item_changes.c.item_id,
            item_changes.c.at,
            item_changes.c.from_value,
            item_changes.c.to_value,
            item_changes.c.from_display,
            item_changes.c.to_display,
        )
        .where(
            in_values(item_changes.c.item_id, ids),
            item_changes.c.field == ChangeField.STATUS.value,
        )
        .order_by(item_changes.c.item_id, item_changes.c.at, item_changes.c.id)
    )
    for r in rows:
        result[r.item_id].append(
            StatusChange(r.at, r.from_value, r.to_value, r.from_display, r.to_display)
        )
    return result


def _sprints(conn: Connection, ids: list[int]) -> dict[int, list[SprintRef]]:
    result: dict[int, list[SprintRef]] = defaultdict(list)
    seen: set[tuple[int, str]] = set()
    rows = conn.execute(
        select(sprint_items.c.item_id, sprint_items.c.sprint_external_id, sprints.c.name)
        .select_from(
            sprint_items.outerjoin(
                sprints,
                and_(
                    sprints.c.source_id == sprint_items.c.source_id,
                    sprints.c.external_id == sprint_items.c.sprint_external_id,
                ),
            )
        )
        .where(in_values(sprint_items.c.item_id, ids))
        .order_by(sprint_items.c.item_id, sprint_items.c.added_at, sprint_items.c.id)
    )
    for r in rows:
        if (r.item_id, r.sprint_external_id) in seen:
            continue
        seen.add((r.item_id, r.sprint_external_id))
        result[r.item_id].append(SprintRef(r.sprint_external_id, r.name))
    return result


def _releases(conn: Connection, ids: list[int]) -> dict[int, list[ReleaseRef]]:
    """The releases of each item, by release date (unknown last), name, external id."""
    found: dict[int, list[tuple[date | None, str | None, str]]] = defaultdict(list)
    rows = conn.execute(
        select(
            item_releases.c.item_id,
            item_releases.c.release_external_id,
            releases.c.name,
            releases.c.release_date,
        )
        .select_from(
            item_releases.outerjoin(
                releases,
                and_(
                    releases.c.source_id == item_releases.c.source_id,
                    releases.c.external_id == item_releases.c.release_external_id,
                ),
            )
        )
        .where(in_values(item_releases.c.item_id, ids))
    )
    for r in rows:
        found[r.item_id].append((r.release_date, r.name, r.release_external_id))
    return {
        item_id: [
            ReleaseRef(ext, name)
            for day, name, ext in sorted(
                refs, key=lambda ref: (ref[0] is None, ref[0] or date.min, ref[1] or "", ref[2])
            )
        ]
        for item_id, refs in found.items()
    }


def _links(conn: Connection, ids: list[int]) -> dict[int, list[LinkRef]]:
    result: dict[int, list[LinkRef]] = defaultdict(list)
    rows = conn.execute(
        select(
            item_links.c.item_id,
            item_links.c.link_type,
            item_links.c.direction,
            item_links.c.target_key,
            item_links.c.target_external_id,
        )
        .where(in_values(item_links.c.item_id, ids))
        .order_by(
            item_links.c.item_id,
            item_links.c.link_type,
            item_links.c.direction,
            item_links.c.target_key,
        )
    )
    for r in rows:
        result[r.item_id].append(
            LinkRef(r.link_type, r.direction, r.target_key, r.target_external_id)
        )
    return result


def _stored_item(
    row: Row[*tuple[Any, ...]],
    changes: Any,
    stays: Any,
    planned: Any,
    links: Any,
) -> StoredItem:
    return StoredItem(
        id=row.id,
        source_id=row.source_id,
        source=row.source_name,
        external_id=row.external_id,
        key=row.key,
        url=row.url,
        title=row.title,
        item_type=row.item_type,
        raw_type=row.raw_type,
        status=row.status,
        status_category=row.status_category,
        stage=row.stage,
        project=row.project,
        team=row.team,
        assignee=row.assignee,
        estimate=row.estimate,
        parent_key=row.parent_key,
        labels=tuple(row.labels or ()),
        flagged=bool(row.flagged),
        created=row.created,
        updated=row.updated,
        resolved=row.resolved,
        deleted_at=row.deleted_at,
        synced_at=row.synced_at,
        status_changes=tuple(changes),
        sprints=tuple(stays),
        level=row.level,
        start_date=row.start_date,
        due_date=row.due_date,
        target_start=row.target_start,
        target_end=row.target_end,
        priority=row.priority,
        rank=row.rank,
        releases=tuple(planned),
        links=tuple(links),
        components=tuple(row.components or ()),
        area_path=row.area_path,
    )


def item_revisions(engine: Engine, source: str) -> dict[str, int]:
    """Key → the tracker's revision as last synced, for the items of `source` that have one.

    What write-back puts in its `test /rev`: the version its plan was computed from.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(work_items.c.key, work_items.c.revision)
            .join(sources, sources.c.id == work_items.c.source_id)
            .where(
                sources.c.name == source,
                work_items.c.deleted_at.is_(None),
                work_items.c.revision.is_not(None),
            )
        )
        return {str(key): int(rev) for key, rev in rows}


def live_item_keys(
    engine: Engine, source_ids: Collection[int] | None, team: str | None
) -> list[tuple[int, str, str]]:
    """(id, source name, key) of every live item (of `source_ids`, of `team`), unordered.

    Small enough to hold for any store (three short values per item), so a
    caller can put items in the order people read them and then stream them
    with `iter_stored_items_by_id`.
    """
    query = (
        select(work_items.c.id, sources.c.name, work_items.c.key)
        .join(sources, sources.c.id == work_items.c.source_id)
        .where(work_items.c.deleted_at.is_(None))
    )
    if source_ids is not None:
        query = query.where(work_items.c.source_id.in_(list(source_ids)))
    if team is not None:
        query = query.where(work_items.c.team == team)
    with engine.connect() as conn:
        return [(row.id, row.name, row.key) for row in conn.execute(query)]


def iter_stored_items_by_id(engine: Engine, ids: list[int], batch: int) -> Iterator[StoredItem]:
    """The items of `ids`, in the order of `ids`, page by page (five queries a page).

    An id whose item is gone since (deleted by a concurrent sync's cleanup)
    is skipped.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with engine.connect() as conn:
            page = conn.execute(
                select(*_ITEM_COLUMNS, sources.c.name.label("source_name"))
                .join(sources, sources.c.id == work_items.c.source_id)
                .where(in_values(work_items.c.id, chunk))
            ).all()
            stored = _stored_page(conn, page)
        for item_id in chunk:
            item = stored.get(item_id)
            if item is not None:
                yield item


def _stored_page(conn: Connection, page: Sequence[Row[*tuple[Any, ...]]]) -> dict[int, StoredItem]:
    """A page of item rows with their history, releases and links (four queries), by id in
    the page's order: what both readers build each item from."""
    ids = [row.id for row in page]
    changes = _status_changes(conn, ids)
    stays = _sprints(conn, ids)
    planned = _releases(conn, ids)
    links = _links(conn, ids)
    return {
        row.id: _stored_item(
            row,
            changes.get(row.id, ()),
            stays.get(row.id, ()),
            planned.get(row.id, ()),
            links.get(row.id, ()),
        )
        for row in page
    }


def item_places(engine: Engine, source: str) -> dict[str, tuple[str, str]]:
    """Key → (project, the tracker's own type name) of the live items of `source`.

    Where write-back tells a field refused for a whole project (a Jira edit screen, an
    Azure DevOps work item type, a Trello board: its `project`) from one item's failure.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(work_items.c.key, work_items.c.project, work_items.c.raw_type)
            .join(sources, sources.c.id == work_items.c.source_id)
            .where(sources.c.name == source, work_items.c.deleted_at.is_(None))
        )
        return {str(key): (str(project), str(raw_type)) for key, project, raw_type in rows}
