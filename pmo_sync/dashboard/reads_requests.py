"""The portfolio answers the request and strategy pages show: the path `pmo-sync portfolio`
and `pmo-sync when KEY` take (`pmo_sync.cli.portfolio`), so a page says what the command says.

The store is read as the answers' plain data (`evaluation.portfolio_inputs`) with kpis.yaml
(zone, workflows, teams, the forecast's trials, seed and history) and portfolio.yaml (themes,
request levels, funnel, delivery methods); every open request is forecast as of the page's
day (`portfolio.forecast.request_forecasts`); the pages then put the pure answers together
(`portfolio.overview.portfolio_overview`, `when_answer`, `dependency_risks` on the p85, the
schedule answers). Nothing is written.

The forecasts are a Monte Carlo run over every request at once (10,000 trials by default),
too much to redo for each page a reader opens: `RequestReads` keeps the last computation
and reuses it while the day and the store's sync runs are the same (one small query says
whether a sync finished since). A new sync or a new day computes again, once.

`when_answer` walks every item to find what is ahead of one request (400 ms at 100k items):
right for one `when KEY`, too slow for the report's page per request (2,000 of them). So
`RequestReads.when` answers from `QueueIndex`, which makes that walk once for every request
and then says each one's `when_answer` (tests/dashboard/test_requests_pages.py checks that
the two agree on every request).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, Table, func, select

from pmo_sync.evaluation.item_titles import read_item_text
from pmo_sync.evaluation.portfolio_inputs import PortfolioInputs, read_portfolio_inputs
from pmo_sync.governance.rules import DueDateUnlikelyParams
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import FunnelStage, PortfolioConfig
from pmo_sync.portfolio.delivery import TeamDelivery, team_deliveries
from pmo_sync.portfolio.dependency_risk import DependencyReport, DependencyRisk, dependency_risks
from pmo_sync.portfolio.forecast import RequestForecast, TeamRef, queue_order, request_forecasts
from pmo_sync.portfolio.funnel import funnel_stage
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import WorkItem, ancestors
from pmo_sync.portfolio.overview import (
    Ahead,
    PortfolioOverview,
    WhenAnswer,
    item_forecasts,
    portfolio_overview,
)
from pmo_sync.portfolio.stored import portfolio_items
from pmo_sync.portfolio.work import is_work
from pmo_sync.store.forecast_history import ForecastPoint, forecast_histories
from pmo_sync.store.models import SyncRunRow
from pmo_sync.store.teams import stored_teams

__all__ = [
    "AT_RISK_BELOW",
    "Computed",
    "PortfolioSettings",
    "QueueIndex",
    "RequestReads",
    "SettingsSource",
    "StoredRequest",
]

_runs: Table = SyncRunRow.__table__  # type: ignore[assignment]

AT_RISK_BELOW = DueDateUnlikelyParams().min_probability
"""A request less likely than this to meet its due date is marked at risk: the default of
the portfolio rule `due_date_unlikely` (docs/governance.md), so the page and the finding
agree unless a policy tunes the rule."""


@dataclass(frozen=True, slots=True)
class PortfolioSettings:
    """What the answers read beside the store: kpis.yaml and portfolio.yaml, as loaded by
    the command that serves the pages (the defaults: no file at all)."""

    kpis: KpiConfig = field(default_factory=KpiConfig)
    portfolio: PortfolioConfig = field(default_factory=PortfolioConfig)

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.portfolio.requests.request_levels)


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request's status in its tracker and its funnel stage (portfolio.yaml's funnel)."""

    status: str | None
    funnel_stage: FunnelStage | None


@dataclass(frozen=True, slots=True)
class Computed:
    """Every answer of one day over one store state, computed once and shared by the pages."""

    today: date
    inputs: PortfolioInputs
    forecasts: tuple[RequestForecast, ...]
    dependencies: DependencyReport
    """Every dependency judged on the p85 (as `when` judges them), before any filter."""
    requests: Mapping[ItemRef, StoredRequest]
    """Every item at a request level (open or done), by ref."""
    deliveries: tuple[TeamDelivery, ...]
    by_ref: Mapping[ItemRef, WorkItem]
    queues: QueueIndex
    waiting_for: Mapping[ItemRef, tuple[DependencyRisk, ...]]
    """Item → the open dependencies whose blocker is it or an item under it: what waits on
    it (one pass over the dependencies, not one a page)."""
    waiting_on: Mapping[ItemRef, tuple[DependencyRisk, ...]]
    """Item → `dependencies.waiting_on(item)`, for every item at once (5,000 links scanned
    once, not once a request page)."""
    overviews: dict[tuple[str | None, str | None], PortfolioOverview] = field(
        default_factory=dict, compare=False
    )
    """`RequestReads.overview`'s answers kept per (team, theme): the pages of one day ask
    for the same few again."""

    @property
    def team_names(self) -> list[str]:
        """The teams of the items, as `--team` takes them."""
        return sorted({item.team for item in self.inputs.items if item.team})


