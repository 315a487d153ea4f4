"""Read helpers for the portfolio facts: parent chains, links both ways, releases, date history.

What the portfolio answers (issue 16: themes, requests, dependencies, slips) are built on.
Each helper is one item's or one source's worth of rows, read in one short transaction;
none of them fails on bad data the trackers let through: a parent chain that loops ends
where it would repeat, a date history value that is not an ISO date reads as unknown.

Items are found by key within their source (keys are what parents and links name). Only
live items count: a parent or a linking item marked deleted is not part of the portfolio.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, Table, select

from pmo_sync.domain import DATE_FIELDS, ChangeField
from pmo_sync.store.models import ItemChangeRow, ItemLinkRow, ReleaseRow, SourceRow, WorkItemRow

__all__ = [
    "ChainItem",
    "DateChange",
    "ItemDateChange",
    "ItemLinks",
    "StoredLink",
    "StoredRelease",
    "date_changes",
    "date_history",
    "item_links",
    "parent_chain",
    "source_releases",
]

log = structlog.get_logger(__name__)

_work_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_item_links: Table = ItemLinkRow.__table__  # type: ignore[assignment]
_item_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
_releases: Table = ReleaseRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]

_DATE_FIELD_VALUES = [f.value for f in DATE_FIELDS]


@dataclass(frozen=True, slots=True)
class ChainItem:
    """One ancestor of an item."""

    key: str
    external_id: str
    title: str
    item_type: str
    level: str | None


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A link as stored: `item_key`'s link of `link_type` to `target_key`."""

    item_key: str
    link_type: str
    direction: str
    target_key: str
    target_external_id: str | None


@dataclass(frozen=True, slots=True)
class ItemLinks:
    """An item's links both ways: its own, and other items' links that name it."""

    own: tuple[StoredLink, ...]
    pointing_here: tuple[StoredLink, ...]


@dataclass(frozen=True, slots=True)
class StoredRelease:
    external_id: str
    name: str
    project: str | None
    start_date: date | None
    release_date: date | None
    released: bool
    archived: bool
    planned_date: date | None = None
    """The day it was planned for (`ReleaseRecord.planned_date`); None: unknown."""


@dataclass(frozen=True, slots=True)
class DateChange:
    """One change of one of an item's dates; None is unset (or not a date)."""

    field: ChangeField
    at: datetime
    from_date: date | None
    to_date: date | None
    author: str | None


def parent_chain(engine: Engine, source_id: int, key: str) -> tuple[ChainItem, ...]:
    """The ancestors of item `key`, its parent first, up to the top of the hierarchy.

    The walk ends at an item without a parent, at a parent not stored live in the source
    (out of scope, deleted), or before an item already in the chain: a cycle (a tracker
    that lets A be B's parent and B A's) is logged and cut there, never followed. An item
    not stored has no chain.
    """
    chain: list[ChainItem] = []
    seen = {key}
    with engine.connect() as conn:
        row = _live_item(conn, source_id, key)
        parent_key = None if row is None else row.parent_key
        while parent_key is not None:
            if parent_key in seen:
                log.warning("parent_chain_cycle", item=key, repeats=parent_key)
                break
            seen.add(parent_key)
            row = _live_item(conn, source_id, parent_key)
            if row is None:
                break
            chain.append(ChainItem(row.key, row.external_id, row.title, row.item_type, row.level))
            parent_key = row.parent_key
    return tuple(chain)


def _live_item(conn: Connection, source_id: int, key: str) -> Any:
    """The live item of `key` in the source (the first stored, should a key repeat)."""
    return conn.execute(
        select(
            _work_items.c.key,
            _work_items.c.external_id,
            _work_items.c.title,
            _work_items.c.item_type,
            _work_items.c.level,
            _work_items.c.parent_key,
        )
        .where(
            _work_items.c.source_id == source_id,
            _work_items.c.key == key,
            _work_items.c.deleted_at.is_(None),
        )
        .order_by(_work_items.c.id)
        .limit(1)
    ).first()


