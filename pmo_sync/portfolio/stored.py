"""The store's live items as the portfolio's pure logic sees them (`PortfolioItem`).

`theme_of` and the funnel rules work on small values; this is where the store gives them,
in one query: per item its source, key, the facts a theme matches (labels, components, area
path, Trello board), its level, type, status, stage and parent. It reads no history, text,
links or payloads, so the whole store's worth is an index of short strings that a caller
holds once (the export walks each exported item's ancestors in it) instead of reading items
whole.

Where a Trello card's board comes from: the Trello connector makes the board's name the
card's `project` and team, and when it could not name the board the project holds the
board's id and the team is empty. The board's id beside its name is known where the board's
sprints are stored (a sprint's `board_external_id`, its team the board's name); a board
without sprints is matched by its name alone (docs/portfolio-config.md).

The query sits here, not in `pmo_sync.store`, because `PortfolioItem` belongs to the
portfolio layer, which stands above the store.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any, overload

from sqlalchemy import Engine, Table, and_, func, null, select

from pmo_sync.portfolio.items import PortfolioItem
from pmo_sync.portfolio.themes import THEME_FACTS, TRELLO
from pmo_sync.store.models import SourceRow, SprintRow, WorkItemRow

__all__ = ["portfolio_items"]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_sprints: Table = SprintRow.__table__  # type: ignore[assignment]


def portfolio_items(
    engine: Engine,
    source_ids: Collection[int] | None = None,
    facts: Collection[str] = THEME_FACTS,
) -> list[PortfolioItem]:
    """Every live item (of `source_ids`, default all) as a `PortfolioItem`, by store id.

    One query. An empty `source_ids` reads nothing. The values that repeat from item to
    item (source, kind, status, stage, level, type, board) are interned, so a store's worth
    costs about its keys and labels.

    `facts` names the `THEME_FACTS` read (default all); the others are left empty (no
    labels, no components, no area path; without `board` a Trello card's board id is not
    looked up in the sprints, None unless the card's project holds it), so a theme read
    asks only for what its themes match on (`themes.facts_matched`): decoding every item's
    labels and components from JSON, and the join to the sprints for Trello boards, are
    most of this read's time.
    """
    if source_ids is not None and not source_ids:
        return []
    wanted = frozenset(facts)
    if "board" not in wanted:
        query = _base_query(wanted).add_columns(null().label("board_id"))
        return _read(engine, query.where(_items.c.deleted_at.is_(None)), source_ids)
    boards = (
        select(
            _sprints.c.source_id,
            _sprints.c.team,
            func.min(_sprints.c.board_external_id).label("board_id"),
        )
        .where(_sprints.c.board_external_id.is_not(None), _sprints.c.team.is_not(None))
        .group_by(_sprints.c.source_id, _sprints.c.team)
        .subquery()
    )
    query = (
        _base_query(wanted)
        .add_columns(boards.c.board_id)
        .outerjoin(
            boards,
            and_(
                _sources.c.kind == TRELLO,
                boards.c.source_id == _items.c.source_id,
                boards.c.team == _items.c.team,
            ),
        )
        .where(_items.c.deleted_at.is_(None))
    )
    return _read(engine, query, source_ids)


def _base_query(wanted: frozenset[str]) -> Any:
    """The items' columns, a fact not `wanted` as a NULL of its name (read as empty)."""

    def column(name: str, fact: str) -> Any:
        return _items.c[name] if fact in wanted else null().label(name)

    return select(
        _sources.c.name,
        _sources.c.kind,
        _items.c.key,
        column("labels", "labels"),
        column("components", "components"),
        column("area_path", "area_path"),
        _items.c.project,
        _items.c.team,
        _items.c.level,
        _items.c.raw_type,
        _items.c.status,
        _items.c.stage,
        _items.c.parent_key,
    ).join(_sources, _sources.c.id == _items.c.source_id)


def _read(engine: Engine, query: Any, source_ids: Collection[int] | None) -> list[PortfolioItem]:
    if source_ids is not None:
        query = query.where(_items.c.source_id.in_(list(source_ids)))
    with engine.connect() as conn:
        return [_portfolio_item(row) for row in conn.execute(query.order_by(_items.c.id))]


def _portfolio_item(row: Any) -> PortfolioItem:
    """One row of `_base_query` and its board id, unpacked by position (a store's worth of
    rows: attribute access by name per column costs more than the item itself)."""
    (name, kind, key, labels, components, area_path, project, team, level, raw_type, status,
     stage, parent_key, board_id) = row  # fmt: skip
    board = None
    if kind == TRELLO:
        if team is not None:
            board, board_id = _shared(project), _shared(board_id)
        else:  # the connector could not name the board: its id is the project
            board_id = _shared(project)
    else:
        board_id = None
    intern = sys.intern
    return PortfolioItem(
        source=intern(name),
        key=key,
        kind=intern(kind),
        labels=tuple(map(intern, labels)) if labels else (),
        components=tuple(map(intern, components)) if components else (),
        area_path=_shared(area_path),
        board=board,
        board_id=board_id,
        level=_shared(level),
        item_type=_shared(raw_type),
        status=_shared(status),
        status_category=_shared(stage),
        parent_key=parent_key,
    )


@overload
def _shared(value: str) -> str: ...
@overload
def _shared(value: str | None) -> str | None: ...
def _shared(value: str | None) -> str | None:
    """One copy of a value many items hold (`sys.intern`)."""
    return None if value is None else sys.intern(value)
