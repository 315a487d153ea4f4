"""Helpers the benchmarks share: the sandbox Jira in a process of its own (so only pmo-sync is
measured), worker processes, throwaway PostgreSQL schemas, and a sandbox timed per request."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

EMAIL = "pmo-bot@acme.example"
TOKEN = "sandbox-token"
SANDBOX_START_TIMEOUT = 900.0  # generating 100k issues takes a while


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_command(port: int, seed: int, per_project: int) -> list[str]:
    cli = Path(sys.executable).with_name("pmo-sync")
    args = ["sandbox", "serve", "--port", str(port), "--seed", str(seed)]
    # the generators' DEFAULT_NOW (serve defaults to today): the same data, and figures, each run
    args += ["--issues-per-project", str(per_project), "--today", "2026-11-20"]
    if cli.exists():
        return [str(cli), *args]
    return [sys.executable, "-c", "from pmo_sync.cli import app; app()", *args]


def wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    auth = b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    request = urllib.request.Request(
        f"{url}/rest/api/3/myself", headers={"Authorization": f"Basic {auth}"}
    )
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the sandbox exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the sandbox did not answer at {url} within {SANDBOX_START_TIMEOUT:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the sandbox by its own PID: SIGTERM (it shuts down cleanly), then SIGKILL."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def run_worker_process(script: Path, options: dict[str, Any], result_path: Path) -> dict[str, Any]:
    """Run `script --worker OPTIONS --result FILE` in a fresh interpreter; return its JSON result.

    A fresh process per measurement, so one size's memory cannot inflate the next.
    """
    worker = subprocess.run(
        [
            sys.executable,
            str(script.resolve()),
            "--worker",
            json.dumps(options),
            "--result",
            str(result_path),
        ],
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if worker.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"the {script.name} worker failed (exit {worker.returncode})")
    return json.loads(result_path.read_text())


def with_search_path(url: str, schema: str) -> str:
    """`url` with its connections' search_path set to `schema` (a throwaway store)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def pg_schema(url: str, schema: str, create: bool) -> None:
    """Create, or drop with everything in it, a schema of the database at `url`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if create:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            else:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


class TimedSandbox:
    """Every request the sandbox answers: arrival time, endpoint, status, seconds spent on it.

    Wraps the sandbox's `_respond` (authentication, routing, simulation) and the harness's
    `_encode` (the JSON body) for this process's lifetime; the request log itself
    (`sandbox.requests`) is left as it is and checked against these records. `endpoint_of`
    names a request's endpoint (method, path without the query) for the tables.
    """

    def __init__(self, sandbox: Any, endpoint_of: Callable[[str, str], str]) -> None:
        from pmo_sync.sandbox import harness

        self.sandbox = sandbox
        self.records: list[list[Any]] = []  # [epoch, endpoint, status, seconds]
        self._lock = threading.Lock()
        self._current = threading.local()
        self._harness = harness
        self._encode = harness._encode
        respond = sandbox._respond

        def timed_respond(method: str, raw_path: str, headers: Any, raw_body: bytes) -> Any:
            epoch, started = time.time(), time.perf_counter()
            record: list[Any] = [epoch, endpoint_of(method, raw_path.split("?")[0]), 500, 0.0]
            try:
                answer = respond(method, raw_path, headers, raw_body)
                record[2] = answer[0].status
                return answer
            finally:
                record[3] = time.perf_counter() - started
                self._current.record = record
                with self._lock:
                    self.records.append(record)

        def timed_encode(response: Any) -> bytes:
            started = time.perf_counter()
            try:
                return self._encode(response)
            finally:
                record = getattr(self._current, "record", None)
                if record is not None:
                    record[3] += time.perf_counter() - started

        sandbox._respond = timed_respond
        harness._encode = timed_encode

    def close(self) -> None:
        self._harness._encode = self._encode

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
        self.sandbox.reset_log()

    def between(self, start: float, end: float) -> dict[str, Any]:
        """Calls by endpoint, non-2xx answers and sandbox seconds of requests in [start, end]."""
        with self._lock:
            chosen = [r for r in self.records if start <= r[0] <= end]
        return {
            "calls": dict(Counter(r[1] for r in chosen)),
            "failed": dict(Counter(f"{r[1]} {r[2]}" for r in chosen if not 200 <= r[2] < 300)),
            "sandbox_seconds": sum(r[3] for r in chosen),
            "count": len(chosen),
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    Linux: `VmHWM` of /proc/self/status, the high-water mark of this program's own memory.
    Not `ru_maxrss`: a process started by `subprocess` begins with its parent's peak RSS
    at the time of the spawn (kept across fork and exec), and the parent here holds the
    whole sandbox, so `ru_maxrss` would report the sandbox's size as the sync's baseline.
    Elsewhere `ru_maxrss` (bytes on macOS), with that caveat.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pg_unreachable(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used, or None when it answers."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def measured_sync(connector: Any, store: Any, *, full: bool, profile: int = 0) -> dict[str, Any]:
    """One `sync_connector` run, measured: wall and CPU seconds, each stream's seconds (its
    records' generator timed), the summary's counts, the connector's retries and rate-limit
    waits, peak RSS after it, and with `profile` N the top N of a cProfile by own and
    cumulative time."""
    from pmo_sync.sync import sync_connector

    stream_seconds: dict[str, float] = {}

    def timed(name: str, records: Any) -> Any:
        def wrapper(context: Any) -> Any:
            started = time.perf_counter()
            try:
                yield from records(context)
            finally:
                stream_seconds[name] = time.perf_counter() - started

        return wrapper

    streams = connector.streams

    def timed_streams() -> Any:
        found = streams()
        for stream in found:
            stream.records = timed(stream.name, stream.records)
        return found

    connector.streams = timed_streams
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    started_epoch, cpu = time.time(), cpu_seconds()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = sync_connector(connector, store, full=full)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu, ended_epoch = cpu_seconds() - cpu, time.time()
    result: dict[str, Any] = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "started_epoch": started_epoch,
        "ended_epoch": ended_epoch,
        "status": summary.status,
        "errors": summary.errors[:5],
        "items_seen": summary.items_seen,
        "items_inserted": summary.items_inserted,
        "items_updated": summary.items_updated,
        "items_deleted": summary.items_deleted,
        "api_calls": summary.api_calls,
        "retries": connector.stats.retries,
        "rate_limit_waits": connector.stats.rate_limit_waits,
        "rate_limit_wait_seconds": connector.stats.rate_limit_wait_seconds,
        "stream_seconds": stream_seconds,
        "peak_rss_mb": peak_rss_mb(),
    }
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
        result["profile"] = out.getvalue()
    return result
