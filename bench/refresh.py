"""Benchmark the KPI refresh as the service runs it: a full one, one with nothing changed, and one
after a sync that changed 5 items; seconds, stored values rewritten, peak memory.

For each size N the bench

1. builds a store, or reuses the one it built before (not measured): a SQLite file under the
   temp dir keyed by size and seed (`--rebuild` builds it again), holding `bench/pages.py`'s
   synthetic portfolio (`bench/kpis.py`'s histories: ~20 teams, ~10 status changes per item,
   flags, estimates, a year of 2-week sprints, 2,000 epics per 100,000 items with half the
   other items their children) loaded through `Store.load_items` as a sync writes it, with no
   KPI computed yet; or with `--database-url` a throwaway schema of that PostgreSQL database,
   built every run and dropped after;
2. copies it (SQLite) so every run starts from the same store, then runs three steps, each in a
   fresh Python subprocess (so each step's peak memory is its own; the baseline is taken after
   the imports and before the step):

   - **full**: `refresh_kpis` with the example policies on a store holding no KPI value yet
     (everything computed, everything written), at `bench/kpis.py`'s NOW;
   - **nothing changed**: the same refresh an hour later the same day, no sync in between;
   - **5 changed**: five open items moved to Done (a status change each, loaded through
     `Store.load_items` as an incremental sync would, not timed), then the refresh two hours
     after NOW;
   - **5 changed, kept**: as the service runs it (`pmo_sync.evaluation.kept`): a refresh that
     keeps what it read (not timed), the same five items reopened (loaded as a sync would,
     not timed), then the refresh a minute later with what the first kept; its peak memory is
     the service's, holding what it keeps;

   each reports the refresh's wall seconds, the stored values it rewrote (inserted + updated +
   deleted rows of `kpi_values`), the findings opened or resolved, and the process's peak RSS
   (absolute and over its baseline).

Run it from the repository root:

    python bench/refresh.py                               # size 10000
    python bench/refresh.py --sizes 10000 100000
    python bench/refresh.py --sizes 10000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/refresh.py --sizes 100000 --profile changed   # cProfile of one step, top 25
    python bench/refresh.py --sizes 100000 --profile "5 changed, kept"
    python bench/refresh.py --sizes 100000 --steps "5 changed" "5 changed, kept"
    python bench/refresh.py --sizes 300 --trials 200           # a quick look (the smoke test)

The issue's targets (issue 18): at 100,000 items a refresh after 5 changed items in at most
1 s, none of the nothing-changed step's values rewritten, a peak of at most 500 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kpis as synthetic
import pages
from sandbox_process import peak_rss_mb, pg_schema, run_worker_process, with_search_path

BUILD_VERSION = 1  # bump when the generated store changes, so cached stores are rebuilt
STEPS = ("full", "nothing changed", "5 changed", "5 changed, kept")
CHANGED_ITEMS = 5


def build_store(options: dict[str, Any]) -> dict[str, Any]:
    """`bench/pages.py`'s store without its refresh: what a first sync leaves."""
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    size, seed = int(options["size"]), int(options["seed"])
    synthetic.TYPES = pages._types_with_epics(2000)
    items, sprint_infos = synthetic.generate(size, seed)
    statuses, sprints, bundles = pages._records(items, sprint_infos)
    del items
    engine = make_engine(options["url"])
    try:
        upgrade(engine)
        now = synthetic.NOW
        store = Store(engine, clock=lambda: now)
        source_id = store.ensure_source(pages.SOURCE_NAME, "jira", pages.BASE_URL)
        store.load_statuses(source_id, statuses)
        store.load_sprints(source_id, sprints)
        for first in range(0, len(bundles), pages.LOAD_BATCH):
            store.load_items(source_id, bundles[first : first + pages.LOAD_BATCH], now)
        moment = now + timedelta(hours=STEPS.index("5 changed"), minutes=-30)
        import pickle

        Path(options["changes"]).write_bytes(pickle.dumps(changed_bundles(bundles, moment)))
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with engine.connect() as conn:  # what autovacuum does after a bulk load
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        engine.dispose()
    return {"changes": sum(len(b.changes) for b in bundles)}


