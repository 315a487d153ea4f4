"""Monte Carlo forecasts from sampled daily throughput (Vacanti, "When Will It Be Done?").

Each trial is a possible future: every day's throughput is drawn at random,
with replacement, from the team's own recent days - zero days included,
since the days nothing finished are as much a part of the team's rhythm as
the busy ones. 10,000 trials give a distribution; its percentiles answer
"when will N items be done" and "how many items by a date".

Conventions:

- **History**: the `history_days` complete days before `today` (today is
  not over, so it would bias throughput down), in the reporting zone.
- **Day 1 is the start day**: a simulation starting on `start` counts that
  day's whole throughput. Pass tomorrow when today's work is already over.
- **When done, p%**: the earliest date by which the remaining items are done
  in at least p% of trials. 0 remaining -> the start day. Later than the
  horizon (default 5 years) -> None, "beyond the horizon".
- **How many by a date, p%**: the largest count reached in at least p% of
  trials (the (100 - p)th percentile of outcomes), so the 95% count is the
  smallest. The target day counts; a date before the start gives 0.
- Both are exact order statistics of the trials (no interpolation), so
  "when done" and "how many" agree: if `when_done(n)[p]` is day D, then
  `how_many_by(D)[p] >= n` and `how_many_by(D - 1)[p] < n` for the same seed.
- **No throughput** (no history, or nothing finished in it): no forecast,
  `NoThroughputError` says why.
- **Reproducible**: `numpy.random.default_rng(seed)`, draws made in fixed
  blocks of days so the same seed gives the same futures whatever the horizon.

Per team: `throughput_by_team` gives each team's samples (items other than
epics and subtasks, done when they last entered the done stage); pass them
to `when_done` / `how_many_by` with `team_seed(seed, team)`.

Per epic: an epic's remaining items are its children not done now, counted
per team. Each team is simulated **once** (one matrix of cumulative
throughput, trials x days) and every epic of that team is read off it: the
epic finishes on the first day the cumulative throughput reaches its
remaining count. By default an epic gets the team's **whole** throughput,
i.e. the forecast answers "if the team made this epic its priority" - the
earliest honest date, and the right one for the epic at the top of the
backlog. When the team splits its time, pass the epic's `share` of
throughput (0 < share <= 1): it then needs ``ceil(remaining / share)``
items of team throughput, which reads off the same matrix. An epic whose
remaining children sit with several teams finishes, in each trial, when the
last team finishes its part (teams are simulated independently).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from pmo_sync.kpi.model import ItemHistory, KpiOptions, Workflow
from pmo_sync.kpi.sprints import _done_at, _DoneStatuses

__all__ = [
    "HORIZON_DAYS",
    "EpicForecast",
    "NoThroughputError",
    "TeamOutlook",
    "daily_throughput_of_days",
    "daily_throughput_samples",
    "days_to_reach",
    "epic_forecasts",
    "how_many_by",
    "how_many_shares",
    "percentile_dates",
    "team_outlook",
    "team_seed",
    "throughput_by_team",
    "when_done",
    "when_done_shares",
]

HORIZON_DAYS = 5 * 365 + 1  # five years, one leap day
NOT_COUNTED_TYPES = frozenset({"epic", "subtask"})
"""Item types left out of throughput: epics are containers, subtasks are parts of items."""

_BLOCK = 64  # days drawn at a time; fixed so the seed alone decides every trial

Seed = int | Sequence[int]


class NoThroughputError(ValueError):
    """Nothing finished in the sampled history, so there is nothing to forecast from."""


def daily_throughput_samples(
    done_dates: Iterable[datetime], today: date, history_days: int, zone: ZoneInfo
) -> np.ndarray:
    """Items finished on each of the `history_days` complete days before `today`, oldest first.

    Zero-filled: a day nothing finished is a sample of 0, not missing.
    """
    return daily_throughput_of_days(
        (moment.astimezone(zone).date() for moment in done_dates), today, history_days
    )


def daily_throughput_of_days(
    done_days: Iterable[date], today: date, history_days: int
) -> np.ndarray:
    """`daily_throughput_samples` for done days already in the reporting zone (the portfolio's
    items carry days, not instants)."""
    if history_days < 0:
        raise ValueError(f"history_days must be >= 0, got {history_days}")
    counts = np.zeros(history_days, dtype=np.int64)
    first = today - timedelta(days=history_days)
    for day in done_days:
        offset = (day - first).days
        if 0 <= offset < history_days:
            counts[offset] += 1
    return counts


def _check_arguments(trials: int, percentiles: Iterable[int]) -> None:
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    for p in percentiles:
        if not 0 < p <= 100:
            raise ValueError(f"percentiles must be in (0, 100], got {p}")


def _check(samples: np.ndarray, trials: int, percentiles: Iterable[int]) -> None:
    _check_arguments(trials, percentiles)
    if samples.size == 0:
        raise NoThroughputError("no throughput history: the history window is empty")
    if not samples.any():
        raise NoThroughputError(
            f"nothing was finished in the {samples.size} days of history: no throughput to sample"
        )


def _needed(p: int, trials: int) -> int:
    """How many trials make p% of them: ceil(p * trials / 100), in integers."""
    return -(-p * trials // 100)


class _Futures:
    """Cumulative throughput of `trials` simulated futures, drawn block by block of days.

    Every block is drawn in full even when fewer days are needed, so a seed
    gives the same futures whatever horizon the caller stops at.
    """

    def __init__(self, samples: np.ndarray, trials: int, seed: Seed) -> None:
        self._samples = np.asarray(samples, dtype=np.int32)
        self._rng = np.random.default_rng(seed)
        self._trials = trials
        self.days = 0
        self.last = np.zeros(trials, dtype=np.int32)  # cumulative at the last simulated day

    def grow(self) -> np.ndarray:
        """Simulate `_BLOCK` more days; their cumulative throughput, trials x days."""
        picks = self._rng.integers(0, self._samples.size, size=(self._trials, _BLOCK))
        block = np.cumsum(self._samples[picks], axis=1, dtype=np.int32)
        block += self.last[:, None]
        self.last = block[:, -1].copy()
        self.days += _BLOCK
        return block


def _order_stats(cumulative: np.ndarray, ranks: Sequence[int]) -> np.ndarray:
    """Row j: for each day, the `ranks[j]`-th smallest (from 0) cumulative throughput of the trials.

    Sorted day by day on a transposed copy: contiguous rows make numpy's
    integer sort several times faster than a partition down the columns.
    """
    by_day = np.sort(np.ascontiguousarray(cumulative.T), axis=1)
    return np.ascontiguousarray(by_day[:, list(ranks)].T)


def when_done(
    remaining: int,
    samples: np.ndarray,
    start: date,
    trials: int = 10_000,
    seed: Seed = 0,
    percentiles: Sequence[int] = (50, 85, 95),
    horizon_days: int = HORIZON_DAYS,
) -> dict[int, date | None]:
    """The date by which `remaining` items are done in p% of trials; None beyond the horizon.

    In trial k the items are done on the first day its cumulative
    throughput reaches `remaining`. The p% date is the smallest day D with
    at least ceil(p% x trials) trials done by D, which is the first day on
    which the ceil(p% x trials)-th largest cumulative throughput reaches
    `remaining` - so only a few order statistics per day are needed.
    """
    if remaining < 0:
        raise ValueError(f"remaining must be >= 0, got {remaining}")
    if remaining == 0:
        return dict.fromkeys(percentiles, start)
    _check(samples, trials, percentiles)
    ranks = {p: trials - _needed(p, trials) for p in percentiles}
    found: dict[int, date | None] = dict.fromkeys(percentiles)
    futures = _Futures(samples, trials, seed)
    todo = set(percentiles)
    while todo and futures.days < horizon_days:
        offset = futures.days
        block = futures.grow()
        stats = _order_stats(block, [ranks[p] for p in sorted(todo)])
        for row, p in zip(stats, sorted(todo), strict=True):
            day = offset + int(np.searchsorted(row, remaining, side="left"))
            if day < min(offset + _BLOCK, horizon_days):
                found[p] = start + timedelta(days=day)
                todo.discard(p)
    return found


def how_many_by(
    target: date,
    samples: np.ndarray,
    start: date,
    trials: int = 10_000,
    seed: Seed = 0,
    percentiles: Sequence[int] = (50, 85, 95),
) -> dict[int, int]:
    """The count of items finished from `start` to `target` (both days count) in >= p% of trials.

    The outcome sorted ascending, read at index trials - ceil(p% x trials):
    the largest count that at least that many trials reach.
    """
    _check(samples, trials, percentiles)
    counts = _counts_by(target, samples, start, trials, seed)
    if counts is None:
        return dict.fromkeys(percentiles, 0)
    outcomes = np.sort(counts)
    return {p: int(outcomes[trials - _needed(p, trials)]) for p in percentiles}


def _counts_by(
    target: date, samples: np.ndarray, start: date, trials: int, seed: Seed
) -> np.ndarray | None:
    """Each trial's count of items finished from `start` to `target` (both days count), in
    trial order; None when the target is before the start (every trial finishes nothing).
    What `how_many_by` and `how_many_shares` read, from the same futures for the same seed."""
    days = (target - start).days + 1
    if days <= 0:
        return None
    futures = _Futures(samples, trials, seed)
    block = futures.grow()
    while futures.days < days:
        block = futures.grow()
    counts: np.ndarray = block[:, days - 1 - (futures.days - _BLOCK)]
    return counts


def when_done_shares(
    remaining: int,
    samples: np.ndarray,
    start: date,
    trials: int = 10_000,
    seed: Seed = 0,
    horizon_days: int = HORIZON_DAYS,
) -> dict[date, float]:
    """The share of trials that finish `remaining` items on each day (days no trial ends: absent).

    The distribution `when_done` reads its percentiles from: the same futures
    for the same seed, so the shares summed up to the p% date reach p% and
    up to the day before do not. Trials still going at the horizon are in no
    day, so the shares then sum to less than 1. Stored at refresh time so the
    dashboard draws the distribution without simulating.
    """
    if remaining < 0:
        raise ValueError(f"remaining must be >= 0, got {remaining}")
    if remaining == 0:
        return {start: 1.0}
    _check(samples, trials, ())
    futures = _Futures(samples, trials, seed)
    before = np.zeros(trials, dtype=np.int64)  # days each trial spent below `remaining`
    while futures.days < horizon_days:
        block = futures.grow()[:, : horizon_days - (futures.days - _BLOCK)]
        before += (block < remaining).sum(axis=1)
        if futures.last.min() >= remaining:
            break
    simulated = min(futures.days, horizon_days)
    counts = np.bincount(before[before < simulated])
    return {
        start + timedelta(days=day): round(int(count) / trials, 6)
        for day, count in enumerate(counts)
        if count
    }


def how_many_shares(
    target: date,
    samples: np.ndarray,
    start: date,
    trials: int = 10_000,
    seed: Seed = 0,
) -> dict[int, float]:
    """The share of trials finishing each count of items from `start` to `target` (both count).

    The distribution `how_many_by` reads its percentiles from (same futures for
    the same seed); counts no trial reaches are absent. A target before the
    start gives every trial 0.
    """
    _check(samples, trials, ())
    counts = _counts_by(target, samples, start, trials, seed)
    if counts is None:
        return {0: 1.0}
    tally = np.bincount(counts)
    return {n: round(int(count) / trials, 6) for n, count in enumerate(tally) if count}


@dataclass(frozen=True, slots=True)
class TeamOutlook:
    """A team's four forecast answers from one simulation (`team_outlook`)."""

    when_done: dict[int, date | None]
    how_many: dict[int, int]
    done_shares: dict[date, float]
    count_shares: dict[int, float]


