"""Smoke test of bench/kpis.py: 300 synthetic items, every KPI and value, one table row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "kpis.py"


def test_the_bench_computes_every_kpi_of_its_synthetic_items() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    # items, changes, compute s, values s, total s, values, peak MB, delta MB, s/100k items
    row = re.compile(
        r"^ +300 +2,784 +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +52,052 +\d+ +-?\d+ +\d+\.\d\d *$",
        re.MULTILINE,
    )
    assert row.search(run.stdout), run.stdout
    assert "300 items: generated in" in run.stdout
