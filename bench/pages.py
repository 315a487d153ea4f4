"""Benchmark the dashboard's pages at portfolio scale: each page's server time, and the report.

Pages read what the KPI refresh stored (`kpi_values`, `findings`, the items' columns) and
never recompute the portfolio, so a page should cost the same few indexed reads at 100k
items as at 100. The issue's targets: at 100,000 items and 2,000 epics every page renders
in under 300 ms and the one-file report is written in under 10 s.

For each size N the bench

1. builds a store, or reuses the one it built before (not measured): a SQLite file under
   the temp dir keyed by size, epics and seed (`--rebuild` builds it again; a reused file
   is migrated to this pmo-sync's schema first, so a new index is measured without a
   rebuild), or with `--database-url` a throwaway schema of that PostgreSQL database,
   built every run and dropped after. Its content: the synthetic portfolio of
   `bench/kpis.py` (`generate`: ~20 teams of different sizes, ~10 status changes per item,
   flags, estimates and re-estimates, 2-week sprints over a year) with `--epics` epics per
   100,000 items (2,000; scaled to N) and about half the stories, bugs and tasks their
   children (`parent_key`), written as `WorkItemRecord`s with their `ItemChange`s, sprint
   memberships, sprints and statuses through `Store.load_items` and friends (what a sync
   writes), a successful sync run, then a real KPI and governance refresh
   (`refresh_kpis` with `bench/kpis.py`'s KpiConfig and the example policies of
   config/policies/), so `kpi_values` and `findings` hold what a real refresh stores;
2. in a fresh Python subprocess (so sizes cannot contaminate each other) opens the store
   read-only as `serve` does (`make_engine(url, read_only=True)`, `create_app(engine)`) and
   requests every GET page of the app's URL map through Flask's test client: `<team>` is
   the team with most items, `<key>` the epic with most children and `<source>` its
   connector; static files and rules with other arguments are skipped; the portfolio is
   also requested with `?team=`. Each page once to warm up, then `--repeat` times (5):
   median and max milliseconds (the server's whole work: routing, queries, page data,
   template; no network), the response's size, and whether the median meets the 300 ms
   target. Then the peak RSS of that process;
3. unless `--no-report` or `--profile`, runs `pmo-sync report --html -o FILE` in a
   subprocess on the same store: seconds, file MB, the subprocess's peak RSS, against the
   10 s target.

Run it from the repository root:

    python bench/pages.py                                  # sizes 10000 100000
    python bench/pages.py --sizes 10000 --repeat 10
    python bench/pages.py --sizes 100000 --rebuild         # build the store again
    python bench/pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/pages.py --sizes 100000 --profile /       # cProfile of one page, top 25

Building the 100k store takes minutes (the refresh alone is the KPI bench's 100k run);
measuring it, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import kpis as synthetic
from sandbox_process import peak_rss_mb, pg_schema, pg_unreachable, with_search_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config"  # its policies/ are the example policies
BUILD_VERSION = 1  # bump when the generated store changes, so cached stores are rebuilt
PAGE_TARGET_MS = 300.0
REPORT_TARGET_S = 10.0
TEAM_QUERY_PAGES = ("/",)  # pages also measured narrowed to the largest team
SOURCE_NAME = "bench"
BASE_URL = "https://tracker.bench.invalid"
LOAD_BATCH = 5000


# -- building the store (a subprocess, not measured) -------------------------------------------


def _types_with_epics(epics_per_100k: int) -> tuple[tuple[str, float], ...]:
    """kpis.py's item-type mix with the epics' share set to `epics_per_100k` / 100,000,
    taken from (or given to) the stories."""
    share = epics_per_100k / 100_000
    types = dict(synthetic.TYPES)
    types["story"] -= share - types["epic"]
    types["epic"] = share
    return tuple(types.items())


def _records(items: list[Any], sprint_infos: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """The synthetic histories as a connector would hand them to the store."""
    from pmo_sync.domain import (
        ChangeField,
        ItemBundle,
        ItemChange,
        SprintMembership,
        SprintRecord,
        StatusRecord,
        WorkItemRecord,
    )

    stages = synthetic.status_stages()[synthetic.SOURCE]
    categories = {"todo": "new", "in_progress": "indeterminate", "done": "done"}
    statuses = [
        StatusRecord(name, name, categories[stage.value], stage) for name, stage in stages.items()
    ]
    sprints = [
        SprintRecord(
            info.id,
            info.name,
            info.state,
            f"board-{info.team}",
            info.team,
            info.start,
            info.end,
            info.completed,
            None,
        )
        for info in sprint_infos
    ]
    people = [f"person{i:03d}" for i in range(120)]
    bundles = []
    for index, item in enumerate(items):
        changes: list[ItemChange] = []
        for at, from_status, to_status in (
            (c.at, c.from_status, c.to_status) for c in item.status_changes
        ):
            changes.append(
                ItemChange(item.key, f"s{len(changes)}", ChangeField.STATUS, at, from_status,
                           to_status)
            )  # fmt: skip
        for flag in item.flag_changes:
            value = "true" if flag.flagged else "false"
            changes.append(
                ItemChange(item.key, f"f{len(changes)}", ChangeField.FLAGGED, flag.at, None, value)
            )
        for estimate in item.estimate_changes:
            old = None if estimate.from_points is None else str(estimate.from_points)
            new = None if estimate.to_points is None else str(estimate.to_points)
            changes.append(
                ItemChange(item.key, f"e{len(changes)}", ChangeField.ESTIMATE, estimate.at, old,
                           new)
            )  # fmt: skip
        memberships = [
            SprintMembership(item.key, stay.sprint_id, stay.added_at, stay.removed_at)
            for stay in item.sprint_stays
        ]
        last = max((c.at for c in changes), default=item.created)
        stage = stages[item.current_status]
        done = stage.value == "done"
        record = WorkItemRecord(
            external_id=item.key,
            key=item.key,
            url=f"{BASE_URL}/browse/{item.key}",
            title=f"{item.item_type.title()} {item.key}: synthetic work item",
            item_type=item.item_type,
            raw_type=item.item_type.title(),
            status=item.current_status,
            status_category=categories[stage.value],
            stage=stage,
            project=item.team,
            team=item.team,
            assignee=None if index % 9 == 0 else people[index % len(people)],
            estimate=item.estimate,
            parent_key=item.parent_key,
            labels=("bench",),
            flagged=bool(item.flag_changes) and item.flag_changes[-1].flagged,
            created=item.created,
            updated=last,
            resolved=last if done else None,
            last_activity=last,
            description=None if index % 4 == 0 else "As a user I want ...",
            acceptance_criteria=None if index % 3 == 0 else "Given ... when ... then ...",
            parent_type="epic" if item.parent_key and item.item_type != "subtask" else None,
        )
        bundles.append(ItemBundle(record, changes, memberships))
    return statuses, sprints, bundles


def build_store(options: dict[str, Any]) -> dict[str, Any]:
    """Generate, load as a sync would, refresh KPIs and findings; counts and seconds."""
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    size, epics, seed = int(options["size"]), int(options["epics"]), int(options["seed"])
    started = time.perf_counter()
    synthetic.TYPES = _types_with_epics(epics)
    items, sprint_infos = synthetic.generate(size, seed)
    statuses, sprints, bundles = _records(items, sprint_infos)
    del items
    generated = time.perf_counter() - started

    engine = make_engine(options["url"])
    try:
        upgrade(engine)
        now = synthetic.NOW
        store = Store(engine, clock=lambda: now)
        started = time.perf_counter()
        source_id = store.ensure_source(SOURCE_NAME, "jira", BASE_URL)
        run_id = store.start_run(source_id, full=True)
        store.load_statuses(source_id, statuses)
        store.load_sprints(source_id, sprints)
        for first in range(0, len(bundles), LOAD_BATCH):
            store.load_items(source_id, bundles[first : first + LOAD_BATCH], now)
        store.finish_run(
            run_id,
            status="success",
            items_seen=len(bundles),
            items_inserted=len(bundles),
            items_updated=0,
            items_deleted=0,
            api_calls=0,
            rate_limit_waits=0,
            rate_limit_wait_seconds=0.0,
            errors=[],
        )
        changes = sum(len(b.changes) for b in bundles)
        del bundles
        loaded = time.perf_counter() - started

        rules, errors = load_policies(EXAMPLE_CONFIG)
        if errors:
            raise RuntimeError(f"the example policies do not load: {errors}")
        started = time.perf_counter()
        refreshed = refresh_kpis(engine, synthetic.kpi_config(), rules=rules, now=now)
        refresh_seconds = time.perf_counter() - started
        if engine.dialect.name == "postgresql":
            # what autovacuum does on its own after a bulk load: without statistics the
            # planner guesses one row per condition and walks the wrong index
            from sqlalchemy import text

            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        engine.dispose()
    return {
        "changes": changes,
        "generate_seconds": generated,
        "load_seconds": loaded,
        "refresh_seconds": refresh_seconds,
        "values": refreshed.saved.inserted,
        "findings": len(refreshed.findings),
    }


# -- measuring the pages (a fresh subprocess per size) -----------------------------------------


def _largest_team(engine: Any, names: list[str]) -> str | None:
    from sqlalchemy import func, select

    from pmo_sync.store.models import WorkItemRow

    items = WorkItemRow.__table__
    query = (
        select(items.c.team, func.count())
        .where(items.c.deleted_at.is_(None), items.c.team.in_(names))
        .group_by(items.c.team)
        .order_by(func.count().desc(), items.c.team)
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return row[0] if row else (names[0] if names else None)


def _largest_epic(engine: Any) -> tuple[str | None, str | None]:
    """(connector, key) of the epic with most children, or of any epic."""
    from sqlalchemy import func, select

    from pmo_sync.store.models import SourceRow, WorkItemRow

    items, sources = WorkItemRow.__table__, SourceRow.__table__
    epics = select(items.c.key).where(items.c.item_type == "epic", items.c.deleted_at.is_(None))
    query = (
        select(items.c.source_id, items.c.parent_key, func.count())
        .where(items.c.parent_key.in_(epics), items.c.deleted_at.is_(None))
        .group_by(items.c.source_id, items.c.parent_key)
        .order_by(func.count().desc(), items.c.parent_key)
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
        if row is None:
            any_epic = select(items.c.source_id, items.c.key).where(items.c.item_type == "epic")
            row = conn.execute(any_epic.order_by(items.c.key).limit(1)).first()
        if row is None:
            return None, None
        name = conn.execute(select(sources.c.name).where(sources.c.id == row[0])).scalar()
    return name, row[1]


def page_urls(app: Any, fill: dict[str, str | None]) -> tuple[list[str], list[str]]:
    """Every GET page of the app's URL map with its arguments filled, and what was skipped."""
    urls: list[str] = []
    skipped: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.rule.startswith("/static"):
            continue
        values = {name: fill.get(name) for name in rule.arguments}
        missing = [name for name, value in values.items() if value is None]
        if missing:
            skipped.append(f"{rule.rule} (no value for {', '.join(missing)})")
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        urls.append(url)
        if rule.rule in TEAM_QUERY_PAGES and fill.get("team"):
            from urllib.parse import quote

            urls.append(f"{url}?team={quote(str(fill['team']))}")
    return urls, skipped


