"""When will each request be done: its scope, and a Monte Carlo forecast that respects rank. Pure.

A request is an open item of the request levels (`portfolio.yaml`'s `requests.levels`, epics and
features by default; initiatives where configured). Its work is its descendants at any depth
that are work (`pmo_sync.portfolio.work.is_work`: what the KPI engine counts as throughput,
and no container: stories and tasks by level, or without a level), never a request nor an
initiative, whatever type its tracker gives it.

The forecast is the KPI engine's (`pmo_sync.kpi.forecast`: each team's sampled daily
throughput, one simulation per team seeded by `team_seed`), read differently: a team's
throughput is **shared by its open requests in rank order**. Each open item belongs to its
nearest open request (its *owner*); on each team the owners queue by their rank, and in every
trial the owner ranked k is done on the first day the team's cumulative throughput reaches the
remaining items of owners 1..k. A request finishes when its last team's part does (the
maximum per trial, the teams being simulated independently); a request above other requests
(an initiative) when the last of the owners below it does on every team. A request given a
share of throughput is taken out of the queue: it needs ceil(remaining / share) items of its
teams' throughput, and the queue gets what the shares leave.

The queue is then bent to how each team really worked in the history window
(`pmo_sync.portfolio.habits`): only request work is sampled as throughput, each owner's
remaining items grow by the team's growth factor, the queue is shared over its top requests in
the proportions the team's work went to them, the share that went to requests arriving above
the waiting ones is taken off, and each trial adds a closing lag drawn from those seen. Every
habit is neutral when the history shows none of it (the strict rank queue); `learn=False`
skips them.

Everything is as of `today`, so the backtest can ask about any past day: only items created on
or before it exist, an item done on or before it is done (later: open), and throughput is
sampled from the days before it. docs/portfolio.md "When will each request be done" has the
formulas and a worked example.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

import numpy as np

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.kpi.forecast import (
    HORIZON_DAYS,
    daily_throughput_of_days,
    days_to_reach,
    percentile_dates,
    team_seed,
)
from pmo_sync.portfolio.config import DEFAULT_REQUEST_LEVELS
from pmo_sync.portfolio.habits import Habits, home_of, learn_habits
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import WorkItem, ancestors
from pmo_sync.portfolio.work import is_work

__all__ = [
    "NoForecast",
    "RequestForecast",
    "Scope",
    "ScopeDay",
    "TeamRef",
    "queue_order",
    "request_forecasts",
]

TeamRef = tuple[str, str]
"""(source, team): a team's throughput is its own tracker's, so teams are told apart by source."""

_EPSILON = 1e-9  # keeps 1 / (1/3) from rounding up to 4 in ceil(remaining / share)


class NoForecast(StrEnum):
    """Why an open request has no forecast dates."""

    NO_ITEMS = "no_items"
    """Nothing under it is counted work: there is nothing to forecast."""
    NO_TEAM = "no_team"
    """Some of its remaining items have no team, so no throughput to draw from."""
    NO_THROUGHPUT = "no_throughput"
    """A team it needs finished nothing in the history window."""
    NO_CAPACITY = "no_capacity"
    """The shares configured on a team it queues on take all of that team's throughput."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A request's counted work as of the day asked about. Points of unestimated items count 0;
    `unestimated_remaining` says how many open items that leaves out of the points."""

    items_done: int
    items_remaining: int
    points_done: float
    points_remaining: float
    unestimated_remaining: int

    @property
    def items(self) -> int:
        return self.items_done + self.items_remaining

    @property
    def points(self) -> float:
        return self.points_done + self.points_remaining


@dataclass(frozen=True, slots=True)
class ScopeDay:
    """The scope at the end of `day` (every counted item created on or before it), for each day
    it grew: between two of them it stayed the same."""

    day: date
    items: int
    points: float


@dataclass(frozen=True, slots=True)
class RequestForecast:
    """One open request: its scope, when it will be done, and how likely by its due date."""

    ref: ItemRef
    level: str | None
    scope: Scope
    growth: tuple[ScopeDay, ...]
    remaining_by_team: Mapping[TeamRef, int]
    """Its remaining items per team (items without a team are in `scope` only)."""
    ahead_by_team: Mapping[TeamRef, int]
    """Items of requests ranked above it that each team finishes first (0 with a share)."""
    share: float | None
    """The share of its teams' throughput configured for it; None: it queues by rank."""
    due_date: date | None
    dates: Mapping[int, date | None]
    """Percentile → the date; None beyond the horizon; empty when there is no forecast."""
    due_probability: float | None
    """The share of trials done on or before the due date; None without a due date or a forecast."""
    reason: NoForecast | None = None
    reason_teams: tuple[TeamRef, ...] = ()
    note: str | None = None
    """Why there are no dates, in a sentence."""


