"""Helpers the benchmarks share: the sandbox Jira in a process of its own (so only pmo-sync is
measured), worker processes, and throwaway PostgreSQL schemas."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
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
    args += ["--issues-per-project", str(per_project)]
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
