"""The team page: one team's flow (CFD, cycle time, aging WIP, throughput, WIP) and forecasts.

Every figure is a stored value: the team's daily series and percentiles, the
items' own cycle time and WIP age, and the Monte Carlo distributions the KPI
refresh kept (`forecast_done_share`, `forecast_items_share`). The window
filter narrows the dated charts to the last N days before the stored values'
last day; the source filter narrows the per-item charts to one connector's
items. The percentile lines are the team's stored percentiles (the refresh's
reporting window), so they match what `kpis` prints whatever the filter.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from pmo_sync.dashboard.charts import (
    Chart,
    Dot,
    Series,
    aging_chart,
    bar_chart,
    cfd_chart,
    distribution_chart,
    run_chart,
    scatter_chart,
)
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_flow import FlowReads, ItemPoint
from pmo_sync.kpi.compute import value_date
from pmo_sync.store.kpis import KpiValue

__all__ = [
    "CYCLE_PERCENTILES",
    "FORECAST_PERCENTILES",
    "TeamPage",
    "aging_columns",
    "build_team",
    "done_in_window",
    "histogram_bins",
    "stage_order",
]

CYCLE_PERCENTILES = (50, 70, 85, 95)
FORECAST_PERCENTILES = (50, 85, 95)
_STAGE_RANK = {"todo": 0, "in_progress": 1, "done": 2}


@dataclass(frozen=True, slots=True)
class TeamPage:
    """Everything the team page shows; a chart is None when the store has nothing to draw."""

    team: str
    filters: Filters
    first: date
    last: date
    cycle_time_percentiles: dict[int, float]
    percentile_window: str | None
    open_items: int | None
    forecast_dates: dict[int, date | None]
    forecast_counts: dict[int, int]
    forecast_counts_window: str | None
    has_sprints: bool
    cfd: Chart | None = None
    scatter: Chart | None = None
    aging: Chart | None = None
    throughput: Chart | None = None
    wip: Chart | None = None
    histogram: Chart | None = None
    when: Chart | None = None
    how_many: Chart | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def charts(self) -> list[Chart]:
        """The charts drawn, in page order."""
        shown = (self.cfd, self.scatter, self.aging, self.throughput, self.wip, self.histogram,
                 self.when, self.how_many)  # fmt: skip
        return [c for c in shown if c is not None]

    @property
    def unknown_source(self) -> bool:
        return bool(self.filters.source) and self.filters.source not in self.sources


def histogram_bins(values: Iterable[float]) -> list[tuple[int, int]]:
    """Counts per whole day: bin d holds the values in [d, d + 1), from the lowest bin to the
    highest with the empty bins between kept (a gap in a histogram is information)."""
    counts = Counter(math.floor(v) for v in values)
    if not counts:
        return []
    return [(d, counts.get(d, 0)) for d in range(min(counts), max(counts) + 1)]


def aging_columns(points: Iterable[ItemPoint], stage_index: Mapping[str, float]) -> list[str]:
    """The aging chart's columns: the open items' statuses, in workflow order.

    A status named like a workflow stage takes that stage's place; the others
    go by their category (to do, in progress, done), then by name.
    """
    statuses = {p.status: p.stage for p in points}
    return sorted(
        statuses,
        key=lambda s: (
            _STAGE_RANK.get(statuses[s], 1),
            stage_index.get(s, math.inf),
            s,
        ),
    )


def stage_order(metrics: Mapping[str, Sequence[KpiValue]]) -> dict[str, float]:
    """The team's stages in workflow order (stored `stage_index:<stage>`), each to its position.

    A stage with CFD counts but no stored position (a store refreshed before
    positions were kept) follows the positioned ones, by name.
    """
    placed = {
        m.removeprefix("stage_index:"): values[-1].value
        for m, values in metrics.items()
        if m.startswith("stage_index:") and values and values[-1].value is not None
    }
    unplaced = sorted(
        m.removeprefix("cfd_in_stage:")
        for m in metrics
        if m.startswith("cfd_in_stage:") and m.removeprefix("cfd_in_stage:") not in placed
    )
    ordered = sorted(placed, key=lambda s: (placed[s], s)) + unplaced
    return {s: float(i) for i, s in enumerate(ordered)}


def _latest(values: Sequence[KpiValue] | None) -> KpiValue | None:
    return values[-1] if values else None


def _days(values: Sequence[KpiValue], first: date, last: date) -> list[KpiValue]:
    """Daily values (window: one day) from `first` to `last`, in date order."""
    low, high = first.isoformat(), last.isoformat()
    return sorted((v for v in values if low <= v.window <= high), key=lambda v: v.window)


def _series(name: str, values: Sequence[KpiValue]) -> Series:
    return Series(name, [v.window for v in values], [v.value for v in values])


@dataclass(frozen=True, slots=True)
class _Forecast:
    open_items: int | None
    dates: dict[int, date | None]
    counts: dict[int, int]
    counts_window: str | None
    when: Chart | None
    how_many: Chart | None


def _flow_charts(
    metrics: Mapping[str, Sequence[KpiValue]], stages: Sequence[str], first: date, last: date
) -> tuple[Chart | None, Chart | None, Chart | None]:
    """The CFD, throughput and WIP charts: the team's stored daily series in the window."""
    cfd_series = [
        _series(s, _days(metrics.get(f"cfd_in_stage:{s}", []), first, last)) for s in stages
    ]
    throughput_days = _days(metrics.get("throughput_day", []), first, last)
    wip_days = _days(metrics.get("wip_day", []), first, last)
    cfd = throughput = wip = None
    if any(s.x for s in cfd_series):
        cfd = cfd_chart(
            "cfd",
            "Cumulative flow",
            cfd_series,
            description="Items in each stage at the end of each day (cfd_in_stage).",
        )
    if throughput_days:
        throughput = run_chart(
            "throughput",
            "Throughput",
            [_series("done per day", throughput_days)],
            y_title="items",
            bars=True,
            description="Items done each day (throughput_day).",
        )
    if wip_days:
        wip = run_chart(
            "wip",
            "Work in progress",
            [_series("WIP per day", wip_days)],
            y_title="items",
            description="Items in progress each day (wip_day).",
        )
    return cfd, throughput, wip


