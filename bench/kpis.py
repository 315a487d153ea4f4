"""Benchmark the KPI engine: every metric for N synthetic items, wall time and peak memory.

For each size N the bench starts a fresh Python subprocess (so sizes cannot
contaminate each other), which

1. generates N realistic `ItemHistory` inputs in memory, seeded (no store, no
   sandbox; not measured): ~20 teams of different sizes, all on source `bench`
   whose statuses map to categories New / To Do -> todo, In Progress / In Review
   -> in_progress, Done -> done (a quarter of the teams also describe a
   four-column board in the `KpiConfig`, with In Review as a wait stage);
   ~10 status changes per item on average (sideways, forward, backward moves,
   review rework and reopenings, times spread over the item's life), flags on
   ~8% of started items, estimates set and re-estimated, stays in each team's
   2-week sprints over a year (planned, added mid-sprint, carried over,
   descoped; closed, active and future `SprintInfo`s), ~1% epics with children
   (`parent_key`) and subtasks under stories, created over the last year;
2. collects garbage and records the baseline peak RSS (`ru_maxrss`);
3. times `compute_kpis(...)` and then `list(kpi_values(run))` separately, and
   records the peak RSS after both (absolute, and the delta over the baseline)
   and the number of values produced.

The table shows one row per size, a "per 100k items" time (total seconds
scaled to 100,000 items) and a marginal one (the seconds the items added since
the previous size cost, per 100k): per-team work that does not grow with the
items (Monte Carlo forecasts, daily series) inflates the first at small sizes;
a flat marginal column means the cost grows linearly. The targets: 100k
items with ~1M changes in at most 6 s (issue 18; the first target was 10 s)
and under 1 GB.

Run it from the repository root:

    python bench/kpis.py                                # sizes 10000 100000
    python bench/kpis.py --sizes 10000 100000 1000000
    python bench/kpis.py --profile                      # cProfile of 100k, top 15
    python bench/kpis.py --profile --sizes 10000 --top 30

`--profile` runs the same measurement under cProfile (which slows it down) and
prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SOURCE = "bench"
TEAMS = 20
CONFIGURED_TEAMS = 5  # teams with their own four-column board in the KpiConfig
NOW = datetime(2025, 6, 4, 15, 30, tzinfo=UTC)  # a Wednesday, fixed for reproducibility
YEAR = 365 * 86400.0
DAY = 86400.0
SPRINT_DAYS = 14
SPRINT_ANCHOR = NOW - timedelta(days=378)  # first sprints start before the oldest item
MAX_SPRINTS_PER_ITEM = 4  # carried over at most three times, then back to the backlog

NEW, TODO, PROGRESS, REVIEW, DONE = "New", "To Do", "In Progress", "In Review", "Done"
TYPES = (("story", 0.55), ("bug", 0.20), ("task", 0.15), ("subtask", 0.09), ("epic", 0.01))
POINTS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0)
POINT_WEIGHTS = (10, 20, 25, 20, 15, 10)

# The status walk: (next status, probability, mean days spent before the move).
WALK: dict[str, tuple[tuple[str, float], ...]] = {
    NEW: ((TODO, 0.85), (PROGRESS, 0.15)),
    TODO: ((PROGRESS, 0.85), (NEW, 0.15)),
    PROGRESS: ((REVIEW, 0.70), (TODO, 0.20), (DONE, 0.10)),
    REVIEW: ((DONE, 0.45), (PROGRESS, 0.55)),
    DONE: ((PROGRESS, 0.75), (TODO, 0.25)),  # a reopening
}
EPIC_WALK: dict[str, tuple[tuple[str, float], ...]] = {
    NEW: ((TODO, 1.0),),
    TODO: ((PROGRESS, 1.0),),
    PROGRESS: ((DONE, 0.85), (TODO, 0.15)),
}
DWELL_DAYS = {NEW: 3.0, TODO: 4.0, PROGRESS: 2.5, REVIEW: 1.0, DONE: 6.0}
REOPEN = 0.45  # chance a done item is reopened (if time allows)
BACKLOG = 0.15  # chance an item waits a long time (mean 60 days) before it is touched


def _maxrss_mb() -> float:
    """This process's peak resident set size so far, in MB (KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- the synthetic inputs ----------------------------------------------------------------------