def team_outlook(
    remaining: int,
    target: date,
    samples: np.ndarray,
    start: date,
    trials: int = 10_000,
    seed: Seed = 0,
    percentiles: Sequence[int] = (50, 85, 95),
    horizon_days: int = HORIZON_DAYS,
) -> TeamOutlook:
    """`when_done`, `how_many_by`, `when_done_shares` and `how_many_shares` for one seed, from
    one simulation: exactly the four answers, for a quarter of the draws.

    The four functions draw the same futures for the same seed (`_Futures`, block by block),
    so one pass keeps what each reads: the days each trial spends below `remaining` (the
    shares of `when_done_shares`, whose sorted trial ``ceil(p% x trials) - 1`` is the first
    day on which that many trials are done: `when_done`'s p% date) and each trial's count at
    `target` (the tally of `how_many_shares`, sorted and read at ``trials - ceil(p% x trials)``
    as `how_many_by` does). The KPI run asks all four of every team: simulating each once
    instead of four times is most of a 10k-item run. Raises as they do (`NoThroughputError`
    when there is nothing to sample, whatever `remaining`).
    """
    if remaining < 0:
        raise ValueError(f"remaining must be >= 0, got {remaining}")
    _check(samples, trials, percentiles)
    needed = {p: _needed(p, trials) for p in percentiles}
    count_days = (target - start).days + 1  # the target's day number + 1; <= 0: before start
    futures = _Futures(samples, trials, seed)
    before = np.zeros(trials, dtype=np.int64)  # days each trial spent below `remaining`
    counting_done = remaining > 0  # still reading days below `remaining`
    counts: np.ndarray | None = None
    while counting_done or (count_days > 0 and counts is None):
        offset = futures.days
        if counting_done and offset >= horizon_days:
            counting_done = False
            continue
        block = futures.grow()
        if count_days > 0 and counts is None and futures.days >= count_days:
            counts = block[:, count_days - 1 - offset].copy()
        if counting_done:
            before += (block[:, : horizon_days - offset] < remaining).sum(axis=1)
            if futures.last.min() >= remaining:
                counting_done = False

    if remaining == 0:
        dates: dict[int, date | None] = dict.fromkeys(percentiles, start)
        done_shares = {start: 1.0}
    else:
        simulated = min(futures.days, horizon_days)
        ordered = np.sort(before)
        dates = {}
        for p in percentiles:
            day = int(ordered[needed[p] - 1])
            dates[p] = start + timedelta(days=day) if day < horizon_days else None
        tally = np.bincount(before[before < simulated])
        done_shares = {
            start + timedelta(days=day): round(int(count) / trials, 6)
            for day, count in enumerate(tally)
            if count
        }
    if counts is None:
        how_many = dict.fromkeys(percentiles, 0)
        count_shares = {0: 1.0}
    else:
        outcomes = np.sort(counts)
        how_many = {p: int(outcomes[trials - needed[p]]) for p in percentiles}
        per_count = np.bincount(counts)
        count_shares = {n: round(int(c) / trials, 6) for n, c in enumerate(per_count) if c}
    return TeamOutlook(dates, how_many, done_shares, count_shares)