def item_links(engine: Engine, source_id: int, key: str) -> ItemLinks:
    """Item `key`'s own links and the links of the source's other live items that name it.

    "What blocks X" is X's own inward links plus the outward links pointing at X: a tracker
    that stores a link on one end only (a Trello convention) still answers both ways. Each
    list is ordered by linking item, link type, direction, target.
    """
    query = (
        select(
            _work_items.c.key.label("item_key"),
            _item_links.c.link_type,
            _item_links.c.direction,
            _item_links.c.target_key,
            _item_links.c.target_external_id,
        )
        .join(_work_items, _work_items.c.id == _item_links.c.item_id)
        .where(_item_links.c.source_id == source_id, _work_items.c.deleted_at.is_(None))
        .order_by(
            _work_items.c.key,
            _item_links.c.link_type,
            _item_links.c.direction,
            _item_links.c.target_key,
        )
    )
    with engine.connect() as conn:
        own = conn.execute(query.where(_work_items.c.key == key)).all()
        pointing = conn.execute(
            query.where(_item_links.c.target_key == key, _work_items.c.key != key)
        ).all()
    return ItemLinks(
        tuple(StoredLink(*row) for row in own), tuple(StoredLink(*row) for row in pointing)
    )


def source_releases(engine: Engine, source_id: int) -> list[StoredRelease]:
    """The source's releases by release date (unknown last), then name, then external id."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                _releases.c.external_id,
                _releases.c.name,
                _releases.c.project,
                _releases.c.start_date,
                _releases.c.release_date,
                _releases.c.released,
                _releases.c.archived,
                _releases.c.planned_date,
            ).where(_releases.c.source_id == source_id)
        ).all()
    found = [
        StoredRelease(r.external_id, r.name, r.project, r.start_date, r.release_date,
                      bool(r.released), bool(r.archived), r.planned_date)
        for r in rows
    ]  # fmt: skip
    found.sort(
        key=lambda r: (r.release_date is None, r.release_date or date.min, r.name, r.external_id)
    )
    return found


def date_history(engine: Engine, source_id: int, key: str) -> list[DateChange]:
    """The changes of item `key`'s four dates (`DATE_FIELDS`), oldest first.

    Read from `item_changes` as the connectors loaded them (ISO dates); equal times keep
    their load order. A stored value that is not an ISO date reads as None, logged.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                _item_changes.c.field,
                _item_changes.c.at,
                _item_changes.c.from_value,
                _item_changes.c.to_value,
                _item_changes.c.author,
            )
            .join(_work_items, _work_items.c.id == _item_changes.c.item_id)
            .where(
                _work_items.c.source_id == source_id,
                _work_items.c.key == key,
                _work_items.c.deleted_at.is_(None),
                _item_changes.c.field.in_(_DATE_FIELD_VALUES),
            )
            .order_by(_item_changes.c.at, _item_changes.c.id)
        ).all()
    return [
        DateChange(
            ChangeField(r.field), r.at, _day(r.from_value, key), _day(r.to_value, key), r.author
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ItemDateChange:
    """One date change of a source's item: `date_history`'s `DateChange` with whose it is."""

    source: str
    """The source's name."""
    key: str
    change: DateChange


def date_changes(engine: Engine, source_ids: Collection[int] | None = None) -> list[ItemDateChange]:
    """Every live item's date changes (of `source_ids`, default all), in one query: what
    `date_history` reads of one item, for a whole store (the portfolio's date moves).

    By item (store id), then oldest first, equal times in load order; a value that is not an
    ISO date reads as None, logged. An empty `source_ids` reads nothing.
    """
    if source_ids is not None and not source_ids:
        return []
    query = (
        select(
            _sources.c.name,
            _work_items.c.key,
            _item_changes.c.field,
            _item_changes.c.at,
            _item_changes.c.from_value,
            _item_changes.c.to_value,
            _item_changes.c.author,
        )
        .join(_work_items, _work_items.c.id == _item_changes.c.item_id)
        .join(_sources, _sources.c.id == _work_items.c.source_id)
        .where(
            _work_items.c.deleted_at.is_(None),
            _item_changes.c.field.in_(_DATE_FIELD_VALUES),
        )
        .order_by(_work_items.c.id, _item_changes.c.at, _item_changes.c.id)
    )
    if source_ids is not None:
        query = query.where(_work_items.c.source_id.in_(list(source_ids)))
    with engine.connect() as conn:
        return [
            ItemDateChange(
                r.name,
                r.key,
                DateChange(
                    ChangeField(r.field),
                    r.at,
                    _day(r.from_value, r.key),
                    _day(r.to_value, r.key),
                    r.author,
                ),
            )
            for r in conn.execute(query)
        ]


def _day(value: str | None, key: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        log.warning("date_history_value_not_a_date", item=key, value=value)
        return None
