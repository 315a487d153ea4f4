"""Team and portfolio flow series over per-item metrics: throughput, WIP, CFD, net flow.

Pure functions over sequences of `ItemMetrics` (and stage timelines for the
cumulative flow diagram). Days are calendar days in the reporting zone;
ranges [start, end] include both ends; series are zero-filled, one entry per
day (or per Monday-starting week), oldest first.

Every daily series is a difference array: each item adds +1 on the day it
enters a state and -1 on the day it leaves, and one running sum over the
days gives the series. That is O(items + days), never O(items x days).

Definitions:

- **throughput** on a day = items whose done date (`ItemMetrics.done_at`,
  the final entry into done) is that day (Vacanti; ActionableAgile's
  throughput run chart). A week counts the days of the range in it, so the
  weekly and daily totals over one range agree; pass Monday..Sunday bounds
  for whole weeks.
- **arrivals** on a day = items whose commitment date is that day (Vacanti:
  arrival rate is the rate at which items cross the commitment point). An
  item un-committed and re-committed arrives once, at its counted commitment.
- **net flow** per week = arrivals - departures (throughput): positive means
  WIP grew. Over any range, the net flow sums to WIP(end) - WIP(day before
  start).
- **WIP** on a day = items with commitment date ≤ day < done date: the state
  at the end of the day, as the CFD shows it (an item started and finished on
  the same day is never counted as WIP). So the WIP-days of an item are its
  exclusive cycle time (inclusive - 1), which Little's law checks must use.
- **CFD** (`cumulative_flow`): for each stage, the number of items in it at
  the end of each day (end-of-day sampling, as a daily CFD is drawn). The
  stacked lines a CFD shows are the sums from the last stage down
  (`CumulativeFlow.at_or_beyond`): the items in a stage or a later one, i.e.
  Vacanti's cumulative arrivals into the stage when nothing moves backward;
  a backward move lowers the lines again rather than leaving the item where
  it had got to. Items count from their creation on (in their initial stage).
- **percentiles**: linear interpolation between closest ranks, numpy's
  default (``method="linear"``), bit-for-bit the same arithmetic.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pmo_sync.kpi.days import date_range, week_start
from pmo_sync.kpi.items import ItemMetrics, _metrics_from_runs, open_clock
from pmo_sync.kpi.model import ItemHistory, KpiOptions, Workflow
from pmo_sync.kpi.timeline import StageInterval, _stage_runs

__all__ = [
    "CumulativeFlow",
    "CumulativeFlowBuilder",
    "FlowMemo",
    "FlowReport",
    "FlowSummary",
    "WipAge",
    "arrival_rate_per_week",
    "arrivals_per_day",
    "cumulative_flow",
    "daily_wip",
    "flow_report",
    "net_flow_per_week",
    "percentiles",
    "summarize",
    "throughput_per_day",
    "throughput_per_week",
    "wip_ages",
]

DEFAULT_PERCENTILES = (50, 70, 85, 95)


def _ordinal(moment: datetime | None, zone: tzinfo) -> int | None:
    """The local day number (`date.toordinal`) of a moment, None for None."""
    if moment is None:
        return None
    return moment.astimezone(zone).toordinal()


class _WindowDays:
    """Local day numbers of moments, for series over the window [start, end] only.

    Converting a moment to the reporting zone (`astimezone`) is the cost of a
    day number, and most moments of a year of history fall long before a
    twelve-week window. Every series clips them: a day before the window
    counts as its first day's eve, a day after it as the day after its end.
    So a moment a whole day before the window's first midnight (UTC) is
    given `first - 1` without converting - its local day is before the window
    in every zone, Python's offsets being under 24 hours - and one a day after
    the midnight ending the window `last + 1`; only the moments between are
    converted. Every count, WIP, arrival and CFD series is the same as with
    the exact day numbers. A moment already in the zone (UTC moments, as the
    store gives them, when reporting in UTC) needs no conversion either:
    `native` is that zone.
    """

    __slots__ = ("first", "high", "last", "low", "native", "zone")

    def __init__(self, start: date, end: date, zone: tzinfo) -> None:
        self.first, self.last, self.zone = start.toordinal(), end.toordinal(), zone
        self.low = datetime.combine(start, time(), UTC) - timedelta(days=1)
        self.high = datetime.combine(end, time(), UTC) + timedelta(days=2)
        self.native = _native_zone(zone)

    def ordinal(self, moment: datetime | None) -> int | None:
        """The moment's local day number, or the eve or morrow of the window for one outside."""
        if moment is None:
            return None
        if moment < self.low:
            return self.first - 1
        if moment >= self.high:
            return self.last + 1
        if moment.tzinfo is self.native:
            return moment.toordinal()
        return moment.astimezone(self.zone).toordinal()