def team_seed(seed: int, team: str) -> tuple[int, int]:
    """A team's own seed: stable across runs and independent of which other teams are present."""
    return (seed, zlib.crc32(team.encode()))


def throughput_by_team(
    items: Iterable[ItemHistory], workflow: Workflow, today: date, options: KpiOptions
) -> dict[str, np.ndarray]:
    """Each team's daily throughput samples (`daily_throughput_samples`) from its done items.

    Counts items not in `NOT_COUNTED_TYPES`, done when they last entered the
    done stage; every team that has such items gets samples, zeros included.
    """
    done: dict[str, list[datetime]] = {}
    statuses = _DoneStatuses(workflow)
    for item in items:
        if item.item_type in NOT_COUNTED_TYPES:
            continue
        moments = done.setdefault(item.team, [])
        at = _done_at(item, workflow, statuses)
        if at is not None:
            moments.append(at)
    return {
        team: daily_throughput_samples(moments, today, options.forecast_history_days, options.zone)
        for team, moments in sorted(done.items())
    }


@dataclass(frozen=True, slots=True)
class EpicForecast:
    """When an epic's remaining children will be done; `note` says why there is no date."""

    epic_key: str
    remaining_items: int
    remaining_by_team: Mapping[str, int]
    share: float
    dates: dict[int, date | None] = field(default_factory=dict)  # None: beyond the horizon
    note: str | None = None


