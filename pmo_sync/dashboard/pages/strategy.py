"""The strategy page: themes against their target share, the dependencies between teams,
release delivery, and traditional projects' schedule beside the agile teams' flow.

The first three are `pmo-sync portfolio`'s answer (`portfolio_overview`, with `--team` when
the team filter names one); the schedule is `portfolio.schedule`'s, judged on the p85 as
the dependencies are, beside the flow figures the last KPI refresh stored for each team.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from pmo_sync.dashboard.charts import Chart, Series, bar_chart, run_chart, theme_share_chart
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.requests import DependencyRow
from pmo_sync.dashboard.reads import DashboardReads, by_metric
from pmo_sync.dashboard.reads_requests import Computed, RequestReads
from pmo_sync.portfolio.dependency_risk import DependencyReport
from pmo_sync.portfolio.overview import item_forecasts
from pmo_sync.portfolio.releases import ReleaseReport
from pmo_sync.portfolio.schedule import (
    Measure,
    date_moves,
    measures_for,
    milestones,
    schedule_variances,
    team_date_moves,
    team_variances,
)
from pmo_sync.portfolio.strategy import Share, StrategyAnswer
from pmo_sync.portfolio.words import delivery_words, risk_words
from pmo_sync.store.kpis import KpiValue

__all__ = [
    "DependencyMatrix",
    "StrategyPage",
    "TeamSchedule",
    "ThemeRow",
    "build_strategy",
]

NO_TEAM = "no team"
FLOW_METRICS = ("done_in_window", "cycle_time_p85_days", "wip")


@dataclass(frozen=True, slots=True)
class ThemeRow:
    """One theme over the window (`theme` None: the work aligned to no theme)."""

    name: str
    unaligned: bool
    target: float | None
    wip_days: Share
    done_items: Share
    requests_open: Share


@dataclass(frozen=True, slots=True)
class DependencyMatrix:
    """Open dependencies per (blocker's team, waiting team): rows block, columns wait."""

    teams: tuple[str, ...]
    open: dict[tuple[str, str], int]
    at_risk: dict[tuple[str, str], int]

    def cell(self, blocker: str, waiting: str) -> tuple[int, int]:
        return self.open.get((blocker, waiting), 0), self.at_risk.get((blocker, waiting), 0)


@dataclass(frozen=True, slots=True)
class TeamSchedule:
    """One team's delivery method and the measures that fit it (`measures_for`)."""

    source: str
    team: str
    method: str
    measures: tuple[Measure, ...]
    done_in_window: float | None
    cycle_time_p85_days: float | None
    wip: float | None
    dated: int
    """Its items with a target date (target end, else due date)."""
    measured: int
    late: int
    median_variance_days: float | None
    milestones_met: int | None
    milestones_missed: int | None
    milestones_pending: int | None
    milestones_share_met: float | None
    moved_later: int
    """Its items (open or done) whose target date was moved later at least once."""
    moves_later: int
    days_later: int


@dataclass(frozen=True, slots=True)
class StrategyPage:
    filters: Filters
    today: date
    unknown_team: bool
    window_first: date
    window_last: date
    themes: tuple[ThemeRow, ...]
    unplanned_room: float | None
    theme_chart: Chart | None
    trend_chart: Chart | None
    matrix: DependencyMatrix
    at_risk: tuple[DependencyRow, ...]
    releases: ReleaseReport
    release_chart: Chart | None
    release_words: tuple[tuple[str, str], ...]
    schedule: tuple[TeamSchedule, ...]
    teams: tuple[str, ...]


def _themes(strategy: StrategyAnswer) -> tuple[ThemeRow, ...]:
    return tuple(
        ThemeRow(
            name=row.theme if row.theme is not None else "No theme",
            unaligned=row.theme is None,
            target=row.target_share,
            wip_days=row.wip_days,
            done_items=row.done_items,
            requests_open=row.requests_open,
        )
        for row in strategy.window.themes
    )


def _theme_chart(rows: tuple[ThemeRow, ...]) -> Chart | None:
    if not rows or all(r.wip_days.total == 0 and r.requests_open.total == 0 for r in rows):
        return None
    names = [r.name for r in rows]
    return theme_share_chart(
        "theme-shares",
        "Each theme's share of the work against its target",
        names,
        [
            Series("in progress (item-days)", names, [r.wip_days.percent for r in rows]),
            Series("items done", names, [r.done_items.percent for r in rows]),
            Series("open requests", names, [r.requests_open.percent for r in rows]),
        ],
        [r.target for r in rows],
        description="Bars: the theme's share of the work over the window"
        + (
            "; the black mark: its target share in portfolio.yaml."
            if any(r.target is not None for r in rows)
            else " (portfolio.yaml sets no target share)."
        ),
    )


def _trend_chart(strategy: StrategyAnswer) -> Chart | None:
    """Each theme's share of the work in progress (item-days) in each period of the window,
    oldest first: whether the work is moving towards the targets."""
    periods = strategy.trend
    if not periods or all(row.wip_days.total == 0 for p in periods for row in p.themes):
        return None
    days = [p.last.isoformat() for p in periods]
    names = [row.theme for row in periods[-1].themes]
    series = []
    for name in names:
        shares = [next((r.wip_days.percent for r in p.themes if r.theme == name), None)
                  for p in periods]  # fmt: skip
        series.append(Series(name if name is not None else "No theme", days, shares))
    return run_chart(
        "theme-trend",
        f"Share of the work in progress, every {strategy.period_days} days",
        series,
        y_title="% of item-days",
        description="Each point: a theme's share of the item-days in progress over the "
        f"{strategy.period_days} days ending that day.",
    )


def _matrix(report: DependencyReport) -> DependencyMatrix:
    opened: dict[tuple[str, str], int] = {}
    risky: dict[tuple[str, str], int] = {}
    teams: set[str] = set()
    for pair in report.team_pairs:
        if not pair.open:
            continue
        key = (pair.blocker_team or NO_TEAM, pair.waiting_team or NO_TEAM)
        teams.update(key)
        opened[key] = pair.open
        risky[key] = pair.at_risk
    ordered = sorted(teams, key=lambda t: (t == NO_TEAM, t))
    return DependencyMatrix(tuple(ordered), opened, risky)


def _release_chart(report: ReleaseReport) -> Chart | None:
    if not report.teams:
        return None
    months = [m.month.strftime("%Y-%m") for m in report.portfolio.monthly]
    return bar_chart(
        "releases-per-month",
        "Releases shipped per month",
        [
            Series(row.team or NO_TEAM, months, [m.released for m in row.monthly])
            for row in report.teams
        ],
        x_title="month",
        y_title="releases",
        kind="releases",
    )


def _schedule(
    reads: RequestReads, computed: Computed, dashboard: DashboardReads, team: str | None
) -> tuple[TeamSchedule, ...]:
    items = computed.inputs.items
    today = computed.today
    forecasts = item_forecasts(items, computed.forecasts, today)
    variances = {v.team: v for v in team_variances(schedule_variances(items, forecasts, today))}
    moves = {m.team: m for m in team_date_moves(date_moves(items, computed.inputs.date_moves))}
    traditional = [(d.source, d.team) for d in computed.deliveries if d.method == "traditional"]
    met = {(m.source, m.team): m for m in milestones(items, traditional, today)}
    moving: dict[str, bool] = defaultdict(bool)
    for item in items:
        if item.team and item.started is not None:
            moving[item.team] = True
    values = by_metric(dashboard.values("team", metrics=FLOW_METRICS))
    rows = []
    for d in computed.deliveries:
        if team is not None and d.team != team:
            continue
        flow = values.get(d.team, {})

        def last(metric: str, flow: dict[str, list[KpiValue]] = flow) -> float | None:
            found = flow.get(metric)
            return found[-1].value if found else None

        v = variances.get(d.team)
        m = met.get((d.source, d.team))
        moved = moves.get(d.team)
        rows.append(
            TeamSchedule(
                source=d.source,
                team=d.team,
                method=d.method,
                measures=measures_for(d.method, moves=moving[d.team]),
                done_in_window=last("done_in_window"),
                cycle_time_p85_days=last("cycle_time_p85_days"),
                wip=last("wip"),
                dated=v.dated if v else 0,
                measured=v.measured if v else 0,
                late=v.late if v else 0,
                median_variance_days=v.median_days if v else None,
                milestones_met=m.met if m else None,
                milestones_missed=m.missed if m else None,
                milestones_pending=m.pending if m else None,
                milestones_share_met=m.share_met if m else None,
                moved_later=moved.items_moved_later if moved else 0,
                moves_later=moved.moves_later if moved else 0,
                days_later=moved.days_later if moved else 0,
            )
        )
    rows.sort(key=lambda r: (r.method != "traditional", r.team, r.source))
    return tuple(rows)


def build_strategy(
    reads: RequestReads, computed: Computed, dashboard: DashboardReads, filters: Filters
) -> StrategyPage:
    """The page's data; the team filter narrows it as `portfolio --team` does."""
    teams = computed.team_names
    team = filters.team if filters.team in teams else None
    overview = reads.overview(computed, team=team)
    themes = _themes(overview.strategy)
    at_risk = overview.dependencies.at_risk()
    text = reads.text({d.blocker for d in at_risk})
    rows = []
    for d in at_risk:
        title, url = text.get(d.blocker, ("", ""))
        rows.append(
            DependencyRow(
                d.blocker[1], d.blocker[0], title, url, d.blocker_team, d.waiting[1],
                "at_risk", "at risk", tuple(risk_words(d, r) for r in d.risks),
                d.blocker_finish.isoformat() if d.blocker_finish else None,
            )
        )  # fmt: skip
    releases = overview.releases
    words = [(row.team or NO_TEAM, delivery_words(row)) for row in releases.teams]
    if team is None and len(releases.teams) != 1:  # one team's page: that team alone
        words.append(("All teams", delivery_words(releases.portfolio)))
    return StrategyPage(
        filters=filters,
        today=computed.today,
        unknown_team=bool(filters.team) and team is None,
        window_first=overview.strategy.window.first,
        window_last=overview.strategy.window.last,
        themes=themes,
        unplanned_room=overview.strategy.unplanned_room,
        theme_chart=_theme_chart(themes),
        trend_chart=_trend_chart(overview.strategy),
        matrix=_matrix(overview.dependencies),
        at_risk=tuple(rows),
        releases=releases,
        release_chart=_release_chart(releases),
        release_words=tuple(words),
        schedule=_schedule(reads, computed, dashboard, team),
        teams=tuple(teams),
    )
