"""Read side for KPIs: live items as `ItemHistory`, sprints as `SprintInfo`, page by page.

Three queries per page of items (items, their changes, their sprint stays),
whatever the page size, and nothing kept between pages: the KPI engine
streams 100k items without the store's help holding them twice.

Sprint ids are qualified by source (`acme-jira:42`) because two trackers can
both have a sprint 42. For the same reason an item's or sprint's team is what
`team_of(source, team)` makes of the tracker's team name (`pmo_sync.kpi.teams`:
the team as identified, from the pairs `read_team_pairs` lists).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from pmo_sync.domain import ChangeField, CheckItem, Stage
from pmo_sync.kpi.model import (
    EstimateChange,
    FlagChange,
    ItemHistory,
    SprintInfo,
    SprintStay,
    StatusChange,
)
from pmo_sync.store.bulk import chunked, in_values
from pmo_sync.store.models import (
    ItemChangeRow,
    SourceRow,
    SprintItemRow,
    SprintRow,
    WorkflowStatusRow,
    WorkItemRow,
)

__all__ = [
    "ItemDetails",
    "TeamOf",
    "iter_item_histories",
    "iter_item_inputs",
    "iter_item_rows",
    "read_item_stamps",
    "read_sprints",
    "read_status_stages",
    "read_team_pairs",
    "sprint_key",
]

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
_stays: Table = SprintItemRow.__table__  # type: ignore[assignment]
_sprints: Table = SprintRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_statuses: Table = WorkflowStatusRow.__table__  # type: ignore[assignment]

_KPI_FIELDS = (ChangeField.STATUS.value, ChangeField.FLAGGED.value, ChangeField.ESTIMATE.value)


TeamOf = Callable[[str, str], str]
"""(source, the tracker's team name) -> the team as identified."""


def _same_team(_source: str, team: str) -> str:
    return team


def sprint_key(source: str, external_id: str) -> str:
    return f"{source}:{external_id}"


def _float(value: str | None) -> float | None:
    return None if value is None or value == "" else float(value)


@dataclass(frozen=True, slots=True)
class ItemDetails:
    """An item's current fields that governance reads beyond its history: the store's
    columns, as the connectors filled them (never the tracker's raw JSON)."""

    title: str
    url: str
    assignee: str | None
    labels: tuple[str, ...]
    flagged: bool
    updated: datetime
    last_activity: datetime | None = None
    description: str | None = None
    acceptance_criteria: str | None = None
    parent_type: str | None = None
    checklist: tuple[CheckItem, ...] = ()


def iter_item_histories(
    engine: Engine,
    source_ids: Collection[int] | None = None,
    batch: int = 2000,
    team_of: TeamOf = _same_team,
) -> Iterator[ItemHistory]:
    """Every live item with its status, flag, estimate and sprint history, in id order."""
    for history, _details in iter_item_inputs(
        engine, source_ids, batch, details=False, team_of=team_of
    ):
        yield history


def iter_item_inputs(
    engine: Engine,
    source_ids: Collection[int] | None = None,
    batch: int = 2000,
    *,
    details: bool = True,
    team_of: TeamOf = _same_team,
    stays: bool = True,
) -> Iterator[tuple[ItemHistory, ItemDetails | None]]:
    """Every live item's history, and (with `details`) its current fields.

    Without `stays` the sprint stays are not read (the histories have none): a reader that
    needs only the status history (the portfolio's inputs) saves a query a page."""
    for _id, history, item_details in iter_item_rows(
        engine, source_ids, batch, details=details, team_of=team_of, stays=stays
    ):
        yield history, item_details


def iter_item_rows(
    engine: Engine,
    source_ids: Collection[int] | None = None,
    batch: int = 2000,
    *,
    details: bool = True,
    team_of: TeamOf = _same_team,
    stays: bool = True,
    ids: Sequence[int] | None = None,
) -> Iterator[tuple[int, ItemHistory, ItemDetails | None]]:
    """`iter_item_inputs` with each item's store id. With `ids` (ascending) only those items
    are read, those still live: what a refresh that keeps the rest
    (`pmo_sync.evaluation.kept`) must read again."""
    last_id = 0
    chunks = None if ids is None else chunked(ids, batch)
    while True:
        wanted: Sequence[int] | None = None
        if chunks is not None:
            wanted = next(chunks, None)
            if wanted is None:
                return
        with engine.connect() as conn:
            columns = [  # the first eleven in this order: `_history` reads them by position
                _items.c.id,
                _items.c.external_id,
                _items.c.key,
                _items.c.team,
                _items.c.project,
                _items.c.item_type,
                _items.c.created,
                _items.c.status,
                _items.c.estimate,
                _items.c.parent_key,
                _sources.c.name.label("source"),
            ]
            if details:
                columns += [
                    _items.c.title,
                    _items.c.url,
                    _items.c.assignee,
                    _items.c.labels,
                    _items.c.flagged,
                    _items.c.updated,
                    _items.c.last_activity,
                    _items.c.description,
                    _items.c.acceptance_criteria,
                    _items.c.parent_type,
                    _items.c.checklist,
                ]
            joined = _items.join(_sources, _sources.c.id == _items.c.source_id)
            query = (
                _live(select(*columns).select_from(joined).where(_items.c.id > last_id))
                .order_by(_items.c.id)
                .limit(batch)
            )
            if source_ids is not None:
                query = query.where(_items.c.source_id.in_(list(source_ids)))
            if wanted is not None:
                query = query.where(in_values(_items.c.id, wanted))
            page = conn.execute(query).all()
            if not page:
                if wanted is None:
                    return
                continue  # every item of this chunk is gone
            page_ids = [row.id for row in page]
            changes = _changes_by_item(conn, page_ids)
            stays_of = _stays_by_item(conn, page_ids) if stays else {}
        for row in page:
            history = _history(row, changes.get(row.id, ()), stays_of.get(row.id, ()), team_of)
            yield row.id, history, (_details(row) if details else None)
        if wanted is None and len(page) < batch:
            return
        last_id = page_ids[-1]


def _live(query: Any) -> Any:
    """Items the KPIs see: not deleted, and not archived unless done (an archived unfinished
    item is off the board, neither in progress nor done)."""
    return query.where(
        _items.c.deleted_at.is_(None),
        ~(_items.c.archived & (_items.c.stage != Stage.DONE.value)),
    )


def read_item_stamps(engine: Engine) -> list[tuple[int, str, datetime]]:
    """(id, content hash, updated) of every item `iter_item_inputs` reads, in id order: one
    narrow read that tells a refresh which items changed since it last read them (the hash
    covers everything an input holds but `updated`, a bookkeeping column every write moves)."""
    query = _live(select(_items.c.id, _items.c.content_hash, _items.c.updated)).order_by(
        _items.c.id
    )
    with engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def _details(row: Any) -> ItemDetails:
    return ItemDetails(
        title=row.title,
        url=row.url,
        assignee=row.assignee,
        labels=tuple(row.labels or ()),
        flagged=bool(row.flagged),
        updated=row.updated,
        last_activity=row.last_activity,
        description=row.description,
        acceptance_criteria=row.acceptance_criteria,
        parent_type=row.parent_type,
        checklist=tuple(CheckItem(str(t), bool(checked)) for t, checked in row.checklist or ()),
    )


def _changes_by_item(conn: Connection, ids: list[int]) -> dict[int, list[Any]]:
    result: dict[int, list[Any]] = defaultdict(list)
    rows = conn.execute(
        select(
            _changes.c.item_id,
            _changes.c.field,
            _changes.c.at,
            _changes.c.from_value,
            _changes.c.to_value,
        )
        .where(in_values(_changes.c.item_id, ids), _changes.c.field.in_(_KPI_FIELDS))
        .order_by(_changes.c.item_id, _changes.c.at, _changes.c.id)
    )
    for item_id, *change in rows:  # by position: a Row's attributes by name cost more
        result[item_id].append(change)
    return result


def _stays_by_item(conn: Connection, ids: list[int]) -> dict[int, list[Any]]:
    result: dict[int, list[Any]] = defaultdict(list)
    rows = conn.execute(
        select(
            _stays.c.item_id,
            _stays.c.sprint_external_id,
            _stays.c.added_at,
            _stays.c.removed_at,
        )
        .where(in_values(_stays.c.item_id, ids))
        .order_by(_stays.c.item_id, _stays.c.added_at, _stays.c.id)
    )
    for row in rows:
        result[row.item_id].append(row)
    return result


_STATUS = ChangeField.STATUS.value
_FLAGGED = ChangeField.FLAGGED.value


def _history(row: Any, changes: Any, stays: Any, team_of: TeamOf) -> ItemHistory:
    statuses: list[StatusChange] = []
    flags: list[FlagChange] = []
    estimates: list[EstimateChange] = []
    for field, at, from_value, to_value in changes:
        if field == _STATUS:
            if to_value is not None:
                statuses.append(StatusChange(at, from_value, to_value))
        elif field == _FLAGGED:
            flags.append(FlagChange(at, to_value == "true"))
        else:
            estimates.append(EstimateChange(at, _float(from_value), _float(to_value)))
    # the page's first eleven columns, by position (`iter_item_inputs`)
    _, _, key, team, project, item_type, created, status, estimate, parent_key, source = row[:11]
    initial = statuses[0].from_status if statuses and statuses[0].from_status else status
    return ItemHistory(
        key=key,
        source=source,
        team=team_of(source, team or project),
        item_type=item_type,
        created=created,
        initial_status=initial,
        status_changes=tuple(statuses),
        flag_changes=tuple(flags),
        estimate=estimate,
        estimate_changes=tuple(estimates),
        sprint_stays=tuple(
            SprintStay(sprint_key(source, s.sprint_external_id), s.added_at, s.removed_at)
            for s in stays
        ),
        parent_key=parent_key,
        status=status,
    )


def read_sprints(
    engine: Engine, source_ids: Collection[int] | None = None, team_of: TeamOf = _same_team
) -> list[SprintInfo]:
    """Every stored sprint; a sprint without a team takes its source's name as team."""
    query = select(
        _sprints.c.external_id,
        _sprints.c.name,
        _sprints.c.team,
        _sprints.c.state,
        _sprints.c.start,
        _sprints.c.end,
        _sprints.c.completed,
        _sources.c.name.label("source"),
    ).join(_sources, _sources.c.id == _sprints.c.source_id)
    if source_ids is not None:
        query = query.where(_sprints.c.source_id.in_(list(source_ids)))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(_sprints.c.id)).all()
    return [
        SprintInfo(
            id=sprint_key(row.source, row.external_id),
            name=row.name,
            team=team_of(row.source, row.team or row.source),
            state=row.state if row.state in ("future", "active", "closed") else "future",
            start=row.start,
            end=row.end,
            completed=row.completed,
        )
        for row in rows
    ]


