"""When will each request be done (docs/portfolio.md "When will each request be done"), by hand.

The histories make Monte Carlo checkable: a team that finished exactly n items on every one of
the 90 days before today draws n on every future day, so every trial is the same and the
percentiles collapse to exact days (the cumulative throughput is n on day 0 = today, 2n on
day 1, ...); a team alternating 0 and 2 draws each with probability 1/2, so the chance of
being done by a day is a binomial sum.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.forecast import team_seed, when_done, when_done_shares
from pmo_sync.portfolio.forecast import (
    NoForecast,
    RequestForecast,
    Scope,
    ScopeDay,
    request_forecasts,
)
from pmo_sync.portfolio.model import WorkItem

TODAY = date(2030, 4, 1)
SRC = "jira"


def day(n: int) -> date:
    """TODAY + n days: day(0) is today, the simulation's first day."""
    return TODAY + timedelta(days=n)


def request(key: str, *, rank: str | None = None, level: str = "epic", **more: object) -> WorkItem:
    """A request of Team-less level `level`; `more` sets any other field (parent, due_date...)."""
    fields: dict[str, object] = {"created": day(-200), "parent": None, **more}
    return WorkItem((SRC, key), None, level, "epic", stage=Stage.TODO, rank=rank, **fields)  # type: ignore[arg-type]


def story(
    key: str,
    team: str | None,
    parent: str | None,
    *,
    done: date | None = None,
    created: date | None = None,
    points: float | None = None,
    item_type: str = "story",
) -> WorkItem:
    return WorkItem(
        (SRC, key),
        team,
        "story",
        item_type,
        (SRC, parent) if parent else None,
        Stage.DONE if done else Stage.TODO,
        created=day(-100) if created is None else created,
        done=done,
        points=points,
    )


def history(team: str, per_day: list[int]) -> list[WorkItem]:
    """Done stories: `per_day[i]` finished on day(-90 + i), cycling over the 90 days before today
    (so [1] is 1 a day, [0, 2] alternates 0 and 2), all under one request `<team>-H` ranked
    above every other and done the day its last story was: the world the queue assumes, so
    every habit the forecast learns from it is neutral (all request work, at the top of the
    queue, no growth, no closing lag, nothing arriving above: `pmo_sync.portfolio.habits`)."""
    done = []
    for i in range(90):
        for n in range(per_day[i % len(per_day)]):
            done.append(story(f"{team}-H{i}-{n}", team, f"{team}-H", done=day(-90 + i)))
    last = max(s.done for s in done if s.done is not None)
    return [request(f"{team}-H", rank="0", done=last), *done]


def by_key(forecasts: list[RequestForecast]) -> dict[str, RequestForecast]:
    return {f.ref[1]: f for f in forecasts}


def exact(d: date) -> dict[int, date | None]:
    return {50: d, 85: d, 95: d}


# -- rank: a team's throughput goes to its requests in rank order --------------------------------


def test_the_lower_ranked_request_finishes_after_what_is_above_it() -> None:
    """Alpha finishes 1 a day. E-1 (rank a) has 3 open stories, E-2 (rank b) 2 and a done one.
    E-1: 3 items of throughput, reached on day 2 (1, 2, 3 on days 0..2) → 3 April.
    E-2: waits for E-1's 3, so 3 + 2 = 5 items → day 4 → 5 April; alone (E-1 done) it would
    need 2 → day 1 → 2 April."""
    items = [
        request("E-1", rank="a"),
        request("E-2", rank="b"),
        *(story(f"S-{i}", "Alpha", "E-1") for i in (1, 2, 3)),
        story("S-4", "Alpha", "E-2"),
        story("S-5", "Alpha", "E-2"),
        # Done before the 90 days of history: work on E-2 while E-1 waited would be work out of
        # rank order, which the forecast would learn (pmo_sync.portfolio.habits).
        story("S-6", "Alpha", "E-2", done=day(-95)),
        *history("Alpha", [1]),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].dates == exact(day(2))
    assert result["E-1"].ahead_by_team == {(SRC, "Alpha"): 0}
    assert result["E-2"].dates == exact(day(4))
    assert result["E-2"].remaining_by_team == {(SRC, "Alpha"): 2}
    assert result["E-2"].ahead_by_team == {(SRC, "Alpha"): 3}

    e1_done = [request("E-1", rank="a", done=day(-1)) if i.ref[1] == "E-1" else i for i in items]
    alone = by_key(request_forecasts(e1_done, TODAY))
    assert list(alone) == ["E-2"]  # a done request has no forecast
    assert alone["E-2"].dates == exact(day(1))