@dataclass(slots=True)
class _Request:
    """What the walk up from the items gathers for one open request."""

    item: WorkItem
    under: list[WorkItem]
    remaining: Counter[TeamRef | None]
    owners: dict[TeamRef | None, set[ItemRef]]
    """For each team, the owners (itself or requests below it) of its remaining items there."""


def request_forecasts(
    items: Iterable[WorkItem],
    today: date,
    *,
    levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
    shares: Mapping[ItemRef, float] | None = None,
    trials: int = 10_000,
    seed: int = 0,
    history_days: int = 90,
    percentiles: Sequence[int] = (50, 85, 95),
    horizon_days: int = HORIZON_DAYS,
    learn: bool = True,
) -> list[RequestForecast]:
    """Every request open on `today`, by source and key (naturally): see the module docstring.

    Day 0 of the simulation is `today` (it counts a whole day's throughput, as the KPI
    forecasts do). `shares` maps a request to its share of its teams' throughput (0 < share
    <= 1); the shares on one team may add up to 1 at most. `seed`, `trials` and
    `history_days` are `kpis.yaml`'s `forecast` settings: a request alone at the top of its
    team's backlog gets the dates `kpi.forecast.when_done` gives its remaining count when the
    team's habits are neutral. `learn=False` forecasts the strict rank queue over all the
    team's throughput, as if the habits were.
    """
    shares = dict(shares or {})
    for ref, share in shares.items():
        if not 0 < share <= 1:
            raise ValueError(f"share of {ref[0]}:{ref[1]} must be in (0, 1], got {share}")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    for p in percentiles:
        if not 0 < p <= 100:
            raise ValueError(f"percentiles must be in (0, 100], got {p}")
    request_levels = frozenset(levels)
    known = {item.ref: item for item in items if item.created <= today}
    requests = {
        ref: _Request(item, [], Counter(), {})
        for ref, item in known.items()
        if item.level in request_levels and not _done_by(item, today)
    }
    counted = [
        item for item in known.values() if is_work(item) and item.level not in request_levels
    ]
    owned: dict[ItemRef, Counter[TeamRef | None]] = defaultdict(Counter)
    for item in counted:
        chain = _open_requests_above(item, known, requests)
        team = _team_of(item)
        is_open = not _done_by(item, today)
        for ref in chain:
            request = requests[ref]
            request.under.append(item)
            if is_open:
                request.remaining[team] += 1
                request.owners.setdefault(team, set()).add(chain[0])
        if is_open and chain:
            owned[chain[0]][team] += 1

    homes = [(item, home_of(item, known, lambda i: i.level in request_levels)) for item in counted]
    if learn:
        habits = learn_habits(homes, known, today, history_days, queue_order)
        samples = _throughput([i for i, home in homes if home is not None], today, history_days)
    else:
        habits, samples = {}, _throughput(counted, today, history_days)
    thresholds, reach = _queues(owned, known, shares, habits)
    days = _simulate(thresholds, samples, trials, seed, horizon_days)

    results = []
    for ref in sorted(requests, key=lambda r: (r[0], natural_key(r[1]))):
        request = requests[ref]
        results.append(
            _forecast(
                request,
                today,
                shares.get(ref),
                thresholds,
                reach,
                samples,
                days,
                history_days,
                percentiles,
                horizon_days,
                _lags(request, habits, today, trials, seed),
            )
        )
    return results


