"""Which teams the store knows, and which connector's items each team's come from.

What `--team` and `--connector` on the listing commands check and filter by:
a team is named by the synced items (the team a connector mapped each item
to), so a mistyped team is an error, not an empty list.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, select

from pmo_sync.store.models import SourceRow, WorkItemRow

__all__ = ["teams_by_source"]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]


def teams_by_source(engine: Engine) -> dict[str, set[str]]:
    """Connector (source) name → the teams of its live items; every stored source is a key."""
    with engine.connect() as conn:
        names = conn.execute(select(_sources.c.name)).scalars().all()
        rows = conn.execute(
            select(_sources.c.name, _items.c.team)
            .join(_sources, _sources.c.id == _items.c.source_id)
            .where(_items.c.deleted_at.is_(None), _items.c.team.is_not(None))
            .distinct()
        ).all()
    result: dict[str, set[str]] = {name: set() for name in names}
    for name, team in rows:
        result[name].add(team)
    return result
