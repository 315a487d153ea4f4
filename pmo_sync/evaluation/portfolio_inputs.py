"""The I/O edge of the portfolio answers (issue 17): the store read as their plain data.

The answers (`pmo_sync.portfolio.forecast`, `strategy`, `dependency_risk`, `releases`,
`schedule`) are pure functions over `WorkItem`, `Dependency`, `DateMove` and
`PortfolioRelease` (`pmo_sync.portfolio.model`); this module builds those from the store, once,
for every source or some.

Items are read the way the KPI refresh reads them (`evaluation.inputs.iter_item_inputs`, page
by page): the same live items (not deleted, not archived unfinished: off the board), each with
its team as identified (`kpi.teams.resolve_teams`), and each item's started and done days are
the KPI engine's own commitment and done points (`kpi.timeline.commitment_and_done`) under the
team's workflow as a KPI run builds it (`kpi.compute.team_workflows`), as calendar days in the
reporting zone (kpis.yaml's `zone`):

- *started*: the first crossing of the commitment point (the first entry into an in-progress
  stage by default), kept through later moves back and forth past it
  (`restart_on_backward_move=False`, whatever kpis.yaml says for cycle time: the portfolio
  asks when work on the item began, not how long the last attempt took); None while the item
  sits behind the point now, as the KPIs say such an item is not work in progress;
- *done*: the last entry into the done region, if the item is there now;
- *stage*: done if done, in progress if started, else to do; so `stage`, `started` and `done`
  never disagree, and an item is open for every answer exactly when the KPIs say it is not
  done (with a kpis.yaml workflow whose done point is right of the first done status, a
  tracker's "Resolved" is not done here either).

The other facts are the store's columns as the connectors filled them (docs/portfolio-facts.md):
level, type, parent (same source), estimate as points, rank, priority, the four dates, the
names of the releases an item is planned for; the theme is portfolio.yaml's
(`portfolio.themes.theme_of`'s answer over `portfolio.stored.portfolio_items`, for all items
at once: `themes_by_ref`).

One query per table beside the KPI read's pages (read without their sprint stays) and the
teams' (source, team) pairs the workflows need: the items' portfolio columns, their releases,
the links, the date changes, the releases (and the items' theme facts when there are themes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import Engine, Table, exists, func, select
from sqlalchemy.orm import aliased

from pmo_sync.domain import LinkDirection, Stage
from pmo_sync.evaluation.inputs import iter_item_inputs, read_status_stages, read_team_pairs
from pmo_sync.kpi.compute import team_workflows
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.days import local_date
from pmo_sync.kpi.model import ItemHistory, Workflow
from pmo_sync.kpi.teams import resolve_teams
from pmo_sync.kpi.timeline import commitment_and_done
from pmo_sync.portfolio.config import ThemeConfig
from pmo_sync.portfolio.items import ItemRef, PortfolioItem, index_items
from pmo_sync.portfolio.model import DateMove, Dependency, PortfolioRelease, WorkItem
from pmo_sync.portfolio.stored import portfolio_items
from pmo_sync.portfolio.themes import facts_matched, matches
from pmo_sync.store.models import (
    ItemLinkRow,
    ItemReleaseRow,
    ReleaseRow,
    SourceRow,
    WorkItemRow,
)
from pmo_sync.store.portfolio import date_changes

__all__ = [
    "NOT_DEPENDENCIES",
    "PortfolioInputs",
    "read_date_moves",
    "read_dependencies",
    "read_portfolio_inputs",
    "read_portfolio_releases",
    "read_work_items",
    "themes_by_ref",
]

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_links: Table = ItemLinkRow.__table__  # type: ignore[assignment]
_item_releases: Table = ItemReleaseRow.__table__  # type: ignore[assignment]
_releases: Table = ReleaseRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]

NOT_DEPENDENCIES: frozenset[str] = frozenset({"related"})
"""Stored link types that are relations, not dependencies: Azure DevOps' Related (read where
the connector's `link_types` names it) says nothing about what must be done first."""


@dataclass(frozen=True, slots=True)
class PortfolioInputs:
    """Everything the portfolio answers read, for one store (or some of its sources)."""

    items: list[WorkItem]
    """Every live item, in store order."""
    dependencies: list[Dependency]
    """Every dependency once, by (blocker, waiting)."""
    date_moves: list[DateMove]
    """Every change of the four dates of the items above, by item, oldest first."""
    releases: list[PortfolioRelease]
    """Every release but the archived unreleased ones, by source, then name."""


