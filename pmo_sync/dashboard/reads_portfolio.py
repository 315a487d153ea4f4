"""The store queries of the portfolio-wide pages: epics, their children, findings, teams' names.

Kept apart from `reads` (the queries every page shares) so the epics and
governance pages can grow without touching it. Each query is one statement
whatever the portfolio's size: the epics' children are counted by one GROUP
BY over the items, joined to their epics by an index (2,000 epics and 100k
items: one scan, not one query per epic).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, Table, and_, func, select

from pmo_sync.kpi.teams import qualified
from pmo_sync.store.findings import StoredFinding, read_findings
from pmo_sync.store.models import KpiValueRow, SourceRow, WorkItemRow
from pmo_sync.store.teams import teams_by_source

__all__ = ["EPIC_TYPE", "FilterChoices", "ItemRow", "PortfolioReads", "StageCounts"]

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]

EPIC_TYPE = "epic"
StageCounts = dict[str, int]
"""Children per stage (`todo`, `in_progress`, `done`)."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A synced item's columns a page shows (`team` is the tracker's name, not the shown one)."""

    source: str
    key: str
    title: str
    url: str
    item_type: str
    status: str
    stage: str
    team: str | None
    resolved: datetime | None


def _item_query() -> Select[Any]:
    return (
        select(
            _sources.c.name,
            _items.c.key,
            _items.c.title,
            _items.c.url,
            _items.c.item_type,
            _items.c.status,
            _items.c.stage,
            _items.c.team,
            _items.c.resolved,
        )
        .join(_sources, _sources.c.id == _items.c.source_id)
        .where(_items.c.deleted_at.is_(None))
    )


def _rows(engine: Engine, query: Select[Any]) -> list[ItemRow]:
    with engine.connect() as conn:
        return [ItemRow(*row) for row in conn.execute(query)]


