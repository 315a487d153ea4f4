"""Benchmark the sync's ingest without HTTP: recorded sandbox pages replayed in-process.

The sync benches (bench/sync_jira.py, sync_ado.py, sync_trello.py) time a sync against a
sandbox in another process, so their figures hold the sandbox's answer time and the
socket. This one measures what pmo-sync itself costs to turn pages into stored rows
(conversion, hashing, compression, the store's writes), for each tracker:

1. **record, once**: `pmo-sync sandbox serve --tracker T` in a process of its own (a free
   127.0.0.1 port, `--seed`, `--today 2026-11-20`, sized for `--items`), the connector
   file its banner prints, and a full sync of it into a throwaway SQLite store in a
   worker process, with every HTTP exchange recorded by vcrpy into a JSON cassette; the
   sandbox is then stopped by its own PID. With `--cassettes DIR` the cassettes (and the
   connector file beside each) are kept there and reused by the next run;
2. **replay**: a fresh worker process loads the cassette (vcrpy, record mode `none`:
   nothing reaches a socket, an unknown request fails), then runs a full
   `sync_connector` into a fresh SQLite store, and reports the items, the wall seconds,
   the seconds spent inside `requests.Session.send` (vcrpy answering from the cassette:
   the HTTP part left), the ingest seconds (the difference: conversion + store) and of
   them the seconds inside the store's load methods (`STORE_WRITES`), the items/s of
   ingest, and peak RSS (`VmHWM`; the cassette is loaded before the baseline
   is taken, both are printed).

Run it from the repository root:

    python bench/ingest_replay.py                                   # jira, 10,000 items
    python bench/ingest_replay.py --trackers jira ado trello --items 10000
    python bench/ingest_replay.py --trackers jira --profile 25       # cProfile of the replay
    python bench/ingest_replay.py --cassettes /tmp/cassettes --keep-stores /tmp/after
    python bench/ingest_replay.py --trackers jira ado trello --repeat 3   # fastest of 3

`--repeat N` replays N times in the one worker process, each into a fresh store, and prints
the replay with the fewest ingest seconds: on a machine shared with other work the fastest
of a few is the steadier figure (the later replays find the Azure DevOps SDK's route cache
warm, which saves a call, not ingest).

`--keep-stores DIR` keeps each replayed store as DIR/<tracker>.db, so the stores the same
cassette gives two versions of the code can be compared (bench/compare_stores.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox_process import free_port, peak_rss_mb, run_worker_process, stop

TRACKERS = {"jira": "jira", "ado": "azure_devops", "trello": "trello"}
"""The bench's short names → `pmo-sync sandbox serve --tracker`."""
TRELLO_BOARDS = 2  # the sandbox's boards (Team Alpha, Team Beta)
SANDBOX_START_TIMEOUT = 900.0
MATCH_ON = ("exact",)
"""One matcher: method, whole URI and body as recorded, compared as they are. vcrpy's own
(`query`, `body`, ...) parse every recorded request's query again for every request, which
made the replay of 130 pages cost more than the ingest it serves."""


def per_project(tracker: str, items: int) -> int:
    """`--issues-per-project` for about `items` items: 3 projects (Jira), 3 x that many
    work items (Azure DevOps), that many cards per board (Trello)."""
    if tracker == "trello":
        return math.ceil(items / TRELLO_BOARDS)
    return math.ceil(items / 3)


def _vcr(record_mode: str) -> Any:
    import vcr

    recorder = vcr.VCR(
        serializer="json",
        record_mode=record_mode,
        match_on=MATCH_ON,
        decode_compressed_response=True,
    )
    recorder.register_matcher("exact", _same_request)
    return recorder


def _same_request(one: Any, other: Any) -> None:
    """vcrpy's matcher protocol: return when `one` is `other`, raise AssertionError if not."""
    if (one.method, one.uri, one.body) != (other.method, other.uri, other.body):
        raise AssertionError("another request")


def _connector(config: Any, unpaced: bool) -> Any:
    """The connector of `config`; Trello's without its client-side pacer when `unpaced` (a
    replay has no rate limit to keep under, and must not sleep)."""
    from connectors.registry import connector_for_kind

    connector = connector_for_kind(config.kind)(config)
    if unpaced and config.kind == "trello":
        from connectors.trello import RatePacer, TrelloClient

        connector.client.close()
        pacer = RatePacer(
            config.api_key.get_secret_value(),
            config.token.get_secret_value(),
            connector.stats,
            token_limit=None,
            key_limit=None,
        )
        connector.client = TrelloClient(config, connector.stats, pacer=pacer)
    return connector


