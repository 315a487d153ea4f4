"""How each team has really worked its requests, learnt from the history before a day. Pure.

The request forecast's queue (`pmo_sync.portfolio.forecast`) is what a team would do if it only
ever worked its top-ranked request, never added scope, never took on unplanned work and closed a
request the day its last item was done. Real teams do none of that, and each habit makes the
queue's dates early (docs/portfolio.md "Forecasts proven against the past" measured it). This
module reads, from the items known on `today` and done in the `history_days` days before it,
what each team actually did, so the forecast can do the same:

- **request throughput**: only the items done under some request are the queue's throughput
  (unplanned work is not sampled);
- **growth**: how much a team's requests grew after they started: items at the end ÷ items
  within the first week;
- **rank weights**: which place in the rank queue the team's request work went to, as shares
  (all to the top: the strict queue);
- **arrivals above**: the items a day the team did for requests that arrived after the window
  began and ranked above a request already waiting, as a share of its request throughput;
- **closing lags**: the days between a request's last item and the request being done.

Each is neutral when the history shows nothing of it (no growth seen: factor 1; only the top
request worked: weights (1,); no request jumped in: 0; no lag: 0), so a history where the queue's
assumptions hold gives exactly the queue's dates.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import WorkItem, ancestors

__all__ = ["GROWTH_WEEK_DAYS", "Habits", "home_of", "learn_habits"]

TeamRef = tuple[str, str]

GROWTH_WEEK_DAYS = 7
"""A request's starting scope: the items created within this many days of its first item."""


@dataclass(frozen=True, slots=True)
class Habits:
    """One team's habits over the history window."""

    growth: float = 1.0
    """Σ items ÷ Σ starting items over the requests done in the window (>= 1)."""
    weights: tuple[float, ...] = (1.0,)
    """Share of the request items done for the request at each place of the rank queue (the
    top first), over the items done in the window; trailing places never worked are dropped."""
    above: float = 0.0
    """Share of request throughput taken by requests arriving above a waiting one (<= 0.9)."""
    lags: tuple[int, ...] = ()
    """Days from last item done to request done, over the requests done in the window."""


MAX_ABOVE = 0.9
"""Arrivals above never take more than this share: the queue always gets something."""


def home_of(
    item: WorkItem, known: Mapping[ItemRef, WorkItem], is_request: Callable[[WorkItem], bool]
) -> ItemRef | None:
    """The nearest request above the item, open or done (cycles and unknown parents end it)."""
    return next((parent for parent in ancestors(item, known) if is_request(known[parent])), None)


def learn_habits(
    work: Iterable[tuple[WorkItem, ItemRef | None]],
    known: Mapping[ItemRef, WorkItem],
    today: date,
    history_days: int,
    rank_key: Callable[[WorkItem], tuple[object, ...]],
) -> dict[TeamRef, Habits]:
    """Each team's `Habits` from the counted work items (each with its home request) known on
    `today`; the window is the `history_days` days before it (`today` excluded, as the
    throughput's)."""
    start = today - timedelta(days=history_days)
    by_home: dict[ItemRef, list[WorkItem]] = defaultdict(list)
    spans: dict[TeamRef, dict[ItemRef, tuple[date, date]]] = defaultdict(dict)
    done_in_window: dict[TeamRef, list[tuple[date, ItemRef]]] = defaultdict(list)
    for item, home in work:
        if home is None or not item.team:
            continue
        team = (item.ref[0], item.team)
        by_home[home].append(item)
        # The request waits on this team from its first item's creation to its last item's
        # done day (or beyond the window while one is open).
        end = item.done if item.done is not None and item.done < today else today
        first, last = spans[team].get(home, (item.created, end))
        spans[team][home] = (min(first, item.created), max(last, end))
        if item.done is not None and start <= item.done < today:
            done_in_window[team].append((item.done, home))

    growth_items: Counter[TeamRef] = Counter()
    growth_start: Counter[TeamRef] = Counter()
    lags: dict[TeamRef, list[int]] = defaultdict(list)
    for home, under in by_home.items():
        request = known[home]
        if request.done is None or not start <= request.done < today:
            continue
        teams = {(i.ref[0], i.team) for i in under if i.team}
        first = min(i.created for i in under)
        starting = sum(1 for i in under if (i.created - first).days < GROWTH_WEEK_DAYS)
        for team in teams:
            growth_items[team] += len(under)
            growth_start[team] += starting
        if all(i.done is not None and i.done <= request.done for i in under):
            last = max(i.done for i in under if i.done is not None)
            for team in teams:
                lags[team].append((request.done - last).days)

    habits: dict[TeamRef, Habits] = {}
    for team in set(spans) | set(lags):
        places = _places(done_in_window[team], spans[team], known, rank_key)
        habits[team] = Habits(
            growth=max(1.0, growth_items[team] / growth_start[team]) if growth_start[team] else 1.0,
            weights=places,
            above=_above(done_in_window[team], spans[team], known, start, history_days, rank_key),
            lags=tuple(sorted(lags[team])),
        )
    return habits


def _places(
    done: list[tuple[date, ItemRef]],
    spans: Mapping[ItemRef, tuple[date, date]],
    known: Mapping[ItemRef, WorkItem],
    rank_key: Callable[[WorkItem], tuple[object, ...]],
) -> tuple[float, ...]:
    """The share of the items done for the request at each place of the queue: an item done on
    day d is at place k when k requests ranked above its own were waiting on d and still had
    work after it (a request whose last item was done on d too was finished first: the order
    within a day is not known, and the strict queue's is assumed)."""
    order = _order(spans, known, rank_key)
    counts: Counter[int] = Counter()
    ahead: dict[date, list[int]] = {}
    for on, home in done:
        if on not in ahead:
            ahead[on] = sorted(order[h] for h, (first, last) in spans.items() if first <= on < last)
        counts[bisect_left(ahead[on], order[home])] += 1
    total = sum(counts.values())
    if not total:
        return (1.0,)
    return tuple(counts[k] / total for k in range(max(counts) + 1))


def _order(
    spans: Mapping[ItemRef, tuple[date, date]],
    known: Mapping[ItemRef, WorkItem],
    rank_key: Callable[[WorkItem], tuple[object, ...]],
) -> dict[ItemRef, int]:
    """Each request's place in the team's whole rank order."""
    return {home: k for k, home in enumerate(sorted(spans, key=lambda h: rank_key(known[h])))}


def _above(
    done: list[tuple[date, ItemRef]],
    spans: Mapping[ItemRef, tuple[date, date]],
    known: Mapping[ItemRef, WorkItem],
    start: date,
    history_days: int,
    rank_key: Callable[[WorkItem], tuple[object, ...]],
) -> float:
    """Items done, a day, for requests that began after the window did and rank above a request
    waiting since before it, over the request items done a day: the share of the throughput
    that new arrivals above the queue took from what already waited."""
    waiting = [h for h, (first, last) in spans.items() if first < start <= last]
    if not done or not waiting:
        return 0.0
    order = _order(spans, known, rank_key)
    arrived = [(on, order[other]) for on, other in done if spans[other][0] > start]
    end = start + timedelta(days=history_days - 1)
    taken = days_waited = 0
    for home in waiting:
        place, last = order[home], spans[home][1]
        days_waited += (min(last, end) - start).days + 1
        taken += sum(1 for on, rank in arrived if on <= last and rank < place)
    per_day = len(done) / history_days
    return min(MAX_ABOVE, taken / days_waited / per_day)
