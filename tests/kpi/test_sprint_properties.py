"""Invariants of the sprint metrics on random histories, against a naive oracle (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pmo_sync.domain import Stage
from pmo_sync.kpi.model import (
    EstimateChange,
    ItemHistory,
    KpiOptions,
    SprintInfo,
    SprintStay,
    StatusChange,
    Workflow,
)
from pmo_sync.kpi.sprints import SprintMetrics, sprint_metrics

WORKFLOW = Workflow.from_categories(
    {"To Do": Stage.TODO, "Doing": Stage.IN_PROGRESS, "Done": Stage.DONE, "Closed": Stage.DONE}
)
DONE = {"Done", "Closed"}
BASE = datetime(2026, 2, 25, tzinfo=UTC)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
CLOSE = datetime(2026, 3, 13, 17, tzinfo=UTC)
ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])
# Minutes from BASE up to 25 days; whole hours (so local midnights) and the start and the
# close themselves are likely, since the edges are where the definitions bite.
MOMENTS = st.one_of(
    st.integers(min_value=0, max_value=25 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m)),
    st.integers(min_value=0, max_value=25 * 24).map(lambda h: BASE + timedelta(hours=h)),
    st.sampled_from([START, CLOSE]),
)
POINTS = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 8.0]))


@st.composite
def histories(draw: st.DrawFn, key: str) -> ItemHistory:
    bounds = sorted(draw(st.lists(MOMENTS, max_size=6, unique=True)))
    if draw(st.booleans()) and len(bounds) % 2 == 0 and bounds:
        bounds = bounds[:-1]
    stays = [
        SprintStay("S", bounds[i], bounds[i + 1] if i + 1 < len(bounds) else None)
        for i in range(0, len(bounds), 2)
    ]
    estimate = draw(POINTS)
    estimate_changes = []
    for moment in sorted(draw(st.lists(MOMENTS, max_size=3))):
        new = draw(POINTS)
        estimate_changes.append(EstimateChange(moment, estimate, new))
        estimate = new
    initial = status = draw(st.sampled_from(["To Do", "Doing", "Done"]))
    status_changes = []
    for moment in sorted(draw(st.lists(MOMENTS, max_size=4))):
        new = draw(st.sampled_from(["To Do", "Doing", "Done", "Closed"]))
        status_changes.append(StatusChange(moment, status, new))
        status = new
    return ItemHistory(
        key=key,
        source="jira",
        team="A",
        item_type="story",
        created=BASE,
        initial_status=initial,
        status_changes=tuple(status_changes),
        estimate=estimate,
        estimate_changes=tuple(estimate_changes),
        sprint_stays=tuple(stays),
    )


ITEMS = st.integers(min_value=0, max_value=8).flatmap(
    lambda n: st.tuples(*(histories(f"X-{i}") for i in range(n)))
)


# --- the oracle: each definition evaluated directly, by scanning ---------------------------


def member(item: ItemHistory, t: datetime) -> bool:
    return any(
        s.added_at <= t and (s.removed_at is None or t < s.removed_at) for s in item.sprint_stays
    )


def estimate(item: ItemHistory, t: datetime) -> float | None:
    value = item.estimate_changes[0].from_points if item.estimate_changes else item.estimate
    for change in item.estimate_changes:
        if change.at <= t:
            value = change.to_points
    return value


def points(item: ItemHistory, t: datetime) -> float:
    return estimate(item, t) or 0.0


def done(item: ItemHistory, t: datetime) -> bool:
    status = item.initial_status
    for change in item.status_changes:
        if change.at <= t:
            status = change.to_status
    return status in DONE


def oracle(items: tuple[ItemHistory, ...], close: datetime, zone: ZoneInfo) -> dict[str, object]:
    n = {k: 0 for k in ("committed", "added", "removed", "completed", "remaining", "outside")}
    p = {k: 0.0 for k in ("committed", "added", "removed", "completed", "remaining", "delta")}
    unestimated = 0
    scope_items = []
    for item in items:
        joins = [
            s.added_at
            for s in item.sprint_stays
            if START < s.added_at <= close and (s.removed_at is None or s.removed_at > s.added_at)
        ]
        if member(item, START):
            entry, kind = START, "committed"
        elif joins:
            entry, kind = min(joins), "added"
        else:
            continue
        if done(item, entry):
            n["outside"] += 1
            continue
        scope_items.append(item)
        leave = (
            close
            if member(item, close)
            else max(
                s.removed_at for s in item.sprint_stays if s.removed_at and s.removed_at <= close
            )
        )
        n[kind] += 1
        p[kind] += points(item, entry)
        unestimated += estimate(item, entry) is None
        p["delta"] += points(item, leave) - points(item, entry)
        if not member(item, close):
            n["removed"] += 1
            p["removed"] += points(item, leave)
        elif done(item, close):
            n["completed"] += 1
            p["completed"] += points(item, close)
        else:
            n["remaining"] += 1
            p["remaining"] += points(item, close)
    burnup = []
    day, last = START.astimezone(zone).date(), close.astimezone(zone).date()
    while day <= last:
        next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        t = min(close, next_midnight.astimezone(UTC) - timedelta(microseconds=1))
        scope = sum(points(i, t) for i in scope_items if member(i, t))
        finished = sum(points(i, t) for i in scope_items if member(i, t) and done(i, t))
        burnup.append((day, finished, scope))
        day += timedelta(days=1)
    return {"n": n, "p": p, "unestimated": unestimated, "burnup": burnup}


def close_enough(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-9)


def check_against_oracle(m: SprintMetrics, expected: dict[str, object]) -> None:
    n, p = expected["n"], expected["p"]
    assert isinstance(n, dict) and isinstance(p, dict)
    assert (m.committed_items, m.added_items, m.removed_items) == (
        n["committed"],
        n["added"],
        n["removed"],
    )
    assert (m.completed_items, m.remaining_items, m.done_outside_items) == (
        n["completed"],
        n["remaining"],
        n["outside"],
    )
    assert m.unestimated_items == expected["unestimated"]
    for name, value in (
        (m.committed_points, p["committed"]),
        (m.added_points, p["added"]),
        (m.removed_points, p["removed"]),
        (m.completed_points, p["completed"]),
        (m.remaining_points, p["remaining"]),
        (m.reestimate_delta_points, p["delta"]),
    ):
        assert close_enough(name, value)
    burnup = expected["burnup"]
    assert isinstance(burnup, list)
    assert [d for d, _, _ in m.burnup] == [d for d, _, _ in burnup]
    for (_, done_p, scope_p), (_, want_done, want_scope) in zip(m.burnup, burnup, strict=True):
        assert close_enough(done_p, want_done) and close_enough(scope_p, want_scope)


def check_invariants(m: SprintMetrics) -> None:
    # Every in-scope item ends completed, still in (carried over / remaining) or removed.
    assert m.committed_items + m.added_items - m.removed_items == (
        m.completed_items + m.remaining_items
    )
    assert m.committed_items + m.added_items - m.removed_items >= m.completed_items
    assert close_enough(
        m.committed_points + m.added_points - m.removed_points + m.reestimate_delta_points,
        m.completed_points + m.remaining_points,
    )
    # The burnup ends at the completed points and the scope; the burndown is their difference.
    assert m.burnup, "a started sprint has at least one day"
    assert close_enough(m.burnup[-1][1], m.completed_points)
    assert close_enough(m.burnup[-1][2], m.scope_points)
    for (d1, remaining), (d2, finished, scope) in zip(m.burndown, m.burnup, strict=True):
        assert d1 == d2 and close_enough(remaining, scope - finished)
        assert finished <= scope + 1e-9
    # Say/do is its definition (it may exceed 1, never negative).
    if m.committed_points == 0:
        assert m.say_do is None
    else:
        assert m.say_do is not None and m.say_do >= 0
        assert close_enough(m.say_do, m.completed_points / m.committed_points)
    assert m.unestimated_items <= m.committed_items + m.added_items


@settings(max_examples=200, deadline=None)
@given(ITEMS, ZONES)
def test_closed_sprint_matches_the_oracle(items: tuple[ItemHistory, ...], zone: ZoneInfo) -> None:
    sprint = SprintInfo("S", "S", "A", "closed", START, CLOSE - timedelta(hours=1), CLOSE)
    now = CLOSE + timedelta(days=30)
    (m,) = sprint_metrics([sprint], items, WORKFLOW, KpiOptions(zone=zone), now)
    check_invariants(m)
    check_against_oracle(m, oracle(items, CLOSE, zone))
    assert (m.carried_over_items, m.scope_items) == (
        m.remaining_items,
        m.completed_items + m.remaining_items,
    )


@settings(max_examples=100, deadline=None)
@given(ITEMS, ZONES, st.integers(min_value=0, max_value=11 * 24 * 60))
def test_active_sprint_matches_the_oracle_so_far(
    items: tuple[ItemHistory, ...], zone: ZoneInfo, minutes: int
) -> None:
    now = START + timedelta(minutes=minutes)
    sprint = SprintInfo("S", "S", "A", "active", START, CLOSE)
    (m,) = sprint_metrics([sprint], items, WORKFLOW, KpiOptions(zone=zone), now)
    check_invariants(m)
    check_against_oracle(m, oracle(items, now, zone))
    assert m.burndown[-1][0] == now.astimezone(zone).date()  # up to today
    assert (m.carried_over_items, m.carried_over_points) == (0, 0)
