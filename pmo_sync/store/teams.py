"""Which teams the store knows, and which connector's items each team's come from.

What `--team` and `--connector` on the listing commands check and filter by:
a team is named by the synced items (the team a connector mapped each item
to), so a mistyped team is an error, not an empty list. `stored_teams` adds the
delivery method each team's tracker says (table `teams`, `pmo_sync.domain.TeamRecord`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Table, and_, select

from pmo_sync.store.models import SourceRow, TeamRow, WorkItemRow

__all__ = ["StoredTeam", "stored_teams", "teams_by_source"]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_teams: Table = TeamRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class StoredTeam:
    """A team of a source's live items, and the delivery method its tracker says."""

    source: str
    name: str
    method: str | None
    """`scrum` or `kanban` as the tracker's board says; None when its connector described
    no such team (a Jira project without a board, a plug-in that says nothing)."""


def stored_teams(engine: Engine) -> list[StoredTeam]:
    """Every (source, team) of the live items with its tracker's method, by source and name."""
    query = (
        select(_sources.c.name, _items.c.team, _teams.c.method)
        .select_from(_items)
        .join(_sources, _sources.c.id == _items.c.source_id)
        .outerjoin(
            _teams, and_(_teams.c.source_id == _items.c.source_id, _teams.c.name == _items.c.team)
        )
        .where(_items.c.deleted_at.is_(None), _items.c.team.is_not(None))
        .distinct()
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return sorted((StoredTeam(*row) for row in rows), key=lambda t: (t.source, t.name))


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
