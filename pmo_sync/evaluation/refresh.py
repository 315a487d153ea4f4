"""The I/O edge of the KPI and governance engines: read the store, compute, save what changed.

One read of the store feeds both: the KPI run's per-item metrics are what
the governance rules judge, so both see the same `now` and the same data.
Every item and sprint is read with its team as identified (`pmo_sync.kpi.teams`):
two sources' "Team Alpha" stay two teams unless kpis.yaml's `teams:` merges them,
and the notices saying so travel with the result for the command to print.

When the store holds requests, the portfolio answers are computed after the KPIs, as of the
same day (`evaluation.portfolio_facts`): the rules judge them as `PortfolioFacts`, and the open
requests' forecasts are kept with the KPI values (docs/portfolio.md, "The portfolio answers in
the KPI refresh"), and each forecast that moved is added to its dated history
(`pmo_sync.store.forecast_history`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from pmo_sync.evaluation.inputs import (
    ItemDetails,
    read_sprints,
    read_status_stages,
    read_team_pairs,
)
from pmo_sync.evaluation.kept import KeptState, read_inputs
from pmo_sync.evaluation.marks import RefreshMark, current_mark, keep_mark
from pmo_sync.evaluation.policy_teams import policy_team_notices
from pmo_sync.evaluation.portfolio_facts import (
    PortfolioAnswers,
    has_requests,
    portfolio_answers,
    request_values,
)
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.governance.engine import evaluate
from pmo_sync.governance.facts import link_parents, team_facts
from pmo_sync.governance.model import Finding, ItemFacts, PortfolioFacts
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.compute import KpiRun, compute_kpis, gc_frozen, kpi_values
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.kpi.model import ItemHistory, SprintInfo
from pmo_sync.kpi.teams import TeamIdentities, resolve_teams
from pmo_sync.portfolio.config import PortfolioConfig
from pmo_sync.store.findings import FindingChanges, save_findings
from pmo_sync.store.forecast_history import ForecastPoint, save_forecasts
from pmo_sync.store.kpis import KeptValuesStale, KpiValue, save_kpi_values
from pmo_sync.store.results import LoadCounts

__all__ = ["KpiRefresh", "forecast_points", "item_facts", "refresh_kpis", "stored_values"]


@dataclass(frozen=True, slots=True)
class KpiRefresh:
    run: KpiRun
    saved: LoadCounts
    findings: list[Finding] = field(default_factory=list)
    finding_changes: FindingChanges | None = None
    teams: TeamIdentities = field(default_factory=TeamIdentities)
    """Which team each source's team is, and the notices about shared or unknown names."""
    portfolio: PortfolioAnswers | None = None
    """The portfolio answers (None: the store holds no item at a request level)."""
    mark: RefreshMark | None = None
    """What this refresh computed from (`pmo_sync.evaluation.marks`), kept once all is saved."""

    def values(self) -> Iterator[KpiValue]:
        """Every value the refresh kept: the run's and the open requests' forecasts."""
        return stored_values(self.run, self.portfolio)


def item_facts(history: ItemHistory, details: ItemDetails, metrics: ItemMetrics) -> ItemFacts:
    """What the rules see of one stored item, from its columns: the description, acceptance
    criteria, checklist and (when the tracker said it) the parent's type are what the item's
    connector put in its record; `link_parents` fills the other parents' types."""
    return ItemFacts(
        history=history,
        metrics=metrics,
        title=details.title,
        updated=details.last_activity or details.updated,
        description=details.description,
        assignee=details.assignee,
        flagged=details.flagged,
        labels=details.labels,
        parent_type=details.parent_type,
        acceptance_criteria=details.acceptance_criteria,
        checklist=details.checklist,
        url=details.url,
    )


@dataclass(frozen=True, slots=True)
class _Computed:
    inputs: list[tuple[ItemHistory, ItemDetails | None]]
    sprints: list[SprintInfo]
    run: KpiRun
    teams: TeamIdentities
    portfolio: PortfolioAnswers | None