SettingsSource = PortfolioSettings | Callable[[], PortfolioSettings]
"""The settings, or how to get the current ones (the service's, which a reload replaces)."""


class RequestReads:
    """The portfolio answers of one store for the pages; see the module docstring."""

    def __init__(self, engine: Engine, settings: SettingsSource | None = None) -> None:
        self.engine = engine
        self._settings = settings or PortfolioSettings()
        self._lock = threading.Lock()
        self._kept: tuple[tuple[object, ...], Computed] | None = None

    @property
    def settings(self) -> PortfolioSettings:
        source = self._settings
        return source if isinstance(source, PortfolioSettings) else source()

    def _store_state(self) -> object:
        """What changes when a sync writes: the count of sync runs and the last one's end."""
        with self.engine.connect() as conn:
            count, last = conn.execute(select(func.count(), func.max(_runs.c.finished_at))).one()
        return (int(count), last)

    def computed(self, today: date) -> Computed:
        """The answers as of `today`, computed once per day, store state and settings."""
        settings = self.settings
        key = (today, self._store_state(), id(settings.kpis), id(settings.portfolio))
        with self._lock:
            if self._kept is not None and self._kept[0] == key:
                return self._kept[1]
            result = self._compute(today, settings)
            self._kept = (key, result)
            return result

    def _compute(self, today: date, settings: PortfolioSettings) -> Computed:
        options = settings.kpis.options()
        requests_config = settings.portfolio.requests
        inputs = read_portfolio_inputs(
            self.engine,
            settings.kpis,
            settings.portfolio.themes,
            request_types=requests_config.request_types,
        )
        levels = settings.levels
        forecasts = request_forecasts(
            inputs.items,
            today,
            levels=levels,
            trials=options.forecast_trials,
            seed=options.forecast_seed,
            history_days=options.forecast_history_days,
        )
        by_ref = {item.ref: item for item in inputs.items}
        report = dependency_risks(
            inputs.dependencies,
            by_ref,
            item_forecasts(inputs.items, forecasts, today),
            today,
            levels,
        )
        funnel = requests_config.funnel
        wanted = {ref for ref, item in by_ref.items() if item.level in levels}
        requests = {
            p.ref: StoredRequest(p.status, funnel_stage(p, funnel))
            for p in portfolio_items(self.engine, facts=())
            if p.ref in wanted
        }
        teams = team_deliveries(
            ((t.source, t.name, t.method) for t in stored_teams(self.engine)),
            settings.portfolio.delivery,
        )
        queues = QueueIndex(inputs.items, by_ref, today, levels)
        waiting_for: dict[ItemRef, list[DependencyRisk]] = defaultdict(list)
        for d in report.dependencies:
            if d.is_open and d.blocker in by_ref:
                for above in (d.blocker, *ancestors(by_ref[d.blocker], by_ref)):
                    waiting_for[above].append(d)
        waiting_on: dict[ItemRef, list[DependencyRisk]] = defaultdict(list)
        for d in report.dependencies:  # DependencyReport.waiting_on's test, for every ref
            if d.is_open:
                for ref in {d.waiting, d.waiting_request} - {None}:
                    waiting_on[ref].append(d)  # type: ignore[index]
        return Computed(
            today, inputs, tuple(forecasts), report, requests, tuple(teams), by_ref, queues,
            {ref: tuple(found) for ref, found in waiting_for.items()},
            {ref: tuple(found) for ref, found in waiting_on.items()},
        )  # fmt: skip

    def overview(
        self, computed: Computed, *, team: str | None = None, theme: str | None = None
    ) -> PortfolioOverview:
        """`pmo-sync portfolio [--team T] [--theme T]`'s answer."""
        kept = computed.overviews.get((team, theme))
        if kept is not None:
            return kept
        inputs = computed.inputs
        answer = portfolio_overview(
            inputs.items,
            computed.forecasts,
            inputs.dependencies,
            inputs.releases,
            self.settings.portfolio.themes,
            computed.today,
            levels=self.settings.levels,
            team=team,
            theme=theme,
        )
        computed.overviews[team, theme] = answer
        return answer

    def when(self, computed: Computed, ref: ItemRef) -> WhenAnswer:
        """`pmo-sync when KEY`'s answer (`when_answer`'s) for a request of the store."""
        stored = computed.requests.get(ref)
        item = computed.by_ref[ref]
        forecast = next((f for f in computed.forecasts if f.ref == ref), None)
        today = computed.today
        return WhenAnswer(
            ref=ref,
            level=item.level,
            funnel_stage=stored.funnel_stage if stored else None,
            done_on=item.done if item.done is not None and item.done <= today else None,
            forecast=forecast,
            ahead=computed.queues.ahead(forecast) if forecast is not None else (),
            waiting_on=computed.waiting_on.get(ref, ()),
        )

    def text(self, refs: Collection[ItemRef]) -> dict[ItemRef, tuple[str, str]]:
        """Each item's (title, url) in its tracker."""
        return dict(read_item_text(self.engine, refs))

    def history(self, ref: ItemRef) -> list[ForecastPoint]:
        """The request's kept forecasts (table request_forecasts), oldest first."""
        return forecast_histories(self.engine, ref).get(ref, [])

    def find(self, computed: Computed, source: str, key: str) -> ItemRef | None:
        """The request `key` of connector `source` (the key in any case), if it is one."""
        if (source, key) in computed.requests:
            return (source, key)
        folded = key.casefold()
        return next(
            (r for r in computed.requests if r[0] == source and r[1].casefold() == folded), None
        )


