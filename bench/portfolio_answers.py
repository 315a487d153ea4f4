"""Benchmark every portfolio answer at once: seconds per answer and peak memory.

Issue 17's size: 100,000 items, 2,000 requests and 5,000 dependency links. The portfolio is
`portfolio_forecast.portfolio`'s (20 teams of different pace, 2% initiatives, a fifth of the
epics across two teams, half with a due date, 60% of the stories done over the last year),
seeded, built before anything is measured, with what the other answers need added to it:

- themes: three, with target shares, matched by label; each epic carries one (15% none);
- `--links` dependencies between random stories, two in three across teams;
- releases: each team ships one a month for a year, a third a few days after their plan,
  and the done stories name the release after their done day;
- traditional work: team 19 is a traditional project whose stories carry a target date, a
  quarter of which moved later once or twice (the date moves).

Then, after a garbage collection and with the peak RSS so far as the baseline, it times each
answer in the order `pmo-sync portfolio` and the refresh compute them (the forecasts, then the
overview that reads them: strategy, dependency risks, release delivery; the schedule; one
request's `when`) and prints one line per answer with its seconds, the total, the peak RSS over
the baseline and what the answers hold. The store read that feeds them is
`bench/portfolio_inputs.py`'s (docs/benchmarks.md).

Run it from the repository root:

    python bench/portfolio_answers.py                               # 100,000 / 2,000 / 5,000
    python bench/portfolio_answers.py --items 10000 --requests 200 --links 500
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from portfolio_forecast import SOURCE, TODAY, _maxrss_mb, portfolio

from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.dependency_risk import DependencyStatus
from pmo_sync.portfolio.forecast import request_forecasts
from pmo_sync.portfolio.model import DateMove, Dependency, PortfolioRelease, WorkItem
from pmo_sync.portfolio.overview import item_forecasts, portfolio_overview, when_answer
from pmo_sync.portfolio.schedule import date_moves, milestones, schedule_variances

LEVELS = ("initiative", "epic")
THEMES = [
    ThemeConfig(name="Growth", target_share=50, match=ThemeMatch(labels=["growth"])),
    ThemeConfig(name="Reliability", target_share=30, match=ThemeMatch(labels=["reliability"])),
    ThemeConfig(name="Compliance", target_share=20, match=ThemeMatch(labels=["compliance"])),
]
TRADITIONAL = "Team 19"
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Inputs:
    items: list[WorkItem]
    dependencies: list[Dependency]
    releases: list[PortfolioRelease]
    moves: list[DateMove]


def inputs(items: int, requests: int, links: int, seed: int = 2) -> Inputs:
    """The synthetic portfolio with its themes, links, releases and date moves (docstring)."""
    rng = random.Random(seed)
    base = portfolio(items, requests)
    themes = [t.name for t in THEMES]
    theme_of = {
        item.ref: rng.choices([*themes, None], [45, 25, 15, 15])[0]
        for item in base
        if item.level == "epic"
    }
    teams = sorted({item.team for item in base if item.team})
    release_days = {
        team: [TODAY - timedelta(days=30 * m + rng.randint(0, 20)) for m in range(12, 0, -1)]
        for team in teams
    }
    releases = [
        PortfolioRelease(SOURCE, f"{team} R{n}", None, day - timedelta(days=late), day)
        for team, days in release_days.items()
        for n, day in enumerate(days)
        for late in [rng.choice([0, 0, 3, 5])]
    ]
    out: list[WorkItem] = []
    moves: list[DateMove] = []
    for item in base:
        # A story's theme is its epic's, as `themes.theme_of` finds it up the parent chain.
        theme = theme_of.get(item.ref) or (theme_of.get(item.parent) if item.parent else None)
        changes: dict[str, object] = {"theme": theme}
        if item.done is not None and item.team is not None:
            shipped = [d for d in release_days[item.team] if d >= item.done]
            if shipped:
                n = release_days[item.team].index(shipped[0])
                changes["releases"] = (f"{item.team} R{n}",)
        if item.team == TRADITIONAL and item.level == "story":
            target = item.created + timedelta(days=rng.randint(20, 90))
            changes["target_end"] = target
            for step in range(rng.choice([0, 0, 0, 1, 2])):
                earlier, later = (
                    target - timedelta(days=7 * (step + 1)),
                    target - timedelta(days=7 * step),
                )
                on = item.created + timedelta(days=5 + step)
                moves.append(DateMove(item.ref, "target_end", on, earlier, later))
        out.append(dataclasses.replace(item, **changes))  # type: ignore[arg-type]
    stories = [item for item in out if item.level == "story"]
    dependencies: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    while len(dependencies) < links:
        blocker, waiting = rng.sample(stories, 2)
        if rng.random() < 2 / 3 and blocker.team == waiting.team:
            continue
        dependencies.add((blocker.ref, waiting.ref))
    return Inputs(out, [Dependency(b, w) for b, w in sorted(dependencies)], releases, moves)


def timed(label: str, call: Callable[[], T], lines: list[str]) -> T:
    started = time.perf_counter()
    result = call()
    lines.append(f"  {label:<38} {time.perf_counter() - started:6.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--links", type=int, default=5_000)
    args = parser.parse_args()
    data = inputs(args.items, args.requests, args.links)
    gc.collect()
    baseline = _maxrss_mb()
    lines: list[str] = []
    started = time.perf_counter()
    forecasts = timed(
        "request forecasts (10,000 trials)",
        lambda: request_forecasts(data.items, TODAY, levels=LEVELS),
        lines,
    )
    overview = timed(
        "overview (strategy, links, releases)",
        lambda: portfolio_overview(
            data.items, forecasts, data.dependencies, data.releases, THEMES, TODAY, levels=LEVELS
        ),
        lines,
    )
    dated = item_forecasts(data.items, forecasts, TODAY)
    variances = timed(
        "schedule variances", lambda: schedule_variances(data.items, dated, TODAY), lines
    )
    kept = timed(
        "milestones", lambda: milestones(data.items, {(SOURCE, TRADITIONAL)}, TODAY), lines
    )
    moved = timed("date moves", lambda: date_moves(data.items, data.moves), lines)
    first = forecasts[0].ref
    timed(
        "when (one request)",
        lambda: when_answer(
            first, data.items, forecasts, overview.dependencies, TODAY, "in_progress", LEVELS
        ),
        lines,
    )
    seconds = time.perf_counter() - started
    peak = _maxrss_mb()
    at_risk = sum(
        1 for d in overview.dependencies.dependencies if d.status is DependencyStatus.AT_RISK
    )
    print(
        f"items {len(data.items):,}, requests {args.requests:,}, links "
        f"{len(data.dependencies):,}: every answer in {seconds:.2f} s"
    )
    print("\n".join(lines))
    print(f"peak RSS {peak:,.0f} MB: {peak - baseline:,.0f} MB over the {baseline:,.0f} MB before")
    report = overview.dependencies
    slipped = sum(1 for m in moved if m.moves_later)
    print(
        f"open requests {len(forecasts):,}; dependencies {len(report.dependencies):,}"
        f" ({at_risk:,} at risk, {len(report.team_pairs):,} team pairs); releases shipped in 6"
        f" months {len(overview.releases.portfolio.shipped):,}; variances {len(variances):,};"
        f" milestones {sum(len(t.milestones) for t in kept):,}; targets moved later {slipped:,}"
    )


if __name__ == "__main__":
    main()