def done_in_window(points: Iterable[ItemPoint], first: date, last: date) -> list[ItemPoint]:
    """Items with a stored cycle time done from `first` to `last`, by done day then key."""
    return sorted(
        (
            p
            for p in points
            if p.cycle_time_days is not None
            and p.done_on is not None
            and first <= p.done_on <= last
        ),
        key=lambda p: (p.done_on or first, p.key),
    )


def _item_charts(
    points: Sequence[ItemPoint],
    percentiles: dict[int, float],
    stage_index: Mapping[str, float],
    first: date,
    last: date,
) -> tuple[Chart | None, Chart | None, Chart | None]:
    """The cycle-time scatter and histogram (done items) and the aging chart (open items)."""
    done = done_in_window(points, first, last)
    ages = [p for p in points if p.wip_age_days is not None]
    bins = histogram_bins(p.cycle_time_days or 0.0 for p in done)
    scatter = histogram = aging = None
    if done:
        scatter = scatter_chart(
            "cycle-scatter",
            "Cycle time of done items",
            [Dot(str(p.done_on), p.cycle_time_days or 0.0, p.key, p.title, p.url) for p in done],
            percentiles,
            name="done items",
            y_title="cycle time (days)",
            description="Each done item at its done date (cycle_time_days); lines: the stored "
            "cycle-time percentiles. Click a dot to open the item.",
        )
        histogram = bar_chart(
            "cycle-histogram",
            "Cycle time distribution",
            [Series("done items", [d for d, _ in bins], [float(n) for _, n in bins])],
            x_title="cycle time (whole days)",
            y_title="items",
            kind="histogram",
            description="Done items per whole day of cycle time (cycle_time_days).",
        )
    if ages:
        aging = aging_chart(
            "aging",
            "Aging work in progress",
            aging_columns(ages, stage_index),
            [Dot(p.status, p.wip_age_days or 0.0, p.key, p.title, p.url) for p in ages],
            percentiles,
            description="Each open item in its current status at its age (wip_age_days), "
            "against the stored cycle-time percentiles.",
        )
    return scatter, histogram, aging