def status_stages() -> dict[str, dict[str, Any]]:
    from pmo_sync.domain import Stage

    categories = {
        NEW: Stage.TODO,
        TODO: Stage.TODO,
        PROGRESS: Stage.IN_PROGRESS,
        REVIEW: Stage.IN_PROGRESS,
        DONE: Stage.DONE,
    }
    return {SOURCE: categories}


def team_names() -> list[str]:
    return [f"T{i:02d}" for i in range(1, TEAMS + 1)]


def kpi_config() -> Any:
    """Default options; the first CONFIGURED_TEAMS teams describe their board."""
    from pmo_sync.kpi.config import KpiConfig

    board = {
        "stages": [
            {"name": "Backlog", "statuses": [NEW, TODO], "category": "todo"},
            {"name": "Doing", "statuses": [PROGRESS], "category": "in_progress"},
            {"name": "Review", "statuses": [REVIEW], "category": "in_progress"},
            {"name": "Done", "statuses": [DONE], "category": "done"},
        ],
        "wait_stages": ["Review"],
    }
    return KpiConfig.model_validate(
        {"workflows": dict.fromkeys(team_names()[:CONFIGURED_TEAMS], board)}
    )


class _TeamSprints:
    """A team's 2-week sprints from SPRINT_ANCHOR (plus its offset) to two sprints past now."""

    def __init__(self, team: str, offset_days: int, rng: random.Random) -> None:
        from pmo_sync.kpi.model import SprintInfo

        self.anchor = SPRINT_ANCHOR.timestamp() + offset_days * DAY
        self.length = SPRINT_DAYS * DAY
        now = NOW.timestamp()
        self.active = int((now - self.anchor) // self.length)
        self.ids: list[str] = []
        self.infos: list[SprintInfo] = []
        self.closes: list[float] = []
        for j in range(self.active + 3):
            start, end = self.start(j), self.start(j + 1)
            sprint_id = f"{SOURCE}:{team}:{j + 1}"
            name = f"{team} Sprint {j + 1}"
            self.ids.append(sprint_id)
            if j < self.active:
                completed = end + rng.uniform(-4, 20) * 3600  # closed a little early or late
                self.closes.append(completed)
                info = SprintInfo(
                    sprint_id, name, team, "closed", _dt(start), _dt(end), _dt(completed)
                )
            elif j == self.active:
                self.closes.append(math.inf)
                info = SprintInfo(sprint_id, name, team, "active", _dt(start), _dt(end))
            else:
                self.closes.append(math.inf)
                dated = j == self.active + 1  # the one after next has no dates yet
                info = SprintInfo(
                    sprint_id,
                    name,
                    team,
                    "future",
                    _dt(start) if dated else None,
                    _dt(end) if dated else None,
                )
            self.infos.append(info)

    def start(self, j: int) -> float:
        return self.anchor + j * self.length

    def index_at(self, t: float) -> int:
        return max(0, min(self.active, int((t - self.anchor) // self.length)))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _pick(r: float, choices: tuple[tuple[str, float], ...]) -> str:
    """The choice a uniform draw `r` in [0, 1) lands on, by cumulative probability."""
    for choice, p in choices:
        r -= p
        if r < 0:
            return choice
    return choices[-1][0]


def _walk(rng: random.Random, created: float, now: float, epic: bool) -> tuple[str, list]:
    """An initial status and the (time, from, to) moves of one item, all before `now`."""
    initial = NEW if rng.random() < 0.4 else TODO
    status, t = initial, created
    moves: list[tuple[float, str, str]] = []
    expovariate, choice_random = rng.expovariate, rng.random
    if rng.random() < BACKLOG:
        t += expovariate(1 / 60.0) * DAY
    walk = EPIC_WALK if epic else WALK
    slow = 12.0 if epic else rng.uniform(0.5, 2.0)  # epics move slowly, items at their pace
    while True:
        t += expovariate(1 / (DWELL_DAYS[status] * slow)) * DAY
        if t >= now:
            break
        if status == DONE and (epic or choice_random() >= REOPEN):
            break
        target = _pick(choice_random(), walk[status])
        moves.append((t, status, target))
        status = target
    return initial, moves


def generate(size: int, seed: int) -> tuple[list, list]:
    """`size` item histories and every team's sprints (see the module docstring)."""
    from pmo_sync.kpi.model import (
        EstimateChange,
        FlagChange,
        ItemHistory,
        SprintStay,
        StatusChange,
    )

    rng = random.Random(seed)
    now = NOW.timestamp()
    teams = team_names()
    team_weights = [rng.uniform(0.3, 1.7) for _ in teams]  # teams of different sizes
    sprints = {team: _TeamSprints(team, (i * 5) % SPRINT_DAYS, rng) for i, team in enumerate(teams)}
    type_names = [t for t, _ in TYPES]
    type_weights = [w for _, w in TYPES]

    # First pass: who is what, so children can point at their team's epics and stories.
    plan_teams = rng.choices(range(TEAMS), team_weights, k=size)
    plan_types = rng.choices(type_names, type_weights, k=size)
    counters = [0] * TEAMS
    keys: list[str] = []
    epics_of: list[list[str]] = [[] for _ in teams]
    stories_of: list[list[str]] = [[] for _ in teams]
    for team_index, item_type in zip(plan_teams, plan_types, strict=True):
        counters[team_index] += 1
        key = f"{teams[team_index]}-{counters[team_index]}"
        keys.append(key)
        if item_type == "epic":
            epics_of[team_index].append(key)
        elif item_type == "story":
            stories_of[team_index].append(key)

    items: list[ItemHistory] = []
    for key, team_index, item_type in zip(keys, plan_teams, plan_types, strict=True):
        team = teams[team_index]
        epic = item_type == "epic"
        created = now - rng.random() * YEAR
        initial, moves = _walk(rng, created, now, epic)
        status = moves[-1][2] if moves else initial
        changes = tuple(StatusChange(_dt(t), a, b) for t, a, b in moves)
        committed = next((t for t, _, b in moves if b in (PROGRESS, REVIEW)), None)
        done = moves[-1][0] if status == DONE and moves else None
        finished = done if done is not None else now

        parent = None
        if item_type == "subtask" and stories_of[team_index]:
            parent = rng.choice(stories_of[team_index])
        elif not epic and item_type != "subtask" and epics_of[team_index] and rng.random() < 0.5:
            parent = rng.choice(epics_of[team_index])

        flags: tuple[FlagChange, ...] = ()
        if committed is not None and rng.random() < 0.08:
            spans = []
            t = committed
            for _ in range(rng.choice((1, 1, 2))):
                t += rng.random() * (finished - t) * 0.5
                off = t + rng.expovariate(1 / 3.0) * DAY
                spans.append(FlagChange(_dt(t), True))
                if off >= finished:
                    if done is not None:
                        spans.append(FlagChange(_dt(done), False))
                    break
                spans.append(FlagChange(_dt(off), False))
                t = off
            flags = tuple(spans)

        estimate: float | None = None
        estimates: tuple[EstimateChange, ...] = ()
        if item_type in ("story", "bug", "task") and rng.random() < 0.8:
            estimate = rng.choices(POINTS, POINT_WEIGHTS)[0]
            logged: list[EstimateChange] = []
            if rng.random() < 0.5:  # estimated after creation: Jira logs None -> points
                at = created + rng.random() * min(3 * DAY, now - created)
                logged.append(EstimateChange(_dt(at), None, estimate))
            if rng.random() < 0.2:  # re-estimated later
                after = logged[-1].at.timestamp() if logged else created
                at = after + rng.random() * (finished - after)
                new = rng.choices(POINTS, POINT_WEIGHTS)[0]
                if new != estimate:
                    logged.append(EstimateChange(_dt(at), estimate, new))
                    estimate = new
            estimates = tuple(logged)

        stays: tuple[SprintStay, ...] = ()
        if not epic and rng.random() < 0.9:
            stays = _stays(rng, sprints[team], created, committed, done, status, now)

        items.append(
            ItemHistory(
                key=key,
                source=SOURCE,
                team=team,
                item_type=item_type,
                created=_dt(created),
                initial_status=initial,
                status_changes=changes,
                flag_changes=flags,
                estimate=estimate,
                estimate_changes=estimates,
                sprint_stays=stays,
                parent_key=parent,
                status=status,
            )
        )
    sprint_infos = [info for team in teams for info in sprints[team].infos]
    return items, sprint_infos


def _stays(
    rng: random.Random,
    sprints: _TeamSprints,
    created: float,
    committed: float | None,
    done: float | None,
    status: str,
    now: float,
) -> tuple:
    """Sprint memberships: planned or added mid-sprint, carried over until done, or descoped."""
    from pmo_sync.kpi.model import SprintStay

    ids = sprints.ids
    if committed is None:  # never started: maybe planned into the active or a future sprint
        if status == DONE:
            return ()
        r = rng.random()
        if r < 0.2:
            j = sprints.active
            added = max(created, sprints.start(j) - 3600)
        elif r < 0.35:
            j = sprints.active + 1 + (r < 0.25)
            added = max(created, now - rng.random() * 5 * DAY)
        else:
            return ()
        return (SprintStay(ids[j], _dt(added), None),)
    j = sprints.index_at(committed)
    start = sprints.start(j)
    if created < start and committed - start < 2 * DAY:
        added = start - rng.random() * 3600  # planned: in the sprint when it started
    else:
        added = max(created, committed - rng.random() * DAY)  # pulled in mid-sprint
    stays = []
    for _ in range(MAX_SPRINTS_PER_ITEM):
        close = sprints.closes[j]
        if (done is not None and done < close) or close == math.inf:
            stays.append(SprintStay(ids[j], _dt(added), None))  # done in it, or still active
            break
        if rng.random() < 0.05:  # descoped mid-sprint, back to the backlog
            removed = added + rng.random() * (close - added)
            stays.append(SprintStay(ids[j], _dt(added), _dt(removed)))
            break
        stays.append(SprintStay(ids[j], _dt(added), _dt(close)))  # carried over
        j += 1
        added = close
    return tuple(stays)


# -- the measured subprocess -------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """One size, in a fresh process: generate, then time compute and values; results as JSON."""
    import gc

    from pmo_sync.kpi.compute import compute_kpis, gc_frozen, kpi_values

    size, seed = int(options["size"]), int(options["seed"])
    started = time.perf_counter()
    items, sprints = generate(size, seed)
    config, stages = kpi_config(), status_stages()
    generate_seconds = time.perf_counter() - started
    changes = sum(len(i.status_changes) for i in items)
    counts = {
        "flag_changes": sum(len(i.flag_changes) for i in items),
        "estimate_changes": sum(len(i.estimate_changes) for i in items),
        "sprint_stays": sum(len(i.sprint_stays) for i in items),
        "epics": sum(i.item_type == "epic" for i in items),
        "children": sum(i.parent_key is not None and i.item_type != "subtask" for i in items),
        "open": sum(i.current_status != DONE for i in items),
        "sprints": len(sprints),
    }
    gc.collect()
    baseline_mb = _maxrss_mb()
    current_mb = _current_rss_mb()

    profiler = None
    if options["profile"]:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    run = compute_kpis(items, sprints, config, stages, NOW)
    compute_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with gc_frozen():  # as pmo_sync.evaluation.refresh does
        values = list(kpi_values(run))
    values_seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    peak_mb = _maxrss_mb()

    result: dict[str, Any] = {
        "items": len(items),
        "changes": changes,
        "counts": counts,
        "generate_seconds": generate_seconds,
        "compute_seconds": compute_seconds,
        "values_seconds": values_seconds,
        "values": len(values),
        "baseline_rss_mb": baseline_mb,
        "inputs_rss_mb": current_mb,
        "peak_rss_mb": peak_mb,
    }
    if profiler is not None:
        import io
        import pstats

        top = int(options["top"])
        for sort in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
            result[f"profile_{sort}"] = out.getvalue()
    result_path.write_text(json.dumps(result))


# -- the orchestrating process ------------------------------------------------------------------


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    options = {
        "size": size,
        "seed": args.seed,
        "profile": args.profile,
        "top": args.top,
    }
    with tempfile.TemporaryDirectory(prefix="pmo-bench-kpis-") as tmp:
        result_path = Path(tmp) / "result.json"
        worker = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                json.dumps(options),
                "--result",
                str(result_path),
            ],
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if worker.returncode != 0 or not result_path.exists():
            raise RuntimeError(
                f"the {size:,}-item subprocess failed (exit {worker.returncode}; "
                "a negative code is the signal that ended it, e.g. -9 when out of memory)"
            )
        return json.loads(result_path.read_text())


def print_results(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'items':>10} {'changes':>11} {'compute s':>10} {'values s':>9} {'total s':>8} "
        f"{'values':>10} {'peak MB':>8} {'delta MB':>9} {'s/100k items':>13} {'marginal':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    previous: tuple[int, float] | None = None
    for r in sorted(results, key=lambda r: r["items"]):
        total = r["compute_seconds"] + r["values_seconds"]
        marginal = ""
        if previous is not None and r["items"] > previous[0]:
            marginal = f"{(total - previous[1]) / (r['items'] - previous[0]) * 100_000:.2f}"
        previous = (r["items"], total)
        print(
            f"{r['items']:>10,} {r['changes']:>11,} {r['compute_seconds']:>10.2f} "
            f"{r['values_seconds']:>9.2f} {total:>8.2f} {r['values']:>10,} "
            f"{r['peak_rss_mb']:>8.0f} {r['peak_rss_mb'] - r['baseline_rss_mb']:>9.0f} "
            f"{total / r['items'] * 100_000:>13.2f} {marginal:>9}"
        )
    print(
        "s/100k items: total seconds scaled to 100,000 items; marginal: the same for the "
        "items added since the previous size (fixed per-team costs cancel out)"
    )
    print()
    for r in results:
        c = r["counts"]
        inputs = r["inputs_rss_mb"]
        print(
            f"{r['items']:,} items: generated in {r['generate_seconds']:.1f} s (not measured); "
            f"baseline peak RSS {r['baseline_rss_mb']:.0f} MB"
            + (f" (RSS holding the inputs {inputs:.0f} MB)" if inputs is not None else "")
            + f"; {c['flag_changes']:,} flag, {c['estimate_changes']:,} estimate changes, "
            f"{c['sprint_stays']:,} sprint stays in {c['sprints']} sprints, {c['epics']:,} epics "
            f"with {c['children']:,} children, {c['open']:,} items open"
        )
    for r in results:
        if 90_000 <= r["items"] <= 110_000:
            total = r["compute_seconds"] + r["values_seconds"]
            print(
                f"targets at {r['items']:,} items: total {total:.1f} s "
                f"({'met' if total <= 6 else 'MISSED'}: <= 6 s), peak RSS "
                f"{r['peak_rss_mb']:.0f} MB ({'met' if r['peak_rss_mb'] < 1024 else 'MISSED'}: "
                "< 1024 MB)"
            )
    for r in results:
        for sort in ("cumulative", "tottime"):
            text = r.get(f"profile_{sort}")
            if text:
                print(f"\ncProfile of {r['items']:,} items, top by {sort} time:")
                print(text[text.find("   ncalls") :].rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the run (default size 100000)"
    )
    parser.add_argument("--top", type=int, default=15, help="with --profile: functions shown")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    sizes = args.sizes or ([100_000] if args.profile else [10_000, 100_000])
    results = []
    for size in sizes:
        print(f"computing KPIs for {size:,} synthetic items ...", file=sys.stderr, flush=True)
        results.append(bench_size(size, args))
    print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
