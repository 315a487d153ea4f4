"""Benchmark a full Trello sync of N sandbox cards per board: speed, API calls, memory.

For each size N (cards per board) the bench

1. generates the sandbox workspace (`TrelloDataset.generate(seed, cards_per_board=N,
   boards=...)`, `--boards` team boards) in this, the orchestrating, process and simulates
   every card once to index the boards' action logs, timed and printed apart from the sync
   ("generate"). Every simulated card is kept (see `prepare_dataset`), so the sandbox
   answers from memory instead of re-simulating cards behind its 2,048-card cache;
2. computes the minimum number of API calls from the same dataset, independently of the
   connector (see `api_minimum`);
3. serves it (`TrelloSandbox`) on a free 127.0.0.1 port from background threads of this
   process, with Trello's rate limits OFF (`token_limit=None, key_limit=None`), and the
   connector's own pacer (`RatePacer`, 100 requests / 10 s per token) unlimited too: at
   Trello's limits a 10k-card sync is paced, and the bench would measure the pacing.
   `--trello-limits` keeps both on;
4. runs the syncs in a fresh Python subprocess per store (`sandbox_process.
   run_worker_process`), so the sandbox's memory and CPU are not the sync's and sizes
   cannot contaminate each other: a temporary SQLite file, and with `--database-url` a
   throwaway schema of that PostgreSQL database (dropped afterwards). The subprocess runs

   - **full**: `sync_connector(TrelloConnector(config), store, full=True)` into the empty
     store (every board's actions, then lists, custom fields and cards per board);
   - **incremental**: the same with `full=False` and nothing changed (one `since` call
     per board is the minimum);

   and reports wall and CPU seconds, cards/s, calls, per-stream seconds, rows stored and
   peak RSS (`VmHWM`, see `sandbox_process.peak_rss_mb`; the baseline is taken after
   imports and schema migration, before the first sync);
5. takes the calls by endpoint from the sandbox (every request timed as it is answered),
   split between the two runs by arrival time, and the sandbox's time spent answering
   (routing, card lookups and JSON encoding): the sync waits for every answer, so wall
   time minus sandbox time is what the sync itself costs.

Run it from the repository root:

    python bench/sync_trello.py --cards-per-board 200            # smoke check, seconds
    python bench/sync_trello.py                                  # 1000 and 5000 per board
    python bench/sync_trello.py --cards-per-board 1000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/sync_trello.py --cards-per-board 5000 --boards 4 --profile 15

The sandbox and the sync share the machine's cores, so the sandbox's answer time and a
busy machine both show up in the sync's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
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

KEY_ENV = "PMO_BENCH_TRELLO_KEY"
TOKEN_ENV = "PMO_BENCH_TRELLO_TOKEN"
KEY = "bench-key"
TOKEN = "bench-token"
ACTIONS_PAGE = 1000  # connectors.trello.client.ACTIONS_PAGE_SIZE, Trello's largest `limit`
SPRINTS = {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}}
MORE_BOARDS = ("Team Gamma", "Team Delta", "Team Epsilon", "Team Zeta", "Team Eta")
PHASES = ("full", "incremental")
TABLES = ("work_items", "item_changes", "sprints", "sprint_items", "workflow_statuses")

# Endpoints by the pattern of the request path, in the order they are printed.
ENDPOINTS = (
    ("member", re.compile(r"^/1/members/[^/]+$")),
    ("boards", re.compile(r"^/1/members/[^/]+/boards$")),
    ("board", re.compile(r"^/1/boards/[^/]+$")),
    ("actions", re.compile(r"^/1/boards/[^/]+/actions$")),
    ("lists", re.compile(r"^/1/boards/[^/]+/lists(?:/[a-z]+)?$")),
    ("customFields", re.compile(r"^/1/boards/[^/]+/customFields$")),
    ("cards", re.compile(r"^/1/boards/[^/]+/cards(?:/[a-z]+)?$")),
    ("card actions", re.compile(r"^/1/cards/[^/]+/actions$")),
)


def endpoint_of(method: str, path: str) -> str:
    trimmed = path.rstrip("/")
    for name, pattern in ENDPOINTS:
        if pattern.match(trimmed):
            return name if method == "GET" else f"{method} {name}"
    return f"{method} {path}"


def board_names(count: int) -> tuple[str, ...]:
    from pmo_sync.sandbox.trello.generator import BOARD_NAMES

    names = (*BOARD_NAMES, *MORE_BOARDS)
    return tuple(names[i] if i < len(names) else f"Team {i + 1}" for i in range(count))


# -- the measured subprocess -------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """One size and store, in a fresh process: full sync, then no-change sync; JSON results."""
    from sqlalchemy import text

    from connectors.trello import RatePacer, TrelloClient, TrelloConfig, TrelloConnector
    from pmo_sync.logging import configure_logging
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    configure_logging("console", "WARNING")  # keep the run's info lines out of the figures
    os.environ[KEY_ENV] = options["key"]
    os.environ[TOKEN_ENV] = options["token"]
    config = TrelloConfig.model_validate(
        {
            "name": "bench-trello",
            "kind": "trello",
            "url": options["sandbox_url"],
            "api_key": f"${{{KEY_ENV}}}",
            "token": f"${{{TOKEN_ENV}}}",
            "boards": options["boards"],
            "sprints": SPRINTS,
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
        with TrelloConnector(config) as connector:
            if not options["trello_limits"]:
                # The client's pacer keeps it under Trello's limits whatever the server
                # says: an unlimited one (both limits None), as the sandbox's are off.
                connector.client.close()
                unpaced = RatePacer(
                    options["key"],
                    options["token"],
                    connector.stats,
                    token_limit=None,
                    key_limit=None,
                )
                connector.client = TrelloClient(config, connector.stats, pacer=unpaced)
            return measured_sync(connector, store, full=full, profile=profile)

    phases: dict[str, Any] = {"full": run(True, int(options["profile"]))}
    phases["full"]["rows"] = rows()
    phases["incremental"] = run(False, 0)
    engine.dispose()
    result_path.write_text(json.dumps({"baseline_rss_mb": baseline_mb, "phases": phases}))


# -- the orchestrating process ------------------------------------------------------------------


def prepare_dataset(dataset: Any) -> None:
    """Simulate every card once (the boards' action logs) and keep every card simulated.

    The dataset simulates cards lazily behind a 2,048-card LRU; board actions come newest
    first across all the cards, so past 2,048 cards the sandbox would re-simulate cards
    while answering (correctly, but the sandbox's CPU would then weigh on the sync's
    figures). Sizing the cache to hold every card answers from memory. Setup, not sync:
    the sandbox's memory is this process's.
    """
    from pmo_sync.sandbox.trello import generator

    generator._LRU_SIZE = max(generator._LRU_SIZE, dataset.card_count())
    dataset._ensure_index()


def log_sizes(dataset: Any) -> dict[str, int]:
    """Actions in each board's log as the sandbox serves them (a check that it held still)."""
    return {b.id: len(dataset._logs[b.id].ids) for b in dataset.boards}


def pages(count: int) -> int:
    """Pages of `count` actions: paging stops at a short page, so an exact multiple of the
    page (and nothing at all) costs one more, empty, page."""
    return count // ACTIONS_PAGE + 1


def api_minimum(dataset: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The fewest calls each run can make, by endpoint, from the dataset alone.

    - metadata: the token's member and its boards, once (`members/me`, `members/me/boards`;
      the boards are named, so they resolve from that listing);
    - per board: its actions of the types the conversion reads (`ACTION_FILTERS`), not
      deleted, 1000 a page newest first until a short page: `count // 1000 + 1`; then its
      lists, custom fields and cards (archived included), one call each;
    - per card listed on a board whose actions on the boards in scope hold no creation
      (created on a board out of scope, or older than Trello keeps): its own actions,
      on every board, paged the same way. None in the generated workspace;
    - a no-change incremental run: each board's actions `since` the newest one seen, one
      call per board (the resolved boards and member are cached for 6 h).
    """
    from connectors.trello.convert import ACTION_FILTERS, CREATION_TYPES

    wanted = set(ACTION_FILTERS)
    boards = [dataset.board(name) for name in names]
    scope = {b.id for b in boards}
    per_board: Counter[str] = Counter()
    card_pages = 0
    listed = 0
    log_actions: Counter[str] = Counter()  # every kind, what the boards' logs hold
    for card in dataset.cards(include_deleted=True):
        live = [a for a in card.actions if not a.deleted]
        for action in live:
            log_actions[action.board_id] += 1
        read = [a for a in live if a.type in wanted]
        in_scope = [a for a in read if a.board_id in scope]
        per_board.update(a.board_id for a in in_scope)
        if card.deleted or card.board_id not in scope:
            continue
        listed += 1
        if not any(a.type in CREATION_TYPES for a in in_scope):
            card_pages += pages(len(read))
    count = len(boards)
    full = {
        "member": 1,
        "boards": 1,
        "actions": sum(pages(per_board[b.id]) for b in boards),
        "lists": count,
        "customFields": count,
        "cards": count,
        "card actions": card_pages,
    }
    return {
        "calls": {"full": full, "incremental": {"actions": count}},
        "actions": sum(per_board.values()),
        "actions_by_board": {b.name: per_board[b.id] for b in boards},
        "cards_listed": listed,
        "log_actions": {b.id: log_actions[b.id] for b in boards},
    }


def bench_size(per_board: int, stores: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    import connectors.trello.convert  # noqa: F401 - imported here, not in the timings
    from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox

    names = board_names(args.boards)
    started = time.perf_counter()
    dataset = TrelloDataset.generate(seed=args.seed, cards_per_board=per_board, boards=names)
    prepare_dataset(dataset)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    minimum = api_minimum(dataset, names)
    minimum_seconds = time.perf_counter() - started
    logs_before = log_sizes(dataset)
    limits: dict[str, Any] = {} if args.trello_limits else {"token_limit": None, "key_limit": None}
    sandbox = TrelloSandbox(dataset, key=KEY, token=TOKEN, **limits)
    timed = TimedSandbox(sandbox, endpoint_of)
    results = []
    try:
        with sandbox, tempfile.TemporaryDirectory(prefix="pmo-bench-trello-") as tmp:
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
                    "sandbox_url": sandbox.root_url,
                    "key": sandbox.key,
                    "token": sandbox.token,
                    "boards": list(names),
                    "database_url": database_url,
                    "trello_limits": args.trello_limits,
                    "profile": args.profile,
                }
                print(
                    f"  {per_board:,} cards x {len(names)} boards, {backend} ...",
                    file=sys.stderr,
                    flush=True,
                )
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
                    per_board=per_board,
                    boards=len(names),
                    backend=backend,
                    minimum=minimum,
                    generate_seconds=generate_seconds,
                    minimum_seconds=minimum_seconds,
                    sandbox_logged=logged,
                    logs_changed=log_sizes(dataset) != logs_before,
                    loadavg=(load_before, os.getloadavg()[0]),
                )
                results.append(result)
    finally:
        timed.close()
    return results


def print_results(results: list[dict[str, Any]], trello_limits: bool) -> None:
    header = (
        f"{'cards':>13} {'actions':>8} {'db':>10} {'full s':>7} {'cards/s':>7} "
        f"{'cpu s':>6} {'sbx s':>6} {'calls':>5} {'min':>5} {'base MB':>7} {'peak MB':>7} "
        f"{'delta MB':>8} {'incr calls':>10} {'incr s':>6}"
    )
    print()
    if trello_limits:
        print("Trello's rate limits ON: sandbox 100/10 s per token, 300 per key; client paced")
    else:
        print(
            "Trello's rate limits OFF: the sandbox's (token_limit, key_limit None) and the "
            "connector's pacer (unlimited RatePacer)"
        )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        full, incr = r["phases"]["full"], r["phases"]["incremental"]
        cards = f"{r['per_board']:,} x {r['boards']}"
        print(
            f"{cards:>13} {r['minimum']['actions']:>8,} {r['backend']:>10} "
            f"{full['seconds']:>7.1f} {full['items_seen'] / full['seconds']:>7.0f} "
            f"{full['cpu_seconds']:>6.1f} {full['sandbox_seconds']:>6.1f} "
            f"{full['api_calls']:>5} {sum(r['minimum']['calls']['full'].values()):>5} "
            f"{r['baseline_rss_mb']:>7.1f} {full['peak_rss_mb']:>7.1f} "
            f"{full['peak_rss_mb'] - r['baseline_rss_mb']:>8.1f} "
            f"{incr['api_calls']:>10} {incr['seconds']:>6.2f}"
        )
    print()
    print(
        "cards: per board x boards; actions: board actions the full sync reads (types in "
        "ACTION_FILTERS, from the dataset); cpu s: the syncing process's CPU; sbx s: the "
        "sandbox's time answering (another process); calls: made / min: fewest possible; "
        "delta MB: peak RSS over the baseline"
    )
    names = [n for n, _ in ENDPOINTS]
    for r in results:
        m = r["minimum"]
        print()
        by_board = ", ".join(f"{k} {v:,}" for k, v in m["actions_by_board"].items())
        print(
            f"{r['per_board']:,} cards x {r['boards']} boards, {r['backend']} (generate + index "
            f"{r['generate_seconds']:.1f} s, minimum computed in {r['minimum_seconds']:.1f} s, "
            f"load average {r['loadavg'][0]:.1f} -> {r['loadavg'][1]:.1f}): "
            f"{m['cards_listed']:,} cards listed, actions {by_board}"
        )
        for label in PHASES:
            run = r["phases"][label]
            minimum = m["calls"][label]
            extra = sorted(set(run["calls"]) - set(names))
            parts = []
            for name in [*names, *extra]:
                made, least = run["calls"].get(name, 0), minimum.get(name, 0)
                if made or least:
                    parts.append(f"{name} {made}" + (f"/{least}" if made != least else ""))
            print(
                f"  {label:<11} {run['seconds']:7.2f} s (cpu {run['cpu_seconds']:.1f} s, "
                f"sandbox {run['sandbox_seconds']:.1f} s), cards seen {run['items_seen']:,}, "
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
            if run["rate_limit_waits"]:
                notes.append(
                    f"paced {run['rate_limit_waits']} time(s), "
                    f"{run['rate_limit_wait_seconds']:.1f} s"
                )
            if label == "full" and run["items_seen"] != m["cards_listed"]:
                notes.append(f"the boards list {m['cards_listed']:,} cards")
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
        if r["logs_changed"]:
            print("  the sandbox's board action logs changed during the runs (duplicates?)")
        if "profile" in r["phases"]["full"]:
            print("  cProfile of the full sync:")
            for line in r["phases"]["full"]["profile"].splitlines():
                if line.strip():
                    print("    " + line)
    print()
    print(
        "minimum = 2 (the token's member, its boards) + per board: actions of the types in "
        f"ACTION_FILTERS // {ACTIONS_PAGE} + 1 (paging stops at a short page, so an exact "
        "multiple costs one more, empty, page) + 3 (lists, customFields, cards) + one "
        "card-actions paging per listed card whose actions on the boards hold no creation; "
        "a no-change incremental run is 1 actions call per board"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards-per-board", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--boards", type=int, default=2, help="team boards, all synced")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL: also sync into a fresh schema of it (dropped afterwards)",
    )
    parser.add_argument(
        "--stores",
        nargs="+",
        choices=("sqlite", "postgresql"),
        help="default: sqlite, and postgresql with --database-url",
    )
    parser.add_argument(
        "--trello-limits",
        action="store_true",
        help="keep Trello's rate limits: the sandbox's and the connector's pacing",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile the full sync: top K functions"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    if args.boards < 1:
        parser.error("--boards must be at least 1")
    stores = list(
        dict.fromkeys(args.stores or ["sqlite", *(["postgresql"] if args.database_url else [])])
    )
    if "postgresql" in stores:
        if not args.database_url:
            parser.error("postgresql needs --database-url")
        reason = pg_unreachable(args.database_url)
        if reason is not None:
            print(f"PostgreSQL skipped ({args.database_url}): {reason}", file=sys.stderr)
            stores.remove("postgresql")
    if not stores:
        parser.error("no store to benchmark")
    results = []
    for per_board in args.cards_per_board:
        print(
            f"syncing {per_board:,} sandbox cards per board x {args.boards} ...",
            file=sys.stderr,
            flush=True,
        )
        results.extend(bench_size(per_board, stores, args))
    print_results(results, args.trello_limits)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