STORE_WRITES = (
    "load_items",
    "load_sprints",
    "load_statuses",
    "load_releases",
    "load_teams",
    "apply_census",
)
"""The `Store` methods the sync's loader writes through: their time is the `store s` column."""


def _timed(method: Any, total: list[float]) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - started

    return timed


# -- the worker processes -----------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """Record (a sync against the live sandbox) or replay (the cassette, timed)."""
    os.environ.pop("AZURE_DEVOPS_CACHE_DIR", None)
    os.environ["PMO_SYNC_CACHE_DIR"] = options["cache_dir"]  # the SDK's: cold, both times
    os.environ.update(options["env"])

    from connectors.registry import connector_for_kind
    from pmo_sync.logging import configure_logging
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    configure_logging("console", "WARNING")  # keep the run's info lines out of the figures
    kind = options["config"]["kind"]
    config = connector_for_kind(kind).config_model.model_validate(options["config"])
    engine = make_engine(options["database_url"])
    upgrade(engine)
    store = Store(engine)
    replay = options["mode"] == "replay"
    result: dict[str, Any] = {}
    with _vcr("none" if replay else "all").use_cassette(options["cassette"]) as cassette:
        if not replay:
            from pmo_sync.sync import sync_connector

            with _connector(config, unpaced=False) as connector:
                summary = sync_connector(connector, store, full=True)
            result = {"status": summary.status, "errors": summary.errors[:5]}
            result["items"], result["requests"] = summary.items_seen, len(cassette)
        else:
            runs = []
            for repetition in range(int(options["repeat"])):
                if repetition:  # a fresh store each time, and the cassette from its start
                    engine.dispose()
                    Path(options["database_url"].removeprefix("sqlite:///")).unlink()
                    engine = make_engine(options["database_url"])
                    upgrade(engine)
                    store = Store(engine)
                    cassette.rewind()
                runs.append(_replay_once(config, store, int(options["profile"])))
            best = min(runs, key=lambda r: r["seconds"] - r["http_seconds"])
            result = {**best, "runs": runs}
            result["requests"], result["recorded"] = cassette.play_count, len(cassette)
    engine.dispose()
    result_path.write_text(json.dumps(result))


def _replay_once(config: Any, store: Any, profile: int) -> dict[str, Any]:
    """One replayed full sync into `store`, measured (see the module docstring)."""
    import requests
    from sandbox_process import measured_sync

    http = [0.0]
    send = requests.Session.send

    def timed_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(self, *args, **kwargs)
        finally:
            http[0] += time.perf_counter() - started

    requests.Session.send = timed_send  # type: ignore[method-assign]
    stored = [0.0]
    for name in STORE_WRITES:
        setattr(store, name, _timed(getattr(store, name), stored))
    baseline = peak_rss_mb()
    try:
        with _connector(config, unpaced=True) as connector:
            run = measured_sync(connector, store, full=True, profile=profile)
    finally:
        requests.Session.send = send  # type: ignore[method-assign]
    return {
        "status": run["status"],
        "errors": run["errors"],
        "items": run["items_seen"],
        "seconds": run["seconds"],
        "cpu_seconds": run["cpu_seconds"],
        "http_seconds": http[0],
        "store_seconds": stored[0],
        "baseline_rss_mb": baseline,
        "peak_rss_mb": run["peak_rss_mb"],
        "profile": run.get("profile"),
    }


# -- the orchestrating process ------------------------------------------------------------------


def banner_config(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The connector file and the variables `pmo-sync sandbox serve`'s banner prints."""
    import yaml

    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("a connector file for it"))
    end = lines.index("then:", start)
    config = yaml.safe_load("\n".join(line[2:] for line in lines[start + 1 : end]))
    config = json.loads(json.dumps(config, default=str))  # YAML's dates as the text they were
    env = {}
    for line in lines[end + 1 :]:
        if line.strip().startswith("export "):
            name, _, value = line.strip()[len("export ") :].partition("=")
            env[name] = value
    return config, env