def test_unranked_requests_queue_after_ranked_ones_then_by_key_naturally() -> None:
    """E-10 and E-9 have no rank, E-11 has one: the queue is E-11, E-9, E-10 (9 before 10, not
    as strings). One story each at 1 a day: days 0, 1, 2."""
    items = [
        request("E-10"),
        request("E-9"),
        request("E-11", rank="zzz"),
        story("S-1", "Alpha", "E-10"),
        story("S-2", "Alpha", "E-9"),
        story("S-3", "Alpha", "E-11"),
        *history("Alpha", [1]),
    ]
    result = request_forecasts(items, TODAY, percentiles=(85,))
    assert [(f.ref[1], f.dates[85]) for f in result] == [
        ("E-9", day(1)),
        ("E-10", day(2)),
        ("E-11", day(0)),
    ]  # listed by key; queued by rank


def test_the_top_request_gets_what_the_kpi_forecast_gives_its_remaining_count() -> None:
    """On a varied history the top-ranked request's dates are `when_done` of its remaining items
    with the team's seed: the same futures (one simulation per team, `team_seed`)."""
    per_day = [0, 2, 1, 0, 3, 1, 0, 0, 2, 1, 1, 0, 2, 1]
    items = [
        request("E-1", rank="a"),
        request("E-2", rank="b"),
        *(story(f"S-{i}", "Alpha", "E-1") for i in range(10)),
        *(story(f"T-{i}", "Alpha", "E-2") for i in range(5)),
        *history("Alpha", per_day),
    ]
    samples = np.array([per_day[i % len(per_day)] for i in range(90)])
    seed = team_seed(7, "Alpha")
    result = by_key(request_forecasts(items, TODAY, seed=7, trials=2_000))
    assert result["E-1"].dates == when_done(10, samples, TODAY, trials=2_000, seed=seed)
    assert result["E-2"].dates == when_done(15, samples, TODAY, trials=2_000, seed=seed)


# -- several teams --------------------------------------------------------------------------------


def test_a_request_across_two_teams_finishes_with_its_slower_part() -> None:
    """Alpha finishes 1 a day, Beta 2. E-1 has 3 stories with Alpha (day 2) and 8 with Beta
    (2, 4, 6, 8 on days 0..3: day 3): it is done when Beta is, 4 April. E-0, ranked above it on
    Beta only, adds its 2 items there: 10 → day 4, 5 April (Alpha's part is still day 2)."""
    items = [
        request("E-1", rank="b"),
        *(story(f"A-{i}", "Alpha", "E-1") for i in range(3)),
        *(story(f"B-{i}", "Beta", "E-1") for i in range(8)),
        *history("Alpha", [1]),
        *history("Beta", [2]),
    ]
    (alone,) = request_forecasts(items, TODAY)
    assert alone.dates == exact(day(3))
    assert alone.remaining_by_team == {(SRC, "Alpha"): 3, (SRC, "Beta"): 8}

    ahead = [request("E-0", rank="a"), story("B-8", "Beta", "E-0"), story("B-9", "Beta", "E-0")]
    result = by_key(request_forecasts(items + ahead, TODAY))
    assert result["E-1"].dates == exact(day(4))
    assert result["E-1"].ahead_by_team == {(SRC, "Alpha"): 0, (SRC, "Beta"): 2}
    assert result["E-0"].dates == exact(day(0))  # 2 items: Beta's first day


def test_an_initiative_is_done_when_the_last_request_below_it_is() -> None:
    """Initiative I holds E-1 (rank a, 3 stories) and E-2 (rank c, 2); X (rank b, 4) is not in
    it. Alpha at 1 a day queues E-1 (3 → day 2), X (7 → day 6), E-2 (9 → day 8). I is done with
    E-2: 9 April; its 5 remaining items wait for X's 4."""
    items = [
        request("I-1", level="initiative"),
        request("E-1", rank="a", parent=(SRC, "I-1")),
        request("X-1", rank="b"),
        request("E-2", rank="c", parent=(SRC, "I-1")),
        *(story(f"S-{i}", "Alpha", "E-1") for i in range(3)),
        *(story(f"XS-{i}", "Alpha", "X-1") for i in range(4)),
        *(story(f"T-{i}", "Alpha", "E-2") for i in range(2)),
        *history("Alpha", [1]),
    ]
    levels = ("initiative", "epic")
    result = by_key(request_forecasts(items, TODAY, levels=levels))
    assert {k: f.dates[50] for k, f in result.items()} == {
        "E-1": day(2),
        "E-2": day(8),
        "I-1": day(8),
        "X-1": day(6),
    }
    assert result["I-1"].scope.items_remaining == 5
    assert result["I-1"].ahead_by_team == {(SRC, "Alpha"): 4}
    # Without initiatives as requests, I-1 is no request and its epics queue the same.
    assert "I-1" not in by_key(request_forecasts(items, TODAY))