def _compute(
    engine: Engine,
    config: KpiConfig,
    *,
    details: bool,
    now: datetime,
    since: date | None,
    portfolio: PortfolioConfig,
    kept: KeptState | None = None,
) -> _Computed:
    """The store's items (with their details when findings are wanted), sprints, the run, and
    the portfolio answers as of the run's last day when the store has requests. With `kept`
    (a service's), only the items that changed since its last refresh are read."""
    teams = resolve_teams(read_team_pairs(engine), config)
    inputs = read_inputs(
        engine,
        None if kept is None else kept.inputs,
        details=details,
        team_of=teams.team_of,
        shown=teams.shown,
    ).inputs
    sprints = read_sprints(engine, team_of=teams.team_of)
    stages = read_status_stages(engine)
    with gc_frozen():
        run = compute_kpis(
            [history for history, _ in inputs],
            sprints,
            config,
            stages,
            now,
            since,
            None if kept is None else kept.run,
        )
    answers = None
    options = config.options()
    requests = portfolio.requests
    if has_requests(engine, requests.request_levels, requests.request_types):
        read = read_portfolio_inputs(
            engine, config, portfolio.themes, request_types=requests.request_types
        )
        answers = portfolio_answers(
            read.items,
            read.dependencies,
            read.date_moves,
            {(h.source, h.key): h for h, _ in inputs},
            portfolio,
            stages,
            run.zone,
            (run.start, run.end),
            trials=options.forecast_trials,
            seed=options.forecast_seed,
            history_days=options.forecast_history_days,
        )
    return _Computed(inputs, sprints, run, teams, answers)


def stored_values(
    run: KpiRun, portfolio: PortfolioAnswers | None, skip_items: Collection[str] = ()
) -> Iterator[KpiValue]:
    """The run's values and, with requests, each open request's forecast, named as the
    items' values name the request (`run.item_scope_keys`); none of the items whose scope
    keys are in `skip_items`."""
    yield from kpi_values(run, skip_items)
    if portfolio is not None:
        refs = [
            (source, m.key) for source, m in zip(run.item_sources, run.flow.metrics, strict=True)
        ]
        yield from request_values(
            portfolio.forecasts,
            run.end,
            dict(zip(refs, run.item_scope_keys, strict=True)),
            {ref: m.team for ref, m in zip(refs, run.flow.metrics, strict=True)},
        )


def forecast_points(
    portfolio: PortfolioAnswers, today: date
) -> Iterator[tuple[str, str, ForecastPoint]]:
    """Each open request's forecast as a dated history point (table `request_forecasts`)."""
    for f in portfolio.forecasts:
        yield (
            f.ref[0],
            f.ref[1],
            ForecastPoint(
                today,
                f.dates.get(50),
                f.dates.get(85),
                f.dates.get(95),
                f.due_date,
                f.due_probability,
                f.scope.items_remaining,
            ),
        )


def evaluate_store(
    engine: Engine,
    config: KpiConfig,
    *,
    rules: Sequence[RuleConfig],
    now: datetime | None = None,
    since: date | None = None,
    portfolio: PortfolioConfig | None = None,
) -> tuple[KpiRun, list[Finding]]:
    """Every KPI and finding as of `now`, from the store, without saving anything.

    `refresh_kpis` is this plus the saves; `evaluate_store_for_push` adds the portfolio
    answers a push plans from.
    """
    run, findings, _portfolio = evaluate_store_for_push(
        engine, config, rules=rules, now=now, since=since, portfolio=portfolio
    )
    return run, findings


def evaluate_store_for_push(
    engine: Engine,
    config: KpiConfig,
    *,
    rules: Sequence[RuleConfig],
    now: datetime | None = None,
    since: date | None = None,
    portfolio: PortfolioConfig | None = None,
) -> tuple[KpiRun, list[Finding], PortfolioFacts | None]:
    """`evaluate_store` and the portfolio answers' facts (None: the store holds no request):
    what `pmo-sync status` plans pending write-backs from, as a push would
    (`push_connector`'s `portfolio`: the open requests' forecast fields and sentences)."""
    done = _compute(
        engine,
        config,
        details=True,
        now=now or datetime.now(UTC),
        since=since,
        portfolio=portfolio or PortfolioConfig(),
    )
    facts = None if done.portfolio is None else done.portfolio.facts
    return done.run, _findings(rules, done), facts


