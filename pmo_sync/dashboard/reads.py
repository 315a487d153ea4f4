"""The store queries the pages share: the only module of the dashboard that talks SQL.

Every query reads what a sync or a KPI refresh stored, filtered in SQL by
scope, team and metric so a page reads the few thousand rows it draws, not
the portfolio. Values come back as the store's `KpiValue`s (dates as days
since 1970-01-01, as `kpis --format json` shows them before rendering).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, Table, func, select

from pmo_sync.store.kpis import KpiValue
from pmo_sync.store.models import FindingRow, KpiValueRow, SourceRow, SyncRunRow

__all__ = ["ConnectorFreshness", "DashboardReads"]

_kpi: Table = KpiValueRow.__table__  # type: ignore[assignment]
_findings: Table = FindingRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_runs: Table = SyncRunRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ConnectorFreshness:
    """How current one connector's data is: its last successful sync and its last attempt."""

    connector: str
    kind: str
    last_success: datetime | None
    last_attempt: datetime | None
    last_status: str | None


class DashboardReads:
    """Read-only queries over one store (an engine opened to read is enough)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def values(
        self,
        scope: str,
        *,
        metrics: Collection[str] | None = None,
        metric_prefix: str | None = None,
        team: str | None = None,
        teams: Collection[str] | None = None,
        scope_keys: Collection[str] | None = None,
    ) -> list[KpiValue]:
        """Stored values of one scope, narrowed by metric names, a metric prefix and teams."""
        query = select(
            _kpi.c.scope, _kpi.c.scope_key, _kpi.c.metric, _kpi.c.window, _kpi.c.value, _kpi.c.team
        ).where(_kpi.c.scope == scope)
        if metrics is not None:
            query = query.where(_kpi.c.metric.in_(list(metrics)))
        if metric_prefix is not None:
            query = query.where(_kpi.c.metric.startswith(metric_prefix, autoescape=True))
        if team is not None:
            query = query.where(_kpi.c.team == team)
        if teams is not None:
            query = query.where(_kpi.c.team.in_(list(teams)))
        if scope_keys is not None:
            query = query.where(_kpi.c.scope_key.in_(list(scope_keys)))
        query = query.order_by(_kpi.c.scope_key, _kpi.c.metric, _kpi.c.window)
        with self.engine.connect() as conn:
            return [
                KpiValue(r.scope, r.scope_key, r.metric, r.window, r.value, r.team)
                for r in conn.execute(query)
            ]

    def as_of(self) -> date | None:
        """The last day the stored values cover: the end of the refresh's window.

        Pages count their windows back from it, not from the wall clock, so a
        report of an old store shows that store's weeks.
        """
        query = select(func.max(_kpi.c.window)).where(
            _kpi.c.scope.in_(("team", "portfolio")), _kpi.c.metric == "done_in_window"
        )
        with self.engine.connect() as conn:
            window = conn.execute(query).scalar()
        return date.fromisoformat(window[-10:]) if window else None

    def team_names(self) -> list[str]:
        """The teams the last refresh kept values for, as they are shown everywhere."""
        query = select(_kpi.c.scope_key).where(_kpi.c.scope == "team").distinct()
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def open_findings_by_team(self) -> dict[str | None, Counter[str]]:
        """Open findings counted per team and severity (a portfolio-wide finding's team is None)."""
        query = (
            select(_findings.c.team, _findings.c.severity, func.count())
            .where(_findings.c.resolved_at.is_(None))
            .group_by(_findings.c.team, _findings.c.severity)
        )
        result: dict[str | None, Counter[str]] = defaultdict(Counter)
        with self.engine.connect() as conn:
            for team, severity, count in conn.execute(query):
                result[team][severity] += int(count)
        return dict(result)

    def freshness(self) -> list[ConnectorFreshness]:
        """Each stored connector's last successful sync and last attempt, by name."""
        success = (
            select(_runs.c.source_id, func.max(_runs.c.finished_at).label("at"))
            .where(_runs.c.status == "success")
            .group_by(_runs.c.source_id)
            .subquery()
        )
        latest = (
            select(_runs.c.source_id, func.max(_runs.c.started_at).label("at"))
            .group_by(_runs.c.source_id)
            .subquery()
        )
        query = (
            select(_sources.c.name, _sources.c.kind, success.c.at, latest.c.at, _runs.c.status)
            .select_from(
                _sources.outerjoin(success, success.c.source_id == _sources.c.id)
                .outerjoin(latest, latest.c.source_id == _sources.c.id)
                .outerjoin(
                    _runs,
                    (_runs.c.source_id == _sources.c.id) & (_runs.c.started_at == latest.c.at),
                )
            )
            .order_by(_sources.c.name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        seen: dict[str, ConnectorFreshness] = {}
        for name, kind, ok_at, tried_at, status in rows:
            seen.setdefault(name, ConnectorFreshness(name, kind, ok_at, tried_at, status))
        return list(seen.values())


def by_metric(values: Iterable[KpiValue]) -> dict[str, dict[str, list[KpiValue]]]:
    """Values grouped scope key → metric → values (in window order, as read)."""
    grouped: dict[str, dict[str, list[KpiValue]]] = defaultdict(lambda: defaultdict(list))
    for value in values:
        grouped[value.scope_key][value.metric].append(value)
    return grouped