def epic_forecasts(
    items: Iterable[ItemHistory],
    workflow: Workflow,
    options: KpiOptions,
    today: date,
    start: date | None = None,
    shares: Mapping[str, float] | None = None,
    percentiles: Sequence[int] = (50, 85, 95),
    horizon_days: int = HORIZON_DAYS,
    samples: Mapping[str, np.ndarray] | None = None,
) -> list[EpicForecast]:
    """Forecasts for every epic not done now, by epic key (see the module docstring).

    Throughput is each team's own (`throughput_by_team`), one simulation per
    team seeded by `team_seed(options.forecast_seed, team)`: a single-team
    epic's dates equal `when_done(ceil(remaining / share), ...)` with that
    seed. `start` defaults to `today`; `shares` maps an epic key to its share
    of its teams' throughput (default 1). `samples` (team → daily throughput)
    spares the recount when the caller already has them.
    """
    start = today if start is None else start
    shares = shares or {}
    trials = options.forecast_trials
    _check_arguments(trials, percentiles)
    item_list = list(items)
    is_done = _DoneStatuses(workflow)
    epics = sorted(
        (i for i in item_list if i.item_type == "epic" and not is_done(i.current_status)),
        key=lambda i: i.key,
    )
    epic_keys = {e.key for e in epics}
    children: dict[str, int] = dict.fromkeys(epic_keys, 0)
    remaining: dict[str, dict[str, int]] = {key: {} for key in epic_keys}
    for item in item_list:
        parent = item.parent_key
        if parent in epic_keys and item.item_type != "epic":
            children[parent] += 1
            if not is_done(item.current_status):
                by_team = remaining[parent]
                by_team[item.team] = by_team.get(item.team, 0) + 1
    if samples is None:
        samples = throughput_by_team(item_list, workflow, today, options)
    active = {team for team, counts in samples.items() if counts.any()}

    # Who needs what from each team: thresholds in items of team throughput.
    single: dict[str, int] = {}  # team -> largest single-team threshold
    multi: dict[str, set[int]] = {}  # team -> thresholds of multi-team epics
    plans: dict[str, dict[str, int]] = {}
    results: dict[str, EpicForecast] = {}
    for epic in epics:
        share = float(shares.get(epic.key, 1.0))
        if not 0 < share <= 1:
            raise ValueError(f"share of {epic.key} must be in (0, 1], got {share}")
        by_team = remaining[epic.key]
        base = EpicForecast(epic.key, sum(by_team.values()), dict(by_team), share)
        if children[epic.key] == 0:
            results[epic.key] = replace(base, note="no child items: nothing to forecast")
            continue
        if not by_team:
            results[epic.key] = replace(base, dates=dict.fromkeys(percentiles, start))
            continue
        idle = sorted(t for t in by_team if t not in active)
        if idle:
            results[epic.key] = replace(
                base,
                note=f"no throughput to sample: nothing finished in the last "
                f"{options.forecast_history_days} days by {', '.join(idle)}",
            )
            continue
        # ceil(remaining / share); the tolerance keeps 1 / (1/3) from rounding up to 4.
        plan = {team: math.ceil(n / share - 1e-9) for team, n in by_team.items()}
        plans[epic.key] = plan
        for team, need in plan.items():
            if len(plan) == 1:
                single[team] = max(single.get(team, 0), need)
            else:
                multi.setdefault(team, set()).add(need)
        results[epic.key] = base

    ranks = {p: trials - _needed(p, trials) for p in percentiles}
    order = sorted(set(ranks.values()))
    team_stats: dict[str, tuple[np.ndarray, int]] = {}  # team -> (order stats by day, days)
    first_days: dict[tuple[str, int], np.ndarray] = {}  # (team, threshold) -> day per trial
    for team in sorted(set(single) | set(multi)):
        stats, days, below = _simulate_team(
            samples[team],
            trials,
            team_seed(options.forecast_seed, team),
            horizon_days,
            order,
            single.get(team, 0),
            multi.get(team, set()),
        )
        team_stats[team] = (stats, days)
        for need, reached_on in below.items():
            first_days[team, need] = reached_on

    for key, plan in plans.items():
        dates: dict[int, date | None] = {}
        if len(plan) == 1:
            ((team, need),) = plan.items()
            stats, days = team_stats[team]
            for p in percentiles:
                day = int(np.searchsorted(stats[order.index(ranks[p])], need, side="left"))
                dates[p] = start + timedelta(days=day) if day < days else None
        else:
            # Each trial finishes when its slowest team does; the teams' futures are independent.
            parts = [first_days[t, n] for t, n in plan.items()]
            finish = functools.reduce(np.maximum, parts[1:], parts[0])
            dates = percentile_dates(finish, start, percentiles, horizon_days)
        results[key] = replace(results[key], dates=dates)
    return [results[e.key] for e in epics]


