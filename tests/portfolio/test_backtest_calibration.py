"""Is the request forecast calibrated? The backtest over simulated year-long histories.

`simulated_history` (its docstring) plays a portfolio of four teams day by day for a year;
the backtest replays the request forecasts every week for the last 26 weeks (the default
`Every`) and judges them on the last day. Three seeds, pooled. Measured (docs/portfolio.md,
"Forecasts proven against the past", "What the replay found"):

- In the world the forecast assumes (every item finished is the top-ranked request's, no scope
  added after a request starts, no unplanned work, no new request jumping the queue, a request
  closed the day its last item is done) the p85 is met by 643 of 768 forecasts, 83.7%.
- In the realistic world (all of those happen, as they do in real teams) the forecast as first
  built, a strict rank queue over all the team's throughput, met its p85 222 of 806 times,
  27.5%. The forecast now learns each team's habits from the history before D
  (`pmo_sync.portfolio.habits`: request-only throughput, scope growth, the rank queue's
  weights, arrivals above the queue, closing lag) and meets it 436 of 552 times, 79.0%, in
  issue 17's band; in the assumed world every habit is neutral and the figures are the strict
  queue's, unchanged.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from pmo_sync.portfolio.backtest import Calibration, backtest

from .simulated_history import simulated_history

TODAY = date(2030, 6, 3)
SEEDS = (1, 2, 3)
AS_ASSUMED: dict[str, Any] = {
    "unplanned_share": 0.0,
    "picks": (1.0,),
    "growth": 0.0,
    "jump": 0.0,
    "max_lag": 0,
}
"""The simulation's realism switched off: the world `request_forecasts` models."""


def pooled(**world: Any) -> dict[int, tuple[int, int]]:
    """Percentile -> (covered, judged) over the seeds' backtests."""
    totals = {50: (0, 0), 85: (0, 0), 95: (0, 0)}
    for seed in SEEDS:
        report = backtest(simulated_history(TODAY, seed=seed, **world), TODAY)
        for c in report.calibration:
            covered, judged = totals[c.percentile]
            totals[c.percentile] = (covered + c.covered, judged + c.judged)
    return totals


@functools.cache
def realistic() -> dict[int, tuple[int, int]]:
    """`pooled` of the realistic world, computed once for the tests that read it."""
    return pooled()


def test_in_the_world_the_model_assumes_its_p85_is_met_about_85_percent_of_the_time() -> None:
    """The backtest's own check: when reality is what the model assumes, p85 lands in issue 17's
    band (83.7%), p95 above it (89.9%) and p50 above a half (64.1%: two of the four teams have
    slack, finish what arrives and so sample a lower throughput than they could give, which
    makes their forecasts late-leaning). Seed 1 alone, exactly: 160 of 182 met their p85."""
    first = backtest(simulated_history(TODAY, seed=1, **AS_ASSUMED), TODAY)
    assert first.calibration[1] == Calibration(85, judged=182, covered=160, pending=151)
    totals = pooled(**AS_ASSUMED)
    assert totals == {50: (556, 867), 85: (643, 768), 95: (642, 714)}
    covered, judged = totals[85]
    assert 0.70 <= covered / judged <= 0.95


def test_on_a_realistic_history_the_p85_is_met_between_70_and_95_percent_of_the_time() -> None:
    """Issue 17's check: 70% <= p85 coverage <= 95%. Measured 436 of 552 = 79.0%."""
    covered, judged = realistic()[85]
    assert 0.70 <= covered / judged <= 0.95


def test_the_realistic_history_is_met_by_what_it_measures() -> None:
    """The realistic world's figures, so a change to the model shows here as a number moving:
    p50 404 of 607 (66.6%), p85 436 of 552 (79.0%), p95 434 of 520 (83.5%); the strict queue
    (`learn=False`) gave 104 of 863, 222 of 806 and 314 of 772."""
    assert realistic() == {50: (404, 607), 85: (436, 552), 95: (434, 520)}
