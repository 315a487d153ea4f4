"""The teams as the last KPI refresh named them: what `--team` accepts where nothing is recomputed.

`pmo-sync findings` reads the store as the last `sync` or `kpis` left it, so
the valid team names are those the stored KPI values and findings carry (a
team qualified by its source, `Team Alpha (acme-jira)`, or a kpis.yaml team).
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, select, union

from pmo_sync.store.models import FindingRow, KpiValueRow

__all__ = ["stored_team_names"]

_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]
_findings: Table = FindingRow.__table__  # type: ignore[assignment]


def stored_team_names(engine: Engine) -> list[str]:
    """Every team name of the stored KPI values and findings, sorted."""
    query = union(
        select(_kpi.c.team).where(_kpi.c.scope == "team", _kpi.c.team.is_not(None)),
        select(_findings.c.team).where(_findings.c.team.is_not(None)),
    )
    with engine.connect() as conn:
        return sorted(row[0] for row in conn.execute(query))