# -- shares ---------------------------------------------------------------------------------------


def test_a_share_takes_a_request_out_of_the_queue_and_the_rest_queue_for_what_is_left() -> None:
    """Alpha at 1 a day; S-E has half of it: 2 items need ceil(2 / 0.5) = 4 → day 3. E-1 and E-2
    queue for the other half: E-1's 3 need ceil(3 / 0.5) = 6 → day 5, E-2's 3 more need
    ceil(6 / 0.5) = 12 → day 11."""
    items = [
        request("E-1", rank="a"),
        request("E-2", rank="b"),
        request("S-E", rank="0"),  # its rank does not matter: it has a share
        *(story(f"S-{i}", "Alpha", "E-1") for i in range(3)),
        *(story(f"T-{i}", "Alpha", "E-2") for i in range(3)),
        *(story(f"U-{i}", "Alpha", "S-E") for i in range(2)),
        *history("Alpha", [1]),
    ]
    result = by_key(request_forecasts(items, TODAY, shares={(SRC, "S-E"): 0.5}))
    assert result["S-E"].dates == exact(day(3))
    assert result["S-E"].share == 0.5
    assert result["E-1"].dates == exact(day(5))
    assert result["E-1"].ahead_by_team == {(SRC, "Alpha"): 0}
    assert result["E-2"].dates == exact(day(11))

    whole = by_key(request_forecasts(items, TODAY, shares={(SRC, "S-E"): 1.0}))
    assert whole["S-E"].dates == exact(day(1))
    assert whole["E-1"].reason is NoForecast.NO_CAPACITY
    assert whole["E-1"].note == "the configured shares take all the throughput of Alpha (jira)"
    with pytest.raises(ValueError, match="add up to 150%"):
        request_forecasts(items, TODAY, shares={(SRC, "S-E"): 0.9, (SRC, "E-1"): 0.6})
    with pytest.raises(ValueError, match=r"share of jira:E-1 must be in \(0, 1\], got 0"):
        request_forecasts(items, TODAY, shares={(SRC, "E-1"): 0})


# -- the due date ---------------------------------------------------------------------------------


def test_the_probability_of_meeting_the_due_date_on_a_coin_toss_history() -> None:
    """Alpha alternates 0 and 2: each future day draws 2 with probability 1/2. E-1 (rank a) has
    2 items: done by day k (k + 1 days drawn) unless every draw was 0, 1 - 0.5^(k+1):
    day 0 0.5, day 1 0.75, day 2 0.875, day 3 0.9375, day 4 0.96875. p85 → day 2, p95 → day 4.
    E-2 (rank b) has 2 more: 4 items need two draws of 2, P(by day k) = 1 - (k + 2) 0.5^(k+1):
    day 3 0.6875, day 4 0.8125, day 5 0.890625, day 6 0.9375, day 7 0.964844: p85 → day 5,
    p95 → day 7. Both due on day 3: 0.9375 and 0.6875, within sampling error (10,000 trials:
    a standard error under 0.005), and exactly the share of the same trials `when_done_shares`
    finishes by then. E-3 is due yesterday: 0; E-4 has no due date: None."""
    items = [
        request("E-1", rank="a", due_date=day(3)),
        request("E-2", rank="b", due_date=day(3)),
        request("E-3", rank="c", due_date=day(-1)),
        request("E-4", rank="d"),
        *(story(f"S-{i}", "Alpha", "E-1") for i in range(2)),
        *(story(f"T-{i}", "Alpha", "E-2") for i in range(2)),
        story("U-1", "Alpha", "E-3"),
        story("V-1", "Alpha", "E-4"),
        *history("Alpha", [0, 2]),
    ]
    result = by_key(request_forecasts(items, TODAY, percentiles=(85, 95)))
    assert result["E-1"].dates == {85: day(2), 95: day(4)}
    assert result["E-2"].dates == {85: day(5), 95: day(7)}
    assert result["E-1"].due_probability == pytest.approx(0.9375, abs=0.015)
    assert result["E-2"].due_probability == pytest.approx(0.6875, abs=0.015)
    samples = np.array([0, 2] * 45)
    for key, remaining in (("E-1", 2), ("E-2", 4)):
        shares = when_done_shares(remaining, samples, TODAY, seed=team_seed(0, "Alpha"))
        by_due = sum(share for d, share in shares.items() if d <= day(3))
        assert result[key].due_probability == pytest.approx(by_due, abs=1e-6)
    assert result["E-3"].due_probability == 0.0
    assert result["E-4"].due_probability is None