def measure_pages(options: dict[str, Any]) -> dict[str, Any]:
    """Open the store as `serve` does and time every page; see the module docstring."""
    from pmo_sync.dashboard.app import create_app
    from pmo_sync.dashboard.reads import DashboardReads
    from pmo_sync.store.engine import make_engine

    baseline = peak_rss_mb()
    engine = make_engine(options["url"], read_only=True)
    try:
        app = create_app(engine)
        names = DashboardReads(engine).team_names()
        source, epic = _largest_epic(engine)
        fill = {"team": _largest_team(engine, names), "key": epic, "source": source}
        urls, skipped = page_urls(app, fill)
        only = options.get("only")
        if only:
            urls = [u for u in urls if u in only]
        client = app.test_client()
        rows = []
        profiler = None
        for url in urls:
            first = client.get(url)  # warm-up: templates compiled, connections pooled
            timings = []
            if options.get("profile"):
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            for _ in range(int(options["repeat"])):
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                response.close()
            if profiler is not None:
                profiler.disable()
            rows.append(
                {
                    "url": url,
                    "status": first.status_code,
                    "median_ms": statistics.median(timings),
                    "max_ms": max(timings),
                    "kb": len(first.data) / 1024,
                }
            )
            first.close()
    finally:
        engine.dispose()
    result: dict[str, Any] = {
        "rows": rows,
        "skipped": skipped,
        "fill": fill,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
    }
    if profiler is not None:
        import io
        import pstats

        for sort in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(25)
            result[f"profile_{sort}"] = out.getvalue()
    return result


