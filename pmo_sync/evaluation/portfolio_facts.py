"""The portfolio answers computed with the KPI refresh: what the portfolio rules judge, and the
request forecasts the store keeps (issue 17).

The refresh reads the store once as the answers' plain data (`portfolio_inputs`) and computes,
as of the KPI run's last day: the request forecasts, the dependency risks on their p85, the
theme shares over the KPI window (portfolio.yaml's themes; none: no shares), the date moves
of the open items, and each request's funnel stage and the day it entered it. Those are the
governance engine's `PortfolioFacts`; the open requests' forecasts are also kept as KPI values
(scope ``request``, `request_values`).

Everything here but `has_requests` is pure: the refresh passes what it read. A store with no
item at a request level pays one EXISTS query and nothing else (`has_requests`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import Engine, Table, exists, func, or_, select

from pmo_sync.domain import Stage
from pmo_sync.governance.model import PortfolioFacts, RequestFacts
from pmo_sync.kpi.compute import date_value
from pmo_sync.kpi.days import local_date
from pmo_sync.kpi.model import ItemHistory
from pmo_sync.portfolio.config import FunnelConfig, FunnelStage, PortfolioConfig
from pmo_sync.portfolio.dependency_risk import dependency_risks
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.portfolio.funnel import funnel_stage
from pmo_sync.portfolio.items import ItemRef, PortfolioItem
from pmo_sync.portfolio.model import DateMove, Dependency, WorkItem
from pmo_sync.portfolio.overview import item_forecasts
from pmo_sync.portfolio.schedule import date_moves
from pmo_sync.portfolio.strategy import StrategyAnswer, strategy_shares
from pmo_sync.store.kpis import KpiValue
from pmo_sync.store.models import WorkItemRow

__all__ = [
    "REQUEST_PERCENTILES",
    "PortfolioAnswers",
    "funnel_since",
    "has_requests",
    "portfolio_answers",
    "request_values",
]

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]

REQUEST_PERCENTILES = (50, 85)
"""The forecast dates kept per request: the coin toss and the date a PMO plans with."""


def has_requests(
    engine: Engine, request_levels: Collection[str], request_types: Collection[str] = ()
) -> bool:
    """Whether any live item sits at a request level or is of a request type (casefolded
    names, `RequestsConfig.request_types`): one EXISTS query, so a store without requests
    skips the portfolio read and every answer."""
    if not request_levels and not request_types:
        return False
    query = select(
        exists().where(
            _items.c.deleted_at.is_(None),
            ~(_items.c.archived & (_items.c.stage != Stage.DONE.value)),
            or_(
                _items.c.level.in_(list(request_levels)),
                func.lower(_items.c.raw_type).in_(list(request_types)),
            ),
        )
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def _funnel_of(
    status: str, source: str, funnel: FunnelConfig, stages: Mapping[str, Mapping[str, Stage]]
) -> FunnelStage | None:
    stage = stages.get(source, {}).get(status)
    item = PortfolioItem(
        source=source,
        key="",
        status=status,
        status_category=None if stage is None else stage.value,
    )
    return funnel_stage(item, funnel)


def funnel_since(
    history: ItemHistory,
    funnel: FunnelConfig,
    stages: Mapping[str, Mapping[str, Stage]],
    zone: tzinfo,
) -> tuple[FunnelStage | None, date | None]:
    """The request's funnel stage now and the day (in `zone`) it entered it, from its status
    history: the first of the trailing run of statuses in that stage (a move between two
    statuses of one stage keeps the day; a move out and back starts it again). A request
    still in its first stage has been there since it was created. `stages` is each source's
    status → stage (the statuses' categories). Outside the funnel: (None, None)."""
    entries = [(history.created, history.initial_status)]
    entries += [(change.at, change.to_status) for change in history.status_changes]
    current = history.status or entries[-1][1]
    if current != entries[-1][1]:  # the stored status is newer than the last change logged
        return _funnel_of(current, history.source, funnel, stages), None
    now = _funnel_of(current, history.source, funnel, stages)
    if now is None:
        return None, None
    since = entries[-1][0]
    for at, status in reversed(entries):
        if _funnel_of(status, history.source, funnel, stages) != now:
            break
        since = at
    return now, local_date(since, zone)


@dataclass(frozen=True, slots=True)
class PortfolioAnswers:
    """What the refresh computed: the rules' facts and the forecasts it keeps."""

    facts: PortfolioFacts
    forecasts: tuple[RequestForecast, ...]


def portfolio_answers(
    items: Sequence[WorkItem],
    dependencies: Iterable[Dependency],
    moves: Iterable[DateMove],
    histories: Mapping[ItemRef, ItemHistory],
    config: PortfolioConfig,
    stages: Mapping[str, Mapping[str, Stage]],
    zone: tzinfo,
    window: tuple[date, date],
    *,
    trials: int = 10_000,
    seed: int = 0,
    history_days: int = 90,
) -> PortfolioAnswers:
    """Every portfolio answer the rules read, as of `window`'s last day (today).

    `histories` are the items' KPI histories (for the funnel's since-when); a request without
    one gets its stage from nothing (None, None). Strategy shares only with themes. `trials`,
    `seed` and `history_days` are kpis.yaml's `forecast:` (`KpiOptions`), as `pmo-sync
    portfolio` and the pages forecast with them: the same answers everywhere.
    """
    first, today = window
    levels = config.requests.request_levels
    forecasts = request_forecasts(
        items, today, levels=levels, trials=trials, seed=seed, history_days=history_days
    )
    by_request = {f.ref: f for f in forecasts}
    by_ref = {item.ref: item for item in items}
    report = dependency_risks(
        dependencies, by_ref, item_forecasts(items, forecasts, today), today, levels
    )
    requests = []
    for item in items:
        if item.level not in levels:
            continue
        history = histories.get(item.ref)
        stage, since = (
            funnel_since(history, config.requests.funnel, stages, zone)
            if history is not None
            else (None, None)
        )
        requests.append(
            RequestFacts(
                request=item,
                forecast=by_request.get(item.ref),
                funnel_stage=stage,
                funnel_since=since,
                waiting_on=report.waiting_on(item.ref),
            )
        )
    strategy: StrategyAnswer | None = None
    team_strategy: dict[str, StrategyAnswer] = {}
    if config.themes:
        strategy = strategy_shares(items, config.themes, first, today, levels)
        by_team: dict[str, list[WorkItem]] = defaultdict(list)
        for item in items:
            by_team[item.team or ""].append(item)
        team_strategy = {
            team: strategy_shares(own, config.themes, first, today, levels)
            for team, own in sorted(by_team.items())
        }
    facts = PortfolioFacts(
        today=today,
        requests=tuple(requests),
        date_moves=tuple(date_moves([i for i in items if i.is_open], moves)),
        strategy=strategy,
        team_strategy=team_strategy,
    )
    return PortfolioAnswers(facts, tuple(forecasts))


def request_values(
    forecasts: Iterable[RequestForecast],
    today: date,
    scope_keys: Mapping[ItemRef, str],
    teams: Mapping[ItemRef, str | None],
) -> Iterator[KpiValue]:
    """Each open request's forecast as stored values (scope ``request``), as the epics' are:
    `remaining_items` (window ``current``), `forecast_done_p50_date` and `..._p85_date` (days
    since 1970-01-01; None beyond the horizon or without a forecast) and `due_probability`
    (None without a due date or a forecast), these three under the window
    ``<today>/+<remaining> items`` that says which day and which scope they were made for.

    The key is the request's as the items' values name it (qualified by source only where
    two sources share a key). The store keeps the latest forecast only, as for epics: a new
    day replaces the values, and the unchanged ones are not rewritten.
    """
    for forecast in forecasts:
        key = scope_keys.get(forecast.ref, f"{forecast.ref[0]}:{forecast.ref[1]}")
        team = teams.get(forecast.ref)
        remaining = forecast.scope.items_remaining
        window = f"{today.isoformat()}/+{remaining} items"
        yield KpiValue("request", key, "remaining_items", "current", float(remaining), team)
        for p in REQUEST_PERCENTILES:
            day = forecast.dates.get(p)
            value = None if day is None else date_value(day)
            yield KpiValue("request", key, f"forecast_done_p{p}_date", window, value, team)
        yield KpiValue("request", key, "due_probability", window, forecast.due_probability, team)