def record(tracker: str, items: int, seed: int, cassette: Path, workdir: Path) -> dict[str, Any]:
    """Serve the sandbox in its own process, sync it once through a recording cassette, stop
    the sandbox; the connector file and variables are written beside the cassette."""
    port = free_port()
    log_path = workdir / f"sandbox-{tracker}.log"
    cli = Path(sys.executable).with_name("pmo-sync")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "pmo_sync.cli"]
    command += ["sandbox", "serve", "--tracker", TRACKERS[tracker], "--port", str(port)]
    command += ["--seed", str(seed), "--issues-per-project", str(per_project(tracker, items))]
    command += ["--today", "2026-11-20"]
    with log_path.open("wb") as log_file:
        sandbox = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while "  pmo-sync sync" not in (text := log_path.read_text(errors="replace")):
            if sandbox.poll() is not None:
                raise RuntimeError(f"the sandbox exited with {sandbox.returncode}: {text[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start within {SANDBOX_START_TIMEOUT:g} s")
            time.sleep(0.3)
        config, env = banner_config(text)
        options = {
            "mode": "record",
            "config": config,
            "env": env,
            "cassette": str(cassette),
            "database_url": f"sqlite:///{workdir / f'record-{tracker}.db'}",
            "cache_dir": str(workdir / f"cache-record-{tracker}"),
        }
        result = run_worker_process(Path(__file__), options, workdir / "record.json")
    finally:
        stop(sandbox)
    if result["status"] != "success":
        raise RuntimeError(f"the recorded {tracker} sync {result['status']}: {result['errors']}")
    cassette.with_suffix(".connector.json").write_text(json.dumps({"config": config, "env": env}))
    return result


def replay(
    tracker: str, cassette: Path, workdir: Path, store: Path, profile: int, repeat: int
) -> dict[str, Any]:
    connector = json.loads(cassette.with_suffix(".connector.json").read_text())
    if store.exists():
        store.unlink()
    options = {
        "mode": "replay",
        "config": connector["config"],
        "env": connector["env"],
        "cassette": str(cassette),
        "database_url": f"sqlite:///{store}",
        "cache_dir": str(workdir / f"cache-replay-{tracker}"),
        "profile": profile,
        "repeat": repeat,
    }
    load = os.getloadavg()
    result = run_worker_process(Path(__file__), options, workdir / "replay.json")
    result["load"] = load
    if result["status"] != "success":
        raise RuntimeError(f"the replayed {tracker} sync {result['status']}: {result['errors']}")
    return result


def print_table(rows: list[tuple[str, dict[str, Any]]]) -> None:
    header = (
        f"{'tracker':<8} {'items':>8} {'seconds':>8} {'items/s':>8} {'store s':>8} {'http s':>7} "
        f"{'total s':>8} {'cpu s':>7} {'base MB':>8} {'peak MB':>8} {'load 1m':>8}"
    )
    print(header)
    print("-" * len(header))
    for tracker, r in rows:
        ingest = r["seconds"] - r["http_seconds"]
        print(
            f"{tracker:<8} {r['items']:>8,} {ingest:>8.2f} {r['items'] / ingest:>8,.0f} "
            f"{r['store_seconds']:>8.2f} {r['http_seconds']:>7.2f} {r['seconds']:>8.2f} "
            f"{r['cpu_seconds']:>7.2f} {r['baseline_rss_mb']:>8.1f} "
            f"{r['peak_rss_mb']:>8.1f} {r['load'][0]:>8.2f}"
        )
    print()
    print(
        "seconds: ingest (the replayed full sync minus `http s`, the time inside "
        "requests.Session.send answering from the cassette); store s: of those, the time "
        "inside the Store's load methods (the rest is reading pages and converting); total s "
        "and cpu s: the whole replayed sync, wall and CPU (a busy machine stretches wall, not "
        "CPU); base MB: RSS with the cassette loaded, before the sync. With --repeat N, the "
        "replay of the fewest ingest seconds of N, each into a fresh store"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", nargs="+", choices=list(TRACKERS), default=["jira"])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cassettes", type=Path, help="keep (and reuse) the cassettes here")
    parser.add_argument("--keep-stores", type=Path, help="keep each replayed store here")
    parser.add_argument("--profile", type=int, default=0, help="cProfile: top N functions")
    parser.add_argument(
        "--repeat", type=int, default=1, help="replays per tracker, the fastest printed"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="pmo-bench-ingest-") as tmp:
        workdir = Path(tmp)
        cassettes = args.cassettes or workdir
        cassettes.mkdir(parents=True, exist_ok=True)
        stores = args.keep_stores or workdir
        stores.mkdir(parents=True, exist_ok=True)
        for tracker in args.trackers:
            cassette = cassettes / f"{tracker}-{args.items}-seed{args.seed}.json"
            if not cassette.exists() or not cassette.with_suffix(".connector.json").exists():
                print(f"  recording {tracker}, {args.items:,} items ...", file=sys.stderr)
                recorded = record(tracker, args.items, args.seed, cassette, workdir)
                print(
                    f"  recorded {recorded['items']:,} items in {recorded['requests']} requests",
                    file=sys.stderr,
                )
            print(f"  replaying {tracker} ...", file=sys.stderr, flush=True)
            result = replay(
                tracker, cassette, workdir, stores / f"{tracker}.db", args.profile, args.repeat
            )
            rows.append((tracker, result))
            if result.get("profile"):
                print(result["profile"])
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
