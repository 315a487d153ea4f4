"""Monte Carlo forecasts: hand-worked cases, edge cases and invariants (hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmo_sync.domain import Stage
from pmo_sync.kpi.forecast import (
    EpicForecast,
    NoThroughputError,
    _days_below,
    daily_throughput_of_days,
    daily_throughput_samples,
    days_to_reach,
    epic_forecasts,
    how_many_by,
    how_many_shares,
    percentile_dates,
    team_outlook,
    team_seed,
    throughput_by_team,
    when_done,
    when_done_shares,
)
from pmo_sync.kpi.model import ItemHistory, KpiOptions, StatusChange, Workflow

WORKFLOW = Workflow.from_categories(
    {"To Do": Stage.TODO, "Doing": Stage.IN_PROGRESS, "Done": Stage.DONE}
)
TODAY = date(2026, 4, 1)
UTC_ZONE = ZoneInfo("UTC")
OPTIONS = KpiOptions(forecast_history_days=90, forecast_seed=7)


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


# --- throughput samples ---------------------------------------------------------------------


def test_samples_count_each_complete_day_before_today_zero_filled() -> None:
    done = [
        datetime(2026, 3, 29, 10, tzinfo=UTC),
        datetime(2026, 3, 29, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 1, tzinfo=UTC),
        datetime(2026, 4, 1, 9, tzinfo=UTC),  # today: not over, not sampled
        datetime(2026, 3, 28, 23, tzinfo=UTC),  # before the 3-day window
    ]
    # Window: 29, 30, 31 March.
    assert daily_throughput_samples(done, TODAY, 3, UTC_ZONE).tolist() == [2, 0, 1]
    # In New York 29 March 23:00 UTC is 19:00 the same day, 31 March 01:00 UTC is the 30th
    # at 21:00, and 28 March 23:00 UTC is the 28th: [2, 1, 0].
    ny = daily_throughput_samples(done, TODAY, 3, ZoneInfo("America/New_York"))
    assert ny.tolist() == [2, 1, 0]


def test_samples_of_days_count_the_days_before_today() -> None:
    """The same window for days already in the zone: 29 March twice, 31 March once; today and
    28 March are outside it."""
    days = [date(2026, 3, 29), date(2026, 3, 29), date(2026, 3, 31), TODAY, date(2026, 3, 28)]
    assert daily_throughput_of_days(days, TODAY, 3).tolist() == [2, 0, 1]


# --- when done / how many by ----------------------------------------------------------------


def test_constant_throughput_is_exact() -> None:
    """Two items every day: 5 items need day 1 (2), day 2 (4), day 3 (6) -> the start + 2."""
    samples = np.array([2, 2, 2])
    assert when_done(5, samples, TODAY) == {50: day(2), 85: day(2), 95: day(2)}
    assert when_done(6, samples, TODAY) == {50: day(2), 85: day(2), 95: day(2)}
    assert when_done(7, samples, TODAY) == {50: day(3), 85: day(3), 95: day(3)}
    # The start day and the target both count: from day 0 to day 3 = 4 days = 8 items.
    assert how_many_by(day(3), samples, TODAY) == {50: 8, 85: 8, 95: 8}
    assert how_many_by(TODAY, samples, TODAY) == {50: 2, 85: 2, 95: 2}
    assert how_many_by(day(-1), samples, TODAY) == {50: 0, 85: 0, 95: 0}


def test_percentiles_are_order_statistics_of_a_geometric_wait() -> None:
    """One item at a coin toss a day: P(done by day k) = 1 - 0.5**k.

    70% -> k = 2 (0.75); 85% -> k = 3 (0.875); 95% -> k = 5 (0.969; k = 4 gives 0.9375).
    Each is at least 5 standard errors from the next rank over 10,000 trials.
    """
    samples = np.array([0, 1])
    assert when_done(1, samples, TODAY, percentiles=(70, 85, 95)) == {
        70: day(1),
        85: day(2),
        95: day(4),
    }
    # How many on the start day alone: 1 in about half the trials, so 1 is reached in
    # >= 1% of trials and 0 is all that 95% of trials reach.
    assert how_many_by(TODAY, samples, TODAY, percentiles=(1, 95)) == {1: 1, 95: 0}


def test_distributions_of_constant_throughput_are_one_day_and_one_count() -> None:
    """Two items a day: every trial ends 5 items on day 2 and finishes 8 items by day 3."""
    samples = np.array([2, 2, 2])
    assert when_done_shares(5, samples, TODAY) == {day(2): 1.0}
    assert how_many_shares(day(3), samples, TODAY) == {8: 1.0}
    assert how_many_shares(day(-1), samples, TODAY) == {0: 1.0}
    assert when_done_shares(0, samples, TODAY) == {TODAY: 1.0}


def test_distributions_are_those_the_percentiles_are_read_from() -> None:
    """A coin toss a day: 1 item ends on day k in about 0.5**(k+1) of trials; the shares summed
    up to each p% date reach p%, up to the day before they do not (same seed, same futures)."""
    samples = np.array([0, 1])
    shares = when_done_shares(1, samples, TODAY, seed=3)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares[TODAY] == pytest.approx(0.5, abs=0.03)
    assert shares[day(1)] == pytest.approx(0.25, abs=0.03)
    dates = when_done(1, samples, TODAY, seed=3, percentiles=(50, 70, 85, 95))
    for p, found in dates.items():
        assert found is not None
        done_by = sum(s for d, s in shares.items() if d <= found)
        before = sum(s for d, s in shares.items() if d < found)
        assert done_by >= p / 100 - 1e-9 > before  # the shares are floats: a sum may fall short
    counts = how_many_shares(day(9), samples, TODAY, seed=3)
    assert sum(counts.values()) == pytest.approx(1.0) and set(counts) <= set(range(11))
    for p, count in how_many_by(day(9), samples, TODAY, seed=3, percentiles=(50, 85)).items():
        assert sum(s for n, s in counts.items() if n >= count) >= p / 100 - 1e-9
        assert sum(s for n, s in counts.items() if n > count) < p / 100 - 1e-9


def test_trials_beyond_the_horizon_are_in_no_day() -> None:
    shares = when_done_shares(3, np.array([0] * 9 + [1]), TODAY, horizon_days=10)
    assert max(shares) < day(10) and 0 < sum(shares.values()) < 1


def test_nothing_remaining_is_done_on_the_start_day() -> None:
    assert when_done(0, np.array([0, 0]), TODAY) == {50: TODAY, 85: TODAY, 95: TODAY}


def test_no_history_gives_no_forecast_and_says_why() -> None:
    with pytest.raises(NoThroughputError, match="nothing was finished in the 4 days"):
        when_done(3, np.zeros(4, dtype=int), TODAY)
    with pytest.raises(NoThroughputError, match="empty"):
        how_many_by(day(5), np.zeros(0, dtype=int), TODAY)


def test_days_to_reach_are_the_futures_when_done_reads() -> None:
    """Constant 2 a day: 3 items are reached on day 1 (2, 4), 4 on day 1, 5 on day 2, in every
    trial. On a varied history (1 a day on average) each count's percentile dates are
    `when_done`'s for the seed, over one block of 64 days or several;
    a trial that never reaches a count by the horizon gives the horizon (read as no date)."""
    steady = days_to_reach(np.array([2, 2]), [3, 4, 5], trials=4)
    assert {n: d.tolist() for n, d in steady.items()} == {3: [1] * 4, 4: [1] * 4, 5: [2] * 4}
    samples = np.array([0, 2, 1, 0, 3, 1, 0, 0, 2, 1, 1, 0, 2, 1])
    counts = (10, 25, 100, 150)  # 100 and 150 are reached in the second and third blocks of days
    reached = days_to_reach(samples, counts, trials=1_000, seed=3)
    for n in counts:
        expected = when_done(n, samples, TODAY, trials=1_000, seed=3)
        assert percentile_dates(reached[n], TODAY, (50, 85, 95)) == expected
    rare = days_to_reach(np.array([0] * 9 + [1]), [1000], trials=10, horizon_days=365)
    assert rare[1000].tolist() == [365] * 10
    assert percentile_dates(rare[1000], TODAY, (50,), horizon_days=365) == {50: None}
    assert days_to_reach(samples, []) == {}
    with pytest.raises(ValueError, match="needs must be >= 1, got 0"):
        days_to_reach(samples, [0, 2])
    with pytest.raises(NoThroughputError, match="nothing was finished"):
        days_to_reach(np.zeros(5, dtype=int), [1])


def test_beyond_the_horizon_is_none() -> None:
    samples = np.array([0] * 9 + [1])  # one item every ten days on average
    result = when_done(30, samples, TODAY, horizon_days=365)
    assert result[50] is not None and result[50] < day(365)  # ~300 days
    assert when_done(1000, samples, TODAY, horizon_days=365) == {50: None, 85: None, 95: None}


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="remaining"):
        when_done(-1, np.array([1]), TODAY)
    with pytest.raises(ValueError, match="trials"):
        when_done(1, np.array([1]), TODAY, trials=0)
    with pytest.raises(ValueError, match="percentiles"):
        how_many_by(day(1), np.array([1]), TODAY, percentiles=(0,))


SAMPLES = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=30).filter(any)


@settings(max_examples=40, deadline=None)
@given(SAMPLES, st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_forecasts_are_reproducible_monotonic_and_agree(
    raw: list[int], remaining: int, seed: int
) -> None:
    samples = np.array(raw)
    trials = 400
    ps = (50, 85, 95)
    dates = when_done(remaining, samples, TODAY, trials, seed, ps, horizon_days=400)
    assert dates == when_done(remaining, samples, TODAY, trials, seed, ps, horizon_days=400)
    found = [dates[p] for p in ps]
    assert all(d is not None for d in found)  # >= 1 item per 30 days over 400 days
    assert found == sorted(found)  # type: ignore[type-var]  # p50 <= p85 <= p95
    # More remaining is never sooner.
    more = when_done(remaining + 3, samples, TODAY, trials, seed, ps, horizon_days=400)
    assert all(more[p] >= dates[p] for p in ps)  # type: ignore[operator]
    for p in ps:
        done_day = dates[p]
        assert done_day is not None
        # The same futures answer "how many by": reached on that day, not the day before.
        assert how_many_by(done_day, samples, TODAY, trials, seed, ps)[p] >= remaining
        if done_day > TODAY:
            before = done_day - timedelta(days=1)
            assert how_many_by(before, samples, TODAY, trials, seed, ps)[p] < remaining
    counts = how_many_by(day(remaining), samples, TODAY, trials, seed, ps)
    assert counts[95] <= counts[85] <= counts[50]
    assert counts == how_many_by(day(remaining), samples, TODAY, trials, seed, ps)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=-5, max_value=200),
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from([(50, 85, 95), (1, 70, 100), (95,)]),
    st.integers(min_value=1, max_value=400),
    st.sampled_from([1, 7, 300]),
)
def test_one_outlook_answers_exactly_what_the_four_forecasts_answer(
    raw: list[int],
    remaining: int,
    target_day: int,
    seed: int,
    ps: tuple[int, ...],
    horizon: int,
    trials: int,
) -> None:
    """`team_outlook` (one simulation) equals `when_done`, `how_many_by`, `when_done_shares` and
    `how_many_shares` (four) for every input: remaining 0, targets before the start and past
    the first block, horizons mid-block, trials that never finish, no throughput at all."""
    samples = np.array(raw)
    target = day(target_day)
    args = (samples, TODAY, trials, seed)
    try:
        expected = (
            when_done(remaining, *args, ps, horizon),
            how_many_by(target, *args, ps),
            when_done_shares(remaining, *args, horizon),
            how_many_shares(target, *args),
        )
    except NoThroughputError as exc:
        with pytest.raises(NoThroughputError, match=re.escape(str(exc))):
            team_outlook(remaining, target, *args, ps, horizon)
        return
    outlook = team_outlook(remaining, target, *args, ps, horizon)
    found = (outlook.when_done, outlook.how_many, outlook.done_shares, outlook.count_shares)
    assert found == expected
    assert [list(part) for part in found] == [list(part) for part in expected]  # same order


# --- per team and per epic ------------------------------------------------------------------


def story(
    key: str,
    team: str,
    done_on: date | None = None,
    parent: str | None = None,
    item_type: str = "story",
    status: str = "To Do",
) -> ItemHistory:
    moves: tuple[StatusChange, ...] = ()
    if done_on is not None:
        moment = datetime(done_on.year, done_on.month, done_on.day, 12, tzinfo=UTC)
        moves = (StatusChange(moment, "To Do", "Done"),)
    return ItemHistory(
        key=key,
        source="jira",
        team=team,
        item_type=item_type,
        created=datetime(2025, 1, 1, tzinfo=UTC),
        initial_status="To Do" if moves else status,
        status_changes=moves,
        parent_key=parent,
    )


def steady(team: str, per_day: int) -> list[ItemHistory]:
    """`per_day` items done on each of the 90 history days: constant throughput."""
    return [
        story(f"{team}-done-{n}-{k}", team, done_on=day(-n))
        for n in range(1, 91)
        for k in range(per_day)
    ]


def epic(key: str, team: str = "Alpha", status: str = "To Do") -> ItemHistory:
    return story(key, team, item_type="epic", status=status)


def by_key(forecasts: list[EpicForecast]) -> dict[str, EpicForecast]:
    return {f.epic_key: f for f in forecasts}


def test_throughput_by_team_counts_stories_not_epics_or_subtasks() -> None:
    items = [
        story("A-1", "Alpha", done_on=day(-1)),
        story("A-2", "Alpha", done_on=day(-1), item_type="subtask"),
        story("A-3", "Alpha", done_on=day(-2), item_type="epic"),
        story("A-4", "Alpha", done_on=day(-3)),
        story("B-1", "Beta"),  # nothing done: zeros, still a team
    ]
    options = KpiOptions(forecast_history_days=3)
    samples = throughput_by_team(items, WORKFLOW, TODAY, options)
    assert {t: s.tolist() for t, s in samples.items()} == {"Alpha": [1, 0, 1], "Beta": [0, 0, 0]}


def test_epics_with_steady_teams_are_exact() -> None:
    items = [
        *steady("Alpha", 1),
        *steady("Beta", 2),
        epic("E-1"),  # 3 left with Alpha at 1 a day: days 0, 1, 2 -> today + 2
        *(story(f"E1-{n}", "Alpha", parent="E-1") for n in range(3)),
        story("E1-done", "Alpha", parent="E-1", done_on=day(-5)),
        epic("E-2"),  # 3 with Alpha (3 days) and 4 with Beta (2 days): the slower -> today + 2
        *(story(f"E2-a{n}", "Alpha", parent="E-2") for n in range(3)),
        *(story(f"E2-b{n}", "Beta", parent="E-2") for n in range(4)),
        epic("E-3"),  # 3 with Alpha at half its throughput: 6 days of it -> today + 5
        *(story(f"E3-{n}", "Alpha", parent="E-3") for n in range(3)),
        epic("E-4"),  # no children
        epic("E-5"),  # all children done
        story("E5-1", "Alpha", parent="E-5", done_on=day(-2)),
        epic("E-6", status="Done"),  # done: not forecast
        story("E6-1", "Alpha", parent="E-6"),
    ]
    result = by_key(epic_forecasts(items, WORKFLOW, OPTIONS, TODAY, shares={"E-3": 0.5}))
    assert list(result) == ["E-1", "E-2", "E-3", "E-4", "E-5"]
    e1 = result["E-1"]
    assert (e1.remaining_items, e1.remaining_by_team, e1.note) == (3, {"Alpha": 3}, None)
    assert e1.dates == {50: day(2), 85: day(2), 95: day(2)}
    assert result["E-2"].remaining_by_team == {"Alpha": 3, "Beta": 4}
    assert result["E-2"].dates == {50: day(2), 85: day(2), 95: day(2)}
    assert result["E-3"].dates == {50: day(5), 85: day(5), 95: day(5)}
    assert (result["E-4"].dates, result["E-4"].note) == ({}, "no child items: nothing to forecast")
    assert result["E-5"].dates == {50: TODAY, 85: TODAY, 95: TODAY}


def test_idle_team_gives_no_epic_forecast_and_says_why() -> None:
    items = [*steady("Alpha", 1), epic("E-1"), story("E1-1", "Beta", parent="E-1")]
    (forecast,) = epic_forecasts(items, WORKFLOW, OPTIONS, TODAY)
    assert forecast.dates == {}
    assert forecast.note == "no throughput to sample: nothing finished in the last 90 days by Beta"


def noisy(team: str, seed: int) -> list[ItemHistory]:
    counts = np.random.default_rng(seed).integers(0, 4, size=90)
    return [
        story(f"{team}-d{n}-{k}", team, done_on=day(-n - 1))
        for n, c in enumerate(counts)
        for k in range(c)
    ]


def test_a_single_team_epic_is_when_done_with_the_team_seed() -> None:
    items = [*noisy("Alpha", 1), epic("E-1"), epic("E-2")]
    items += [story(f"E1-{n}", "Alpha", parent="E-1") for n in range(25)]
    items += [story(f"E2-{n}", "Alpha", parent="E-2") for n in range(7)]
    result = by_key(epic_forecasts(items, WORKFLOW, OPTIONS, TODAY, shares={"E-2": 1 / 3}))
    samples = throughput_by_team(items, WORKFLOW, TODAY, OPTIONS)["Alpha"]
    seed = team_seed(OPTIONS.forecast_seed, "Alpha")
    assert result["E-1"].dates == when_done(25, samples, TODAY, 10_000, seed)
    assert result["E-2"].dates == when_done(21, samples, TODAY, 10_000, seed)  # 7 / (1/3)
    assert result["E-1"].dates[50] < result["E-1"].dates[85] < result["E-1"].dates[95]  # type: ignore[operator]


def test_a_multi_team_epic_is_no_sooner_than_any_team_part() -> None:
    items = [*noisy("Alpha", 1), *noisy("Beta", 2), epic("E-1")]
    items += [story(f"E1-a{n}", "Alpha", parent="E-1") for n in range(20)]
    items += [story(f"E1-b{n}", "Beta", parent="E-1") for n in range(20)]
    (forecast,) = epic_forecasts(items, WORKFLOW, OPTIONS, TODAY)
    samples = throughput_by_team(items, WORKFLOW, TODAY, OPTIONS)
    for team in ("Alpha", "Beta"):
        part = when_done(20, samples[team], TODAY, 10_000, team_seed(OPTIONS.forecast_seed, team))
        assert all(forecast.dates[p] >= part[p] for p in (50, 85, 95))  # type: ignore[operator]
    assert epic_forecasts(items, WORKFLOW, OPTIONS, TODAY) == [forecast]  # reproducible


def test_epic_beyond_the_horizon() -> None:
    items = [story("A-1", "Alpha", done_on=day(-3)), epic("E-1"), epic("E-2")]
    items += [story(f"E1-{n}", "Alpha", parent="E-1") for n in range(200)]
    items += [story("E2-1", "Alpha", parent="E-2"), story("E2-2", "Beta", parent="E-2")]
    items += [story("B-1", "Beta", done_on=day(-3))]
    result = by_key(epic_forecasts(items, WORKFLOW, OPTIONS, TODAY, horizon_days=200))
    # One item in 90 days: 200 items take ~18,000 days.
    assert result["E-1"].dates == {50: None, 85: None, 95: None}
    # One item each from two such teams, a 1/90 chance a day each: both done within 200 days
    # in (1 - (89/90)**200)**2 = 80% of trials: a median, no 85% or 95% date.
    e2 = result["E-2"].dates
    assert e2[50] is not None and (e2[85], e2[95]) == (None, None)


def test_epic_shares_are_checked() -> None:
    items = [*steady("Alpha", 1), epic("E-1"), story("E1-1", "Alpha", parent="E-1")]
    with pytest.raises(ValueError, match="share of E-1"):
        epic_forecasts(items, WORKFLOW, OPTIONS, TODAY, shares={"E-1": 0})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3), min_size=5, max_size=5), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=14), min_size=1, max_size=4, unique=True),
    st.booleans(),
)
def test_days_below_counts_each_row_up_to_each_threshold(
    steps: list[list[int]], thresholds: list[int], huge: bool
) -> None:
    """Both ways (histogram, or searchsorted when a threshold is huge) match a plain count."""
    block = np.cumsum(np.array(steps, dtype=np.int32), axis=1, dtype=np.int32)
    needs = sorted(thresholds + ([5_000_000] if huge else []))
    got = _days_below(block, np.array(needs, dtype=np.int64))
    want = np.stack([(block < n).sum(axis=1) for n in needs], axis=1)
    assert got.tolist() == want.tolist()
