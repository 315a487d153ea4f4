"""Invariants of the flow metrics on random workflows, histories, zones and options (hypothesis).

The sums are checked in elapsed (fractional) days, the one counting under which
parts of a span add up: time in stages = lead time, blocked + wait + active =
lead time. The calendar countings are checked for order (cycle ≤ lead) only.
Daily series are checked against a brute-force count day by day.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pmo_sync.domain import Stage
from pmo_sync.kpi.days import date_range, local_date
from pmo_sync.kpi.items import ItemMetrics, item_metrics
from pmo_sync.kpi.model import (
    FlagChange,
    ItemHistory,
    KpiOptions,
    StatusChange,
    Workflow,
    WorkflowStage,
)
from pmo_sync.kpi.team import (
    _WindowDays,
    arrivals_per_day,
    cumulative_flow,
    daily_wip,
    flow_report,
    net_flow_per_week,
    percentiles,
    throughput_per_day,
    throughput_per_week,
)
from pmo_sync.kpi.timeline import StageInterval, stage_timeline

BASE = datetime(2026, 3, 2, tzinfo=UTC)
ZONES = [
    ZoneInfo("UTC"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("Asia/Kathmandu"),  # +05:45
    ZoneInfo("Australia/Lord_Howe"),  # a 30-minute DST shift
]
EPSILON = 1e-9


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    categories = sorted(
        draw(st.lists(st.sampled_from(list(Stage)), min_size=1, max_size=6)),
        key=list(Stage).index,
    )
    stages = tuple(
        WorkflowStage(f"S{i}", frozenset({f"s{i}a", f"s{i}b"}), category)
        for i, category in enumerate(categories)
    )
    names = [s.name for s in stages]
    commitment = draw(st.integers(0, len(names) - 1))
    done = draw(st.integers(commitment, len(names) - 1))
    return Workflow(
        stages=stages,
        commitment_stage=names[commitment],
        done_stage=names[done],
        wait_stages=frozenset(draw(st.sets(st.sampled_from(names)))),
        blocked_stages=frozenset(draw(st.sets(st.sampled_from(names)))),
    )


def statuses(workflow: Workflow) -> list[str]:
    return sorted({s for stage in workflow.stages for s in stage.statuses} | {"Unknown"})


@st.composite
def histories(draw: st.DrawFn, workflow: Workflow, key: str = "X-1") -> ItemHistory:
    names = statuses(workflow)
    created = BASE + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    gap = st.integers(-120, 5 * 24 * 60)  # minutes; a few go back in time (clock skew)
    changes, moment = [], created
    for _ in range(draw(st.integers(0, 8))):
        moment += timedelta(minutes=draw(gap))
        changes.append(StatusChange(moment, None, draw(st.sampled_from(names))))
    flags, moment = [], created - timedelta(hours=draw(st.integers(0, 5)))
    for _ in range(draw(st.integers(0, 4))):
        moment += timedelta(minutes=draw(gap))
        flags.append(FlagChange(moment, draw(st.booleans())))
    return ItemHistory(
        key=key,
        source="jira",
        team=draw(st.sampled_from(["A", "B"])),
        item_type="story",
        created=created,
        initial_status=draw(st.sampled_from(names)),
        status_changes=tuple(changes),
        flag_changes=tuple(flags),
        status=draw(st.none() | st.sampled_from(names)),
    )


options = st.builds(
    KpiOptions,
    day_counting=st.sampled_from(["inclusive", "exclusive", "fractional"]),
    restart_on_backward_move=st.booleans(),
    zone=st.sampled_from(ZONES),
)


def last_moment(item: ItemHistory) -> datetime:
    return max([item.created, *(c.at for c in item.status_changes)])


@st.composite
def item_cases(draw: st.DrawFn) -> tuple[Workflow, ItemHistory, KpiOptions, datetime]:
    workflow = draw(workflows())
    item = draw(histories(workflow))
    now = last_moment(item) + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    return workflow, item, draw(options), now


@settings(max_examples=250, deadline=None)
@given(item_cases())
def test_item_invariants(case: tuple[Workflow, ItemHistory, KpiOptions, datetime]) -> None:
    workflow, item, opts, now = case
    timeline = stage_timeline(item, workflow)
    m = item_metrics(item, workflow, opts, now)

    # The timeline chains from creation, never goes back in time, and ends open.
    assert timeline[0].start == item.created and timeline[-1].end is None
    for before, after in pairwise(timeline):
        assert before.end == after.start and before.start <= after.start
        assert before.stage != after.stage

    # Committed and done follow the stage the item is in now.
    current = timeline[-1].stage
    assert m.stage == workflow.stage_names[current]
    assert (m.committed_at is not None) == (current >= workflow.commitment_index)
    assert (m.done_at is not None) == (current >= workflow.done_index)

    if m.done_at is not None:
        assert m.committed_at is not None
        assert item.created <= m.committed_at <= m.done_at
        assert m.cycle_time_days is not None and m.lead_time_days is not None
        assert m.cycle_time_days <= m.lead_time_days
        assert m.cycle_time_days >= (1 if opts.day_counting == "inclusive" else 0)
        assert m.wip_age_days is None
        span = (m.done_at - item.created).total_seconds() / 86400
    else:
        assert m.cycle_time_days is None and m.lead_time_days is None
        assert m.flow_efficiency is None
        assert (m.wip_age_days is not None) == (m.committed_at is not None)
        # an open item's clock: its day's start in the zone, or its last change if later
        midnight = now.astimezone(opts.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        last = [timeline[-1].start, *(f.at for f in item.flag_changes[-1:])]
        clock = min(max(midnight, *last), now)
        span = max((clock - item.created).total_seconds() / 86400, 0)

    # Time in stages sums to the lead time (done) or the age since creation (open), in
    # elapsed days; so do blocked + wait + active, each of them non-negative.
    assert list(m.time_in_stage_days) == list(workflow.stage_names)
    assert all(v >= 0 for v in m.time_in_stage_days.values())
    assert math.isclose(sum(m.time_in_stage_days.values()), span, abs_tol=EPSILON)
    assert min(m.blocked_days, m.wait_days, m.active_days) >= -EPSILON
    total = m.blocked_days + m.wait_days + m.active_days
    assert math.isclose(total, span, abs_tol=EPSILON)
    if m.lead_time_days is not None and opts.day_counting == "fractional":
        assert math.isclose(m.lead_time_days, span, abs_tol=EPSILON)
    if m.flow_efficiency is not None:
        assert -EPSILON <= m.flow_efficiency <= 1 + EPSILON

    # Keeping the first commitment never starts later than restarting the clock.
    other = item_metrics(item, workflow, KpiOptions(restart_on_backward_move=False), now)
    restart = item_metrics(item, workflow, KpiOptions(restart_on_backward_move=True), now)
    assert other.done_at == restart.done_at
    if restart.committed_at is not None:
        assert other.committed_at is not None and other.committed_at <= restart.committed_at


def stage_at_end_of(timeline: tuple[StageInterval, ...], day: date, zone: ZoneInfo) -> int | None:
    """Brute force: the stage of the last interval starting on or before `day` (local)."""
    stage = None
    for interval in timeline:
        if local_date(interval.start, zone) <= day:
            stage = interval.stage
    return stage


@st.composite
def team_cases(draw: st.DrawFn) -> tuple[Workflow, list[ItemHistory], KpiOptions, date, date]:
    workflow = draw(workflows())
    items = [draw(histories(workflow, f"X-{n}")) for n in range(draw(st.integers(0, 12)))]
    start = BASE.date() + timedelta(days=draw(st.integers(-3, 20)))
    end = start + timedelta(days=draw(st.integers(-1, 45)))
    return workflow, items, draw(options), start, end


@settings(max_examples=100, deadline=None)
@given(team_cases())
def test_team_series_invariants(
    case: tuple[Workflow, list[ItemHistory], KpiOptions, date, date],
) -> None:
    workflow, items, opts, start, end = case
    zone = opts.zone
    now = max((last_moment(i) for i in items), default=BASE) + timedelta(days=1)
    metrics: list[ItemMetrics] = [item_metrics(i, workflow, opts, now) for i in items]
    days = date_range(start, end)

    def local(moment: datetime | None) -> date | None:
        return None if moment is None else local_date(moment, zone)

    # Throughput totals equal the items done in the range, daily and weekly alike.
    done_days = [local(m.done_at) for m in metrics]
    done_in_range = sum(1 for day in done_days if day is not None and start <= day <= end)
    daily = throughput_per_day(metrics, start, end, zone)
    assert [day for day, _ in daily] == days
    assert sum(n for _, n in daily) == done_in_range
    weekly = throughput_per_week(metrics, start, end, zone)
    assert sum(n for _, n in weekly) == done_in_range
    assert all(week.weekday() == 0 for week, _ in weekly)
    arrived = [local(m.committed_at) for m in metrics]
    arrivals = arrivals_per_day(metrics, start, end, zone)
    assert sum(n for _, n in arrivals) == sum(
        1 for day in arrived if day is not None and start <= day <= end
    )

    # WIP is never negative and is the brute-force count of committed ≤ day < done.
    wip = daily_wip(metrics, start, end, zone)
    for day, count in wip:
        assert count >= 0
        assert count == sum(
            1
            for c, d in zip(arrived, done_days, strict=True)
            if c is not None and c <= day and (d is None or day < d)
        )

    # Net flow adds up to the change in WIP over the range.
    if days:
        before = daily_wip(metrics, start - timedelta(days=1), start - timedelta(days=1), zone)
        net = sum(n for _, n in net_flow_per_week(metrics, start, end, zone))
        assert net == wip[-1][1] - before[0][1]

    # The CFD is the brute-force stage at each day's end; it counts every created item.
    timelines = [stage_timeline(i, workflow) for i in items]
    cfd = cumulative_flow(timelines, workflow, start, end, zone)
    for n, day in enumerate(days):
        at_end = [stage_at_end_of(t, day, zone) for t in timelines]
        for index, name in enumerate(workflow.stage_names):
            assert cfd.in_stage[name][n] == at_end.count(index)
        assert sum(cfd.in_stage[name][n] for name in workflow.stage_names) == sum(
            1 for s in at_end if s is not None
        )

    # The one-pass report gives the same series.
    report = flow_report(items, lambda team: workflow, opts, now, start, end)
    assert report.metrics == metrics
    assert report.portfolio is not None
    assert report.portfolio.wip_per_day == wip
    assert report.portfolio.throughput_per_day == daily
    for team, summary in report.teams.items():
        team_cfd = cumulative_flow(
            (t for t, i in zip(timelines, items, strict=True) if i.team == team),
            workflow,
            start,
            end,
            zone,
        )
        assert summary.cumulative_flow == team_cfd


@settings(max_examples=400, deadline=None)
@given(
    st.integers(-4 * 24 * 60, 20 * 24 * 60),
    st.integers(-3, 6),
    st.integers(-1, 5),
    st.sampled_from(
        [*ZONES, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12"), ZoneInfo("Pacific/Apia")]
    ),
    st.booleans(),
)
def test_window_days_clip_as_the_exact_local_day(
    minutes: int, start_offset: int, length: int, zone: ZoneInfo, in_zone: bool
) -> None:
    """A moment's day number from `_WindowDays` (not converted when a day clear of the
    window) is its exact local day wherever the series can tell them apart: inside the window,
    or as the window's eve or morrow for a day before or after it."""
    start = BASE.date() + timedelta(days=start_offset)
    end = start + timedelta(days=length)
    moment = BASE + timedelta(minutes=minutes)
    if in_zone:  # a moment already in the reporting zone is read as it is
        moment = moment.astimezone(zone)
    window = _WindowDays(start, end, zone)
    first, last = start.toordinal(), end.toordinal()
    exact = local_date(moment, zone).toordinal()
    found = window.ordinal(moment)
    assert found is not None and window.ordinal(None) is None
    assert min(max(found, first - 1), last + 1) == min(max(exact, first - 1), last + 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=40),
    st.lists(st.floats(0, 100), min_size=1, max_size=5),
)
def test_percentiles_are_ordered_and_within_the_values(
    values: list[float], ps: list[float]
) -> None:
    result = percentiles(values, sorted(ps))
    ordered = [result[p] for p in sorted(ps)]
    assert all(v is not None and min(values) <= v <= max(values) for v in ordered)
    assert all(a <= b for a, b in pairwise(ordered))  # type: ignore[operator]
