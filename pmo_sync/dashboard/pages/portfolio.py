"""The portfolio page: every team's headline KPIs with their trend, findings and freshness."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from pmo_sync.dashboard.charts import Chart, Series, sparkline
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.epics import (
    EpicSummary,
    epic_summaries,
    order_key,
    with_progress,
)
from pmo_sync.dashboard.reads import ConnectorFreshness, DashboardReads, by_metric
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.governance.model import SEVERITIES
from pmo_sync.store.kpis import KpiValue

__all__ = ["PortfolioPage", "TeamHeadline", "build_portfolio"]

HEADLINE_METRICS = (
    "items",
    "wip",
    "done_in_window",
    "cycle_time_p85_days",
    "wip_age_max_days",
    "throughput_week",
    "wip_day",
)
SEVERITIES_SHOWN = tuple(reversed(SEVERITIES))
"""Most severe first, as the page lists them."""
AT_RISK_DATED = 10
"""How many open epics with a forecast the portfolio lists (the latest p85 dates)."""


@dataclass(frozen=True, slots=True)
class TeamHeadline:
    """One team's row: the figures as `kpis` stores them, and its trend lines."""

    team: str
    items: int | None
    wip: int | None
    done_in_window: int | None
    window: str | None
    cycle_time_p85_days: float | None
    wip_age_max_days: float | None
    throughput_trend: Chart | None
    wip_trend: Chart | None
    findings: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class PortfolioPage:
    filters: Filters
    teams: list[TeamHeadline]
    freshness: list[ConnectorFreshness]
    findings_total: Counter[str]
    unknown_team: bool = False
    at_risk: list[EpicSummary] = field(default_factory=list)
    """Open epics with open children and no forecast, then the 10 latest p85 dates."""
    unknown_source: bool = False
    team_names: tuple[str, ...] = ()
    """Every team, for the team filter (the rows may be one team's)."""


def _single(values: list[KpiValue] | None) -> KpiValue | None:
    return values[-1] if values else None


def _number(value: KpiValue | None) -> float | None:
    return None if value is None else value.value


def _whole(value: KpiValue | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _in_window(values: list[KpiValue], first: date) -> list[KpiValue]:
    """Series values whose window (a day, or an interval's first day) is on or after `first`."""
    return [v for v in values if v.window[:10] >= first.isoformat()]


def at_risk_epics(epics: list[EpicSummary], dated: int = AT_RISK_DATED) -> list[EpicSummary]:
    """Open epics with work left and no date, then the `dated` open ones due latest (p85)."""
    undated = [e for e in epics if e.is_open and order_key(e)[0] == 0]
    latest = [e for e in epics if e.is_open and order_key(e)[0] == 1][:dated]
    return undated + latest


def source_teams(reads: DashboardReads, portfolio: PortfolioReads, source: str) -> list[str]:
    """The shown names of the teams whose items come from `source` (that connector)."""
    names = reads.team_names()
    shown = portfolio.shown_teams(names)
    teams = portfolio.teams_by_source().get(source, set())
    return sorted({shown.get((source, team), team) for team in teams} & set(names))


def build_portfolio(
    reads: DashboardReads,
    filters: Filters,
    today: date,
    portfolio: PortfolioReads | None = None,
) -> PortfolioPage:
    """The portfolio page's data, from team-scope values and the findings and run tables."""

    portfolio = portfolio or PortfolioReads(reads.engine)
    names = reads.team_names()
    shown = [filters.team] if filters.team and filters.team in names else names
    sources = portfolio.source_names()
    if filters.source in sources:
        of_source = source_teams(reads, portfolio, filters.source)
        shown = [team for team in shown if team in of_source]
    values = by_metric(reads.values("team", metrics=HEADLINE_METRICS, teams=shown))
    findings = reads.open_findings_by_team()
    first = filters.first_day(today)
    rows: list[TeamHeadline] = []
    for index, team in enumerate(shown):
        metrics = values.get(team, {})
        done = _single(metrics.get("done_in_window"))
        weekly = _in_window(metrics.get("throughput_week", []), first)
        daily_wip = _in_window(metrics.get("wip_day", []), first)
        rows.append(
            TeamHeadline(
                team=team,
                items=_whole(_single(metrics.get("items"))),
                wip=_whole(_single(metrics.get("wip"))),
                done_in_window=_whole(done),
                window=done.window if done else None,
                cycle_time_p85_days=_number(_single(metrics.get("cycle_time_p85_days"))),
                wip_age_max_days=_number(_single(metrics.get("wip_age_max_days"))),
                throughput_trend=sparkline(
                    f"spark-throughput-{index}",
                    Series("done per week", [v.window[:10] for v in weekly],
                           [v.value for v in weekly]),
                ) if weekly else None,
                wip_trend=sparkline(
                    f"spark-wip-{index}",
                    Series("WIP per day", [v.window for v in daily_wip],
                           [v.value for v in daily_wip]),
                ) if daily_wip else None,
                findings=findings.get(team, Counter()),
            )
        )  # fmt: skip
    total: Counter[str] = Counter()
    for owner, counts in findings.items():
        if filters.source in sources:
            keep = owner in shown
        else:
            keep = filters.team is None or owner == filters.team
        if keep:
            total.update(counts)
    known = Filters(  # the epics of the teams shown: an unknown filter is said, not applied
        team=filters.team if filters.team in names else None,
        source=filters.source if filters.source in sources else None,
    )
    return PortfolioPage(
        filters=filters,
        teams=rows,
        freshness=reads.freshness(),
        findings_total=total,
        unknown_team=bool(filters.team) and filters.team not in names,
        at_risk=with_progress(
            portfolio, at_risk_epics(epic_summaries(reads, portfolio, known, progress=False))
        ),
        unknown_source=bool(filters.source) and filters.source not in sources,
        team_names=tuple(names),
    )
