"""Benchmark a full Azure DevOps sync of N sandbox work items: speed, API calls, memory.

For each size N the bench

1. builds the sandbox Azure DevOps (`AdoSandbox(size=N, wiql_cap=...)`, project Fabrikam,
   teams Phoenix, Atlas and Orion) in this, the orchestrating, process and serves it on a
   free 127.0.0.1 port from background threads. Its revision log is indexed up front
   (every item simulated once), so that cost is setup, not sync;
2. computes the minimum number of API calls from the same dataset, independently of the
   connector (see `api_minimum`);
3. runs the syncs in a fresh Python subprocess per store (`sandbox_process.
   run_worker_process`), so the sandbox's memory and CPU are not the sync's and sizes
   cannot contaminate each other: a temporary SQLite file, and a throwaway schema of
   `--database-url` (PostgreSQL, dropped afterwards) when the server answers. The
   subprocess points the SDK's disk cache (`PMO_SYNC_CACHE_DIR`) at a fresh temporary
   directory before importing the connector, so the first sync pays the cold-cache route
   discovery, then runs

   - **full**: `sync_connector(AzureDevOpsConnector(config), store, full=True)` into the
     empty store;
   - **incremental**: the same again with `full=False` and nothing changed (one reporting
     call is the minimum);
   - **resync** (unless `--no-resync`): `full=True` over the filled store. A first sync
     into an empty store never lists the live ids (there is nothing to mark deleted); a
     full run over a filled store does, with the WIQL census keyset-paginated at
     `--wiql-cap`, so this is where the cap shows;

   and reports wall and CPU seconds, items/s, revisions/s, calls, per-stream seconds,
   rows stored and peak RSS (`VmHWM`, see `sandbox_process.peak_rss_mb`; the baseline is
   taken after imports and schema migration, before the first sync);
4. takes the calls by endpoint from the sandbox's own request log, split between the
   three runs by arrival time, and the sandbox's time spent answering them (routing and
   simulation plus JSON encoding): the sync waits for every answer, so wall time minus
   sandbox time is what the sync itself costs.

Run it from the repository root:

    python bench/sync_ado.py --sizes 2000 --stores sqlite         # smoke check, < 1 min
    python bench/sync_ado.py                                      # 10k and 100k, both stores
    python bench/sync_ado.py --sizes 100000 --stores sqlite --wiql-cap 20000
    python bench/sync_ado.py --sizes 10000 --profile 15           # cProfile of the full sync

The sandbox and the sync share the machine's cores (and anything else running on it),
so the sandbox's answer time and a busy machine both show up in the sync's wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sandbox_process import (
    TimedSandbox,
    measured_sync,
    peak_rss_mb,
    pg_schema,
    pg_unreachable,
    run_worker_process,
    with_search_path,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN_ENV = "PMO_BENCH_ADO_TOKEN"
REPORTING_PAGE = 1000  # revisions per POST wit/reporting/workitemrevisions (service maximum)
BATCH_SIZE = 200  # ids per POST wit/workitemsbatch (service maximum: VS403474 beyond)
PHASES = ("full", "incremental", "resync")

# Endpoints by a fragment of the lower-cased request path, in the order they are printed.
ENDPOINTS = (
    ("options", None),  # OPTIONS {org}/_apis: route discovery
    ("options (deployment)", None),  # OPTIONS /_apis: the SDK's deployment-level fallback
    ("resourceAreas", "/_apis/resourceareas"),
    ("connectionData", "/_apis/connectiondata"),
    ("teams", None),  # _apis/projects/{project}/teams
    ("teamfieldvalues", "/teamsettings/teamfieldvalues"),
    ("iterations", "/teamsettings/iterations"),
    ("states", "/states"),
    ("fields", "/wit/fields"),
    ("reporting", "/wit/reporting/workitemrevisions"),
    ("revisions", "/revisions"),
    ("workitemsbatch", "/wit/workitemsbatch"),
    ("wiql", "/wit/wiql"),
)
TABLES = ("work_items", "item_changes", "sprints", "sprint_items", "workflow_statuses")


def endpoint_of(method: str, path: str, org: str) -> str:
    lowered = path.lower().rstrip("/")
    if method == "OPTIONS":
        return "options" if lowered.startswith(f"/{org.lower()}/") else "options (deployment)"
    if lowered.endswith("/teams"):
        return "teams"
    for name, fragment in ENDPOINTS:
        if fragment is not None and fragment in lowered:
            return name
    return f"{method} {path}"


# -- the measured subprocess -------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """One size and store, in a fresh process: full, incremental, resync; results as JSON."""
    # The SDK reads its cache directory once, at import: a fresh one, so the first run is cold.
    os.environ.pop("AZURE_DEVOPS_CACHE_DIR", None)
    os.environ["PMO_SYNC_CACHE_DIR"] = options["cache_dir"]

    from sqlalchemy import text

    from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
    from pmo_sync.logging import configure_logging
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    configure_logging("console", "WARNING")  # keep the run's info lines out of the figures
    os.environ[TOKEN_ENV] = options["pat"]
    config = AzureDevOpsConfig.model_validate(
        {
            "name": "bench-ado",
            "kind": "azure_devops",
            "organization_url": options["sandbox_url"],
            "token": f"${{{TOKEN_ENV}}}",
            "project": options["project"],
            "wiql_cap": options["wiql_cap"],
        }
    )
    engine = make_engine(options["database_url"])
    upgrade(engine)
    store = Store(engine)
    baseline_mb = peak_rss_mb()

    def rows() -> dict[str, int]:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in TABLES
            }

    def run(full: bool, profile: int) -> dict[str, Any]:
        with AzureDevOpsConnector(config) as connector:
            return measured_sync(connector, store, full=full, profile=profile)

    phases: dict[str, Any] = {"full": run(True, int(options["profile"]))}
    phases["full"]["rows"] = rows()
    phases["incremental"] = run(False, 0)
    if options["resync"]:
        phases["resync"] = run(True, 0)
        phases["resync"]["rows"] = rows()
    engine.dispose()
    result_path.write_text(
        json.dumps(
            {
                "baseline_rss_mb": baseline_mb,
                "work_item_types": list(config.work_item_types),
                "link_types": list(config.link_types),
                "phases": phases,
            }
        )
    )


# -- the sandbox, timed -------------------------------------------------------------------------


# -- the orchestrating process ------------------------------------------------------------------


def dataset_figures(dataset: Any) -> dict[str, int]:
    """What the minimum depends on: revisions in the reporting log, live items, teams."""
    return {
        "revisions": dataset.watermark(),
        "items": len(dataset.ids()),
        "teams": len(dataset.teams),
    }


def prepare_dataset(dataset: Any, lru: int) -> dict[str, int]:
    """Index the sandbox's revision log (every item simulated once) and size its item cache.

    The dataset simulates items lazily and keeps the last 2,048 in an LRU. The reporting
    stream visits items in change-time order, so at 100k items nearly every revision
    misses that cache and the item is simulated again, for every page, and every WIQL
    census page simulates every item: the sandbox, not the sync, then sets the pace. With
    `lru` 0 (the default) every item simulated while indexing is kept, so the sandbox
    answers from memory; a positive `lru` is the cache's size instead (2048 = as shipped).
    Setup, not sync: the sandbox's memory is this process's.
    """
    from pmo_sync.sandbox.ado import generator

    if lru > 0:
        generator._LRU_SIZE = lru
        return dataset_figures(dataset)
    generator._LRU_SIZE = max(dataset.size, 1)
    simulate = dataset._simulate

    def simulate_and_keep(item_id: int) -> Any:
        item = simulate(item_id)
        dataset._cache[item_id] = item
        return item

    dataset._simulate = simulate_and_keep
    try:
        return dataset_figures(dataset)
    finally:
        del dataset._simulate


def api_minimum(
    figures: dict[str, int], types: int, wiql_cap: int, links: bool = True
) -> dict[str, dict[str, int]]:
    """The fewest calls each run can make, by endpoint, from the dataset alone.

    - reporting: ceil(revisions / 1000) POSTs. The stream says `isLastBatch: true` on the
      page that reaches the end of the log (the sandbox sets it when the page's last
      watermark is the log's), so no trailing empty page is needed; an empty log still
      takes one call. A no-change incremental run is that one call.
    - links (`links`: the connector reads any link type, Dependency by default): the
      reporting stream carries no relations, so each item a full run reads is asked for
      its relations with `workitemsbatch`, 200 ids a call: ceil(items / 200). A no-change
      run reads no item and asks none.
    - metadata (every full run: it refreshes the cache): connectionData 1, teams 1,
      each team's area paths (teamfieldvalues) and iterations, one each per team, states
      one per configured work item type (the connector
      cannot know which types the process lacks without asking: a missing one is a 404),
      and the organisation's field list, 1 (the revision stream asks only for fields that
      exist).
    - route discovery, cold disk cache only (the first run of the process): OPTIONS
      {org}/_apis once (all three API areas live at the organisation URL) and
      _apis/ResourceAreas once.
    - census, only in a full run over a filled store: keyset pages of `wiql_cap` ids until
      a short one, floor(items / cap) + 1 (without a count the client cannot tell a full
      last page from a full middle one). A first run into an empty store needs none.
    """
    revisions, items, teams = figures["revisions"], figures["items"], figures["teams"]
    reporting = max(1, math.ceil(revisions / REPORTING_PAGE))
    metadata = {
        "connectionData": 1,
        "teams": 1,
        "teamfieldvalues": teams,
        "iterations": teams,
        "states": types,
        "fields": 1,
    }
    read = {"reporting": reporting}
    if links:
        read["workitemsbatch"] = math.ceil(items / BATCH_SIZE)
    return {
        "full": {"options": 1, "resourceAreas": 1, **metadata, **read},
        "incremental": {"reporting": 1},
        "resync": {**metadata, **read, "wiql": items // wiql_cap + 1},
    }


def bench_size(size: int, stores: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    from pmo_sync.sandbox.ado import AdoSandbox

    started = time.perf_counter()
    sandbox = AdoSandbox(seed=args.seed, size=size, wiql_cap=args.wiql_cap)
    figures = prepare_dataset(sandbox.dataset, args.sandbox_lru)
    setup_seconds = time.perf_counter() - started
    org = sandbox.dataset.org
    timed = TimedSandbox(sandbox, lambda method, path: endpoint_of(method, path, org))
    results = []
    try:
        with sandbox, tempfile.TemporaryDirectory(prefix="pmo-bench-ado-") as tmp:
            for backend in stores:
                tmpdir = Path(tmp) / backend
                tmpdir.mkdir()
                schema = None
                if backend == "postgresql":
                    schema = f"bench_{uuid.uuid4().hex[:10]}"
                    pg_schema(args.database_url, schema, create=True)
                    database_url = with_search_path(args.database_url, schema)
                else:
                    database_url = f"sqlite:///{tmpdir / 'store.db'}"
                options = {
                    "sandbox_url": sandbox.url,
                    "pat": sandbox.pat,
                    "project": sandbox.dataset.project.name,
                    "wiql_cap": args.wiql_cap,
                    "database_url": database_url,
                    "cache_dir": str(tmpdir / "cache"),
                    "resync": not args.no_resync,
                    "profile": args.profile,
                }
                print(f"  {size:,} items, {backend} ...", file=sys.stderr, flush=True)
                timed.clear()
                load_before = os.getloadavg()[0]
                try:
                    result = run_worker_process(Path(__file__), options, tmpdir / "result.json")
                finally:
                    if schema is not None:
                        pg_schema(args.database_url, schema, create=False)
                logged = len(sandbox.requests)
                for phase in result["phases"].values():
                    phase.update(timed.between(phase["started_epoch"], phase["ended_epoch"]))
                result.update(
                    size=size,
                    backend=backend,
                    figures=figures,
                    minimum=api_minimum(
                        figures,
                        len(result["work_item_types"]),
                        args.wiql_cap,
                        links=bool(result["link_types"]),
                    ),
                    setup_seconds=setup_seconds,
                    sandbox_lru=args.sandbox_lru,
                    sandbox_logged=logged,
                    loadavg=(load_before, os.getloadavg()[0]),
                )
                results.append(result)
    finally:
        timed.close()
    return results


def _mb(value: float) -> str:
    return f"{value:.1f}"


def print_results(results: list[dict[str, Any]], wiql_cap: int) -> None:
    header = (
        f"{'items':>8} {'revisions':>9} {'db':>10} {'full s':>7} {'items/s':>7} {'revs/s':>7} "
        f"{'cpu s':>6} {'sbx s':>6} {'calls':>5} {'min':>5} {'base MB':>7} {'peak MB':>7} "
        f"{'delta MB':>8} {'incr calls':>10} {'incr s':>6}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        full, incr = r["phases"]["full"], r["phases"]["incremental"]
        revisions = r["figures"]["revisions"]
        print(
            f"{full['items_seen']:>8,} {revisions:>9,} {r['backend']:>10} {full['seconds']:>7.1f} "
            f"{full['items_seen'] / full['seconds']:>7.0f} {revisions / full['seconds']:>7.0f} "
            f"{full['cpu_seconds']:>6.1f} {full['sandbox_seconds']:>6.1f} "
            f"{full['api_calls']:>5} {sum(r['minimum']['full'].values()):>5} "
            f"{r['baseline_rss_mb']:>7.1f} {full['peak_rss_mb']:>7.1f} "
            f"{full['peak_rss_mb'] - r['baseline_rss_mb']:>8.1f} "
            f"{incr['api_calls']:>10} {incr['seconds']:>6.2f}"
        )
    print()
    print(
        "cpu s: the syncing process's CPU; sbx s: the sandbox's time answering (another "
        "process); calls: made / min: fewest possible; delta MB: peak RSS over the baseline"
    )
    names = [n for n, _ in ENDPOINTS]
    for r in results:
        print()
        print(
            f"{r['figures']['items']:,} items / {r['figures']['revisions']:,} revisions, "
            f"{r['backend']} (sandbox setup {r['setup_seconds']:.1f} s, item cache "
            f"{r['sandbox_lru'] or 'all'}, load average "
            f"{r['loadavg'][0]:.1f} -> {r['loadavg'][1]:.1f}):"
        )
        for label in PHASES:
            run = r["phases"].get(label)
            if run is None:
                continue
            minimum = r["minimum"][label]
            extra = sorted(set(run["calls"]) - set(names))
            parts = []
            for name in [*names, *extra]:
                made, least = run["calls"].get(name, 0), minimum.get(name, 0)
                if made or least:
                    parts.append(f"{name} {made}" + (f"/{least}" if made != least else ""))
            print(
                f"  {label:<11} {run['seconds']:7.2f} s (cpu {run['cpu_seconds']:.1f} s, "
                f"sandbox {run['sandbox_seconds']:.1f} s), items seen {run['items_seen']:,}, "
                f"calls {run['api_calls']}/{sum(minimum.values())} minimum: " + ", ".join(parts)
            )
            notes = []
            if run["count"] != run["api_calls"]:
                notes.append(
                    f"sandbox saw {run['count']} requests, the connector counted {run['api_calls']}"
                )
            if run["failed"]:
                notes.append(
                    "non-2xx: " + ", ".join(f"{k} x{v}" for k, v in sorted(run["failed"].items()))
                )
            if run["status"] != "success":
                notes.append(f"status {run['status']}: {run['errors']}")
            if run["retries"]:
                notes.append(f"retried {run['retries']} call(s)")
            if run["items_inserted"] or run["items_updated"] or run["items_deleted"]:
                notes.append(
                    f"inserted {run['items_inserted']:,}, updated {run['items_updated']:,}, "
                    f"deleted {run['items_deleted']:,}"
                )
            streams = ", ".join(f"{k} {v:.2f}" for k, v in run["stream_seconds"].items())
            notes.append(f"stream s: {streams}")
            if "rows" in run:
                notes.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in run["rows"].items()))
            notes.append(f"peak RSS after it {run['peak_rss_mb']:.1f} MB")
            print("      " + "; ".join(notes))
        total = sum(p["count"] for p in r["phases"].values())
        if total != r["sandbox_logged"]:
            print(f"  the sandbox log holds {r['sandbox_logged']} requests, the runs {total}")
        if "profile" in r["phases"]["full"]:
            print("  cProfile of the full sync:")
            for line in r["phases"]["full"]["profile"].splitlines():
                if line.strip():
                    print("    " + line)
    print()
    print(
        f"minimum = reporting ceil(revisions/{REPORTING_PAGE}) (isLastBatch on the page that "
        "reaches the log's end: no trailing empty page) + metadata on full runs (connectionData, "
        "teams, iterations per team, states per configured type, the field list) + the "
        f"links' workitemsbatch ceil(items/{BATCH_SIZE}) on full runs + route discovery on "
        f"the cold first run (OPTIONS, ResourceAreas) + census on the resync "
        f"(floor(items/{wiql_cap})+1 keyset WIQL pages); a no-change incremental run is 1 "
        "reporting call"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument(
        "--stores", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="PostgreSQL URL; a fresh schema is used per run, then dropped",
    )
    parser.add_argument(
        "--wiql-cap", type=int, default=20000, help="the sandbox's and the connector's WIQL cap"
    )
    parser.add_argument(
        "--no-resync", action="store_true", help="skip the full re-sync over the filled store"
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile the full sync: top K functions"
    )
    parser.add_argument(
        "--sandbox-lru",
        type=int,
        default=0,
        help="items the sandbox keeps simulated: 0 = all (default), 2048 = as shipped",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    stores = list(dict.fromkeys(args.stores))
    if "postgresql" in stores:
        reason = pg_unreachable(args.database_url)
        if reason is not None:
            print(f"PostgreSQL skipped ({args.database_url}): {reason}", file=sys.stderr)
            stores.remove("postgresql")
    if not stores:
        parser.error("no store to benchmark")
    results = []
    for size in args.sizes:
        print(f"syncing {size:,} sandbox work items ...", file=sys.stderr, flush=True)
        results.extend(bench_size(size, stores, args))
    print_results(results, args.wiql_cap)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