def test_a_request_with_everything_done_is_due_today() -> None:
    """All its items done, the request still open: every trial is done on day 0 (today), so it
    meets a due date of today or later and misses one before."""
    items = [
        request("E-1", due_date=day(0)),
        request("E-2", due_date=day(-2)),
        story("S-1", "Alpha", "E-1", done=day(-5)),
        story("S-2", "Alpha", "E-2", done=day(-5)),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].dates == exact(day(0))
    assert (result["E-1"].due_probability, result["E-2"].due_probability) == (1.0, 0.0)


# -- no forecast, and why -------------------------------------------------------------------------


def test_no_throughput_no_items_no_team_each_say_why() -> None:
    """Beta finished nothing in 90 days (its one done story is 91 days old): E-1, needing Alpha and
    Beta, names Beta. E-2 has nothing under it; E-3's open story has no team."""
    items = [
        request("E-1"),
        request("E-2"),
        request("E-3"),
        story("A-1", "Alpha", "E-1"),
        story("B-1", "Beta", "E-1"),
        story("B-0", "Beta", None, done=day(-91)),
        story("N-1", None, "E-3"),
        *history("Alpha", [1]),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].reason is NoForecast.NO_THROUGHPUT
    assert result["E-1"].reason_teams == ((SRC, "Beta"),)
    assert result["E-1"].note == (
        "no throughput to sample: nothing finished in the last 90 days by Beta (jira)"
    )
    assert (result["E-1"].dates, result["E-1"].due_probability) == ({}, None)
    assert result["E-1"].scope.items_remaining == 2  # the scope is still told
    assert result["E-2"].reason is NoForecast.NO_ITEMS
    assert result["E-2"].note == "no items under it: nothing to forecast"
    assert result["E-3"].reason is NoForecast.NO_TEAM
    assert result["E-3"].note == "1 remaining item has no team"


def test_containers_are_not_work_whatever_their_type() -> None:
    """A Jira initiative's type is `other`, which the KPI engine's throughput would count: here
    it is a container (its level), so Beta's done initiative is no throughput and E-1's Beta
    story cannot be forecast; an item of no level (a type its connector does not map) is work:
    Gamma's is (under the done E-0), and E-2's dates are `when_done` of Gamma's 1 item in 90
    days. Neither is in E-1's scope."""
    initiative = WorkItem(
        (SRC, "I-1"), "Beta", "initiative", "other", None, Stage.DONE, created=day(-50),
        done=day(-2),
    )  # fmt: skip
    unmapped = WorkItem(
        (SRC, "U-1"), "Gamma", None, "other", (SRC, "E-0"), Stage.DONE, created=day(-100),
        done=day(-2),
    )  # fmt: skip
    items = [
        initiative,
        unmapped,
        request("E-0", done=day(-2)),  # request work, so it is the queue's throughput
        request("E-1", parent=(SRC, "I-1")),
        request("E-2"),
        story("B-1", "Beta", "E-1"),
        story("G-1", "Gamma", "E-2"),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].reason is NoForecast.NO_THROUGHPUT
    assert result["E-1"].scope == Scope(0, 1, 0.0, 0.0, 1)
    # Gamma's samples: 1 on day -2 (the 89th of the 90 days), 0 on the others.
    gamma = np.zeros(90, dtype=int)
    gamma[88] = 1
    assert result["E-2"].dates == when_done(1, gamma, TODAY, seed=team_seed(0, "Gamma"))


# -- scope ----------------------------------------------------------------------------------------


