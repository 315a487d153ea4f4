"""Smoke test of bench/refresh.py: a 300-item store is built and its four refreshes measured."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "refresh.py"


@pytest.mark.slow
def test_the_bench_measures_a_full_an_idle_and_a_small_refresh(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300", "--trials", "200",
         "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {
        m["step"]: (int(m["rewritten"].replace(",", "")), int(m["values"].replace(",", "")))
        for m in re.finditer(
            r"^ +300  (?P<step>full|nothing changed|5 changed, kept|5 changed) +\d+\.\d\d"
            r" +(?P<rewritten>[\d,]+) +(?P<values>[\d,]+) +[\d,]+ +\d+ MB +-?\d+ MB$",
            run.stdout,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"full", "nothing changed", "5 changed", "5 changed, kept"}, run.stdout
    full, idle, changed = rows["full"], rows["nothing changed"], rows["5 changed"]
    kept = rows["5 changed, kept"]
    assert full[0] == full[1] > 0  # every value written once
    assert idle == (0, full[1])  # an hour later, the same day: nothing rewritten
    assert changed[0] > 0  # five items done: their values and their teams' moved
    assert kept[0] > 0  # the same five reopened, read by the refresh that kept the rest
    assert len(re.findall(r"^300 items, changed: (\S+, ){4}\S+$", run.stdout, re.MULTILINE)) == 1
    assert [p.name for p in tmp_path.glob("*.sqlite3")] == ["pmo-bench-refresh-v1-300-s7.sqlite3"]
