"""Benchmark a full Jira sync of N sandbox issues: speed, API calls against the minimum, memory.

For each size N the bench

1. starts the sandbox Jira in a separate process (`pmo-sync sandbox serve` on a free
   127.0.0.1 port, projects ABC, DEF and GHI, ceil(N/3) issues each) and waits until
   it answers;
2. computes the minimum number of API calls a full sync needs, independently of the
   connector, from the same generated `JiraDataset` (same seed and size):
   issue pages (ceil(N/100)) + board pages (one listing per project) + sprint pages
   (one per 50 sprints of each scrum board) + one bulk-changelog call per issue page
   holding a truncated changelog (more than 20 histories) + 2 metadata calls
   (`/field`, `/myself`) + one versions call per project (the releases); a first sync into
   an empty store needs no census count;
3. runs the sync in a fresh Python subprocess (so sizes cannot contaminate each other
   and the sandbox's memory is not counted) against a fresh store: a temporary SQLite
   file, or a fresh schema of `--database-url` (PostgreSQL), dropped afterwards. The
   subprocess runs `sync_connector(JiraConnector(config), store, full=True)`, then an
   incremental sync with nothing changed (which should cost 2 calls), and reports
   wall seconds, items/s, API calls (total and by endpoint) and peak RSS
   (`ru_maxrss`, with the baseline measured after imports and schema migration,
   before the first sync). `--tracemalloc` also reports the Python-heap peak of the
   full sync (it slows the sync down) and, with `--top K`, the K allocation sites
   holding the most memory at that peak;
4. stops the sandbox by its own PID.

Run it from the repository root:

    python bench/sync_jira.py                                # sizes 1000 10000, SQLite
    python bench/sync_jira.py --sizes 10000 100000
    python bench/sync_jira.py --sizes 10000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/sync_jira.py --sizes 10000 100000 --tracemalloc --top 15
    python bench/sync_jira.py --sizes 100000 --cycles        # then an idle service cycle

Peak memory must not grow with the number of issues: the sync streams pages and
loads them in batches, so the peak RSS delta of 100k should be close to that of 10k.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sandbox_process import (
    EMAIL,
    TOKEN,
    free_port,
    pg_schema,
    run_worker_process,
    sandbox_command,
    stop,
    wait_until_up,
    with_search_path,
)

PROJECTS = ("ABC", "DEF", "GHI")
JQL = "project in (ABC, DEF, GHI)"
TOKEN_ENV = "PMO_BENCH_JIRA_TOKEN"
PAGE_SIZE = 100  # JiraConfig.page_size default, and search/jql's cap with a changelog
RECENT_HISTORIES = 20  # search/jql returns only the latest 20 histories per issue
AGILE_PAGE_SIZE = 50

# Endpoints by the path fragment that identifies them, in the order they are printed.
ENDPOINTS = (
    ("search", "/search/jql"),
    ("bulkfetch", "/changelog/bulkfetch"),
    ("issue changelog", "/changelog"),
    ("sprints", "/sprint"),
    ("boards", "/board"),
    ("field", "/field"),
    ("myself", "/myself"),
    ("count", "/search/approximate-count"),
    ("status", "/status"),
    ("versions", "/versions"),
)


def _endpoint(path: str) -> str:
    if path.endswith("/search/approximate-count"):
        return "count"
    for name, fragment in ENDPOINTS:
        if fragment in path:
            return name
    return path


def _maxrss_mb() -> float:
    """This process's peak resident set size so far, in MB (KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _sqlite_highwater_mb() -> float | None:
    """SQLite's own peak heap use (C memory, invisible to tracemalloc), if the library is found."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        library = ctypes.CDLL(name)
        library.sqlite3_memory_highwater.restype = ctypes.c_int64
        return library.sqlite3_memory_highwater(ctypes.c_int(0)) / 2**20
    except (OSError, AttributeError):
        return None


# -- the measured subprocess -------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """One size, in a fresh process: full sync then incremental sync; results as JSON."""
    import tracemalloc
    from collections import Counter
    from urllib.parse import urlsplit

    from connectors.jira import JiraConfig, JiraConnector
    from pmo_sync.logging import configure_logging
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store
    from pmo_sync.sync import sync_connector

    configure_logging("console", "WARNING")  # keep the run's info lines out of the figures
    os.environ[TOKEN_ENV] = TOKEN
    config = JiraConfig.model_validate(
        {
            "name": "bench-jira",
            "url": options["sandbox_url"],
            "email": EMAIL,
            "token": f"${{{TOKEN_ENV}}}",
            "jql": JQL,
        }
    )
    engine = make_engine(options["database_url"])
    upgrade(engine)
    store = Store(engine)
    baseline_mb = _maxrss_mb()

    def run(full: bool, trace: bool) -> dict[str, Any]:
        calls: Counter[str] = Counter()
        largest: Counter[str] = Counter()  # biggest response body per endpoint, bytes
        snapshot: list[Any] = [None, 0]  # (snapshot at the highest traced size, that size)

        def tally(response: Any, *args: Any, **kwargs: Any) -> None:
            endpoint = _endpoint(urlsplit(response.url).path)
            calls[endpoint] += 1
            largest[endpoint] = max(largest[endpoint], len(response.content))

        def progress(connector: str, stream: str, count: int) -> None:
            if count % 1000:
                return
            current = tracemalloc.get_traced_memory()[0]
            if current > snapshot[1]:
                snapshot[:] = [tracemalloc.take_snapshot(), current]

        with JiraConnector(config) as connector:
            # Building the library's session makes no call; the policy's hooks count
            # every response, ours tallies them by endpoint.
            connector.client.jira._session.hooks["response"].append(tally)
            top = int(options["top"]) if trace else 0
            if trace:
                tracemalloc.start(int(options["frames"]))
            started = time.perf_counter()
            summary = sync_connector(
                connector, store, full=full, progress=progress if top else None
            )
            seconds = time.perf_counter() - started
            result: dict[str, Any] = {
                "seconds": seconds,
                "status": summary.status,
                "errors": summary.errors[:5],
                "items_seen": summary.items_seen,
                "items_inserted": summary.items_inserted,
                "api_calls": summary.api_calls,
                "retries": connector.stats.retries,
                "calls": dict(calls),
                "largest_response": dict(largest),
            }
            if trace:
                result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
                if top:
                    if snapshot[0] is None:
                        snapshot[:] = [tracemalloc.take_snapshot(), 0]
                    key = "traceback" if int(options["frames"]) > 1 else "lineno"
                    stats = snapshot[0].statistics(key)[:top]
                    result["top"] = [
                        {
                            "size_mb": s.size / 2**20,
                            "count": s.count,
                            "where": [f"{f.filename}:{f.lineno}" for f in s.traceback][-8:],
                        }
                        for s in stats
                    ]
                    result["snapshot_mb"] = snapshot[1] / 2**20
                tracemalloc.stop()
        return result

    full = run(True, bool(options["tracemalloc"]))
    full_peak_mb = _maxrss_mb()
    sqlite_highwater_mb = _sqlite_highwater_mb()
    incremental = run(False, False)
    cycles = service_cycles(config, store) if options.get("cycles") else None
    engine.dispose()
    result_path.write_text(
        json.dumps(
            {
                "baseline_rss_mb": baseline_mb,
                "peak_rss_mb": full_peak_mb,
                "peak_rss_after_incremental_mb": _maxrss_mb(),
                "sqlite_highwater_mb": sqlite_highwater_mb,
                "full": full,
                "incremental": incremental,
                "cycles": cycles,
            }
        )
    )


def service_cycles(config: Any, store: Any) -> list[dict[str, Any]]:
    """`--cycles`: two service cycles as `serve` runs them (`run_cycle` with the service's
    pushed marks; the example policies; no write-back configured): the first refreshes the
    KPIs and findings of the synced store, the second finds nothing new (issue 18)."""
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.kpi.config import KpiConfig
    from pmo_sync.service.cycle import PushedMarks, ServiceConfig, run_cycle

    rules, errors = load_policies(Path(__file__).resolve().parents[1] / "config")
    if errors:
        raise RuntimeError(f"the example policies do not load: {errors}")
    service = ServiceConfig({config.name: config}, KpiConfig(), rules)
    marks = PushedMarks()
    measured = []
    for _ in range(2):
        started = time.perf_counter()
        result = run_cycle(config, service, store, pushed=marks)
        measured.append(
            {
                "seconds": time.perf_counter() - started,
                "ok": result.ok,
                "errors": result.errors[:3],
                "unchanged": result.kpis_unchanged,
                "api_calls": result.sync.api_calls if result.sync else 0,
                "values_rewritten": result.kpi_values_changed,
                "peak_rss_mb": _maxrss_mb(),
            }
        )
    return measured


# -- the orchestrating process ------------------------------------------------------------------


def api_minimum(seed: int, issues_per_project: int) -> dict[str, int]:
    """The fewest calls a full sync can make, by endpoint, computed from the dataset itself."""
    from pmo_sync.sandbox.jira.generator import JiraDataset
    from pmo_sync.sandbox.jira.jql import parse
    from pmo_sync.sandbox.jira.search import run_query

    dataset = JiraDataset.generate(seed=seed, issues_per_project=issues_per_project)
    rows = run_query(dataset, parse(f"{JQL} ORDER BY created ASC, key ASC"), ())
    pages = [rows[i : i + PAGE_SIZE] for i in range(0, len(rows), PAGE_SIZE)] or [[]]
    truncated_pages = sum(
        1
        for page in pages
        if any(len(dataset.issue_at(row).histories) > RECENT_HISTORIES for row in page)
    )
    board_pages = sum(
        max(1, math.ceil(sum(b.project_key == p for b in dataset.boards) / AGILE_PAGE_SIZE))
        for p in PROJECTS
    )
    sprint_pages = sum(
        max(1, math.ceil(len(dataset.board_sprints(b.id)) / AGILE_PAGE_SIZE))
        for b in dataset.boards
        if b.type == "scrum" and b.project_key in PROJECTS
    )
    return {
        "issues": len(rows),
        "search": len(pages),
        "bulkfetch": truncated_pages,
        "boards": board_pages,
        "sprints": sprint_pages,
        "field": 1,
        "myself": 1,
        # the releases (issue 17): each project's versions, one unpaged call per project
        "versions": len(PROJECTS),
    }


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    per_project = math.ceil(size / len(PROJECTS))
    with tempfile.TemporaryDirectory(prefix="pmo-bench-") as tmp:
        tmpdir = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = tmpdir / "sandbox.log"
        schema = None
        with log_path.open("wb") as log_file:
            sandbox = subprocess.Popen(
                sandbox_command(port, args.seed, per_project),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            started = time.perf_counter()
            minimum = api_minimum(args.seed, per_project)  # while the sandbox generates
            wait_until_up(sandbox, url, log_path)
            setup_seconds = time.perf_counter() - started
            if args.database_url:
                schema = f"bench_{uuid.uuid4().hex[:10]}"
                pg_schema(args.database_url, schema, create=True)
                database_url = with_search_path(args.database_url, schema)
            else:
                database_url = f"sqlite:///{tmpdir / 'store.db'}"
            options = {
                "sandbox_url": url,
                "database_url": database_url,
                "tracemalloc": args.tracemalloc,
                "top": args.top,
                "frames": args.frames,
                "cycles": args.cycles,
            }
            result = run_worker_process(Path(__file__), options, tmpdir / "result.json")
        finally:
            stop(sandbox)
            if schema is not None:
                pg_schema(args.database_url, schema, create=False)
    result.update(
        size=size,
        per_project=per_project,
        minimum=minimum,
        setup_seconds=setup_seconds,
        backend="postgresql" if args.database_url else "sqlite",
    )
    return result


def print_results(results: list[dict[str, Any]], tracemalloc_on: bool) -> None:
    header = (
        f"{'issues':>8} {'db':>10} {'full s':>8} {'items/s':>8} {'calls':>6} {'min':>6} "
        f"{'base MB':>8} {'peak MB':>8} {'delta MB':>9}"
    )
    if tracemalloc_on:
        header += f" {'tm peak MB':>11}"
    header += f" {'incr calls':>10} {'incr s':>7}"
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        full, incr = r["full"], r["incremental"]
        minimum_total = sum(v for k, v in r["minimum"].items() if k != "issues")
        line = (
            f"{full['items_seen']:>8,} {r['backend']:>10} {full['seconds']:>8.1f} "
            f"{full['items_seen'] / full['seconds']:>8.0f} {full['api_calls']:>6} "
            f"{minimum_total:>6} {r['baseline_rss_mb']:>8.1f} {r['peak_rss_mb']:>8.1f} "
            f"{r['peak_rss_mb'] - r['baseline_rss_mb']:>9.1f}"
        )
        if tracemalloc_on:
            line += f" {full.get('tracemalloc_peak_mb', 0.0):>11.1f}"
        line += f" {incr['api_calls']:>10} {incr['seconds']:>7.2f}"
        print(line)
    print()
    for r in results:
        full, incr = r["full"], r["incremental"]
        names = [n for n, _ in ENDPOINTS]
        extra = sorted(set(full["calls"]) - set(names))
        parts = []
        for name in [*names, *extra]:
            made, least = full["calls"].get(name, 0), r["minimum"].get(name, 0)
            if made or least:
                parts.append(f"{name} {made}" + (f"/{least}" if made != least else ""))
        print(
            f"{full['items_seen']:,} issues, calls by endpoint (made/minimum if different): "
            + ", ".join(parts)
        )
        notes = []
        if r["minimum"]["issues"] != full["items_seen"]:
            notes.append(f"dataset has {r['minimum']['issues']} issues")
        for label, run in (("full", full), ("incremental", incr)):
            if run["status"] != "success":
                notes.append(f"{label} sync {run['status']}: {run['errors']}")
            if run["retries"]:
                notes.append(f"{label} sync retried {run['retries']} call(s)")
        notes.append(
            "incremental calls: "
            + ", ".join(f"{k} {v}" for k, v in sorted(incr["calls"].items()))
            + f"; items seen {incr['items_seen']}"
        )
        notes.append(f"sandbox start + minimum computation {r['setup_seconds']:.1f} s")
        endpoint, size = max(full["largest_response"].items(), key=lambda kv: kv[1])
        notes.append(f"largest response {size / 2**20:.1f} MB ({endpoint})")
        if r["backend"] == "sqlite" and r["sqlite_highwater_mb"] is not None:
            notes.append(f"SQLite heap high-water {r['sqlite_highwater_mb']:.1f} MB")
        if r["peak_rss_after_incremental_mb"] > r["peak_rss_mb"]:
            notes.append(
                f"peak RSS after the incremental sync {r['peak_rss_after_incremental_mb']:.1f} MB"
            )
        print("    " + "; ".join(notes))
        for n, cycle in enumerate(r.get("cycles") or (), start=1):
            print(
                f"    service cycle {n}: {cycle['seconds']:.2f} s, "
                + ("nothing new (no refresh, no push)" if cycle["unchanged"] else "refreshed")
                + f", {cycle['api_calls']} sync calls, {cycle['values_rewritten']:,} values "
                f"rewritten, peak RSS {cycle['peak_rss_mb']:.0f} MB"
                + ("" if cycle["ok"] else f", FAILED: {cycle['errors']}")
            )
        if "top" in full:
            print(f"    top allocations at the traced peak ({full['snapshot_mb']:.1f} MB traced):")
            for stat in full["top"]:
                where = " <- ".join(reversed(stat["where"]))
                print(f"    {stat['size_mb']:8.2f} MB {stat['count']:>9,} blocks  {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--database-url", help="PostgreSQL URL; a fresh schema is used, then dropped"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the Python heap (slow)"
    )
    parser.add_argument(
        "--top", type=int, default=0, help="with --tracemalloc: top allocation sites"
    )
    parser.add_argument("--frames", type=int, default=1, help="tracemalloc traceback depth")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--cycles",
        action="store_true",
        help="then two service cycles: the first refreshes, the second finds nothing new",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    if args.top and not args.tracemalloc:
        parser.error("--top needs --tracemalloc")
    results = []
    for size in args.sizes:
        print(f"syncing {size:,} sandbox issues ...", file=sys.stderr, flush=True)
        results.append(bench_size(size, args))
    print_results(results, args.tracemalloc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
