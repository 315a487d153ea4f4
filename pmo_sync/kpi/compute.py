"""One KPI computation over the whole store: flow, sprints, forecasts, and the values to keep.

`compute_kpis` takes plain inputs (item histories, sprints, the KPI config and
each source's status categories) and returns a `KpiRun`; `kpi_values` flattens
it into the rows the store keeps and `pmo-sync kpis` prints. Nothing here does
I/O: `pmo_sync.evaluation.refresh` reads the store and saves the values.

Windows: daily and weekly series cover the reporting window, by default the
last twelve whole weeks and the current one (Monday-aligned, so every weekly
value is a whole week except the current one).
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pmo_sync.domain import Stage
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.days import local_date, week_start
from pmo_sync.kpi.forecast import (
    NOT_COUNTED_TYPES,
    EpicForecast,
    NoThroughputError,
    daily_throughput_of_days,
    epic_forecasts,
    team_outlook,
    team_seed,
)
from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.kpi.model import ItemHistory, KpiOptions, SprintInfo, Workflow
from pmo_sync.kpi.sprints import SprintMemo, SprintMetrics, sprint_metrics, velocity
from pmo_sync.kpi.team import FlowMemo, FlowReport, FlowSummary, _native_zone, flow_report
from pmo_sync.kpi.timeline import with_status_categories
from pmo_sync.store.kpis import KpiValue

__all__ = [
    "FORECAST_PERCENTILES",
    "KpiRun",
    "RunMemo",
    "TeamForecast",
    "compute_kpis",
    "date_value",
    "default_window",
    "gc_frozen",
    "kpi_values",
    "team_workflows",
    "value_date",
]

FORECAST_PERCENTILES = (50, 85, 95)
WINDOW_WEEKS = 12
FORECAST_AHEAD_DAYS = 28
UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def date_value(day: date) -> float:
    """Dates are stored as days since 1970-01-01 (metrics ending in `_date`)."""
    return float(day.toordinal() - UNIX_EPOCH_ORDINAL)


def value_date(value: float) -> date:
    return date.fromordinal(int(value) + UNIX_EPOCH_ORDINAL)


def default_window(today: date) -> tuple[date, date]:
    return week_start(today) - timedelta(weeks=WINDOW_WEEKS), today


@dataclass(frozen=True, slots=True)
class TeamForecast:
    """When a team's open items will be done, and how many it finishes in the next four weeks."""

    team: str
    open_items: int
    when_done: dict[int, date | None]
    by_date: date
    how_many: dict[int, int]
    note: str | None = None
    done_shares: dict[date, float] = field(default_factory=dict)
    """Share of trials done on each day: the distribution `when_done` is read from."""
    count_shares: dict[int, float] = field(default_factory=dict)
    """Share of trials finishing each count by `by_date`: the distribution of `how_many`."""


@dataclass(slots=True)
class RunMemo:
    """What one KPI run computed that the next can take again when its inputs did not
    change: each item's flow metrics (`team.FlowMemo`) and each settled sprint's metrics
    (`sprints.SprintMemo`). A service keeps one (`pmo_sync.evaluation.kept`)."""

    flow: FlowMemo = field(default_factory=FlowMemo)
    sprints: SprintMemo = field(default_factory=SprintMemo)


@dataclass(slots=True)
class KpiRun:
    now: datetime
    start: date
    end: date
    flow: FlowReport
    sprints: list[SprintMetrics]
    velocity: dict[str, float]
    team_forecasts: dict[str, TeamForecast]
    epics: list[EpicForecast]
    workflows: dict[str, Workflow] = field(default_factory=dict)
    item_scope_keys: list[str] = field(default_factory=list)
    item_sources: list[str] = field(default_factory=list)  # parallel to flow.metrics
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def _workflows(
    items: Sequence[ItemHistory],
    config: KpiConfig,
    status_stages: Mapping[str, Mapping[str, Stage]],
) -> dict[str, Workflow]:
    """Each team's workflow, knowing the categories of every status its sources use."""
    sources_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        sources_of[item.team].add(item.source)
    return team_workflows(sources_of, config, status_stages)