def _done_by(item: WorkItem, today: date) -> bool:
    return item.done is not None and item.done <= today


def _team_of(item: WorkItem) -> TeamRef | None:
    return (item.ref[0], item.team) if item.team else None


def _open_requests_above(
    item: WorkItem, known: Mapping[ItemRef, WorkItem], requests: Mapping[ItemRef, _Request]
) -> list[ItemRef]:
    """The open requests among the item's ancestors, nearest first (the first owns it); the
    walk (`model.ancestors`) ends at a parent not known on the day and at a cycle."""
    return [parent for parent in ancestors(item, known) if parent in requests]


def _throughput(
    counted: Iterable[WorkItem], today: date, history_days: int
) -> dict[TeamRef, np.ndarray]:
    """Each team's daily throughput samples over the `history_days` days before `today`."""
    done_days: dict[TeamRef, list[date]] = defaultdict(list)
    for item in counted:
        team = _team_of(item)
        if team is not None and item.done is not None:
            done_days[team].append(item.done)
    return {
        team: daily_throughput_of_days(days, today, history_days)
        for team, days in done_days.items()
    }


def queue_order(item: WorkItem) -> tuple[bool, str, tuple[tuple[int, int | str], ...], str]:
    """A team's queue of requests: ranked before unranked, by rank; then by key naturally
    (and source, for a tie). `overview.when_answer` names what is ahead in the same order."""
    return (item.rank is None, item.rank or "", natural_key(item.ref[1]), item.ref[0])


def _queues(
    owned: Mapping[ItemRef, Counter[TeamRef | None]],
    known: Mapping[ItemRef, WorkItem],
    shares: Mapping[ItemRef, float],
    habits: Mapping[TeamRef, Habits],
) -> tuple[dict[tuple[ItemRef, TeamRef], int], dict[tuple[ItemRef, TeamRef], int]]:
    """Each owner's threshold on each team (the items of the team's throughput by which it is
    done; none when the shares leave the rank queue nothing), and its reach there: the items
    done when it is, its own and those ranked above it (a shared owner: its own)."""
    by_team: dict[TeamRef, list[ItemRef]] = defaultdict(list)
    for owner, counts in owned.items():
        for team in counts:
            if team is not None:
                by_team[team].append(owner)
    thresholds: dict[tuple[ItemRef, TeamRef], int] = {}
    reach: dict[tuple[ItemRef, TeamRef], int] = {}
    for team, owners in by_team.items():
        shared = sum(shares[o] for o in owners if o in shares)
        if shared > 1 + _EPSILON:
            raise ValueError(
                f"the shares of {_team_name(team)}'s requests add up to {shared:.0%}: at most 100%"
            )
        habit = habits.get(team, Habits())
        left = (1 - shared) * (1 - habit.above)
        queued: list[tuple[ItemRef, int]] = []
        for owner in sorted(owners, key=lambda o: queue_order(known[o])):
            count = math.ceil(owned[owner][team] * habit.growth - _EPSILON)
            if owner in shares:
                thresholds[owner, team] = math.ceil(count / shares[owner] - _EPSILON)
                reach[owner, team] = count
                continue
            queued.append((owner, count))
        for owner, done_at in _shared_out(queued, habit.weights):
            reach[owner, team] = math.ceil(done_at - _EPSILON)
            if shared < 1 - _EPSILON:
                thresholds[owner, team] = math.ceil(done_at / left - _EPSILON)
    return thresholds, reach


