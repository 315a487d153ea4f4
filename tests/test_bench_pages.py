"""Smoke test of bench/pages.py: a 300-item store is built, cached, and its pages timed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pages.py"


@pytest.mark.slow
def test_the_bench_builds_a_store_and_lists_the_portfolio_page(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300", "--repeat", "1", "--no-report",
         "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    team = re.search(r"^<team> = (\S+),", run.stdout, re.MULTILINE)
    assert team is not None, run.stdout
    for page in ("/", f"/?team={team[1]}"):
        row = re.compile(rf"^{re.escape(page)} +\d+\.\d +\d+\.\d +\d+\.\d +(OK|OVER)$", re.M)
        assert row.search(run.stdout), run.stdout
    assert [p.name for p in tmp_path.glob("*.sqlite3")] == [
        "pmo-bench-pages-v1-300-e2000-s7.sqlite3"
    ]