_UTC_KEYS = frozenset({"UTC", "Etc/UTC"})


def _native_zone(zone: tzinfo) -> tzinfo:
    """The tzinfo whose moments' own dates are their dates in `zone`: `datetime.UTC` for the
    IANA UTC zone (no offset, ever), else `zone` itself (`astimezone` to its own zone changes
    nothing)."""
    if isinstance(zone, ZoneInfo) and zone.key in _UTC_KEYS:
        return UTC
    return zone


def _count_days(ordinals: Iterable[int | None], start: date, end: date) -> list[int]:
    """How many of the day numbers fall on each day of [start, end] (tallied by `Counter`,
    in C: a summary counts every item's done and commitment days)."""
    first = start.toordinal()
    tally = Counter(ordinals)
    return [tally.get(first + i, 0) for i in range(max((end - start).days + 1, 0))]


def _daily(counts: list[int], start: date) -> list[tuple[date, int]]:
    return [(start + timedelta(days=i), count) for i, count in enumerate(counts)]


def _weekly(counts: list[int], start: date) -> list[tuple[date, int]]:
    """Daily counts from `start` summed into Monday weeks, every week of the range listed."""
    if not counts:
        return []
    offset = start.weekday()
    weeks = [0] * ((offset + len(counts) - 1) // 7 + 1)
    for i, count in enumerate(counts):
        weeks[(offset + i) // 7] += count
    first = week_start(start)
    return [(first + timedelta(weeks=w), total) for w, total in enumerate(weeks)]


def _running(diff: list[int], n: int) -> list[int]:
    series, level = [0] * n, 0
    for i in range(n):
        level += diff[i]
        series[i] = level
    return series


def throughput_per_day(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Items done on each day of [start, end], zero-filled."""
    counts = _count_days((_ordinal(m.done_at, zone) for m in metrics), start, end)
    return _daily(counts, start)


def throughput_per_week(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Items done in [start, end] per Monday-starting week, (Monday, count), zero-filled."""
    counts = _count_days((_ordinal(m.done_at, zone) for m in metrics), start, end)
    return _weekly(counts, start)


def arrivals_per_day(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Items crossing the commitment point on each day of [start, end], zero-filled."""
    counts = _count_days((_ordinal(m.committed_at, zone) for m in metrics), start, end)
    return _daily(counts, start)


def arrival_rate_per_week(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Items crossing the commitment point in [start, end] per Monday week, zero-filled."""
    counts = _count_days((_ordinal(m.committed_at, zone) for m in metrics), start, end)
    return _weekly(counts, start)


def net_flow_per_week(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Arrivals - departures per Monday week of [start, end]: > 0 when WIP grew."""
    committed, done = _ordinals(metrics, zone)
    return _net_flow(committed, done, start, end)


def _ordinals(
    metrics: Iterable[ItemMetrics], zone: tzinfo
) -> tuple[list[int | None], list[int | None]]:
    committed: list[int | None] = []
    done: list[int | None] = []
    for m in metrics:
        committed.append(_ordinal(m.committed_at, zone))
        done.append(_ordinal(m.done_at, zone))
    return committed, done


def _net_flow(
    committed: list[int | None], done: list[int | None], start: date, end: date
) -> list[tuple[date, int]]:
    arrivals = _weekly(_count_days(committed, start, end), start)
    departures = _weekly(_count_days(done, start, end), start)
    return [(week, a - d) for (week, a), (_, d) in zip(arrivals, departures, strict=True)]


def daily_wip(
    metrics: Iterable[ItemMetrics], start: date, end: date, zone: tzinfo
) -> list[tuple[date, int]]:
    """Items in progress at the end of each day of [start, end]: committed ≤ day < done."""
    committed, done = _ordinals(metrics, zone)
    return _daily(_wip(committed, done, start, end), start)


def _wip(committed: list[int | None], done: list[int | None], start: date, end: date) -> list[int]:
    first = start.toordinal()
    n = max((end - start).days + 1, 0)
    diff = [0] * (n + 1)
    for c, d in zip(committed, done, strict=True):
        if c is None:
            continue
        lo = max(c - first, 0)
        hi = n if d is None else min(max(d - first, 0), n)
        if lo < hi:
            diff[lo] += 1
            diff[hi] -= 1
    return _running(diff, n)


class WipAge(NamedTuple):
    """An item in progress, how long since it committed, and the stage it is in."""

    key: str
    stage: str
    committed_at: datetime
    age_days: float


def wip_ages(metrics: Iterable[ItemMetrics]) -> list[WipAge]:
    """Every item in progress with its WIP age, oldest first (ActionableAgile's aging chart)."""
    # `wip_age_days` is set exactly for committed items not done.
    ages = [
        WipAge(m.key, m.stage, m.committed_at, m.wip_age_days)  # type: ignore[arg-type]
        for m in metrics
        if m.wip_age_days is not None
    ]
    ages.sort(key=attrgetter("key"))  # two stable sorts: age descending, then key
    ages.sort(key=attrgetter("age_days"), reverse=True)
    return ages


def percentiles(
    values: Iterable[float], ps: Sequence[float] = DEFAULT_PERCENTILES
) -> dict[float, float | None]:
    """The ps-th percentiles with linear interpolation between closest ranks.

    The same arithmetic as ``numpy.percentile(values, ps)`` (method
    ``"linear"``): rank = (n - 1)·p/100, then numpy's lerp, which computes
    from the upper neighbour when the fraction is ≥ 0.5 so the results match
    to the last bit. [1, 2, 3, 4]: p50 → rank 1.5 → 2.5; p85 → rank 2.55 → 3.55.
    None for every p when there are no values.
    """
    ordered = sorted(values)
    n = len(ordered)
    result: dict[float, float | None] = {}
    for p in ps:
        if not 0 <= p <= 100:
            raise ValueError(f"percentile {p} is not in [0, 100]")
        if n == 0:
            result[p] = None
            continue
        rank = (n - 1) * (p / 100)
        low = math.floor(rank)
        high = min(low + 1, n - 1)
        t = rank - low
        a, b = float(ordered[low]), float(ordered[high])
        diff = b - a
        result[p] = b - diff * (1 - t) if t >= 0.5 else a + diff * t
    return result


@dataclass(frozen=True, slots=True)
class CumulativeFlow:
    """Items in each stage at the end of each day (see the module docstring)."""

    days: tuple[date, ...]
    stages: tuple[str, ...]
    in_stage: dict[str, list[int]]

    def at_or_beyond(self) -> dict[str, list[int]]:
        """Per stage, the items in it or in a later stage at the end of each day: the
        CFD's lines (top of each band), cumulative arrivals when nothing moves back."""
        result: dict[str, list[int]] = {}
        running = [0] * len(self.days)
        for stage in reversed(self.stages):
            running = [r + c for r, c in zip(running, self.in_stage[stage], strict=True)]
            result[stage] = running
        return {stage: result[stage] for stage in self.stages}


class CumulativeFlowBuilder:
    """Accumulates stage timelines one at a time into a `CumulativeFlow` (difference arrays).

    An interval [a, b) of a timeline puts the item in its stage at the end of
    every day from a's date to the day before b's date: if it left on the day
    it arrived, it was never there at a day's end.
    """

    def __init__(self, workflow: Workflow, start: date, end: date, zone: tzinfo) -> None:
        self.stages = workflow.stage_names
        self.start, self.end, self.zone = start, end, zone
        self._first = start.toordinal()
        self._n = max((end - start).days + 1, 0)
        self._diff = [[0] * (self._n + 1) for _ in self.stages]
        window = _WindowDays(start, end, zone)
        self._low, self._high, self._native = window.low, window.high, window.native

    def add(self, timeline: Sequence[StageInterval]) -> None:
        """Count one item (its `stage_timeline`)."""
        if timeline:
            self._add_runs([i.stage for i in timeline], [i.start for i in timeline])

    def _add_runs(self, stages: Sequence[int], starts: Sequence[datetime]) -> None:
        zone, first, n, diff = self.zone, self._first, self._n, self._diff
        low, high, native = self._low, self._high, self._native
        # Run i covers the days [day of start i, day of start i + 1); the last run is
        # open, so it lasts to the end of the window. Days are relative to `start`; a
        # start surely outside the window is not converted (`_WindowDays`): -1 and n
        # clip as its exact day would.
        days = [
            -1
            if moment < low
            else n
            if moment >= high
            else moment.toordinal() - first
            if moment.tzinfo is native
            else moment.astimezone(zone).toordinal() - first
            for moment in starts
        ]
        days.append(n)
        for stage, lo, hi in zip(stages, days, days[1:]):  # noqa: B905 - one longer
            if lo < 0:
                lo = 0
            if hi > n:
                hi = n
            if lo < hi:
                row = diff[stage]
                row[lo] += 1
                row[hi] -= 1

    def _add_ordered_runs(self, stages: Sequence[int], starts: Sequence[datetime]) -> None:
        """`_add_runs` for starts that never decrease (`timeline._stage_runs` clamps them): the
        runs begun a day before the window all count from its first day, so one binary
        search finds them and only the later ones are looked at."""
        early = bisect_left(starts, self._low)
        if early == len(starts):  # the whole history before the window: in its last stage
            if self._n > 0:
                row = self._diff[stages[-1]]
                row[0] += 1
                row[self._n] -= 1
            return
        if early > 1:  # the runs ended before the window add nothing
            stages, starts = stages[early - 1 :], starts[early - 1 :]
        self._add_runs(stages, starts)

    def result(self) -> CumulativeFlow:
        days = tuple(date_range(self.start, self.end))
        return CumulativeFlow(
            days=days,
            stages=self.stages,
            in_stage={
                name: _running(diff, self._n)
                for name, diff in zip(self.stages, self._diff, strict=True)
            },
        )


def cumulative_flow(
    timelines: Iterable[Sequence[StageInterval]],
    workflow: Workflow,
    start: date,
    end: date,
    zone: tzinfo,
) -> CumulativeFlow:
    """The cumulative flow diagram of items sharing `workflow` over [start, end]."""
    builder = CumulativeFlowBuilder(workflow, start, end, zone)
    for timeline in timelines:
        builder.add(timeline)
    return builder.result()


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """A team's (or the portfolio's) flow over [start, end], as of the metrics' `now`.

    `items`, `done` and `wip` count the items as they are now; the
    percentiles cover the items done within [start, end].
    """

    team: str
    start: date
    end: date
    items: int
    done: int
    wip: int
    done_in_range: int
    cycle_time_percentiles: dict[float, float | None]
    lead_time_percentiles: dict[float, float | None]
    throughput_per_day: list[tuple[date, int]]
    throughput_per_week: list[tuple[date, int]]
    wip_per_day: list[tuple[date, int]]
    arrivals_per_week: list[tuple[date, int]]
    net_flow_per_week: list[tuple[date, int]]
    wip_ages: list[WipAge]
    cumulative_flow: CumulativeFlow | None = None


def summarize(
    metrics: Sequence[ItemMetrics],
    start: date,
    end: date,
    options: KpiOptions,
    team: str = "portfolio",
    cumulative: CumulativeFlow | None = None,
) -> FlowSummary:
    """Every team series over one set of item metrics (one team's, or all teams')."""
    window = _WindowDays(start, end, options.zone)
    day = window.ordinal
    committed = [day(m.committed_at) for m in metrics]
    done = [day(m.done_at) for m in metrics]
    return _summary(metrics, committed, done, start, end, options, team, cumulative)


def _summary(
    metrics: Sequence[ItemMetrics],
    committed: list[int | None],
    done: list[int | None],
    start: date,
    end: date,
    options: KpiOptions,
    team: str,
    cumulative: CumulativeFlow | None,
) -> FlowSummary:
    """`summarize` on the metrics' commitment and done days (`_WindowDays.ordinal`), which
    `flow_report` finds once per item for its team and the portfolio."""
    first, last = start.toordinal(), end.toordinal()
    in_range = [
        m for m, d in zip(metrics, done, strict=True) if d is not None and first <= d <= last
    ]
    # Each count once (the net flow is arrivals - departures of the same counts); the day
    # numbers are None exactly where the moments are.
    done_counts = _count_days(done, start, end)
    arrivals = _weekly(_count_days(committed, start, end), start)
    departures = _weekly(done_counts, start)
    return FlowSummary(
        team=team,
        start=start,
        end=end,
        items=len(metrics),
        done=len(done) - done.count(None),
        wip=sum(1 for c, d in zip(committed, done, strict=True) if c is not None and d is None),
        done_in_range=len(in_range),
        cycle_time_percentiles=percentiles(
            (m.cycle_time_days for m in in_range if m.cycle_time_days is not None),
            options.percentiles,
        ),
        lead_time_percentiles=percentiles(
            (m.lead_time_days for m in in_range if m.lead_time_days is not None),
            options.percentiles,
        ),
        throughput_per_day=_daily(done_counts, start),
        throughput_per_week=departures,
        wip_per_day=_daily(_wip(committed, done, start, end), start),
        arrivals_per_week=arrivals,
        net_flow_per_week=[
            (week, a - d) for (week, a), (_, d) in zip(arrivals, departures, strict=True)
        ],
        wip_ages=wip_ages(metrics),
        cumulative_flow=cumulative,
    )


@dataclass(frozen=True, slots=True)
class FlowReport:
    """Per-item metrics, a summary per team, and the portfolio roll-up (no CFD: teams'
    stages differ)."""

    metrics: list[ItemMetrics]
    teams: dict[str, FlowSummary] = field(default_factory=dict)
    portfolio: FlowSummary | None = None


@dataclass(slots=True)
class _ItemFlow:
    """One item's timeline runs and metrics, and the clock they were measured at (None: done,
    measured at its done moment whatever the clock)."""

    item: ItemHistory
    stages: list[int]
    starts: list[datetime]
    clock: datetime | None
    metrics: ItemMetrics


@dataclass(slots=True)
class FlowMemo:
    """What the last `flow_report` computed per item, for the next one to reuse.

    A long-running service computes the flow every cycle over the same items, most of them
    unchanged: the very same `ItemHistory` objects, since its refresh keeps what it read
    (`pmo_sync.evaluation.kept`). An item's runs and metrics are a function of the item, its
    team's workflow, the options and, for an item not done, the moment its clock reads
    (`items.open_clock`: the start of the day or its last change that day). So an entry is
    taken again when the item is the same object, its team's workflow and the options are
    equal to last time's, and (not done) its clock reads the same moment; an open item whose
    clock moved is measured again from its kept runs. Entries hold their item, so an `id`
    cannot be reused while its entry is here.
    """

    options: KpiOptions | None = None
    workflows: dict[str, Workflow] = field(default_factory=dict)
    items: dict[int, _ItemFlow] = field(default_factory=dict)


def _item_flow(
    last: _ItemFlow | None,
    item: ItemHistory,
    workflow: Workflow,
    options: KpiOptions,
    now: datetime,
) -> _ItemFlow:
    """The item's runs and metrics: `last` (the memo's entry, kept only when the workflow and
    options are last time's) as it is when it is this item and its clock reads the same,
    measured again from its runs when only the clock moved, computed afresh otherwise."""
    if last is None or last.item is not item:
        stages, starts = _stage_runs(item, workflow)
        metrics = _metrics_from_runs(item, stages, starts, workflow, options, now)
        done = metrics.done_at is not None
        clock = None if done else open_clock(item, starts[-1], now, options.zone)
        return _ItemFlow(item, stages, starts, clock, metrics)
    if last.clock is None:  # done: measured at its done moment
        return last
    clock = open_clock(item, last.starts[-1], now, options.zone)
    if clock == last.clock:
        return last
    metrics = _metrics_from_runs(item, last.stages, last.starts, workflow, options, now)
    return _ItemFlow(item, last.stages, last.starts, clock, metrics)


def flow_report(
    items: Iterable[ItemHistory],
    workflow_for: Mapping[str, Workflow] | Callable[[str], Workflow],
    options: KpiOptions,
    now: datetime,
    start: date,
    end: date,
    memo: FlowMemo | None = None,
) -> FlowReport:
    """The whole flow computation in one pass over the items.

    Each item's stage timeline is built once and feeds both its metrics and
    its team's CFD; nothing holds the timelines afterwards, so memory is the
    per-item metrics plus O(teams x stages x days) for the diagrams.
    `workflow_for` gives a team's workflow (a mapping or a function of the
    team name). With `memo` (a service's), what the last report computed of
    an unchanged item is taken again (`FlowMemo`), and the memo then holds this
    report's items.
    """
    lookup = workflow_for.__getitem__ if isinstance(workflow_for, Mapping) else workflow_for
    workflows: dict[str, Workflow] = {}
    builders: dict[str, CumulativeFlowBuilder] = {}
    by_team: dict[str, tuple[list[ItemMetrics], list[int | None], list[int | None]]] = {}
    all_metrics: list[ItemMetrics] = []
    all_committed: list[int | None] = []
    all_done: list[int | None] = []
    day = _WindowDays(start, end, options.zone).ordinal
    kept: dict[int, _ItemFlow] = {}
    same_workflow: dict[str, bool] = {}
    if memo is not None and memo.options == options:
        kept = memo.items
    fresh: dict[int, _ItemFlow] = {}
    for item in items:
        team = item.team
        workflow = workflows.get(team)
        if workflow is None:
            workflow = workflows[team] = lookup(team)
            builders[team] = CumulativeFlowBuilder(workflow, start, end, options.zone)
            by_team[team] = ([], [], [])
            if memo is not None:
                same_workflow[team] = memo.workflows.get(team) == workflow
        if memo is None:
            stages, starts = _stage_runs(item, workflow)
            metrics = _metrics_from_runs(item, stages, starts, workflow, options, now)
        else:
            last = kept.get(id(item)) if same_workflow[team] else None
            entry = fresh[id(item)] = _item_flow(last, item, workflow, options, now)
            stages, starts, metrics = entry.stages, entry.starts, entry.metrics
        builders[team]._add_ordered_runs(stages, starts)
        committed, done = day(metrics.committed_at), day(metrics.done_at)
        team_metrics, team_committed, team_done = by_team[team]
        team_metrics.append(metrics)
        team_committed.append(committed)
        team_done.append(done)
        all_metrics.append(metrics)
        all_committed.append(committed)
        all_done.append(done)
    if memo is not None:
        memo.options, memo.workflows, memo.items = options, workflows, fresh
    teams = {
        team: _summary(*by_team[team], start, end, options, team, builders[team].result())
        for team in sorted(by_team)
    }
    return FlowReport(
        metrics=all_metrics,
        teams=teams,
        portfolio=_summary(
            all_metrics, all_committed, all_done, start, end, options, "portfolio", None
        ),
    )