def percentile_dates(
    finish: np.ndarray, start: date, percentiles: Sequence[int], horizon_days: int = HORIZON_DAYS
) -> dict[int, date | None]:
    """The p% dates of trials that finish on day `finish[k]` (0: the start day): the earliest
    day by which ceil(p% x trials) of them are done, None at or beyond the horizon."""
    _check_arguments(finish.size, percentiles)
    ordered = np.sort(finish)
    dates: dict[int, date | None] = {}
    for p in percentiles:
        day = int(ordered[_needed(p, finish.size) - 1])
        dates[p] = start + timedelta(days=day) if day < horizon_days else None
    return dates


def days_to_reach(
    samples: np.ndarray,
    needs: Iterable[int],
    trials: int = 10_000,
    seed: Seed = 0,
    horizon_days: int = HORIZON_DAYS,
) -> dict[int, np.ndarray]:
    """For each count in `needs` (>= 1), the day each trial's cumulative throughput first reaches
    it (0: the start day), in trial order; `horizon_days` for a trial that does not by then.

    One simulation serves every count (the futures of `when_done` for the same seed, so a
    count's percentiles, `percentile_dates`, are `when_done`'s): what the portfolio reads
    when a team's throughput is shared out among its requests in rank order.
    """
    wanted = sorted(set(needs))
    if not wanted:
        return {}
    if wanted[0] < 1:
        raise ValueError(f"needs must be >= 1, got {wanted[0]}")
    _check(samples, trials, ())
    _, _, below = _simulate_team(samples, trials, seed, horizon_days, (), 0, wanted)
    return below


