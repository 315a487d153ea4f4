"""Forecasts proven against the past: the request forecasts replayed over the history. Pure.

For each past day D, `request_forecasts(items, today=D)` forecasts every request open on D as
it stood then (only the items created by D, those done after D still open, the throughput of
the days before D), and each forecast's p50/p85/p95 dates are compared with the day the
request was actually done. A well calibrated p85 is met by about 85% of the requests.

Why a forecast is judged only once its date has passed (the censoring rule): the data ends on
`today`, and a request still open then has no finish day. Its p85 date, if already passed, was
missed whatever happens next: it counts, as not met. If the date has not passed yet, nobody
knows: it is left out, and so is a request that *did* finish but whose date has not passed
either. Leaving out only the open ones would keep the quick finishers and drop the slow ones,
and the coverage would look better than it is; the rule picks what is judged by the forecast's
date alone, never by the outcome. docs/portfolio.md "Forecasts proven against the past" has the
formulas, the choice of days and a worked example.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pmo_sync.kpi.forecast import HORIZON_DAYS
from pmo_sync.portfolio.config import DEFAULT_REQUEST_LEVELS
from pmo_sync.portfolio.forecast import NoForecast, request_forecasts
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import WorkItem

__all__ = [
    "BACKTEST_TRIALS",
    "BacktestForecast",
    "BacktestReport",
    "Calibration",
    "Every",
    "MedianError",
    "backtest",
    "backtest_days",
    "calibration_lines",
    "error_line",
]

BACKTEST_TRIALS = 1_000
"""Trials per forecast: a tenth of the live forecast's, since each past day is a forecast of
its own (26 days x 2,000 requests). Measured on a simulated history, 1,000 trials' dates were
within 2 days of 10,000's at p50 and p85, 4 at p95 (docs/portfolio.md)."""


@dataclass(frozen=True, slots=True)
class Every:
    """The days to replay: every `step_days` days back from `today` (the first `step_days`
    before it), at most `count` of them, oldest first; a day on which no request is open is
    skipped. The default, every week for half a year, bounds the cost at 26 forecasts."""

    step_days: int = 7
    count: int = 26


@dataclass(frozen=True, slots=True)
class BacktestForecast:
    """One request's forecast as of a past `day`, and what happened."""

    day: date
    ref: ItemRef
    dates: Mapping[int, date | None]
    """Percentile → the date forecast on `day`; None beyond the horizon."""
    finished: date | None
    """The day the request was done; None: still open at the end of the data."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """How often one percentile's dates were met, over the forecasts whose date has passed."""

    percentile: int
    judged: int
    """Forecasts whose p-date is before `today` (or whose request finished by a date the
    horizon put beyond the data)."""
    covered: int
    """Of those, the requests done on or before their p-date."""
    pending: int
    """Forecasts left out: their p-date is `today` or later, so it is not known yet whether it
    will be met."""

    @property
    def share(self) -> float | None:
        """covered / judged; None when nothing could be judged."""
        return self.covered / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class MedianError:
    """The error of the p50 dates, in days: finish day - p50 date (positive: done late)."""

    finished: int
    """Judged p50 forecasts (date passed) whose request finished: the errors are theirs."""
    still_open: int
    """Judged p50 forecasts whose request is still open: late by at least today - p50, their
    error unknown, left out (so the errors below lean early)."""
    median_days: float | None
    mean_absolute_days: float | None


@dataclass(frozen=True, slots=True)
class BacktestReport:
    today: date
    """The end of the data: forecasts are judged against what was done by then."""
    days: tuple[date, ...]
    """The past days replayed, oldest first."""
    forecasts: tuple[BacktestForecast, ...]
    """Every dated forecast, by day then as `request_forecasts` lists them."""
    without: Mapping[NoForecast, int]
    """Open requests on the replayed days that got no dates, by why."""
    calibration: tuple[Calibration, ...]
    """One per percentile, in the order asked."""
    error: MedianError


def backtest_days(
    items: Sequence[WorkItem], today: date, rule: Every, levels: Collection[str]
) -> list[date]:
    """The days `rule` gives back from `today`, oldest first, keeping those on which some
    request (an item of `levels`) is open: created on or before it, not done by it."""
    if rule.step_days < 1 or rule.count < 1:
        raise ValueError(f"step_days and count must be >= 1, got {rule.step_days}, {rule.count}")
    request_levels = frozenset(levels)
    spans = [(item.created, item.done) for item in items if item.level in request_levels]
    days = []
    for k in range(rule.count, 0, -1):
        day = today - timedelta(days=k * rule.step_days)
        if any(created <= day and (done is None or done > day) for created, done in spans):
            days.append(day)
    return days


