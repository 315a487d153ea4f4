"""Team and portfolio series on small hand-built sets: throughput, WIP, arrivals, net flow,
WIP age, percentiles, cumulative flow, the one-pass report.

Moments are 12:00 UTC in 2026 unless a test says otherwise. 1 Mar 2026 is a Sunday, so
the weeks around it start on Monday 23 Feb, 2 Mar and 9 Mar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.items import ItemMetrics, item_metrics
from pmo_sync.kpi.model import ItemHistory, KpiOptions, StatusChange, Workflow, WorkflowStage
from pmo_sync.kpi.team import (
    FlowMemo,
    WipAge,
    arrival_rate_per_week,
    arrivals_per_day,
    cumulative_flow,
    daily_wip,
    flow_report,
    net_flow_per_week,
    percentiles,
    summarize,
    throughput_per_day,
    throughput_per_week,
    wip_ages,
)
from pmo_sync.kpi.timeline import stage_timeline

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
WORKFLOW = Workflow.from_categories(
    {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
)
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


def history(
    key: str,
    *moves: tuple[datetime, str],
    created: datetime | None = None,
    team: str = "Alpha",
) -> ItemHistory:
    changes, previous = [], "To Do"
    for moment, status in moves:
        changes.append(StatusChange(moment, previous, status))
        previous = status
    return ItemHistory(
        key, "jira", team, "story", created or at(1, month=2), "To Do", tuple(changes)
    )


def flow(
    key: str, committed: datetime | None, done: datetime | None = None, team: str = "Alpha"
) -> ItemHistory:
    moves = [(m, s) for m, s in ((committed, "In Progress"), (done, "Done")) if m is not None]
    return history(key, *moves, team=team)


# A: 2→5 Mar; B: 3 Mar→open; C: 4 Mar 09:00→17:00 (same day); D: never started;
# E: 28 Feb→3 Mar; F: 7 Mar (a Saturday)→open.
ALPHA = [
    flow("A", at(2), at(5)),
    flow("B", at(3)),
    flow("C", at(4, 9), at(4, 17)),
    flow("D", None),
    flow("E", at(28, month=2), at(3)),
    flow("F", at(7)),
]
START, END = d(27, 2), d(10)  # Friday 27 Feb .. Tuesday 10 Mar, 12 days


def metrics_of(items: list[ItemHistory], zone: ZoneInfo = UTC_ZONE) -> list[ItemMetrics]:
    return [item_metrics(i, WORKFLOW, KpiOptions(zone=zone), NOW) for i in items]


def values(series: list[tuple[date, int]]) -> list[int]:
    return [n for _, n in series]


def test_percentiles_interpolate_linearly_between_closest_ranks() -> None:
    """[1, 2, 3, 4]: rank = 3p/100. p50 → 1.5 → 2.5; p70 → 2.1 → 3.1; p85 → 2.55 → 3.55;
    p95 → 2.85 → 3.85. One value is every percentile; none gives None."""
    result = percentiles([4, 1, 3, 2])
    assert result == {
        50: 2.5,
        70: pytest.approx(3.1),
        85: pytest.approx(3.55),
        95: pytest.approx(3.85),
    }
    assert percentiles([7], (50, 85)) == {50: 7, 85: 7}
    assert percentiles([], (50, 85)) == {50: None, 85: None}
    assert percentiles([1, 5], (0, 100)) == {0: 1, 100: 5}
    with pytest.raises(ValueError):
        percentiles([1], (101,))


def test_percentiles_match_numpy_to_the_bit() -> None:
    np = pytest.importorskip("numpy")
    samples = [[1, 4, 4, 8], [3.5, 0.25, 9, 9, 12.75, 1], [2, 7], list(range(1, 101))]
    ps = (0, 5, 33.3, 50, 70, 85, 95, 99, 100)
    for sample in samples:
        expected = np.percentile(sample, ps)
        assert list(percentiles(sample, ps).values()) == [float(x) for x in expected]


def test_throughput_per_day_and_week_zero_filled_with_monday_weeks() -> None:
    """Done: E 3 Mar, C 4 Mar, A 5 Mar. Days 27 Feb..10 Mar; weeks of 23 Feb (27 Feb..1 Mar
    in range), 2 Mar and 9 Mar (9..10 in range): 0, 3, 0."""
    m = metrics_of(ALPHA)
    daily = throughput_per_day(m, START, END, UTC_ZONE)
    assert [day for day, _ in daily][:3] == [d(27, 2), d(28, 2), d(1)]
    assert values(daily) == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert throughput_per_week(m, START, END, UTC_ZONE) == [(d(23, 2), 0), (d(2), 3), (d(9), 0)]
    assert throughput_per_week(m, d(2), d(1), UTC_ZONE) == []


def test_weekly_throughput_counts_sunday_in_the_week_before() -> None:
    """Done 2, 8 (Sunday), 16 and 18 Mar: weeks of 2, 9, 16 Mar = 2, 0, 2."""
    items = [flow(k, at(1), at(day)) for k, day in (("A", 2), ("B", 8), ("C", 16), ("D", 18))]
    weekly = throughput_per_week(metrics_of(items), d(2), d(22), UTC_ZONE)
    assert weekly == [(d(2), 2), (d(9), 0), (d(16), 2)]


def test_throughput_day_is_the_reporting_zones_day() -> None:
    """Done 4 Mar 04:30 UTC = 3 Mar 23:30 in New York."""
    items = [flow("A", at(2), at(4, 4, 30))]
    assert values(throughput_per_day(metrics_of(items, NEW_YORK), d(3), d(4), NEW_YORK)) == [1, 0]
    assert values(throughput_per_day(metrics_of(items), d(3), d(4), UTC_ZONE)) == [0, 1]


def test_daily_wip_counts_committed_to_the_day_before_done() -> None:
    """WIP at the end of each day, committed ≤ day < done:
    27 Feb 0; 28 Feb E; 1 Mar E; 2 E A; 3 A B (E done); 4 A B (C in and out the same day,
    never WIP); 5 B (A done); 6 B; 7 B F; 8, 9, 10 B F. D never started."""
    wip = daily_wip(metrics_of(ALPHA), START, END, UTC_ZONE)
    assert wip[0] == (d(27, 2), 0)
    assert values(wip) == [0, 1, 1, 2, 2, 2, 1, 1, 2, 2, 2, 2]
    assert values(daily_wip(metrics_of(ALPHA), d(5), d(4), UTC_ZONE)) == []


def test_arrivals_and_net_flow_per_week() -> None:
    """Arrivals (commitments): E 28 Feb, A 2 Mar, B 3 Mar, C 4 Mar, F 7 Mar.
    Departures: E 3 Mar, C 4 Mar, A 5 Mar.
    Week of 23 Feb: 1 in, 0 out, net +1; 2 Mar: 4 in, 3 out, +1; 9 Mar: 0, 0, 0.
    Net flow sums to WIP(10 Mar) - WIP(26 Feb) = 2 - 0 = 2."""
    m = metrics_of(ALPHA)
    assert values(arrivals_per_day(m, START, END, UTC_ZONE)) == [0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    assert arrival_rate_per_week(m, START, END, UTC_ZONE) == [(d(23, 2), 1), (d(2), 4), (d(9), 0)]
    assert net_flow_per_week(m, START, END, UTC_ZONE) == [(d(23, 2), 1), (d(2), 1), (d(9), 0)]


def test_wip_ages_oldest_first() -> None:
    """As of 10 Mar 12:00, inclusive: B committed 3 Mar → 8 days, F 7 Mar → 4 days."""
    assert wip_ages(metrics_of(ALPHA)) == [
        WipAge("B", "In Progress", at(3), 8),
        WipAge("F", "In Progress", at(7), 4),
    ]


CFD_ITEMS = [
    # X: To Do 1 Mar 09:00, In Progress 2 Mar 10:00, Done 4 Mar 15:00.
    history("X", (at(2, 10), "In Progress"), (at(4, 15), "Done"), created=at(1, 9)),
    # Y: created 2 Mar 08:00, In Progress 09:00, back to To Do 17:00, In Progress 3 Mar 11:00.
    history(
        "Y",
        (at(2, 9), "In Progress"),
        (at(2, 17), "To Do"),
        (at(3, 11), "In Progress"),
        created=at(2, 8),
    ),
    # Z: created 3 Mar 10:00, straight to Done at 12:00.
    history("Z", (at(3), "Done"), created=at(3, 10)),
]


def test_cumulative_flow_counts_items_in_each_stage_at_the_end_of_each_day() -> None:
    """End of 1 Mar: X To Do. 2 Mar: X In Progress, Y To Do (its morning in progress does
    not show at the day's end). 3 Mar: X, Y In Progress, Z Done. 4 and 5 Mar: X, Z Done,
    Y In Progress. Not yet created items are not counted (28 Feb: nothing).
    The drawn lines (at or beyond a stage) are the sums from the last stage down."""
    cfd = cumulative_flow(
        (stage_timeline(i, WORKFLOW) for i in CFD_ITEMS), WORKFLOW, d(28, 2), d(5), UTC_ZONE
    )
    assert cfd.days == (d(28, 2), d(1), d(2), d(3), d(4), d(5))
    assert cfd.stages == ("To Do", "In Progress", "Done")
    assert cfd.in_stage == {
        "To Do": [0, 1, 1, 0, 0, 0],
        "In Progress": [0, 0, 1, 2, 1, 1],
        "Done": [0, 0, 0, 1, 2, 2],
    }
    assert cfd.at_or_beyond() == {
        "To Do": [0, 1, 2, 3, 3, 3],
        "In Progress": [0, 0, 1, 3, 3, 3],
        "Done": [0, 0, 0, 1, 2, 2],
    }


def test_cumulative_flow_days_are_the_reporting_zones_days() -> None:
    """Created 3 Mar 14:00 UTC, Done 5 Mar 04:30 UTC = 4 Mar 23:30 New York: Done at the
    end of 4 Mar in New York, only at the end of 5 Mar in UTC. Empty window: empty series."""
    item = history("W", (at(5, 4, 30), "Done"), created=at(3, 14))
    timeline = stage_timeline(item, WORKFLOW)
    ny = cumulative_flow([timeline], WORKFLOW, d(3), d(5), NEW_YORK)
    utc = cumulative_flow([timeline], WORKFLOW, d(3), d(5), UTC_ZONE)
    assert (ny.in_stage["To Do"], ny.in_stage["Done"]) == ([1, 0, 0], [0, 1, 1])
    assert (utc.in_stage["To Do"], utc.in_stage["Done"]) == ([1, 1, 0], [0, 0, 1])
    empty = cumulative_flow([timeline], WORKFLOW, d(5), d(4), UTC_ZONE)
    assert empty.days == () and empty.in_stage["Done"] == []
    assert cumulative_flow([()], WORKFLOW, d(3), d(5), UTC_ZONE).in_stage["Done"] == [0, 0, 0]


def test_flow_report_per_team_and_portfolio() -> None:
    """Alpha as above, Beta one item G 2→9 Mar. Done in range, cycle times inclusive:
    C 1, E 28 Feb..3 Mar = 4, A 2..5 = 4, G 2..9 = 8.
    Alpha [1, 4, 4]: p50 4. Portfolio [1, 4, 4, 8]: p50 rank 1.5 → 4; p70 rank 2.1 → 4.4;
    p85 rank 2.55 → 6.2; p95 rank 2.85 → 7.4."""
    items = [*ALPHA, flow("G", at(2), at(9), team="Beta")]
    options = KpiOptions()
    report = flow_report(items, {"Alpha": WORKFLOW, "Beta": WORKFLOW}, options, NOW, START, END)
    assert [m.key for m in report.metrics] == ["A", "B", "C", "D", "E", "F", "G"]
    alpha, beta = report.teams["Alpha"], report.teams["Beta"]
    assert (alpha.items, alpha.done, alpha.wip, alpha.done_in_range) == (6, 3, 2, 3)
    assert alpha.cycle_time_percentiles[50] == 4
    assert values(alpha.wip_per_day) == [0, 1, 1, 2, 2, 2, 1, 1, 2, 2, 2, 2]
    assert alpha.net_flow_per_week == [(d(23, 2), 1), (d(2), 1), (d(9), 0)]
    assert [a.key for a in alpha.wip_ages] == ["B", "F"]
    assert alpha.cumulative_flow is not None
    assert alpha.cumulative_flow.in_stage["Done"][-1] == 3
    assert alpha == summarize(
        report.metrics[:6], START, END, options, "Alpha", alpha.cumulative_flow
    )
    assert (beta.items, beta.done, values(beta.throughput_per_week)) == (1, 1, [0, 0, 1])
    portfolio = report.portfolio
    assert portfolio is not None and portfolio.cumulative_flow is None
    assert (portfolio.items, portfolio.done, portfolio.wip) == (7, 4, 2)
    assert portfolio.team == "portfolio"
    assert portfolio.cycle_time_percentiles == {
        50: 4,
        70: pytest.approx(4.4),
        85: pytest.approx(6.2),
        95: pytest.approx(7.4),
    }
    assert portfolio.lead_time_percentiles[50] is not None
    assert values(portfolio.throughput_per_week) == [0, 3, 1]
    # A function of the team name works as well as a mapping.
    same = flow_report(items, lambda team: WORKFLOW, options, NOW, START, END)
    assert same.teams == report.teams


def test_flow_report_keeps_the_first_commitment_when_asked() -> None:
    """Y of the CFD set went In Progress 2 Mar 09:00, back, and again 3 Mar 11:00: restart
    counts its arrival on 3 Mar, keep-first on 2 Mar; X arrives 2 Mar, Z (To Do → Done) 3 Mar."""
    for restart, expected in ((True, [0, 1, 2]), (False, [0, 2, 1])):
        options = KpiOptions(restart_on_backward_move=restart)
        report = flow_report(CFD_ITEMS, {"Alpha": WORKFLOW}, options, NOW, d(1), d(3))
        arrivals = arrivals_per_day(report.metrics, d(1), d(3), UTC_ZONE)
        assert values(arrivals) == expected


def test_a_memo_gives_the_report_a_fresh_computation_gives_across_days_workflows_options() -> None:
    """`FlowMemo`: the unchanged items' metrics are taken again, the open ones' clocks move
    with the day, and a workflow or options change recomputes what they touch."""
    review = Workflow(
        stages=tuple(
            WorkflowStage(name, frozenset({name}), category)
            for name, category in (
                ("To Do", Stage.TODO),
                ("In Progress", Stage.IN_PROGRESS),
                ("Review", Stage.IN_PROGRESS),
                ("Done", Stage.DONE),
            )
        ),
        commitment_stage="In Progress",
        done_stage="Done",
        wait_stages=frozenset({"Review"}),
    )
    beta = [flow("G", at(2), team="Beta"), history("H", (at(3), "Review"), team="Beta")]
    items = [*ALPHA, *beta]
    memo = FlowMemo()
    steps = [
        (NOW, {"Alpha": WORKFLOW, "Beta": WORKFLOW}, KpiOptions()),
        (at(10, 18), {"Alpha": WORKFLOW, "Beta": WORKFLOW}, KpiOptions()),  # same day
        (at(11, 9), {"Alpha": WORKFLOW, "Beta": WORKFLOW}, KpiOptions()),  # the next day
        (at(11, 9), {"Alpha": WORKFLOW, "Beta": review}, KpiOptions()),  # Beta's board
        (at(11, 9), {"Alpha": WORKFLOW, "Beta": review}, KpiOptions(zone=NEW_YORK)),
        (at(11, 9), {"Alpha": WORKFLOW, "Beta": review}, KpiOptions(day_counting="exclusive")),
    ]
    ages, reviewing, cycles = [], [], []
    for now, workflows, options in steps:
        kept = flow_report(items, workflows, options, now, d(1), d(11), memo)
        fresh = flow_report(items, workflows, options, now, d(1), d(11))
        assert kept == fresh
        ages.append(kept.metrics[1].wip_age_days)  # B, open since 3 Mar
        reviewing.append((kept.metrics[-1].stage, kept.metrics[-1].wait_days))  # H: Review
        cycles.append(kept.metrics[0].cycle_time_days)  # A, done: 2 to 5 Mar
        assert {id(entry.item) for entry in memo.items.values()} == {id(i) for i in items}
    assert ages == [8.0, 8.0, 9.0, 9.0, 9.0, 8.0]
    assert cycles == [4.0, 4.0, 4.0, 4.0, 4.0, 3.0]
    # H waited in To Do from 1 Feb 12:00 to 3 Mar 12:00 (30 days); Review is a stage, and a
    # wait, on Beta's second board only: 3 Mar 12:00 to the start of 11 Mar (UTC: 7.5 days;
    # New York's midnight is 04:00 UTC: 4 hours more)
    first = ("In Progress", 30.0)
    then = [("Review", 37.5), ("Review", 37.5 + 4 / 24), ("Review", 37.5)]
    assert reviewing == [first, first, first, *then]