def _simulate_team(
    samples: np.ndarray,
    trials: int,
    seed: Seed,
    horizon_days: int,
    ranks: Sequence[int],
    need_at_ranks: int,
    needs_in_all: Iterable[int],
) -> tuple[np.ndarray, int, dict[int, np.ndarray]]:
    """One team's futures, reduced block by block to what its epics read; never the full matrix.

    Returns the order statistics at `ranks` for each day (for single-team
    epics), the days simulated, and for each multi-team threshold the day
    each trial reaches it (rows never decrease, so the days below it are
    the days before it is reached; a trial that never does gives the days
    simulated). Stops when the lowest rank reaches `need_at_ranks` (every
    single-team percentile is then found) and every trial reaches every
    multi-team threshold (no trial's slowest team is cut short), or at the
    horizon.
    """
    futures = _Futures(samples, trials, seed)
    needs = np.array(sorted(set(needs_in_all)), dtype=np.int64)
    below = np.zeros((trials, needs.size), dtype=np.int64)
    want_all = int(needs[-1]) if needs.size else 0
    lowest = min(ranks, default=0)
    stats: list[np.ndarray] = []
    while futures.days < horizon_days:
        block = futures.grow()[:, : horizon_days - (futures.days - _BLOCK)]
        if need_at_ranks:
            stats.append(_order_stats(block, ranks))
        if needs.size:
            # Thresholds every trial had reached by the block's first day add no day; those no
            # trial reaches by its last add them all: only the ones between need counting.
            first = int(np.searchsorted(needs, block[:, 0].min(), side="right"))
            last = int(np.searchsorted(needs, block[:, -1].max(), side="right"))
            if first < last:
                below[:, first:last] += _days_below(block, needs[first:last])
            below[:, last:] += block.shape[1]
        if futures.last.min() >= want_all and (
            not need_at_ranks or np.partition(futures.last, lowest)[lowest] >= need_at_ranks
        ):
            break
    days = min(futures.days, horizon_days)
    by_day = np.concatenate(stats, axis=1) if stats else np.zeros((len(ranks), 0), np.int32)
    by_need = np.ascontiguousarray(below.T)  # contiguous rows: epics take maxima over them
    return by_day, days, {int(need): by_need[j] for j, need in enumerate(needs)}


def _days_below(block: np.ndarray, needs: np.ndarray) -> np.ndarray:
    """For each trial (row) and threshold, how many of the block's days are below it.

    Rows never decrease, so this is where each threshold would be inserted in
    each row: a histogram of the row's values (clipped at the largest
    threshold) summed up to each threshold - one pass for every threshold.
    When that histogram would be big, one `searchsorted` over the rows laid
    end to end, each shifted above the one before, does the same.
    """
    trials, days = block.shape
    width = int(needs[-1]) + 1  # values clipped to 0 .. largest threshold
    shift = np.arange(trials, dtype=np.int64) * width
    laid = (np.minimum(block, width - 1) + shift[:, None]).ravel()
    if trials * width <= 4_000_000:
        counts = np.bincount(laid, minlength=trials * width).reshape(trials, width)
        return np.cumsum(counts, axis=1)[:, needs - 1]
    found = np.searchsorted(laid, (shift[:, None] + needs[None, :]).ravel(), side="left")
    return found.reshape(trials, needs.size) - (np.arange(trials) * days)[:, None]