# -- the report file ----------------------------------------------------------------------------


def _pmo_sync() -> str:
    """The `pmo-sync` command installed beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "pmo-sync"
    return str(beside) if beside.exists() else "pmo-sync"


def time_report(url: str, tmp: Path) -> dict[str, Any]:
    """`pmo-sync report --html -o FILE` on the store: seconds, MB, its peak RSS."""
    out = tmp / "report.html"
    env = {**os.environ, "PMO_SYNC_DATABASE_URL": url}
    command = [_pmo_sync(), "report", "--html", "-o", str(out)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else b""
    stderr = process.stderr.read() if process.stderr else b""
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    return {
        "exit": code,
        "seconds": seconds,
        "mb": out.stat().st_size / 2**20 if out.exists() else None,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "output": (stdout + stderr).decode(errors="replace")[-2000:],
    }


# -- the orchestrating process ------------------------------------------------------------------


def _worker(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pmo-bench-pages-") as tmp:
        result_path = Path(tmp) / "result.json"
        worker = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                kind,
                json.dumps(options),
                "--result",
                str(result_path),
            ],
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if worker.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"the {kind} subprocess failed (exit {worker.returncode})")
        return json.loads(result_path.read_text())


def cached_store(size: int, args: argparse.Namespace) -> Path:
    name = f"pmo-bench-pages-v{BUILD_VERSION}-{size}-e{args.epics}-s{args.seed}.sqlite3"
    return Path(args.cache_dir or tempfile.gettempdir()) / name


def bench_size(size: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    options = {"size": size, "epics": args.epics, "seed": args.seed}
    built: dict[str, Any] | None = None
    schema = None
    if args.database_url:
        schema = f"pmo_bench_pages_{uuid.uuid4().hex[:8]}"
        pg_schema(args.database_url, schema, create=True)
        url = with_search_path(args.database_url, schema)
    else:
        path = cached_store(size, args)
        url = f"sqlite:///{path}"
        if args.rebuild or not path.exists():
            for leftover in path.parent.glob(path.name + "*"):  # with -wal, -shm
                leftover.unlink()
        else:
            from pmo_sync.store.engine import make_engine, upgrade

            engine = make_engine(url)  # a reused store gets this pmo-sync's indexes
            upgrade(engine)
            engine.dispose()
            built = {"cached": str(path)}
    try:
        if built is None:
            print(f"building the {size:,}-item store ...", file=sys.stderr, flush=True)
            building = str(path) + ".building" if schema is None else None
            build_url = f"sqlite:///{building}" if building else url
            built = _worker("build", {**options, "url": build_url})
            if building:
                Path(building).rename(path)  # only a finished store is ever reused
                for suffix in ("-wal", "-shm"):
                    Path(building + suffix).unlink(missing_ok=True)
        print(f"measuring the pages at {size:,} items ...", file=sys.stderr, flush=True)
        only = [args.profile] if args.profile else None
        measured = _worker(
            "measure",
            {"url": url, "repeat": args.repeat, "profile": bool(args.profile), "only": only},
        )
        report = None if args.profile or args.no_report else time_report(url, tmp)
    finally:
        if schema is not None:
            pg_schema(args.database_url, schema, create=False)
    return {"items": size, "built": built, "pages": measured, "report": report}


def print_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        pages = r["pages"]
        built = r["built"]
        print()
        if "cached" in built:
            print(f"{r['items']:,} items: store reused from {built['cached']}")
        else:
            print(
                f"{r['items']:,} items, {built['changes']:,} changes: generated in "
                f"{built['generate_seconds']:.0f} s, loaded in {built['load_seconds']:.0f} s, "
                f"refreshed in {built['refresh_seconds']:.0f} s ({built['values']:,} KPI values, "
                f"{built['findings']:,} findings; not measured)"
            )
        fill = pages["fill"]
        print(
            f"<team> = {fill['team']}, <key> = {fill['key']} (the epic with most children), "
            f"<source> = {fill.get('source')}"
        )
        header = f"{'page':<48} {'median ms':>10} {'max ms':>8} {'KB':>8}  target"
        print(header)
        print("-" * len(header))
        for row in pages["rows"]:
            verdict = "OK" if row["median_ms"] < PAGE_TARGET_MS else "OVER"
            if row["status"] != 200:
                verdict = f"HTTP {row['status']}"
            print(
                f"{row['url']:<48} {row['median_ms']:>10.1f} {row['max_ms']:>8.1f} "
                f"{row['kb']:>8.1f}  {verdict}"
            )
        for skipped in pages["skipped"]:
            print(f"skipped: {skipped}")
        print(
            f"peak RSS of the pages' process {pages['peak_rss_mb']:.0f} MB "
            f"(after imports {pages['baseline_rss_mb']:.0f} MB); target: every page "
            f"< {PAGE_TARGET_MS:.0f} ms"
        )
        report = r["report"]  # None with --profile or --no-report: not measured
        if report is not None and report["exit"] != 0:
            print(f"report: `pmo-sync report --html` failed (exit {report['exit']}):")
            print(report["output"])
        elif report is not None:
            verdict = "OK" if report["seconds"] < REPORT_TARGET_S else "OVER"
            print(
                f"report: {report['seconds']:.1f} s, {report['mb']:.1f} MB, peak RSS "
                f"{report['peak_rss_mb']:.0f} MB  {verdict} (target < {REPORT_TARGET_S:.0f} s)"
            )
        for sort in ("cumulative", "tottime"):
            text = pages.get(f"profile_{sort}")
            if text:
                print(f"\ncProfile of {pages['rows'][0]['url']}, top by {sort} time:")
                print(text[text.find("   ncalls") :].rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--epics", type=int, default=2000, help="epics per 100,000 items")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page")
    parser.add_argument("--database-url", help="a PostgreSQL database (a throwaway schema)")
    parser.add_argument("--rebuild", action="store_true", help="build cached stores again")
    parser.add_argument("--cache-dir", help="where built stores are kept (the temp dir)")
    parser.add_argument("--no-report", action="store_true", help="do not time the report")
    parser.add_argument("--profile", metavar="URL", help="cProfile this one page's requests")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, options = args.worker[0], json.loads(args.worker[1])
        result = build_store(options) if kind == "build" else measure_pages(options)
        Path(args.result).write_text(json.dumps(result))
        return 0
    if args.database_url:
        problem = pg_unreachable(args.database_url)
        if problem:
            print(f"PostgreSQL at --database-url does not answer: {problem}", file=sys.stderr)
            return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="pmo-bench-pages-") as tmp:
        for size in args.sizes:
            results.append(bench_size(size, args, Path(tmp)))
    print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
