"""The team and sprint pages' store queries: per-item values beside the items' own columns.

The stored item values (`cycle_time_days`, `wip_age_days`) are keyed by the
item's tracker key, qualified as `source:key` only when two sources share a
key (`pmo_sync.kpi.compute._item_keys`); the title, link, status and done
date live on `work_items`. One query reads the team's item values, a second
the matching items, and they are paired by that same key rule, so a page
never recomputes a metric and never reads the whole items table.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    String,
    Table,
    any_,
    bindparam,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from pmo_sync.store.models import KpiValueRow, SourceRow, WorkItemRow

__all__ = ["ITEM_METRICS", "FlowReads", "ItemPoint"]

_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]

_CHUNK = 500  # keys per IN list on SQLite: well under its bound-parameter limit

ITEM_METRICS = ("cycle_time_days", "wip_age_days")
"""The per-item values the team page draws: done items' cycle time, open items' age."""


@dataclass(frozen=True, slots=True)
class ItemPoint:
    """One item as the team page draws it: its stored values and its tracker columns."""

    key: str  # the stored scope key (qualified when two sources share the key)
    source: str
    title: str
    url: str
    status: str
    stage: str  # the status category: todo | in_progress | done
    done_on: date | None  # the day the tracker resolved it (UTC)
    cycle_time_days: float | None
    wip_age_days: float | None


class FlowReads:
    """Read-only per-item queries for one team."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def item_points(self, team: str, *, source: str | None = None) -> list[ItemPoint]:
        """The team's items that have a stored cycle time or WIP age, with their columns."""
        values: dict[str, dict[str, float | None]] = {}
        query = select(_kpi.c.scope_key, _kpi.c.metric, _kpi.c.value).where(
            _kpi.c.scope == "item",
            _kpi.c.team == team,
            _kpi.c.metric.in_(ITEM_METRICS),
            _kpi.c.window == "current",
        )
        with self.engine.connect() as conn:
            for key, metric, value in conn.execute(query):
                values.setdefault(key, {})[metric] = value
            rows = self._items(conn, values) if values else []
        points: list[ItemPoint] = []
        for row in rows:
            key = next(
                (k for k in (f"{row.source}:{row.key}", row.key) if k in values),
                None,
            )
            if key is None or (source is not None and row.source != source):
                continue
            found = values.pop(key)  # a key names one item: the first match keeps it
            points.append(
                ItemPoint(
                    key=key,
                    source=row.source,
                    title=row.title,
                    url=row.url,
                    status=row.status,
                    stage=row.stage,
                    done_on=row.resolved.date() if row.resolved is not None else None,
                    cycle_time_days=found.get("cycle_time_days"),
                    wip_age_days=found.get("wip_age_days"),
                )
            )
        return sorted(points, key=lambda p: p.key)

    @staticmethod
    def _items(conn: Connection, keys: Collection[str]) -> list[Row[Any]]:
        """Items the KPIs read whose key is one of `keys` (bare, or after a `source:` qualifier).

        Deleted items and unfinished archived ones are left out, as the KPI
        refresh leaves them out, so a bare key matches the one item it names.
        """
        bare = sorted({key.split(":", 1)[1] if ":" in key else key for key in keys} | set(keys))
        if conn.dialect.name == "postgresql":
            # one array parameter, one round trip: 37 chunks of 500 keys (the largest team at
            # 100k items) cost 750 ms of round trips on PostgreSQL
            wanted = any_(bindparam("keys", bare, type_=ARRAY(String)))
            return list(conn.execute(FlowReads._query(_items.c.key == wanted)))
        rows: list[Row[Any]] = []
        for start in range(0, len(bare), _CHUNK):
            chunk = _items.c.key.in_(bare[start : start + _CHUNK])
            rows.extend(conn.execute(FlowReads._query(chunk)))
        return rows

    @staticmethod
    def _query(key_matches: ColumnElement[bool]) -> Select[Any]:
        return (
            select(
                _items.c.key,
                _items.c.title,
                _items.c.url,
                _items.c.status,
                _items.c.stage,
                _items.c.resolved,
                _sources.c.name.label("source"),
            )
            .select_from(_items.join(_sources, _sources.c.id == _items.c.source_id))
            .where(
                key_matches,
                _items.c.deleted_at.is_(None),
                ~(_items.c.archived & (_items.c.stage != "done")),
            )
            .order_by(_items.c.id)
        )