def team_workflows(
    sources_of: Mapping[str, Iterable[str]],
    config: KpiConfig,
    status_stages: Mapping[str, Mapping[str, Stage]],
) -> dict[str, Workflow]:
    """Each team's workflow (team → the sources its items come from), knowing the categories
    of every status those sources use: the workflows a KPI run judges items by, for a reader
    that streams items and so must know them before the first item (the portfolio inputs)."""
    workflows: dict[str, Workflow] = {}
    for team, sources in sources_of.items():
        categories: dict[str, Stage] = {}
        for source in sorted(sources):
            categories.update(status_stages.get(source, {}))
        workflows[team] = with_status_categories(config.workflow_for(team, categories), categories)
    return workflows


def _team_forecast(
    team: str, open_items: int, samples: object, today: date, options: KpiOptions
) -> TeamForecast:
    """The team's four answers from one simulation (`team_outlook`: the same numbers as
    `when_done`, `how_many_by` and their `_shares`, which would each simulate it again)."""
    by_date = today + timedelta(days=FORECAST_AHEAD_DAYS - 1)
    seed = team_seed(options.forecast_seed, team)
    trials = options.forecast_trials
    try:
        outlook = team_outlook(
            open_items,
            by_date,
            samples,  # type: ignore[arg-type]
            today,
            trials,
            seed,
            FORECAST_PERCENTILES,
        )
    except NoThroughputError as exc:
        return TeamForecast(team, open_items, {}, by_date, {}, note=str(exc))
    return TeamForecast(
        team,
        open_items,
        outlook.when_done,
        by_date,
        outlook.how_many,
        None,
        outlook.done_shares,
        outlook.count_shares,
    )


