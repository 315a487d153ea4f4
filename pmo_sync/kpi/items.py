"""Per-item flow metrics: cycle and lead time, time in stage, blocked time, flow efficiency, age.

Definitions (the reference each follows is named; see `days` for day counting
and `timeline` for the commitment and done points):

- **cycle time** = commitment → done (Vacanti; jira-agile-metrics
  ``cycle_time``; Azure DevOps ``CycleTimeDays``), counted with
  `KpiOptions.day_counting` in `KpiOptions.zone`. None until done.
- **lead time** = created → done (Azure DevOps ``LeadTimeDays``; Vacanti calls
  the whole-system time "lead time" too), same counting. None until done.
- **WIP age** = commitment → the item's clock (below) for a committed item not yet done,
  same counting (ActionableAgile's aging chart: started today = age 1 inclusively).
- **the clock of an open item** is the start of the reporting day (local midnight in
  `KpiOptions.zone`), or the item's last status or flag change when that came later:
  what depends on the clock alone (WIP age, the time in the current stage, blocked and
  wait time so far) moves once a day, not at every refresh, so a refresh with nothing
  changed rewrites nothing (issue 18). A done item's metrics end at its done point.
- **time in stage**, **blocked**, **wait** and **active** time are *elapsed*
  fractional days whatever the day counting: they are parts of one span and
  must add up, which calendar-day counting cannot do (two stages visited on
  one day would each count 1 inclusive day). They cover created → done for a
  done item and created → its clock for an open one, so for a done item
  ``sum(time_in_stage_days) == lead time in fractional days``.
- **blocked** = the union of flagged time (Jira's "Flagged" impediment) and
  time in `Workflow.blocked_stages`.
- **wait** = time in a waiting stage that is not blocked, a waiting stage
  being one of `Workflow.wait_stages`, any stage *before the commitment
  point* (the backlog: nobody has started, so it cannot be active) and any
  stage *at or after the done point* (time a reopened item spent done).
  A stage that is both blocked and waiting counts as blocked: nothing is
  counted twice.
- **active** = lead time - blocked - wait: the time the item was committed,
  not done, and neither in a wait or blocked stage nor flagged.
- **flow efficiency** = active / lead time (fractional), for done items only;
  None for an item done the moment it was created (no time to divide). The
  usual definition (Modig & Åhlström, *This is Lean*: value-adding time over
  throughput time) with the spec's choice of lead time as the whole; since
  the backlog counts as waiting, a long backlog lowers it, as it should for
  a customer who waited that long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

from pmo_sync.kpi.days import SECONDS_PER_DAY, span_days
from pmo_sync.kpi.model import FlagChange, ItemHistory, KpiOptions, Workflow
from pmo_sync.kpi.timeline import StageInterval, _commitment_and_done_runs, _stage_runs

__all__ = ["ItemMetrics", "day_start", "item_metrics", "item_metrics_from_timeline", "open_clock"]


@dataclass(frozen=True, slots=True)
class ItemMetrics:
    """One item's flow metrics as of `now` (see the module docstring for each definition).

    `cycle_time_days`, `lead_time_days` and `wip_age_days` follow the day
    counting; the time breakdown (`time_in_stage_days`, `blocked_days`,
    `wait_days`, `active_days`) is always elapsed fractional days.
    """

    key: str
    team: str
    item_type: str
    stage: str  # the stage it is in now
    created: datetime
    committed_at: datetime | None
    done_at: datetime | None
    cycle_time_days: float | None
    lead_time_days: float | None
    wip_age_days: float | None  # committed and not done only
    time_in_stage_days: dict[str, float]  # every stage of the workflow, in its order
    blocked_days: float
    wait_days: float
    active_days: float
    flow_efficiency: float | None  # done only

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def in_progress(self) -> bool:
        """Work in progress now: committed and not done."""
        return self.committed_at is not None and self.done_at is None


@dataclass(frozen=True, slots=True)
class _Tables:
    """What a workflow means for the time breakdown, precomputed once per workflow."""

    names: tuple[str, ...]
    commitment: int
    done: int
    blocked: tuple[bool, ...]
    wait: tuple[bool, ...]  # waiting and not blocked


_TABLES: dict[int, tuple[Workflow, _Tables]] = {}


def _tables(workflow: Workflow) -> _Tables:
    cached = _TABLES.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        return cached[1]
    ci, di = workflow.commitment_index, workflow.done_index
    blocked = tuple(s.name in workflow.blocked_stages for s in workflow.stages)
    wait = tuple(
        not blocked[i] and (s.name in workflow.wait_stages or i < ci or i >= di)
        for i, s in enumerate(workflow.stages)
    )
    tables = _Tables(workflow.stage_names, ci, di, blocked, wait)
    if len(_TABLES) >= 256:
        _TABLES.clear()
    _TABLES[id(workflow)] = (workflow, tables)
    return tables


@lru_cache(maxsize=16)
def day_start(now: datetime, zone: tzinfo) -> datetime:
    """Local midnight of `now`'s day in the reporting zone (aware, in that zone)."""
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def open_clock(
    item: ItemHistory, last_run_start: datetime, now: datetime, zone: tzinfo
) -> datetime:
    """The moment an open item's clock-dependent metrics are measured at (module docstring):
    the start of `now`'s day, or the item's last status or flag change if later (never
    after `now`)."""
    clock = max(day_start(now, zone), last_run_start)
    if item.flag_changes:
        clock = max(clock, item.flag_changes[-1].at)
    return min(clock, now)