def read_portfolio_inputs(
    engine: Engine,
    kpi_config: KpiConfig,
    themes: Sequence[ThemeConfig] = (),
    source_ids: Collection[int] | None = None,
    request_types: Collection[str] = (),
) -> PortfolioInputs:
    """The store as the portfolio answers' plain data (`source_ids`: default every source).

    `kpi_config` says the workflows, the teams' identities and the reporting zone (kpis.yaml);
    `themes` and `request_types` (`RequestsConfig.request_types`) are portfolio.yaml's. The
    store holds one state, the last sync's: the answers take `today` themselves (the request
    forecast reads an earlier day off these same items).
    """
    items = read_work_items(engine, kpi_config, themes, source_ids, request_types=request_types)
    refs = {item.ref for item in items}
    zone = kpi_config.options().zone
    return PortfolioInputs(
        items=items,
        dependencies=read_dependencies(engine, source_ids),
        date_moves=[m for m in read_date_moves(engine, zone, source_ids) if m.ref in refs],
        releases=read_portfolio_releases(engine, source_ids),
    )


def read_work_items(
    engine: Engine,
    kpi_config: KpiConfig,
    themes: Sequence[ThemeConfig] = (),
    source_ids: Collection[int] | None = None,
    batch: int = 2000,
    *,
    request_types: Collection[str] = (),
) -> list[WorkItem]:
    """Every live item as a `WorkItem`, in store order (see the module docstring). An item
    whose tracker type (`raw_type`, any case) is one of `request_types` (casefolded) has that
    type's name as its level: portfolio.yaml's `requests.types` make it a request whatever
    level its tracker puts it at (`RequestsConfig.request_levels` lists those names)."""
    if source_ids is not None and not source_ids:
        return []
    teams = resolve_teams(read_team_pairs(engine), kpi_config)
    sources_of: dict[str, set[str]] = defaultdict(set)
    for source, team in _item_team_pairs(engine):
        sources_of[teams.team_of(source, team)].add(source)
    workflows = team_workflows(sources_of, kpi_config, read_status_stages(engine))
    default = Workflow.from_categories({})
    zone = kpi_config.options().zone
    columns = _portfolio_columns(engine, source_ids)
    releases = _item_release_names(engine, source_ids)
    theme_names = _themes(engine, themes, source_ids)
    result: list[WorkItem] = []
    for history, _ in iter_item_inputs(
        engine, source_ids, batch, details=False, team_of=teams.team_of, stays=False
    ):
        ref = (history.source, history.key)
        level, rank, priority, start_date, due_date, target_start, target_end, kind = columns[ref]
        if request_types and kind.casefold() in request_types:
            level = kind.casefold()
        started, done = _started_and_done(history, workflows.get(history.team, default), zone)
        result.append(
            WorkItem(
                ref=ref,
                team=history.team,
                level=level,
                item_type=history.item_type,
                parent=None if history.parent_key is None else (ref[0], history.parent_key),
                stage=Stage.DONE if done else Stage.IN_PROGRESS if started else Stage.TODO,
                created=local_date(history.created, zone),
                started=started,
                done=done,
                points=history.estimate,
                rank=rank,
                priority=priority,
                start_date=start_date,
                due_date=due_date,
                target_start=target_start,
                target_end=target_end,
                theme=theme_names.get(ref),
                releases=tuple(sorted(releases.get(ref, ()))),
            )
        )
    return result


def _item_team_pairs(engine: Engine) -> set[tuple[str, str]]:
    """(source, the tracker's team) of every live item of every source: a team's workflow
    knows the statuses of the sources its items come from, as a KPI run's does
    (`kpi.compute._workflows`), not those of a source that only holds its sprints, and not
    only those of the sources asked for."""
    query = _live(
        select(_sources.c.name, func.coalesce(_items.c.team, _items.c.project))
        .select_from(_items.join(_sources, _sources.c.id == _items.c.source_id))
        .distinct()
    )
    with engine.connect() as conn:
        return {(row[0], row[1]) for row in conn.execute(query)}


def _started_and_done(
    history: ItemHistory, workflow: Workflow, zone: tzinfo
) -> tuple[date | None, date | None]:
    """The KPI engine's first commitment and its done point, as days in the zone."""
    started, done = commitment_and_done(history, workflow, restart_on_backward_move=False)
    return (
        None if started is None else local_date(started, zone),
        None if done is None else local_date(done, zone),
    )