def _shared_out(
    queued: Sequence[tuple[ItemRef, int]], weights: Sequence[float]
) -> list[tuple[ItemRef, float]]:
    """The team items done when each queued owner (in rank order, with its remaining count) is:
    the team's throughput flows to the top len(weights) unfinished owners in the weights'
    proportions (renormalised when fewer are left), as the team's history shared it. Weights
    (1,) are the strict queue: owner k is done at r_1 + ... + r_k."""
    left = [float(count) for _, count in queued]
    done_at = [0.0] * len(queued)
    active = list(range(len(queued)))
    total = 0.0
    while active:
        top = active[: len(weights)]
        norm = sum(weights[: len(top)])
        rates = [w / norm for w in weights[: len(top)]] if norm > 0 else [1.0]
        top = top[: len(rates)]
        step = min(left[k] / rate for k, rate in zip(top, rates, strict=True) if rate > 0)
        total += step
        for k, rate in zip(top, rates, strict=True):
            left[k] -= rate * step
        finished = {k for k in top if left[k] <= _EPSILON}
        for k in finished:
            done_at[k] = total
        active = [k for k in active if k not in finished]
    return [(owner, done_at[k]) for k, (owner, _) in enumerate(queued)]


def _lags(
    request: _Request, habits: Mapping[TeamRef, Habits], today: date, trials: int, seed: int
) -> np.ndarray | None:
    """Days from the request's last item to its closing, one per trial, drawn from the closing
    lags its teams showed (seeded by its key); less the days already waited when its work is
    all done. None when no lag was seen."""
    teams = {t for t in request.remaining if t is not None} or {
        (i.ref[0], i.team) for i in request.under if i.team
    }
    seen = [lag for t in sorted(teams) for lag in habits.get(t, Habits()).lags]
    if not any(seen):
        return None
    rng = np.random.default_rng(team_seed(seed, request.item.ref[1]))
    lags = rng.choice(np.array(seen, dtype=np.int64), size=trials)
    if not request.remaining:
        ends = [i.done for i in request.under if i.done is not None and i.done <= today]
        if ends:
            lags = np.maximum(0, lags - (today - max(ends)).days)
    return lags


def _simulate(
    thresholds: Mapping[tuple[ItemRef, TeamRef], int],
    samples: Mapping[TeamRef, np.ndarray],
    trials: int,
    seed: int,
    horizon_days: int,
) -> dict[TeamRef, dict[int, np.ndarray]]:
    """One simulation per team with throughput, read at every threshold: the day each trial
    reaches it. Kept in the smallest integer type the horizon fits (2,000 requests x 10,000
    trials is 40 MB as 16-bit days)."""
    needs: dict[TeamRef, set[int]] = defaultdict(set)
    for (_, team), need in thresholds.items():
        needs[team].add(need)
    dtype = np.int16 if horizon_days < np.iinfo(np.int16).max else np.int32
    days: dict[TeamRef, dict[int, np.ndarray]] = {}
    for team in sorted(needs):
        counts = samples.get(team)
        if counts is None or not counts.any():
            continue
        reached = days_to_reach(counts, needs[team], trials, team_seed(seed, team[1]), horizon_days)
        days[team] = {need: on.astype(dtype) for need, on in reached.items()}
    return days


