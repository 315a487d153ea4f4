"""Smoke test of bench/portfolio_backtest.py: a small portfolio replayed on 4 weekly days."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "portfolio_backtest.py"


def test_the_bench_replays_every_open_request_on_each_day() -> None:
    """200 requests, all open on every day (the bench's requests are never done): 4 x 200 =
    800, 796 with dates (4 without, as the seeded portfolio has them); none is met, since no
    request ever finishes, and so there is no p50 error."""
    run = subprocess.run(
        [sys.executable, str(BENCH), "--items", "2000", "--requests", "200", "--weeks", "4"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        r"items 2,000, requests 200, 4 days, 1,000 trials: \d+\.\d s \(\d+\.\d\d s a day\)",
        lines[0],
    ), lines[0]
    assert lines[2] == "forecasts 796, without dates 4"
    assert re.fullmatch(r"p85: 0% of \d+ forecasts finished by their p85 date", lines[4]), lines[4]
    assert lines[6] == "p50 error: no finished request whose p50 date has passed"
