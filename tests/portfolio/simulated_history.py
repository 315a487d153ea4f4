"""A realistic portfolio history, simulated day by day, for the backtest's calibration check.

Not a forecast's own assumptions played back: the simulation does what real teams do and the
forecast cannot see, so the backtest measures the forecast against a world it does not model:

- **Changing pace.** Each team has its own mean pace (items a working day) that drifts by up
  to ±30% over the year (a slow sine, its phase per team); weekends finish nothing; the day's
  count is Poisson around the pace.
- **Unplanned work.** About 15% of what a team finishes is work under no request (bugs, support),
  created the day it is done: it is throughput, but the queue of requests never gets it.
- **Rank is a guide.** On each finished item the team picks the top-ranked open request 70% of
  the time, the second 20%, the third 10%; a new request jumps to the top of its team's backlog
  one time in five (an urgent one), else it joins the bottom.
- **Scope grows.** A request starts with 3 to 15 items; on each working day it is open, each of
  its remaining items spawns a new one with probability 1% (discovered work, created that day).
- **Closing lags.** A request is closed 0 to 3 days after its last item is done.

Requests arrive on each team about every 12 days over the year (exponential gaps), so the two
slower teams' backlogs grow and the two faster teams have slack; teams are of one source. Each
of the above has its argument (`unplanned_share`, `picks`, `growth`, `jump`, `max_lag`,
`arrival_days`) so a study can switch it off. Seeded: the same arguments give the same history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from pmo_sync.domain import Stage
from pmo_sync.portfolio.model import WorkItem

SOURCE = "sim"
PACES = (0.8, 1.2, 1.8, 2.5)
"""Each team's mean items per working day."""


@dataclass(slots=True)
class _Request:
    key: str
    created: date
    rank: float
    open_items: list[tuple[str, date]] = field(default_factory=list)
    done_items: list[tuple[str, date, date]] = field(default_factory=list)
    last_done: date | None = None
    lag: int = 0
    closed: date | None = None


def simulated_history(
    today: date,
    *,
    days: int = 365,
    seed: int = 1,
    paces: tuple[float, ...] = PACES,
    unplanned_share: float = 0.15,
    picks: tuple[float, ...] = (0.7, 0.2, 0.1),
    growth: float = 0.01,
    jump: float = 0.2,
    arrival_days: float = 12,
    max_lag: int = 3,
) -> list[WorkItem]:
    """The history of the module docstring over the `days` days before `today`, as of `today`."""
    rng = random.Random(seed)
    draws = np.random.default_rng(seed)
    first = today - timedelta(days=days)
    items: list[WorkItem] = []
    counter = 0
    for t, pace in enumerate(paces):
        team = f"Team {t + 1}"
        phase = rng.uniform(0, 2 * math.pi)
        requests: list[_Request] = []
        unplanned: list[tuple[str, date]] = []
        next_arrival = first + timedelta(days=rng.randint(0, 6))
        for offset in range(days):
            d = first + timedelta(days=offset)
            if d >= next_arrival:
                counter += 1
                top = min((r.rank for r in requests if r.closed is None), default=0.0)
                bottom = max((r.rank for r in requests if r.closed is None), default=0.0)
                rank = top - 1 if rng.random() < jump else bottom + 1
                request = _Request(f"E-{counter}", d, rank)
                for _ in range(rng.randint(3, 15)):
                    counter += 1
                    request.open_items.append((f"S-{counter}", d))
                requests.append(request)
                next_arrival = d + timedelta(days=max(1, round(rng.expovariate(1 / arrival_days))))
            if d.weekday() >= 5:
                _close(requests, d)
                continue
            for request in requests:
                if request.open_items:
                    grown = sum(1 for _ in request.open_items if rng.random() < growth)
                    for _ in range(grown):
                        counter += 1
                        request.open_items.append((f"S-{counter}", d))
            drift = 1 + 0.3 * math.sin(2 * math.pi * offset / days + phase)
            for _ in range(int(draws.poisson(pace * drift))):
                if rng.random() < unplanned_share:
                    counter += 1
                    unplanned.append((f"U-{counter}", d))
                    continue
                queue = sorted((r for r in requests if r.open_items), key=lambda r: r.rank)
                if not queue:
                    continue
                n = min(len(picks), len(queue))
                pick = rng.choices(range(n), picks[:n])[0]
                chosen = queue[pick]
                key, created = chosen.open_items.pop(rng.randrange(len(chosen.open_items)))
                chosen.done_items.append((key, created, d))
                if not chosen.open_items:
                    chosen.last_done = d
                    chosen.lag = rng.randint(0, max_lag)
            _close(requests, d)
        for n, request in enumerate(sorted(requests, key=lambda r: r.rank)):
            ref = (SOURCE, request.key)
            items.append(
                WorkItem(
                    ref, team, "epic", "epic", None,
                    Stage.DONE if request.closed else Stage.IN_PROGRESS,
                    created=request.created, done=request.closed, rank=f"{n:06d}",
                )
            )  # fmt: skip
            for key, created in request.open_items:
                items.append(_story(key, team, ref, created, None))
            for key, created, done in request.done_items:
                items.append(_story(key, team, ref, created, done))
        items.extend(_story(key, team, None, d, d) for key, d in unplanned)
    return items


def _close(requests: list[_Request], d: date) -> None:
    """Close each request whose last item was done its lag ago (lag drawn when it was)."""
    for request in requests:
        if (
            request.closed is None
            and request.last_done is not None
            and not request.open_items
            and (d - request.last_done).days >= request.lag
        ):
            request.closed = d


def _story(
    key: str, team: str, parent: tuple[str, str] | None, created: date, done: date | None
) -> WorkItem:
    return WorkItem(
        (SOURCE, key), team, "story", "story", parent,
        Stage.DONE if done else Stage.TODO, created=created, done=done,
    )  # fmt: skip
