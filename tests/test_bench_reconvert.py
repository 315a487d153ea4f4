"""Smoke test of bench/reconvert.py: 300 issues stored before the facts, re-converted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "reconvert.py"


def test_the_bench_reconverts_every_issue_it_stored() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--items", "300"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    line = re.compile(
        r"^sqlite: 300 items re-converted in \d+\.\d+ s \([\d,]+ items/s; 150 date changes "
        r"and 4 releases added\)$",
        re.MULTILINE,
    )
    assert line.search(run.stdout), run.stdout