def _forecast(metrics: Mapping[str, Sequence[KpiValue]]) -> _Forecast:
    """The stored forecast percentiles and the distributions they were read from."""
    dates: dict[int, date | None] = {}
    counts: dict[int, int] = {}
    counts_window: str | None = None
    for p in FORECAST_PERCENTILES:
        stored = _latest(metrics.get(f"forecast_done_p{p}_date"))
        if stored is not None:
            dates[p] = None if stored.value is None else value_date(stored.value)
        stored = _latest(metrics.get(f"forecast_items_p{p}"))
        if stored is not None and stored.value is not None:
            counts[p] = int(stored.value)
            counts_window = stored.window
    by_day = sorted(metrics.get("forecast_done_share", []), key=lambda v: v.window)
    by_count = sorted(metrics.get("forecast_items_share", []), key=lambda v: int(v.window))
    stored_open = _latest(metrics.get("open_items"))
    open_items = (
        None if stored_open is None or stored_open.value is None else int(stored_open.value)
    )
    when = how_many = None
    if by_day:
        when = distribution_chart(
            "forecast-when",
            f"When will the {open_items} open items be done?",
            _series("share of trials", by_day),
            {p: d.isoformat() for p, d in dates.items() if d is not None},
            x_title="done on",
            description="Monte Carlo: the share of trials finishing on each day "
            "(forecast_done_share); lines: the stored p50/p85/p95 dates.",
        )
    if by_count:
        how_many = distribution_chart(
            "forecast-how-many",
            f"How many items done {counts_window or 'in four weeks'}?",
            Series(
                "share of trials", [int(v.window) for v in by_count], [v.value for v in by_count]
            ),
            dict(counts),
            x_title="items done",
            description="Monte Carlo: the share of trials finishing each count in the next "
            "four weeks (forecast_items_share); lines: the stored p50/p85/p95 counts.",
        )
    return _Forecast(open_items, dates, counts, counts_window, when, how_many)


def build_team(
    reads: DashboardReads, flow: FlowReads, team: str, filters: Filters, today: date
) -> TeamPage | None:
    """The team page's data; None when no team of that name has stored values."""
    if team not in reads.team_names():
        return None
    first = filters.first_day(today)
    metrics: dict[str, list[KpiValue]] = {}
    for value in reads.values("team", scope_keys=[team]):
        metrics.setdefault(value.metric, []).append(value)
    points = flow.item_points(team)
    sources = sorted({p.source for p in points})
    if filters.source:
        points = [p for p in points if p.source == filters.source]
    percentiles: dict[int, float] = {}
    window: str | None = None
    for p in CYCLE_PERCENTILES:
        stored = _latest(metrics.get(f"cycle_time_p{p}_days"))
        if stored is not None and stored.value is not None:
            percentiles[p] = stored.value
            window = stored.window
    stage_index = stage_order(metrics)
    cfd, throughput, wip = _flow_charts(metrics, list(stage_index), first, today)
    scatter, histogram, aging = _item_charts(points, percentiles, stage_index, first, today)
    forecast = _forecast(metrics)
    return TeamPage(
        team=team,
        filters=filters,
        first=first,
        last=today,
        cycle_time_percentiles=percentiles,
        percentile_window=window,
        open_items=forecast.open_items,
        forecast_dates=forecast.dates,
        forecast_counts=forecast.counts,
        forecast_counts_window=forecast.counts_window,
        has_sprints=bool(reads.values("sprint", team=team, metrics=["committed_items"])),
        cfd=cfd,
        scatter=scatter,
        aging=aging,
        throughput=throughput,
        wip=wip,
        histogram=histogram,
        when=forecast.when,
        how_many=forecast.how_many,
        sources=sources,
    )