def _live(query: Any) -> Any:
    """Only the items the KPI read keeps: not deleted, not archived unfinished."""
    return query.where(
        _items.c.deleted_at.is_(None),
        ~(_items.c.archived & (_items.c.stage != Stage.DONE.value)),
    )


def _in_sources(query: Any, source_ids: Collection[int] | None) -> Any:
    return query if source_ids is None else query.where(_items.c.source_id.in_(list(source_ids)))


def _portfolio_columns(
    engine: Engine, source_ids: Collection[int] | None
) -> dict[ItemRef, tuple[Any, ...]]:
    """The live items' columns the KPI read leaves out, by ref, as plain tuples (level, rank,
    priority, the four dates, the tracker's type name); one query. Tuples, because a Row's
    attributes by name cost more than the rest of the item's build at 100k items."""
    query = select(
        _sources.c.name,
        _items.c.key,
        _items.c.level,
        _items.c.rank,
        _items.c.priority,
        _items.c.start_date,
        _items.c.due_date,
        _items.c.target_start,
        _items.c.target_end,
        _items.c.raw_type,
    ).join(_sources, _sources.c.id == _items.c.source_id)
    with engine.connect() as conn:
        return {
            (name, key): tuple(rest)
            for name, key, *rest in conn.execute(
                _in_sources(_live(query), source_ids).order_by(_items.c.id)
            )
        }