class QueueIndex:
    """What is ahead of each request on its teams, as `when_answer` says it (`Ahead`), from
    one walk over the items instead of one a request.

    The walk is `when_answer`'s: each open work item with a team, under at least one open
    request, belongs to its nearest open request (its *owner*) on its team; a request's own
    owners on a team are the owners of the items below it. What is ahead of a request on a
    team is every other owner there queued before its last own owner (`queue_order`), in
    that order, with their remaining items: `owned` is the same for every request, `mine`
    is gathered for all of them at once."""

    def __init__(
        self,
        items: Sequence[WorkItem],
        by_ref: Mapping[ItemRef, WorkItem],
        today: date,
        levels: Collection[str],
    ) -> None:
        wanted = frozenset(levels)

        def open_on(item: WorkItem) -> bool:
            return item.created <= today and not (item.done is not None and item.done <= today)

        self._by_ref = by_ref
        self._owned: dict[TeamRef, Counter[ItemRef]] = defaultdict(Counter)
        self._mine: dict[ItemRef, dict[TeamRef, set[ItemRef]]] = defaultdict(
            lambda: defaultdict(set)
        )
        for item in items:
            if not (is_work(item) and item.level not in wanted and open_on(item) and item.team):
                continue
            requests = [
                r
                for r in ancestors(item, by_ref)
                if by_ref[r].level in wanted and open_on(by_ref[r])
            ]
            if not requests:
                continue
            team = (item.ref[0], item.team)
            self._owned[team][requests[0]] += 1
            for request in requests:
                self._mine[request][team].add(requests[0])

    def ahead(self, forecast: RequestForecast) -> tuple[Ahead, ...]:
        """`when_answer(...).ahead` for the request `forecast` is of."""
        mine = self._mine.get(forecast.ref, {})
        result = []
        for team in forecast.remaining_by_team:
            own = mine.get(team)
            if forecast.share is not None or not own:
                continue
            owned = self._owned[team]
            last = max(queue_order(self._by_ref[o]) for o in own)
            before = sorted(
                (o for o in owned if o not in own and queue_order(self._by_ref[o]) < last),
                key=lambda o: queue_order(self._by_ref[o]),
            )
            result.append(
                Ahead(team, sum(owned[o] for o in before), tuple((o, owned[o]) for o in before))
            )
        return tuple(result)
