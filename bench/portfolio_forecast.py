"""Benchmark the request forecasts (`pmo_sync.portfolio.forecast`): seconds and peak memory.

Generates a synthetic portfolio in memory, seeded (not measured): `--requests` requests (2% of
them initiatives above the epics, the rest epics ranked on their teams, a fifth of the epics
with stories on a second team, half with a due date) and `--items` items in all, the stories
spread over 20 teams of different pace; about 60% of the stories done over the last year (the
last 90 days are the throughput history), the rest open. Then it collects garbage, records the
peak RSS so far, times `request_forecasts` (10,000 trials, the default percentiles) and prints
the seconds, the peak RSS over that baseline and what the answer holds.

Run it from the repository root:

    python bench/portfolio_forecast.py                          # 100,000 items, 2,000 requests
    python bench/portfolio_forecast.py --items 10000 --requests 200
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
from datetime import date, timedelta

from pmo_sync.domain import Stage
from pmo_sync.portfolio.forecast import request_forecasts
from pmo_sync.portfolio.model import WorkItem

SOURCE = "bench"
TEAMS = 20
TODAY = date(2030, 6, 3)


def _maxrss_mb() -> float:
    """This process's peak resident set size so far, in MB (KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def portfolio(items: int, requests: int, seed: int = 1) -> list[WorkItem]:
    """The synthetic portfolio (module docstring): `requests` requests, `items` items in all."""
    rng = random.Random(seed)
    teams = [f"Team {n:02d}" for n in range(TEAMS)]
    pace = {team: rng.choice([0.6, 1.0, 1.0, 1.5, 2.5]) for team in teams}
    initiatives = max(1, requests // 50)
    out: list[WorkItem] = []
    for n in range(initiatives):
        out.append(
            WorkItem((SOURCE, f"I-{n}"), None, "initiative", "other", None, Stage.TODO,
                     created=TODAY - timedelta(days=400))
        )  # fmt: skip
    epics: list[tuple[str, list[str]]] = []
    for n in range(requests - initiatives):
        home = rng.choice(teams)
        spread = [home, rng.choice(teams)] if rng.random() < 0.2 else [home]
        due = TODAY + timedelta(days=rng.randint(-30, 400)) if rng.random() < 0.5 else None
        parent = (SOURCE, f"I-{rng.randrange(initiatives)}") if rng.random() < 0.5 else None
        out.append(
            WorkItem((SOURCE, f"E-{n}"), home, "epic", "epic", parent, Stage.IN_PROGRESS,
                     created=TODAY - timedelta(days=rng.randint(30, 400)),
                     rank=f"{rng.random():.12f}" if rng.random() < 0.9 else None, due_date=due)
        )  # fmt: skip
        epics.append((f"E-{n}", spread))
    weights = [pace[spread[0]] for _, spread in epics]
    for n in range(items - requests):
        key, spread = rng.choices(epics, weights)[0]
        team = rng.choice(spread)
        created = TODAY - timedelta(days=rng.randint(1, 380))
        done = None
        if rng.random() < 0.6:
            done = min(TODAY - timedelta(days=1), created + timedelta(days=rng.randint(1, 60)))
        out.append(
            WorkItem((SOURCE, f"S-{n}"), team, "story", "story", (SOURCE, key),
                     Stage.DONE if done else Stage.TODO, created=created, done=done,
                     points=rng.choice([None, 1.0, 2.0, 3.0, 5.0, 8.0]))
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    items = portfolio(args.items, args.requests)
    gc.collect()
    baseline = _maxrss_mb()
    started = time.perf_counter()
    forecasts = request_forecasts(items, TODAY, levels=("initiative", "epic"))
    seconds = time.perf_counter() - started
    peak = _maxrss_mb()
    dated = sum(1 for f in forecasts if f.dates)
    beyond = sum(1 for f in forecasts if f.dates and f.dates[95] is None)
    with_due = sum(1 for f in forecasts if f.due_probability is not None)
    print(f"items {len(items):,}, open requests {len(forecasts):,}: {seconds:.2f} s")
    print(f"peak RSS {peak:,.0f} MB: {peak - baseline:,.0f} MB over the {baseline:,.0f} MB before")
    print(
        f"forecast {dated:,} (p95 beyond the horizon: {beyond:,}), "
        f"with a due-date probability {with_due:,}, without a forecast {len(forecasts) - dated:,}"
    )


if __name__ == "__main__":
    main()