def compute_kpis(
    items: Iterable[ItemHistory],
    sprints: Sequence[SprintInfo],
    config: KpiConfig,
    status_stages: Mapping[str, Mapping[str, Stage]],
    now: datetime,
    since: date | None = None,
    memo: RunMemo | None = None,
) -> KpiRun:
    """Every metric, for every team, the portfolio, every sprint and every open epic.

    `memo` (a service's) carries each item's flow metrics and each settled sprint's metrics
    from one run to the next (`RunMemo`): the same run, with what did not change taken
    again."""
    options = config.options()
    item_list = list(items)
    with gc_frozen():
        return _compute(item_list, sprints, config, options, status_stages, now, since, memo)


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Keep the cyclic collector off for the block's duration.

    A run holds millions of long-lived input objects; every full collection
    would walk them all while the metrics and values are being built. The
    collector is disabled rather than `gc.freeze()`d: freezing resets the
    generation counts, so in a long-running service whose every cycle freezes
    a full collection never comes, and garbage held in reference cycles (the
    Azure DevOps SDK's responses, with their open sockets) piles up. Nested use
    is safe: only the outermost block turns the collector back on, and only if
    it was on.
    """
    global _freeze_depth, _was_enabled
    if _freeze_depth == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _freeze_depth += 1
    try:
        yield
    finally:
        _freeze_depth -= 1
        if _freeze_depth == 0 and _was_enabled:
            gc.enable()


_freeze_depth = 0
_was_enabled = True


def _compute(
    items: list[ItemHistory],
    sprints: Sequence[SprintInfo],
    config: KpiConfig,
    options: KpiOptions,
    status_stages: Mapping[str, Mapping[str, Stage]],
    now: datetime,
    since: date | None,
    memo: RunMemo | None = None,
) -> KpiRun:
    today = local_date(now, options.zone)
    start, end = default_window(today)
    if since is not None:
        start = min(since, end)
    workflows = _workflows(items, config, status_stages)
    default = Workflow.from_categories({})
    flow = flow_report(
        items,
        lambda team: workflows.get(team, default),
        options,
        now,
        start,
        end,
        None if memo is None else memo.flow,
    )

    by_team: dict[str, list[ItemHistory]] = defaultdict(list)
    for item in items:
        by_team[item.team].append(item)
    sprints_by_team: dict[str, list[SprintInfo]] = defaultdict(list)
    for sprint in sprints:
        sprints_by_team[sprint.team].append(sprint)

    sprint_results: list[SprintMetrics] = []
    velocities: dict[str, float] = {}
    forecasts: dict[str, TeamForecast] = {}
    epics: list[EpicForecast] = []
    open_counts = Counter(
        item.team
        for item, metrics in zip(items, flow.metrics, strict=True)
        if metrics.done_at is None and item.item_type not in NOT_COUNTED_TYPES
    )
    samples = _throughput_samples(items, flow.metrics, today, options)
    for team in sorted(set(by_team) | set(sprints_by_team)):
        workflow = workflows.get(team, default)
        team_items = by_team.get(team, [])
        results = sprint_metrics(
            sprints_by_team.get(team, []),
            team_items,
            workflow,
            options,
            now,
            None if memo is None else memo.sprints,
        )
        sprint_results.extend(results)
        velocities.update(velocity(results, options.velocity_window))
        if team in samples:
            forecasts[team] = _team_forecast(team, open_counts[team], samples[team], today, options)
    # An epic's children may sit with several teams: forecast over every team that shares a
    # workflow (teams of one tracker share its statuses), so cross-team children count.
    teams_by_workflow: dict[Workflow, list[str]] = defaultdict(list)
    for team in sorted(by_team):
        teams_by_workflow[workflows.get(team, default)].append(team)
    for workflow, teams in teams_by_workflow.items():
        group = [item for team in teams for item in by_team[team]]
        epics.extend(
            epic_forecasts(
                group, workflow, options, today, percentiles=FORECAST_PERCENTILES, samples=samples
            )
        )
    return KpiRun(
        now=now,
        start=start,
        end=end,
        flow=flow,
        sprints=sprint_results,
        velocity=velocities,
        team_forecasts=forecasts,
        epics=sorted(epics, key=lambda e: e.epic_key),
        workflows=workflows,
        item_scope_keys=_item_keys(items),
        item_sources=[item.source for item in items],
        zone=options.zone,
    )


def _throughput_samples(
    items: Sequence[ItemHistory],
    metrics: Sequence[ItemMetrics],
    today: date,
    options: KpiOptions,
) -> dict[str, Any]:
    """Each team's daily throughput samples, from the flow metrics' own done dates.

    Epics and sub-tasks are not counted (their completion is not a unit of
    delivery); a team with countable items but none done gets all-zero samples.
    """
    done: dict[str, list[date]] = {}
    zone = options.zone
    native = _native_zone(zone)  # a moment already in the zone is on its own date
    for item, m in zip(items, metrics, strict=True):
        if item.item_type in NOT_COUNTED_TYPES:
            continue
        days = done.setdefault(item.team, [])
        at = m.done_at
        if at is not None:
            days.append(at.date() if at.tzinfo is native else at.astimezone(zone).date())
    return {
        team: daily_throughput_of_days(days, today, options.forecast_history_days)
        for team, days in sorted(done.items())
    }


def _item_keys(items: Sequence[ItemHistory]) -> list[str]:
    """The tracker's key, qualified by source only where two sources share a key."""
    counts = Counter(item.key for item in items)
    return [item.key if counts[item.key] == 1 else f"{item.source}:{item.key}" for item in items]


# -- flattening into stored values ----------------------------------------------------------------


def _interval(first: date, last: date) -> str:
    return f"{first.isoformat()}/{last.isoformat()}"


def _item_values(run: KpiRun, skip: Collection[str] = ()) -> Iterator[KpiValue]:
    """Each item's own values: half a million at 100k items, so the loop is kept lean (no
    per-item list of pairs; `_rounded` skips `round` for whole numbers of days). The items
    whose scope keys are in `skip` are left out."""
    stage_metrics: dict[str, str] = {}
    value = KpiValue
    for key, m in zip(run.item_scope_keys, run.flow.metrics, strict=True):
        if skip and key in skip:
            continue
        team = m.team
        days = m.cycle_time_days
        if days is not None:
            yield value("item", key, "cycle_time_days", "current", _rounded(days), team)
        days = m.lead_time_days
        if days is not None:
            yield value("item", key, "lead_time_days", "current", _rounded(days), team)
        days = m.wip_age_days
        if days is not None:
            yield value("item", key, "wip_age_days", "current", _rounded(days), team)
        share = m.flow_efficiency
        if share is not None:
            yield value("item", key, "flow_efficiency", "current", round(share, 6), team)
        if m.blocked_days > 0:
            yield value("item", key, "blocked_days", "current", round(m.blocked_days, 6), team)
        for stage, days in m.time_in_stage_days.items():
            if days > 0:
                metric = stage_metrics.get(stage) or stage_metrics.setdefault(
                    stage, f"time_in_stage_days:{stage}"
                )
                yield value("item", key, metric, "current", round(days, 6), team)


def _rounded(days: float) -> float:
    """`round(days, 6)`, which is `days` itself for a whole number (calendar-day counting gives
    those); `is_integer` costs a tenth of `round`."""
    if days.__class__ is float and days.is_integer():
        return days
    return round(days, 6)


def _flow_values(scope: str, key: str, team: str | None, s: FlowSummary) -> Iterator[KpiValue]:
    window = _interval(s.start, s.end)
    yield KpiValue(scope, key, "items", "current", float(s.items), team)
    yield KpiValue(scope, key, "wip", "current", float(s.wip), team)
    yield KpiValue(scope, key, "done_in_window", window, float(s.done_in_range), team)
    for p, value in s.cycle_time_percentiles.items():
        yield KpiValue(scope, key, f"cycle_time_p{int(p)}_days", window, value, team)
    for p, value in s.lead_time_percentiles.items():
        yield KpiValue(scope, key, f"lead_time_p{int(p)}_days", window, value, team)
    if s.wip_ages:
        yield KpiValue(scope, key, "wip_age_max_days", "current", s.wip_ages[0].age_days, team)
    for day, count in s.throughput_per_day:
        yield KpiValue(scope, key, "throughput_day", day.isoformat(), float(count), team)
    for day, count in s.wip_per_day:
        yield KpiValue(scope, key, "wip_day", day.isoformat(), float(count), team)
    weekly = (
        ("throughput_week", s.throughput_per_week),
        ("arrivals_week", s.arrivals_per_week),
        ("net_flow_week", s.net_flow_per_week),
    )
    for metric, series in weekly:
        for monday, count in series:
            last = min(monday + timedelta(days=6), s.end)
            yield KpiValue(
                scope, key, metric, _interval(max(monday, s.start), last), float(count), team
            )
    if s.cumulative_flow is not None:
        cfd = s.cumulative_flow
        for index, stage in enumerate(cfd.stages):
            # the workflow's order, which the stored names alone do not keep (the CFD stacks by it)
            yield KpiValue(scope, key, f"stage_index:{stage}", "current", float(index), team)
        for stage in cfd.stages:
            for day, count in zip(cfd.days, cfd.in_stage[stage], strict=True):
                yield KpiValue(
                    scope, key, f"cfd_in_stage:{stage}", day.isoformat(), float(count), team
                )


def _forecast_values(forecast: TeamForecast, today: date) -> Iterator[KpiValue]:
    team = forecast.team
    window = f"{today.isoformat()}/+{forecast.open_items} items"
    yield KpiValue("team", team, "open_items", "current", float(forecast.open_items), team)
    for p, day in forecast.when_done.items():
        value = date_value(day) if day is not None else None
        yield KpiValue("team", team, f"forecast_done_p{p}_date", window, value, team)
    for p, count in forecast.how_many.items():
        yield KpiValue(
            "team",
            team,
            f"forecast_items_p{p}",
            _interval(today, forecast.by_date),
            float(count),
            team,
        )
    # The distributions the percentiles are read from, so pages draw them without simulating.
    for day, share in sorted(forecast.done_shares.items()):
        yield KpiValue("team", team, "forecast_done_share", day.isoformat(), share, team)
    for count, share in sorted(forecast.count_shares.items()):
        yield KpiValue("team", team, "forecast_items_share", str(count), share, team)


def _sprint_values(run: KpiRun) -> Iterator[KpiValue]:
    names = Counter(s.name for s in run.sprints)
    by_team = Counter((s.name, s.team) for s in run.sprints)
    for s in run.sprints:
        # a name several teams use ("Sprint 15"): qualified by the team, as people say it;
        # by the id only when one team has two sprints of that name
        if names[s.name] == 1:
            key = s.name
        elif by_team[s.name, s.team] == 1:
            key = f"{s.name} ({s.team})"
        else:
            key = f"{s.name} ({s.sprint_id})"
        window = (
            s.state
            if s.measured_at is None
            else f"{s.state}@{local_date(s.measured_at, run.zone).isoformat()}"
        )
        numbers = {
            "committed_items": s.committed_items,
            "committed_points": s.committed_points,
            "added_items": s.added_items,
            "added_points": s.added_points,
            "removed_items": s.removed_items,
            "removed_points": s.removed_points,
            "completed_items": s.completed_items,
            "completed_points": s.completed_points,
            "reestimate_delta_points": s.reestimate_delta_points,
            "carried_over_items": s.carried_over_items,
            "carried_over_points": s.carried_over_points,
            "remaining_items": s.remaining_items,
            "remaining_points": s.remaining_points,
            "unestimated_items": s.unestimated_items,
            "done_outside_items": s.done_outside_items,
            "scope_items": s.scope_items,
            "scope_points": s.scope_points,
        }
        for metric, value in numbers.items():
            yield KpiValue("sprint", key, metric, window, float(value), s.team)
        if s.say_do is not None:
            yield KpiValue("sprint", key, "say_do", window, round(s.say_do, 6), s.team)
        if s.sprint_id in run.velocity:
            yield KpiValue(
                "sprint", key, "velocity_points", window, run.velocity[s.sprint_id], s.team
            )
        for day, remaining in s.burndown:
            yield KpiValue("sprint", key, "burndown_points", day.isoformat(), remaining, s.team)
        for day, done, scope in s.burnup:
            yield KpiValue("sprint", key, "burnup_done_points", day.isoformat(), done, s.team)
            yield KpiValue("sprint", key, "burnup_scope_points", day.isoformat(), scope, s.team)


def _epic_values(
    epics: Sequence[EpicForecast], today: date, team_of: Mapping[str, str]
) -> Iterator[KpiValue]:
    for epic in epics:
        team = team_of.get(epic.epic_key)
        window = f"{today.isoformat()}/+{epic.remaining_items} items"
        yield KpiValue(
            "epic", epic.epic_key, "remaining_items", "current", float(epic.remaining_items), team
        )
        for p, day in epic.dates.items():
            value = date_value(day) if day is not None else None
            yield KpiValue("epic", epic.epic_key, f"forecast_done_p{p}_date", window, value, team)


def kpi_values(run: KpiRun, skip_items: Collection[str] = ()) -> Iterator[KpiValue]:
    """Every value of the run, as the store keeps them (dates as days since 1970-01-01);
    none of the items whose scope keys are in `skip_items` (values a caller knows are
    stored as they are: `pmo_sync.evaluation.refresh`)."""
    today = run.end
    yield from _item_values(run, skip_items)
    for team, summary in run.flow.teams.items():
        yield from _flow_values("team", team, team, summary)
    if run.flow.portfolio is not None:
        yield from _flow_values("portfolio", "portfolio", None, run.flow.portfolio)
    for forecast in run.team_forecasts.values():
        yield from _forecast_values(forecast, today)
    yield from _sprint_values(run)
    team_of = {m.key: m.team for m in run.flow.metrics if m.item_type == "epic"}
    yield from _epic_values(run.epics, today, team_of)


def metrics_by_key(run: KpiRun) -> dict[str, ItemMetrics]:
    return dict(zip(run.item_scope_keys, run.flow.metrics, strict=True))