class PortfolioReads:
    """Read-only queries of the epics, governance and portfolio pages over one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def epics(self, *, source: str | None = None, search: str | None = None) -> list[ItemRow]:
        """Every live epic, narrowed to one connector and to a key or title containing `search`.

        The search ignores case and takes `%` and `_` literally: it is what a
        person typed, not a pattern.
        """
        query = _item_query().where(_items.c.item_type == EPIC_TYPE)
        if source is not None:
            query = query.where(_sources.c.name == source)
        if search:
            needle = search.strip().lower()
            query = query.where(
                func.lower(_items.c.key).contains(needle, autoescape=True)
                | func.lower(_items.c.title).contains(needle, autoescape=True)
            )
        return _rows(self.engine, query)

    def epic(self, key: str) -> list[ItemRow]:
        """The live epics with that key (one per connector that has it)."""
        query = _item_query().where(_items.c.item_type == EPIC_TYPE, _items.c.key == key)
        return _rows(self.engine, query.order_by(_sources.c.name))

    def shared_epic_keys(self) -> set[str]:
        """Epic keys more than one connector has (the stored epic values are keyed by key)."""
        query = (
            select(_items.c.key)
            .where(_items.c.item_type == EPIC_TYPE, _items.c.deleted_at.is_(None))
            .group_by(_items.c.key)
            .having(func.count(func.distinct(_items.c.source_id)) > 1)
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def child_stage_counts(
        self, source: str | None = None, epic_keys: Collection[str] | None = None
    ) -> dict[tuple[str, str], StageCounts]:
        """(connector, epic key) → its children counted per stage, in one statement.

        A child is a live item other than an epic whose parent is the epic's
        key in the same connector (as the epic forecasts count them). The
        items are grouped by parent first, then the groups joined to the
        epics by the (connector, key) index: joining item to item would look
        every child's parent up without an index on `parent_key`.
        """
        grouped = (
            select(
                _items.c.source_id,
                _items.c.parent_key,
                _items.c.stage,
                func.count().label("n"),
            )
            .where(
                _items.c.deleted_at.is_(None),
                _items.c.item_type != EPIC_TYPE,
                _items.c.parent_key.is_not(None)
                if epic_keys is None
                else _items.c.parent_key.in_(list(epic_keys)),
            )
            .group_by(_items.c.source_id, _items.c.parent_key, _items.c.stage)
            .subquery("children")
        )
        epic = _items.alias("epic")
        query = select(_sources.c.name, epic.c.key, grouped.c.stage, grouped.c.n).select_from(
            grouped.join(_sources, _sources.c.id == grouped.c.source_id).join(
                epic,
                and_(
                    epic.c.source_id == grouped.c.source_id,
                    epic.c.key == grouped.c.parent_key,
                    epic.c.item_type == EPIC_TYPE,
                    epic.c.deleted_at.is_(None),
                ),
            )
        )
        if source is not None:
            query = query.where(_sources.c.name == source)
        counts: dict[tuple[str, str], StageCounts] = defaultdict(dict)
        with self.engine.connect() as conn:
            for name, key, stage, count in conn.execute(query):
                counts[name, key][stage] = int(count)
        return dict(counts)

    def children(self, source: str, epic_key: str) -> list[ItemRow]:
        """One epic's children (live items other than epics whose parent is the epic)."""
        query = _item_query().where(
            _sources.c.name == source,
            _items.c.parent_key == epic_key,
            _items.c.item_type != EPIC_TYPE,
        )
        return _rows(self.engine, query)

    def source_names(self) -> list[str]:
        """Every stored connector's name, sorted."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(_sources.c.name)).scalars())

    def teams_by_source(self) -> dict[str, set[str]]:
        """Connector → the tracker's team names of its live items (`store.teams`)."""
        return teams_by_source(self.engine)

    def shown_teams(
        self, shown: list[str], pairs: Iterable[tuple[str, str | None]] | None = None
    ) -> dict[tuple[str, str], str]:
        """(connector, tracker team) → the name the last KPI refresh showed that team under.

        `shown` is the refresh's team names; `pairs` the (connector, team) pairs
        to name (default: every synced team). A team is shown under its own
        name, or qualified by its connector when another connector has a team
        of that name; a kpis.yaml team that renames or merges it is found from
        one of its items' stored values (one small query per such team).
        """
        names = set(shown)
        result: dict[tuple[str, str], str] = {}
        unresolved: list[tuple[str, str]] = []
        if pairs is None:
            pairs = [(s, t) for s, teams in self.teams_by_source().items() for t in teams]
        for source, team in set(pairs):
            if team is None:
                continue
            if qualified(team, source) in names:
                result[source, team] = qualified(team, source)
            elif team in names:
                result[source, team] = team
            else:
                unresolved.append((source, team))
        if unresolved:
            with self.engine.connect() as conn:
                for source, team in unresolved:
                    query = (
                        select(_kpi.c.team)
                        .select_from(
                            _items.join(_sources, _sources.c.id == _items.c.source_id).join(
                                _kpi,
                                and_(_kpi.c.scope == "item", _kpi.c.scope_key == _items.c.key),
                            )
                        )
                        .where(
                            _sources.c.name == source,
                            _items.c.team == team,
                            _kpi.c.team.is_not(None),
                        )
                        .limit(1)
                    )
                    result[source, team] = conn.execute(query).scalar() or team
        return result

    def open_findings(
        self, *, team: str | None = None, source: str | None = None
    ) -> list[StoredFinding]:
        """Open findings with their item's title and link, as `pmo-sync findings` lists them."""
        return list(read_findings(self.engine, team=team, source=source, details=False))


@dataclass(slots=True)
class FilterChoices:
    """The teams and connectors the filter bar offers, read once per page and only if drawn."""

    _teams: Callable[[], list[str]]
    _sources: Callable[[], list[str]]
    _read: tuple[list[str], list[str]] | None = None

    def _both(self) -> tuple[list[str], list[str]]:
        if self._read is None:
            self._read = (self._teams(), self._sources())
        return self._read

    @property
    def teams(self) -> list[str]:
        return self._both()[0]

    @property
    def sources(self) -> list[str]:
        return self._both()[1]
