"""Forecasts proven against the past (docs/portfolio.md, that section), worked out by hand.

The history (`world`) makes every forecast exact: team Alpha finishes exactly one item on every
day from day(-200) to day(-1), so the throughput of any 90 days is 1 a day, every trial draws 1
a day, and p50 = p85 = p95 = D + (threshold - 1) for a request whose threshold (its remaining
items plus those of the requests ranked above it) is reached on day D + threshold - 1.

What finishes, in Alpha's order (day(n) is TODAY + n; TODAY, the end of the data, is 1 June):

- filler stories under no request: day(-200) .. day(-61), then day(-48) .. day(-1) but -3, -2
- E-1 (rank b): 5 stories, created day(-100), done day(-60) .. day(-56); E-1 done day(-56)
  (the team took it before E-2, against the rank: real teams do)
- E-2 (rank a): 5 stories created day(-100) and 2 more on day(-57) (scope growth no forecast
  before then can see), done day(-55) .. day(-49); E-2 done day(-49)
- E-3 (rank c): 3 stories created day(-100), never done: still open at the end (censored)
- E-4 (rank d): created day(-10) with 40 stories, none done
- E-5 (rank e): created day(-10) with 2 stories, done day(-3) and day(-2); E-5 done day(-2)

The forecasts are the strict rank queue's (`learn=False`): the world breaks the queue's
assumptions on purpose (filler work under no request, E-1 against the rank, E-2's growth),
which the learnt model would read as the team's habits (`pmo_sync.portfolio.habits`); here
the subject is the judging, worked by hand. The learnt model's replay is
tests/portfolio/test_backtest_calibration.py's.

A forecast as of D sees the items done on D as done and still gives D a whole day of
throughput (`request_forecasts`' day 0): replayed at the end of D, a forecast is a day early in
a world this regular (docs/portfolio.md, "what the replay found").
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pmo_sync.domain import Stage
from pmo_sync.portfolio.backtest import (
    BacktestForecast,
    BacktestReport,
    Calibration,
    Every,
    MedianError,
    backtest,
    backtest_days,
    calibration_lines,
    error_line,
)
from pmo_sync.portfolio.forecast import NoForecast
from pmo_sync.portfolio.model import WorkItem

TODAY = date(2030, 6, 1)
SRC = "jira"


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def request(key: str, rank: str, *, created: int = -100, done: int | None = None) -> WorkItem:
    return WorkItem(
        (SRC, key),
        "Alpha",
        "epic",
        "epic",
        None,
        Stage.DONE if done is not None else Stage.IN_PROGRESS,
        created=day(created),
        done=day(done) if done is not None else None,
        rank=rank,
    )


def story(key: str, parent: str | None, *, created: int, done: int | None) -> WorkItem:
    return WorkItem(
        (SRC, key),
        "Alpha",
        "story",
        "story",
        (SRC, parent) if parent else None,
        Stage.DONE if done is not None else Stage.TODO,
        created=day(created),
        done=day(done) if done is not None else None,
    )


def world() -> list[WorkItem]:
    """The history of the module docstring."""
    filler = [*range(-200, -60), *(n for n in range(-48, 0) if n not in (-3, -2))]
    return [
        request("E-1", "b", done=-56),
        request("E-2", "a", done=-49),
        request("E-3", "c"),
        request("E-4", "d", created=-10),
        request("E-5", "e", created=-10, done=-2),
        *(story(f"F{-n}", None, created=n - 5, done=n) for n in filler),
        *(story(f"A{i}", "E-1", created=-100, done=-60 + i) for i in range(5)),
        *(story(f"B{i}", "E-2", created=-100, done=-55 + i) for i in range(5)),
        *(story(f"B{i}", "E-2", created=-57, done=-55 + i) for i in (5, 6)),
        *(story(f"C{i}", "E-3", created=-100, done=None) for i in range(3)),
        *(story(f"D{i}", "E-4", created=-10, done=None) for i in range(40)),
        story("G0", "E-5", created=-10, done=-3),
        story("G1", "E-5", created=-10, done=-2),
    ]


def exact(n: int) -> dict[int, date | None]:
    return {50: day(n), 85: day(n), 95: day(n)}


def test_each_past_day_forecasts_the_requests_as_they_stood_then() -> None:
    """D1 = day(-63): E-1, E-2, E-3 open (E-1 and E-2 done later count open); E-4 and E-5 not
    created yet. Alpha's queue: E-2 (rank a) needs 5 → day(-63 + 4) = day(-59) (its 2 stories
    of day(-57) unseen); E-1 5 more → 10 → day(-54); E-3 3 more → 13 → day(-51).
    D2 = day(-58): E-1's stories of day(-60), (-59) and (-58) are done (D2's own too): 2 left.
    E-2 5 → day(-54); E-1 5 + 2 = 7 → day(-52); E-3 10 → day(-49).
    D3 = day(-5): E-1, E-2 done. E-3 3 → day(-3); E-4 43 → day(37); E-5 (its stories are done
    on day(-3) and day(-2), after D3: open) 45 → day(39)."""
    report = backtest(world(), TODAY, [day(-63), day(-58), day(-5)], learn=False)
    assert report.days == (day(-63), day(-58), day(-5))
    assert [(f.day, f.ref[1], f.dates, f.finished) for f in report.forecasts] == [
        (day(-63), "E-1", exact(-54), day(-56)),
        (day(-63), "E-2", exact(-59), day(-49)),
        (day(-63), "E-3", exact(-51), None),
        (day(-58), "E-1", exact(-52), day(-56)),
        (day(-58), "E-2", exact(-54), day(-49)),
        (day(-58), "E-3", exact(-49), None),
        (day(-5), "E-3", exact(-3), None),
        (day(-5), "E-4", exact(37), None),
        (day(-5), "E-5", exact(39), day(-2)),
    ]
    assert report.without == {}


def test_a_forecast_is_judged_once_its_date_has_passed_whatever_the_outcome() -> None:
    """Judged (date before 1 June): D1's three, D2's three and D3's E-3 (day(-3)): 7. Met: E-1
    on both days (done day(-56), forecast day(-54) and day(-52): early, the team took it out of
    rank order). E-2 was late by its unseen growth and E-1's jumping the queue; E-3 never
    finished: its passed dates count as missed (censored, not dropped).
    Pending: E-4 (open, day(37)) and E-5 (done day(-2), before its day(39)): both left out, the
    finished one too, so what is judged never depends on the outcome. 2 of 7: 28.6% → 29%."""
    report = backtest(world(), TODAY, [day(-63), day(-58), day(-5)], learn=False)
    assert report.calibration == (
        Calibration(50, judged=7, covered=2, pending=2),
        Calibration(85, judged=7, covered=2, pending=2),
        Calibration(95, judged=7, covered=2, pending=2),
    )
    assert calibration_lines(report) == [
        "p50: 29% of 7 forecasts finished by their p50 date",
        "p85: 29% of 7 forecasts finished by their p85 date",
        "p95: 29% of 7 forecasts finished by their p95 date",
    ]


def test_the_p50_error_is_over_the_finished_judged_requests() -> None:
    """Finish - p50 of the judged forecasts whose request finished: D1 E-1 -56 - (-54) = -2,
    D1 E-2 -49 - (-59) = 10, D2 E-1 -56 - (-52) = -4, D2 E-2 -49 - (-54) = 5: sorted
    [-4, -2, 5, 10], median (-2 + 5) / 2 = 1.5, mean absolute 21 / 4 = 5.25 (shown 5.3, halves
    up). E-3's three judged forecasts are still open: left out, counted."""
    report = backtest(world(), TODAY, [day(-63), day(-58), day(-5)], learn=False)
    assert report.error == MedianError(4, 3, 1.5, 5.25)
    assert error_line(report) == (
        "p50 error: median 1.5 days late, mean absolute 5.3 days over 4 finished requests "
        "(3 still open past their p50 date)"
    )