def _status_moved(bundle: Any, moment: Any, change_id: str, status: str, stage: Any) -> Any:
    """`bundle` as a sync brings it after one status change at `moment` (the whole history,
    one change more)."""
    from dataclasses import replace

    from pmo_sync.domain import ChangeField, ItemBundle, ItemChange, Stage

    record = bundle.item
    change = ItemChange(record.key, change_id, ChangeField.STATUS, moment, record.status, status)
    moved = replace(
        record,
        status=status,
        status_category="done" if stage == Stage.DONE else "indeterminate",
        stage=stage,
        updated=moment,
        resolved=moment if stage == Stage.DONE else None,
        last_activity=moment,
    )
    return ItemBundle(moved, [*bundle.changes, change], list(bundle.memberships))


def changed_bundles(bundles: list[Any], moment: Any) -> list[Any]:
    """`CHANGED_ITEMS` open stories moved to Done at `moment`: their bundles as an incremental
    sync would bring them (the whole history, one status change more)."""
    from pmo_sync.domain import Stage

    chosen = [
        b for b in bundles if b.item.stage == Stage.IN_PROGRESS and b.item.item_type == "story"
    ][:CHANGED_ITEMS]
    return [
        _status_moved(b, moment, f"bench-done-{b.item.key}", "Done", Stage.DONE) for b in chosen
    ]


def reopened_bundles(bundles: list[Any], moment: Any) -> list[Any]:
    """The items `changed_bundles` moved to Done, reopened at `moment` (back to the status
    they left, a status change each): a second change of theirs, for the kept step, which
    needs items that change after its first refresh."""
    from pmo_sync.domain import Stage

    return [
        _status_moved(
            b, moment, f"bench-reopen-{b.item.key}", b.changes[-1].from_value, Stage.IN_PROGRESS
        )
        for b in bundles
    ]


def _load_changes(engine: Any, path: Path, moment: Any, *, reopen: bool = False) -> list[str]:
    import pickle

    from pmo_sync.store.repository import Store

    bundles = pickle.loads(path.read_bytes())
    if reopen:
        bundles = reopened_bundles(bundles, moment)
    store = Store(engine, clock=lambda: moment)
    source_id = store.ensure_source(pages.SOURCE_NAME, "jira", pages.BASE_URL)
    store.load_items(source_id, bundles, moment)
    return [b.item.key for b in bundles]


def _value_rows(engine: Any) -> int:
    from sqlalchemy import func, select

    from pmo_sync.store.models import KpiValueRow

    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(KpiValueRow)) or 0)


def measure_step(options: dict[str, Any]) -> dict[str, Any]:
    """One step in this fresh process: prepare (not timed), refresh (timed), count."""
    from pmo_sync.evaluation.kept import KeptState
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.store.engine import make_engine

    step = options["step"]
    rules, errors = load_policies(pages.EXAMPLE_CONFIG)
    if errors:
        raise RuntimeError(f"the example policies do not load: {errors}")
    engine = make_engine(options["url"])
    hours = STEPS.index(step)
    now = synthetic.NOW + timedelta(hours=hours)
    changed: list[str] = []
    config = synthetic.kpi_config()
    if options.get("trials"):
        forecast = config.forecast.model_copy(update={"trials": int(options["trials"])})
        config = config.model_copy(update={"forecast": forecast})
    kept = None
    try:
        baseline = peak_rss_mb()
        if step == "5 changed":
            changed = _load_changes(engine, Path(options["changes"]), now)
        elif step == "5 changed, kept":
            # as the service runs it: its last refresh kept what it read, then a sync landed
            kept = KeptState()
            refresh_kpis(engine, config, rules=rules, now=now, kept=kept)
            changed = _load_changes(engine, Path(options["changes"]), now, reopen=True)
            now += timedelta(minutes=1)
        before = _value_rows(engine)
        profiler = None
        if options.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        refreshed = refresh_kpis(engine, config, rules=rules, now=now, kept=kept)
        seconds = time.perf_counter() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        peak = peak_rss_mb()
        after = _value_rows(engine)
    finally:
        engine.dispose()
    saved = refreshed.saved
    deleted = before + saved.inserted - after
    changes = refreshed.finding_changes
    return {
        "step": step,
        "seconds": seconds,
        "rewritten": saved.inserted + saved.updated + deleted,
        "values": after,
        "findings_moved": 0 if changes is None else changes.opened + changes.resolved,
        "peak_rss_mb": peak,
        "over_baseline_mb": peak - baseline,
        "changed": changed,
    }


# -- the orchestrating process ------------------------------------------------------------------