def _item_release_names(
    engine: Engine, source_ids: Collection[int] | None
) -> dict[ItemRef, set[str]]:
    """The names of the stored releases each live item is planned for; one query. A release
    the item names but the store does not hold is left out (nothing to call it by)."""
    query = (
        select(_sources.c.name.label("source"), _items.c.key, _releases.c.name)
        .select_from(_item_releases)
        .join(_items, _items.c.id == _item_releases.c.item_id)
        .join(_sources, _sources.c.id == _items.c.source_id)
        .join(
            _releases,
            (_releases.c.source_id == _item_releases.c.source_id)
            & (_releases.c.external_id == _item_releases.c.release_external_id),
        )
    )
    found: dict[ItemRef, set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for row in conn.execute(_in_sources(_live(query), source_ids)):
            found[row.source, row.key].add(row.name)
    return found


def _themes(
    engine: Engine, themes: Sequence[ThemeConfig], source_ids: Collection[int] | None
) -> dict[ItemRef, str]:
    """Each item's theme name; nothing read when portfolio.yaml names no theme, and of the
    facts a theme can match only those its themes do (`themes.facts_matched`)."""
    if not themes:
        return {}
    read = portfolio_items(engine, source_ids, facts_matched(themes))
    return themes_by_ref(index_items(read), themes)


def themes_by_ref(
    items: Mapping[ItemRef, PortfolioItem], themes: Sequence[ThemeConfig]
) -> dict[ItemRef, str]:
    """`theme_of` for every item at once: the name of each item's theme (items without one
    are left out).

    An item's theme is its own (the first theme that matches it) or else its parent's, so
    each item is matched once and each chain walked once, instead of every item walking
    its whole ancestry (a store's worth of stories would match their epic and initiative
    again and again). A walk that comes back to an item on it is a cycle where nothing
    matched: no theme for any item on it, as `theme_of` stops there too.

    Unless a theme names keys, an item's own theme depends only on its source, kind and
    matched facts, which few combinations share across a store: each combination is
    matched once (`by_facts`), not each item.
    """
    found: dict[ItemRef, str | None] = {}
    by_facts: dict[tuple[Any, ...], str | None] | None = (
        None if any(t.match.keys for t in themes) else {}
    )
    for start in items:
        path: list[ItemRef] = []
        on_path: set[ItemRef] = set()
        ref: ItemRef | None = start
        name: str | None = None
        while ref is not None:
            if ref in found:
                name = found[ref]
                break
            item = items.get(ref)
            if item is None or ref in on_path:
                break
            own = _own_theme(item, themes, by_facts)
            if own is not None:
                found[ref] = name = own
                break
            path.append(ref)
            on_path.add(ref)
            ref = None if item.parent_key is None else (item.source, item.parent_key)
        for walked in path:
            found[walked] = name
    return {ref: name for ref, name in found.items() if name is not None and ref in items}


def _own_theme(
    item: PortfolioItem,
    themes: Sequence[ThemeConfig],
    by_facts: dict[tuple[Any, ...], str | None] | None,
) -> str | None:
    """The first theme that matches the item itself; `by_facts` (None when a theme names
    keys, which every item differs by) remembers the answer per combination of facts."""
    if by_facts is None:
        return next((t.name for t in themes if matches(t, item)), None)
    facts = (
        item.source, item.kind, item.labels, item.components, item.area_path, item.board,
        item.board_id,
    )  # fmt: skip
    if facts not in by_facts:
        by_facts[facts] = next((t.name for t in themes if matches(t, item)), None)
    return by_facts[facts]


def read_dependencies(
    engine: Engine, source_ids: Collection[int] | None = None
) -> list[Dependency]:
    """Every stored dependency once, as (blocker, waiting), sorted; one query.

    A live item's `outward` link says it blocks the target, an `inward` one that it waits on
    it, so a link stored at both ends (Jira, Azure DevOps) or at one (Trello) reads the same.
    A target never stored in the item's source is out of the synced scope: `blocker_known`
    False. A target stored once and deleted since is known, and absent from the items:
    `dependency_risk` reads it as deleted, its dependency resolved. Relations
    (`NOT_DEPENDENCIES`) are not dependencies.
    """
    if source_ids is not None and not source_ids:
        return []
    target = aliased(_items)
    stored = (
        exists()
        .where(target.c.source_id == _links.c.source_id, target.c.key == _links.c.target_key)
        .label("stored")
    )
    query = (
        select(_sources.c.name, _items.c.key, _links.c.direction, _links.c.target_key, stored)
        .select_from(_links)
        .join(_items, _items.c.id == _links.c.item_id)
        .join(_sources, _sources.c.id == _items.c.source_id)
        .where(_items.c.deleted_at.is_(None), _links.c.link_type.not_in(list(NOT_DEPENDENCIES)))
    )
    known: dict[tuple[ItemRef, ItemRef], bool] = {}
    with engine.connect() as conn:
        for row in conn.execute(_in_sources(query, source_ids)):
            item, other = (row.name, row.key), (row.name, row.target_key)
            if row.direction == LinkDirection.OUTWARD.value:
                pair, blocker_known = (item, other), True
            else:
                pair, blocker_known = (other, item), bool(row.stored)
            known[pair] = known.get(pair, False) or blocker_known
    return [Dependency(b, w, blocker_known=k) for (b, w), k in sorted(known.items())]


def read_date_moves(
    engine: Engine, zone: tzinfo, source_ids: Collection[int] | None = None
) -> list[DateMove]:
    """Every live item's date changes as `DateMove`s, the day of each in the reporting zone;
    one query (`store.portfolio.date_changes`)."""
    return [
        DateMove(
            ref=(c.source, c.key),
            field=c.change.field.value,
            on=local_date(c.change.at, zone),
            from_day=c.change.from_date,
            to_day=c.change.to_date,
        )
        for c in date_changes(engine, source_ids)
    ]


def read_portfolio_releases(
    engine: Engine, source_ids: Collection[int] | None = None
) -> list[PortfolioRelease]:
    """The stored releases as `PortfolioRelease`s, by source, then name; one query.

    `release_date` is the planned day while a release is not released and the day it
    shipped once it is; `planned_date` (migration 0016) is the plan the tracker or the config
    gave, kept after it ships (Jira: the date last seen before it was released; unknown,
    None, for a version first seen released). An archived release not released is
    abandoned, as an archived unfinished item is off the board: left out, never overdue.
    """
    if source_ids is not None and not source_ids:
        return []
    query = (
        select(
            _sources.c.name.label("source"),
            _releases.c.name,
            _releases.c.project,
            _releases.c.release_date,
            _releases.c.planned_date,
            _releases.c.released,
        )
        .join(_sources, _sources.c.id == _releases.c.source_id)
        .where(_releases.c.released | ~_releases.c.archived)
        .order_by(_sources.c.name, _releases.c.name, _releases.c.external_id)
    )
    if source_ids is not None:
        query = query.where(_releases.c.source_id.in_(list(source_ids)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_release(row) for row in rows]


def _release(row: Any) -> PortfolioRelease:
    released = bool(row.released)
    return PortfolioRelease(
        source=row.source,
        name=row.name,
        project=row.project,
        planned=row.planned_date or (None if released else row.release_date),
        released_on=row.release_date if released else None,
    )