def _flagged_spans(
    changes: Sequence[FlagChange], created: datetime, horizon: float
) -> list[tuple[float, float]]:
    """Flagged intervals as (from, to) seconds since creation, clipped to [0, horizon].

    An item starts unflagged; a repeated "flagged" does not restart the span;
    a flag still up at the horizon ends there. Out-of-order stamps are taken at
    the previous one, as status changes are.
    """
    spans: list[tuple[float, float]] = []
    since: float | None = None
    previous = 0.0
    for change in changes:
        at = (change.at - created).total_seconds()
        if at < previous:
            at = previous
        previous = at
        if change.flagged and since is None:
            since = at
        elif not change.flagged and since is not None:
            if since < horizon:
                spans.append((since, min(at, horizon)))
            since = None
    if since is not None and since < horizon:
        spans.append((since, horizon))
    return spans


def _overlap(spans: list[tuple[float, float]], a: float, b: float) -> float:
    """Seconds of [a, b] covered by the disjoint, sorted `spans`."""
    covered = 0.0
    for start, end in spans:
        if end <= a:
            continue
        if start >= b:
            break
        covered += min(end, b) - max(start, a)
    return covered


def _metrics_from_runs(
    item: ItemHistory,
    stages: Sequence[int],
    starts: Sequence[datetime],
    workflow: Workflow,
    options: KpiOptions,
    now: datetime,
) -> ItemMetrics:
    """The metrics from the timeline's runs (stage and start of each run, in order)."""
    tables = _tables(workflow)
    committed_run, done_run = _commitment_and_done_runs(
        stages, tables.commitment, tables.done, options.restart_on_backward_move
    )
    committed = None if committed_run is None else starts[committed_run]
    done = None if done_run is None else starts[done_run]
    created = item.created
    if done is None:
        now = open_clock(item, starts[-1], now, options.zone)
    horizon = max(((now if done is None else done) - created).total_seconds(), 0.0)

    # Seconds since creation at each run boundary, the last run ending at the horizon.
    bounds = [(start - created).total_seconds() for start in starts]
    bounds.append(horizon)
    seconds = [0.0] * len(tables.names)
    blocked_seconds = wait_seconds = 0.0
    blocked_of, wait_of = tables.blocked, tables.wait
    flags = _flagged_spans(item.flag_changes, created, horizon) if item.flag_changes else None
    for run, stage in enumerate(stages):
        a = bounds[run]
        if a >= horizon:
            break
        b = bounds[run + 1]
        if b > horizon:
            b = horizon
        length = b - a
        seconds[stage] += length
        if blocked_of[stage]:
            blocked_seconds += length
        elif flags:
            flagged = _overlap(flags, a, b)
            blocked_seconds += flagged
            if wait_of[stage]:
                wait_seconds += length - flagged
        elif wait_of[stage]:
            wait_seconds += length
    active_seconds = max(horizon - blocked_seconds - wait_seconds, 0.0)

    counting, zone = options.day_counting, options.zone
    cycle = lead = age = efficiency = None
    if done is not None and committed is not None:
        cycle = span_days(committed, done, counting, zone)
        lead = span_days(created, done, counting, zone)
        if horizon > 0:
            efficiency = active_seconds / horizon
    elif committed is not None:
        age = span_days(committed, now, counting, zone)
    return ItemMetrics(
        key=item.key,
        team=item.team,
        item_type=item.item_type,
        stage=tables.names[stages[-1]],
        created=created,
        committed_at=committed,
        done_at=done,
        cycle_time_days=cycle,
        lead_time_days=lead,
        wip_age_days=age,
        time_in_stage_days={
            name: s / SECONDS_PER_DAY for name, s in zip(tables.names, seconds, strict=True)
        },
        blocked_days=blocked_seconds / SECONDS_PER_DAY,
        wait_days=wait_seconds / SECONDS_PER_DAY,
        active_days=active_seconds / SECONDS_PER_DAY,
        flow_efficiency=efficiency,
    )


def item_metrics_from_timeline(
    item: ItemHistory,
    timeline: Sequence[StageInterval],
    workflow: Workflow,
    options: KpiOptions,
    now: datetime,
) -> ItemMetrics:
    """`item_metrics` on an already built `stage_timeline(item, workflow)`."""
    return _metrics_from_runs(
        item, [i.stage for i in timeline], [i.start for i in timeline], workflow, options, now
    )


def item_metrics(
    item: ItemHistory, workflow: Workflow, options: KpiOptions, now: datetime
) -> ItemMetrics:
    """An item's flow metrics as of `now` (aware; at or after its last change).

    `now`'s day (its start, or the item's last change that day: `open_clock`) ends the time
    breakdown and the WIP age of an item not done yet; a done item's metrics do not depend
    on it. One pass over the status changes.
    """
    stages, starts = _stage_runs(item, workflow)
    return _metrics_from_runs(item, stages, starts, workflow, options, now)