def _worker(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """`build_store` or `measure_step` in a fresh interpreter (`run_worker_process`)."""
    with tempfile.TemporaryDirectory(prefix="pmo-bench-refresh-") as tmp:
        return run_worker_process(
            Path(__file__), {**options, "kind": kind}, Path(tmp) / "result.json"
        )


def _cached(size: int, args: argparse.Namespace) -> Path:
    name = f"pmo-bench-refresh-v{BUILD_VERSION}-{size}-s{args.seed}.sqlite3"
    return Path(args.cache_dir or tempfile.gettempdir()) / name


def bench_size(size: int, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    schema = None
    if args.database_url:
        schema = f"pmo_bench_refresh_{uuid.uuid4().hex[:8]}"
        pg_schema(args.database_url, schema, create=True)
        url = with_search_path(args.database_url, schema)
        print(f"building the {size:,}-item store ...", file=sys.stderr, flush=True)
        changes = tmp / f"changes-{size}.pickle"
        _worker("build", {"size": size, "seed": args.seed, "url": url, "changes": str(changes)})
    else:
        cached = _cached(size, args)
        changes = Path(str(cached) + ".changes.pickle")
        if args.rebuild or not cached.exists() or not changes.exists():
            print(f"building the {size:,}-item store ...", file=sys.stderr, flush=True)
            building = Path(str(cached) + ".building")
            building.unlink(missing_ok=True)
            _worker(
                "build",
                {
                    "size": size,
                    "seed": args.seed,
                    "url": f"sqlite:///{building}",
                    "changes": str(changes),
                },
            )
            building.rename(cached)
        else:  # a reused store gets this pmo-sync's schema
            from pmo_sync.store.engine import make_engine, upgrade

            engine = make_engine(f"sqlite:///{cached}")
            upgrade(engine)
            engine.dispose()
        copy = tmp / f"refresh-{size}.sqlite3"
        shutil.copyfile(cached, copy)
        url = f"sqlite:///{copy}"
    results = []
    try:
        for step in args.steps or STEPS:
            print(f"{size:,} items: {step} ...", file=sys.stderr, flush=True)
            profile = args.profile == step or (args.profile == "changed" and step == "5 changed")
            options = {
                "url": url,
                "step": step,
                "profile": profile,
                "changes": str(changes),
                "trials": args.trials,
            }
            result = _worker("step", options)
            results.append({"items": size, **result})
    finally:
        if schema is not None:
            pg_schema(args.database_url, schema, create=False)
    return results


def print_results(results: list[dict[str, Any]], store: str) -> None:
    print(f"KPI refresh with the example policies ({store})")
    print()
    print(
        f"{'items':>9}  {'step':<16} {'seconds':>8} {'rewritten':>10} {'values':>9} "
        f"{'findings±':>9} {'peak RSS':>9} {'over base':>9}"
    )
    for r in results:
        print(
            f"{r['items']:>9,}  {r['step']:<16} {r['seconds']:>8.2f} {r['rewritten']:>10,} "
            f"{r['values']:>9,} {r['findings_moved']:>9,} {r['peak_rss_mb']:>6.0f} MB "
            f"{r['over_baseline_mb']:>6.0f} MB"
        )
    shown: set[int] = set()
    for r in results:  # the kept step reopens the items the step before moved to Done
        if r["changed"] and r["items"] not in shown:
            shown.add(r["items"])
            print(f"\n{r['items']:,} items, changed: {', '.join(r['changed'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="a PostgreSQL URL (a throwaway schema is used)")
    parser.add_argument("--rebuild", action="store_true", help="build the cached store again")
    parser.add_argument("--cache-dir", help="where the built SQLite stores are kept (temp dir)")
    parser.add_argument(
        "--profile", choices=[*STEPS, "changed"], help="cProfile one step ('changed': 5 changed)"
    )
    parser.add_argument(
        "--trials", type=int, help="Monte Carlo trials (kpis.yaml forecast.trials; 10,000)"
    )
    parser.add_argument(
        "--steps",
        nargs="+",
        choices=STEPS,
        help="only these steps (each needs the one before "
        "it to have run on the cached store: '5 changed, kept' reopens what '5 changed' closed)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        options = json.loads(args.worker)
        result = build_store(options) if options["kind"] == "build" else measure_step(options)
        Path(args.result).write_text(json.dumps(result))
        return 0
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pmo-bench-refresh-") as tmp:
        for size in args.sizes:
            results.extend(bench_size(size, args, Path(tmp)))
    print_results(results, "PostgreSQL" if args.database_url else "SQLite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