def _forecast(
    request: _Request,
    today: date,
    share: float | None,
    thresholds: Mapping[tuple[ItemRef, TeamRef], int],
    reach: Mapping[tuple[ItemRef, TeamRef], int],
    samples: Mapping[TeamRef, np.ndarray],
    days: Mapping[TeamRef, Mapping[int, np.ndarray]],
    history_days: int,
    percentiles: Sequence[int],
    horizon_days: int,
    lags: np.ndarray | None,
) -> RequestForecast:
    item = request.item
    remaining_by_team = {
        team: n for team, n in sorted(request.remaining.items(), key=_team_order) if team
    }
    teams = list(remaining_by_team)
    # Items it waits for: up to its last owner's place in the queue, less its own.
    waits = {t: max(reach[o, t] for o in request.owners[t]) - remaining_by_team[t] for t in teams}
    base = RequestForecast(
        ref=item.ref,
        level=item.level,
        scope=_scope(request.under, today),
        growth=_growth(request.under),
        remaining_by_team=remaining_by_team,
        ahead_by_team=waits,
        share=share,
        due_date=item.due_date,
        dates={},
        due_probability=None,
    )
    if not request.under:
        return _without(base, NoForecast.NO_ITEMS, (), "no items under it: nothing to forecast")
    if not request.remaining:
        every = np.zeros(1, dtype=np.int16) if lags is None else lags  # done today, or its lag
        return _with(base, every, today, percentiles, horizon_days)
    if request.remaining.get(None):
        count = request.remaining[None]
        told = "1 remaining item has" if count == 1 else f"{count} remaining items have"
        return _without(base, NoForecast.NO_TEAM, (), f"{told} no team")
    idle = tuple(t for t in teams if t not in samples or not samples[t].any())
    if idle:
        return _without(
            base,
            NoForecast.NO_THROUGHPUT,
            idle,
            f"no throughput to sample: nothing finished in the last {history_days} days by "
            + ", ".join(_team_name(t) for t in idle),
        )
    full = tuple(t for t in teams if any((o, t) not in thresholds for o in request.owners[t]))
    if full:
        return _without(
            base,
            NoForecast.NO_CAPACITY,
            full,
            "the configured shares take all the throughput of "
            + ", ".join(_team_name(t) for t in full),
        )
    parts = [days[t][max(thresholds[o, t] for o in request.owners[t])] for t in teams]
    finish = functools.reduce(np.maximum, parts[1:], parts[0])
    if lags is not None:
        finish = np.minimum(finish.astype(np.int64) + lags, horizon_days)
    return _with(base, finish, today, percentiles, horizon_days)


def _with(
    base: RequestForecast,
    finish: np.ndarray,
    today: date,
    percentiles: Sequence[int],
    horizon_days: int,
) -> RequestForecast:
    """`base` with the dates of trials finishing on day `finish[k]` and its due probability."""
    probability = None
    if base.due_date is not None:
        by = (base.due_date - today).days
        done = np.count_nonzero((finish <= by) & (finish < horizon_days))
        probability = round(int(done) / finish.size, 6)
    dates = percentile_dates(finish, today, percentiles, horizon_days)
    return replace(base, dates=dates, due_probability=probability)


def _without(
    base: RequestForecast, reason: NoForecast, teams: tuple[TeamRef, ...], note: str
) -> RequestForecast:
    return replace(base, reason=reason, reason_teams=teams, note=note)


def _team_order(entry: tuple[TeamRef | None, int]) -> tuple[str, str]:
    team = entry[0]
    return team if team is not None else ("", "")


def _team_name(team: TeamRef) -> str:
    return f"{team[1]} ({team[0]})"


def _scope(under: Iterable[WorkItem], today: date) -> Scope:
    done = remaining = unestimated = 0
    points_done = points_remaining = 0.0
    for item in under:
        points = item.points or 0.0
        if _done_by(item, today):
            done += 1
            points_done += points
        else:
            remaining += 1
            points_remaining += points
            unestimated += item.points is None
    return Scope(done, remaining, points_done, points_remaining, unestimated)


def _growth(under: Iterable[WorkItem]) -> tuple[ScopeDay, ...]:
    """The scope on each day it grew, from the `created` days of the items under it."""
    counts: Counter[date] = Counter()
    points_on: dict[date, float] = defaultdict(float)
    for item in under:
        counts[item.created] += 1
        points_on[item.created] += item.points or 0.0
    growth = []
    items, points = 0, 0.0
    for day in sorted(counts):
        items += counts[day]
        points += points_on[day]
        growth.append(ScopeDay(day, items, points))
    return tuple(growth)
