"""Smoke test of bench/ingest_replay.py: each tracker's sandbox recorded, replayed, timed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ingest_replay.py"
COMPARE = BENCH.with_name("compare_stores.py")


@pytest.mark.slow  # three sandboxes served, recorded and replayed twice, each in a process
def test_the_bench_replays_each_tracker_and_its_stores_compare_equal(tmp_path: Path) -> None:
    def replay(stores: str) -> str:
        run = subprocess.run(
            [sys.executable, str(BENCH), "--trackers", "jira", "ado", "trello", "--items", "30",
             "--cassettes", str(tmp_path / "cassettes"), "--keep-stores", str(tmp_path / stores)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout

    first = replay("first")
    for tracker in ("jira", "ado", "trello"):
        row = re.compile(
            rf"^{tracker} +[\d,]+ +\d+\.\d\d +[\d,]+( +\d+\.\d\d){{4}}( +\d+\.\d){{2}} +\d+\.\d\d$",
            re.MULTILINE,
        )
        assert row.search(first), first
    # the second run replays the kept cassettes (nothing recorded) into stores of its own
    replay("second")
    for tracker in ("jira", "ado", "trello"):
        same = subprocess.run(
            [sys.executable, str(COMPARE), str(tmp_path / "first" / f"{tracker}.db"),
             str(tmp_path / "second" / f"{tracker}.db")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert same.returncode == 0, same.stdout
        assert same.stdout.endswith("identical\n"), same.stdout