def test_the_end_of_the_data_decides_what_is_judged() -> None:
    """The same forecasts judged as of day(-50) instead (the items as they were known then: E-2
    done day(-49) is open, E-4 and E-5 do not exist): D1 E-2 (day(-59), open at day(-50):
    missed), D1 E-1 (day(-54), done -56: met), D1 E-3 (day(-51) passed: missed), D2 E-2
    (day(-54): missed), D2 E-1 (day(-52): met), D2 E-3 (day(-49): pending). 2 of 5."""
    cut = day(-50)
    known = [i for i in world() if i.created <= cut]  # done later: read as open below
    as_then = [
        WorkItem(
            i.ref,
            i.team,
            i.level,
            i.item_type,
            i.parent,
            i.stage if i.done is not None and i.done <= cut else Stage.TODO,
            created=i.created,
            done=i.done if i.done is not None and i.done <= cut else None,
            rank=i.rank,
        )
        for i in known
    ]
    report = backtest(as_then, cut, [day(-63), day(-58)], learn=False)
    assert report.calibration[1] == Calibration(85, judged=5, covered=2, pending=1)


def test_requests_without_dates_are_counted_by_reason() -> None:
    """E-9 has no items: no forecast on each of the two days, counted as `no_items`."""
    items = [*world(), request("E-9", "z")]
    report = backtest(items, TODAY, [day(-63), day(-58)], learn=False)
    assert report.without == {NoForecast.NO_ITEMS: 2}
    assert len(report.forecasts) == 6