def backtest(
    items: Sequence[WorkItem],
    today: date,
    days: Sequence[date] | Every = Every(),
    *,
    levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
    shares: Mapping[ItemRef, float] | None = None,
    trials: int = BACKTEST_TRIALS,
    seed: int = 0,
    history_days: int = 90,
    percentiles: Sequence[int] = (50, 85, 95),
    horizon_days: int = HORIZON_DAYS,
    learn: bool = True,
) -> BacktestReport:
    """Replay the request forecasts on each of `days` (or the days an `Every` rule gives) and
    judge them against `today`, the end of the data: see the module docstring.

    Every day must be before `today` (a forecast made on the last day of the data can judge
    nothing). The other arguments are `request_forecasts`' own; percentile 50 is needed for
    the error.
    """
    if 50 not in percentiles:
        raise ValueError(f"percentiles must include 50 (the error is the p50's), got {percentiles}")
    chosen = (
        backtest_days(items, today, days, levels) if isinstance(days, Every) else sorted(set(days))
    )
    late = [d for d in chosen if d >= today]
    if late:
        raise ValueError(f"backtest days must be before {today}, got {late[0]}")
    finished = {
        item.ref: item.done for item in items if item.done is not None and item.done <= today
    }
    forecasts: list[BacktestForecast] = []
    without: Counter[NoForecast] = Counter()
    for day in chosen:
        for forecast in request_forecasts(
            items,
            day,
            levels=levels,
            shares=shares,
            trials=trials,
            seed=seed,
            history_days=history_days,
            percentiles=percentiles,
            horizon_days=horizon_days,
            learn=learn,
        ):
            if forecast.reason is not None:
                without[forecast.reason] += 1
                continue
            forecasts.append(
                BacktestForecast(day, forecast.ref, forecast.dates, finished.get(forecast.ref))
            )
    return BacktestReport(
        today=today,
        days=tuple(chosen),
        forecasts=tuple(forecasts),
        without=dict(sorted(without.items())),
        calibration=tuple(_calibration(forecasts, p, today, horizon_days) for p in percentiles),
        error=_error(forecasts, today, horizon_days),
    )


def _judged(
    forecast: BacktestForecast, p: int, today: date, horizon_days: int
) -> tuple[bool, bool]:
    """(judged, met) for one percentile. A date beyond the horizon stands for the horizon's
    first day, D + horizon: the earliest the p-date could be."""
    due = forecast.dates[p] or forecast.day + timedelta(days=horizon_days)
    met = forecast.finished is not None and forecast.finished <= due
    return due < today, met


def _calibration(
    forecasts: Sequence[BacktestForecast], p: int, today: date, horizon_days: int
) -> Calibration:
    judged = covered = pending = 0
    for forecast in forecasts:
        passed, met = _judged(forecast, p, today, horizon_days)
        if not passed:
            pending += 1
            continue
        judged += 1
        covered += met
    return Calibration(p, judged, covered, pending)


def _error(forecasts: Sequence[BacktestForecast], today: date, horizon_days: int) -> MedianError:
    errors: list[int] = []
    still_open = 0
    for forecast in forecasts:
        p50 = forecast.dates[50]
        if p50 is None or not _judged(forecast, 50, today, horizon_days)[0]:
            continue
        if forecast.finished is None:
            still_open += 1
        else:
            errors.append((forecast.finished - p50).days)
    if not errors:
        return MedianError(0, still_open, None, None)
    return MedianError(
        len(errors),
        still_open,
        float(statistics.median(errors)),
        sum(abs(e) for e in errors) / len(errors),
    )


def _percent(covered: int, judged: int) -> int:
    """covered / judged as a whole percent, halves up, but 100 only when every one was met and
    0 only when none was (995 of 1,000 reads 99%, 1 of 300 reads 1%)."""
    percent = (200 * covered + judged) // (2 * judged)
    if percent == 100 and covered < judged:
        return 99
    if percent == 0 and covered > 0:
        return 1
    return percent


def calibration_lines(report: BacktestReport) -> list[str]:
    """One line per percentile: `p85: 84% of 212 forecasts finished by their p85 date`."""
    lines = []
    for c in report.calibration:
        name = f"p{c.percentile}"
        if not c.judged:
            lines.append(f"{name}: no forecast whose {name} date has passed")
        elif c.judged == 1:
            lines.append(
                f"{name}: {_percent(c.covered, 1)}% of 1 forecast finished by its {name} date"
            )
        else:
            lines.append(
                f"{name}: {_percent(c.covered, c.judged)}% of {c.judged} forecasts "
                f"finished by their {name} date"
            )
    return lines


def error_line(report: BacktestReport) -> str:
    """The p50's error: `p50 error: median 3 days late, mean absolute 7.5 days over 180
    finished requests (12 still open past their p50 date)`."""
    e = report.error
    if e.median_days is None or e.mean_absolute_days is None:
        return "p50 error: no finished request whose p50 date has passed"
    median = e.median_days
    side = "late" if median > 0 else "early" if median < 0 else "on the day"
    size = f"{_days(abs(median))} {side}" if median else side
    requests = "request" if e.finished == 1 else "requests"
    line = (
        f"p50 error: median {size}, mean absolute {_days(e.mean_absolute_days)} "
        f"over {e.finished} finished {requests}"
    )
    if e.still_open:
        line += f" ({e.still_open} still open past their p50 date)"
    return line


def _days(value: float) -> str:
    """Days to one decimal, halves up (5.25 → 5.3), a whole number without one."""
    tenth = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    shown = str(tenth.to_integral_value()) if tenth == tenth.to_integral_value() else str(tenth)
    return f"{shown} day" if shown == "1" else f"{shown} days"