def test_scope_counts_the_work_under_it_and_grows_by_created_day() -> None:
    """E-1 holds S-1 (3 points, done), S-2 (5, open, created day -10), S-3 (unestimated, open,
    created day -10), a bug B-1 (2, open, created day -4), a subtask ST-1 under S-2 (not
    counted, as in throughput) and F-1, a feature (a request: a container, not an item) holding
    S-4 (1 point, open, created day -4). Done: 1 item, 3 points; remaining: S-2, S-3, B-1, S-4
    = 4 items, 5 + 0 + 2 + 1 = 8 points, 1 unestimated. Growth: day -100 (S-1) 1 item,
    3 points; day -10 3 items, 8 points; day -4 5 items, 11 points."""
    items = [
        request("E-1"),
        story("S-1", "Alpha", "E-1", points=3, done=day(-20)),
        story("S-2", "Alpha", "E-1", points=5, created=day(-10)),
        story("S-3", "Alpha", "E-1", created=day(-10)),
        story("B-1", "Alpha", "E-1", points=2, created=day(-4), item_type="bug"),
        story("ST-1", "Alpha", "S-2", points=8, created=day(-4), item_type="subtask"),
        request("F-1", level="feature", parent=(SRC, "E-1")),
        story("S-4", "Alpha", "F-1", points=1, created=day(-4)),
        story("S-5", "Alpha", "E-1", created=day(1)),  # created after today: not yet there
        *history("Alpha", [1]),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].scope == Scope(1, 4, 3.0, 8.0, 1)
    assert (result["E-1"].scope.items, result["E-1"].scope.points) == (5, 11.0)
    assert result["E-1"].growth == (
        ScopeDay(day(-100), 1, 3.0),
        ScopeDay(day(-10), 3, 8.0),
        ScopeDay(day(-4), 5, 11.0),
    )
    # F-1 (rank None, key F-1) queues after E-1 (None, E-1) for S-4: E-1 owns 3, F-1 1 → day 3.
    assert result["F-1"].dates == exact(day(3))
    assert result["E-1"].dates == exact(day(3))  # E-1 is done when F-1's part is


# -- as of a past day (the backtest) --------------------------------------------------------------


def test_as_of_a_past_day_only_what_was_known_then_counts() -> None:
    """As of day -10 (Alpha finished 1 a day throughout): E-1, done on day -5, was open; its
    stories S-1 (done day -12) was done, S-2 (done day -6) and S-3 (created day -11) were open,
    S-4 (created day -8) did not exist. 2 remaining → day -9. E-0, created day -9, did not
    exist. The history sampled is the 90 days before day -10."""
    items = [
        request("E-1", done=day(-5)),
        request("E-0", created=day(-9)),
        story("S-1", "Alpha", "E-1", done=day(-12)),
        story("S-2", "Alpha", "E-1", done=day(-6)),
        story("S-3", "Alpha", "E-1", created=day(-11), done=day(-6)),
        story("S-4", "Alpha", "E-1", created=day(-8), done=day(-6)),
        story("S-5", "Alpha", "E-0", created=day(-9)),
        # Alpha's other work, under E-8 (done day -10) then E-9 (created day -9), ranked first.
        request("E-8", rank="0", done=day(-10)),
        request("E-9", rank="0", created=day(-9), done=day(-1)),
        *(story(f"H-{i}", "Alpha", "E-8", done=day(-100 + i)) for i in range(91) if i != 88),
        *(story(f"H-{i}", "Alpha", "E-9", done=day(-100 + i)) for i in range(91, 100)),
    ]
    (then,) = request_forecasts(items, day(-10))
    assert then.ref == (SRC, "E-1")
    assert then.scope == Scope(1, 2, 0.0, 0.0, 2)
    assert then.dates == exact(day(-9))
    assert [f.ref[1] for f in request_forecasts(items, TODAY)] == ["E-0"]


def test_a_parent_cycle_ends_the_walk() -> None:
    """E-1's parent is E-2 and E-2's is E-1 (bad tracker data): S-1 under E-1 belongs to both,
    owned by E-1, and the walk stops instead of looping."""
    items = [
        request("E-1", rank="a", parent=(SRC, "E-2")),
        request("E-2", rank="b", parent=(SRC, "E-1")),
        story("S-1", "Alpha", "E-1"),
        *history("Alpha", [1]),
    ]
    result = by_key(request_forecasts(items, TODAY))
    assert result["E-1"].dates == result["E-2"].dates == exact(day(0))