def read_team_pairs(engine: Engine) -> set[tuple[str, str]]:
    """Every (source, team) the KPIs will see: of live items, and of sprints, named as
    `iter_item_inputs` and `read_sprints` name them before `team_of`."""
    item_team = func.coalesce(_items.c.team, _items.c.project)
    sprint_team = func.coalesce(_sprints.c.team, _sources.c.name)
    items = (
        select(_sources.c.name, item_team)
        .select_from(_items.join(_sources, _sources.c.id == _items.c.source_id))
        .where(
            _items.c.deleted_at.is_(None),
            ~(_items.c.archived & (_items.c.stage != Stage.DONE.value)),
        )
        .distinct()
    )
    sprints = (
        select(_sources.c.name, sprint_team)
        .select_from(_sprints.join(_sources, _sources.c.id == _sprints.c.source_id))
        .distinct()
    )
    with engine.connect() as conn:
        return {(row[0], row[1]) for query in (items, sprints) for row in conn.execute(query)}


def read_status_stages(engine: Engine) -> dict[str, dict[str, Stage]]:
    """Per source name: status name → coarse stage."""
    result: dict[str, dict[str, Stage]] = defaultdict(dict)
    with engine.connect() as conn:
        rows = conn.execute(
            select(_sources.c.name, _statuses.c.name.label("status"), _statuses.c.stage)
            .join(_sources, _sources.c.id == _statuses.c.source_id)
            .order_by(_statuses.c.id)
        )
        for row in rows:
            result[row.name][row.status] = Stage(row.stage)
    return dict(result)