def test_every_steps_back_from_today_and_skips_days_with_no_open_request() -> None:
    """Every(7, 4): day(-28), (-21), (-14), (-7). E-1 created day(-15), never done, is open on
    the last two only; E-2 created day(-30) and done day(-21) is open on day(-28) (not on
    day(-21): done that day). Stories are not requests: they open no day."""
    late = request("E-1", "a", created=-15)
    early = request("E-2", "b", created=-30, done=-21)
    stray = story("S-1", None, created=-40, done=None)
    assert backtest_days([late, stray], TODAY, Every(7, 4), ("epic",)) == [day(-14), day(-7)]
    assert backtest_days([late, early], TODAY, Every(7, 4), ("epic",)) == [
        day(-28),
        day(-14),
        day(-7),
    ]
    report = backtest(world(), TODAY, Every(step_days=5, count=2), learn=False)
    assert report.days == (day(-10), day(-5))


def test_a_date_beyond_the_horizon_stands_for_the_horizons_first_day() -> None:
    """A 5-day horizon on D1 = day(-63): E-2's threshold 5 is reached on day 4 (day(-59)); E-1's
    10 and E-3's 13 are not: no dates, read as day(-63 + 5) = day(-58), passed. E-1 done day(-56)
    missed it, E-3 (open) too, E-2 (day(-49)) missed day(-59): 0 of 3. The p50 error is E-2's
    alone, 10 days: forecasts without a p50 date are not in it."""
    report = backtest(world(), TODAY, [day(-63), day(-63)], horizon_days=5, learn=False)
    assert report.days == (day(-63),)  # a day given twice is replayed once
    assert [(f.ref[1], f.dates) for f in report.forecasts] == [
        ("E-1", {50: None, 85: None, 95: None}),
        ("E-2", exact(-59)),
        ("E-3", {50: None, 85: None, 95: None}),
    ]
    assert report.calibration[1] == Calibration(85, judged=3, covered=0, pending=0)
    assert report.error == MedianError(1, 0, 10.0, 10.0)


def test_days_must_be_before_the_end_of_the_data() -> None:
    with pytest.raises(ValueError, match="backtest days must be before 2030-06-01, got 2030-06-01"):
        backtest(world(), TODAY, [day(-5), day(0)])
    with pytest.raises(ValueError, match="step_days and count must be >= 1, got 0, 26"):
        backtest(world(), TODAY, Every(step_days=0))
    with pytest.raises(ValueError, match=r"percentiles must include 50 .*, got \(85,\)"):
        backtest(world(), TODAY, [day(-5)], percentiles=(85,))


def _report(*calibration: Calibration, error: MedianError | None = None) -> BacktestReport:
    return BacktestReport(
        today=TODAY,
        days=(),
        forecasts=(),
        without={},
        calibration=calibration,
        error=error or MedianError(0, 0, None, None),
    )


def test_the_lines_round_to_the_nearest_percent_but_never_claim_all_or_none_falsely() -> None:
    """178 / 212 = 83.96% → 84%; 1 / 8 = 12.5% → 13% (halves up); 995 / 1000 = 99.5% would
    round to 100% with a miss: 99%; 1 / 300 = 0.33% would read 0% with a hit: 1%; 0 judged: no
    percentage; 1 judged: singular."""
    report = _report(
        Calibration(85, 212, 178, 10),
        Calibration(50, 8, 1, 0),
        Calibration(95, 1000, 995, 0),
        Calibration(70, 300, 1, 0),
        Calibration(90, 0, 0, 4),
        Calibration(99, 1, 1, 0),
    )
    assert calibration_lines(report) == [
        "p85: 84% of 212 forecasts finished by their p85 date",
        "p50: 13% of 8 forecasts finished by their p50 date",
        "p95: 99% of 1000 forecasts finished by their p95 date",
        "p70: 1% of 300 forecasts finished by their p70 date",
        "p90: no forecast whose p90 date has passed",
        "p99: 100% of 1 forecast finished by its p99 date",
    ]


def test_the_error_line_says_early_late_or_on_the_day() -> None:
    assert error_line(_report(error=MedianError(3, 0, -1.0, 4.3))) == (
        "p50 error: median 1 day early, mean absolute 4.3 days over 3 finished requests"
    )
    assert error_line(_report(error=MedianError(1, 2, 0.0, 0.0))) == (
        "p50 error: median on the day, mean absolute 0 days over 1 finished request "
        "(2 still open past their p50 date)"
    )
    assert error_line(_report()) == "p50 error: no finished request whose p50 date has passed"


def test_a_forecast_pairs_its_dates_with_the_finish() -> None:
    """The report keeps each pairing, so a caller can list the misses."""
    report = backtest(world(), TODAY, [day(-58)], learn=False)
    assert report.forecasts[0] == BacktestForecast(day(-58), (SRC, "E-1"), exact(-52), day(-56))