def _findings(rules: Sequence[RuleConfig], done: _Computed) -> list[Finding]:
    facts = [
        item_facts(history, details, metrics)
        for (history, details), metrics in zip(done.inputs, done.run.flow.metrics, strict=True)
        if details is not None
    ]
    return evaluate(
        rules,
        link_parents(facts),
        team_facts(done.run, done.sprints),
        done.run.now,
        None if done.portfolio is None else done.portfolio.facts,
    )


def _save_values(
    engine: Engine, done: _Computed, now: datetime, kept: KeptState | None
) -> LoadCounts:
    """Save the run's values; with `kept`, an item whose metrics are the very ones last saved
    under the same key (`RunMemo` hands unchanged items the same metrics object) is not even
    turned into values: its stored values are as they are, unless another save came between
    (`KeptValuesStale`: then every value is given)."""
    run, portfolio = done.run, done.portfolio
    if kept is None:
        return save_kpi_values(engine, stored_values(run, portfolio), now)
    last = kept.saved_items
    same = {
        key
        for key, metrics in zip(run.item_scope_keys, run.flow.metrics, strict=True)
        if last.get(key) is metrics
    }
    try:
        saved = save_kpi_values(
            engine,
            stored_values(run, portfolio, same),
            now,
            kept.values,
            [("item", key) for key in same],
        )
    except KeptValuesStale:
        saved = save_kpi_values(engine, stored_values(run, portfolio), now, kept.values)
    kept.saved_items = dict(zip(run.item_scope_keys, run.flow.metrics, strict=True))
    return saved


def refresh_kpis(
    engine: Engine,
    config: KpiConfig,
    *,
    rules: Sequence[RuleConfig] | None = None,
    now: datetime | None = None,
    since: date | None = None,
    portfolio: PortfolioConfig | None = None,
    kept: KeptState | None = None,
) -> KpiRefresh:
    """Recompute every KPI (and, given rules, every finding) from the store, and keep them.

    `kept` is what a service keeps between its refreshes (`pmo_sync.evaluation.kept`): the
    result is the same, read in proportion to what changed.

    Unchanged KPI values are not rewritten. Findings are saved only when
    `rules` is given (an empty list resolves every open finding). When the store
    holds requests (items at portfolio.yaml's request levels; `portfolio` None: the
    defaults, epics and features), the portfolio answers are computed too: the open
    requests' forecasts are kept with the KPIs (and in their history when they moved), and
    the portfolio rules judge them.
    """
    now = now or datetime.now(UTC)
    portfolio = portfolio or PortfolioConfig()
    # read before any data: a sync landing meanwhile leaves this mark behind (marks.py)
    mark = current_mark(engine, config, rules=rules, portfolio=portfolio, since=since, now=now)
    done = _compute(
        engine,
        config,
        details=rules is not None,
        now=now,
        since=since,
        portfolio=portfolio,
        kept=kept,
    )
    with gc_frozen():
        saved = _save_values(engine, done, now, kept)
    if done.portfolio is not None:
        save_forecasts(engine, forecast_points(done.portfolio, done.run.end))
    if rules is None:
        keep_mark(engine, mark, now)
        return KpiRefresh(done.run, saved, teams=done.teams, portfolio=done.portfolio, mark=mark)
    findings = _findings(rules, done)
    changes = save_findings(engine, findings, now)
    keep_mark(engine, mark, now)
    stale = tuple(policy_team_notices(rules, done.teams.names))
    teams = replace(done.teams, notices=(*done.teams.notices, *stale))
    return KpiRefresh(done.run, saved, findings, changes, teams, done.portfolio, mark)
