"""Smoke test of bench/portfolio_answers.py: every answer on a small seeded portfolio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "portfolio_answers.py"
ANSWERS = (
    "request forecasts (10,000 trials)",
    "overview (strategy, links, releases)",
    "schedule variances",
    "milestones",
    "date moves",
    "when (one request)",
)


def test_the_bench_times_every_answer_and_says_what_they_hold() -> None:
    """2,000 items, 100 requests (2 initiatives, 98 epics), 200 links: one timed line per answer,
    and the answers' sizes, fixed by the seeds: the 100 open requests (the bench's requests are
    never done), the 200 links with those at risk and the team pairs they join, the 20 teams'
    releases shipped in the last six whole months, the dated items (Team 19's 113 stories and
    the 45 epics with a due date) and Team 19's stories as its milestones."""
    run = subprocess.run(
        [sys.executable, str(BENCH), "--items", "2000", "--requests", "100", "--links", "200"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        r"items 2,000, requests 100, links 200: every answer in \d+\.\d\d s", lines[0]
    ), lines[0]
    assert [line[:40].strip() for line in lines[1:7]] == list(ANSWERS)
    assert all(re.fullmatch(r" {2}.{38} +\d+\.\d\d s", line) for line in lines[1:7]), lines
    assert re.fullmatch(r"peak RSS \d+ MB: \d+ MB over the \d+ MB before", lines[7]), lines[7]
    assert lines[8] == (
        "open requests 100; dependencies 200 (26 at risk, 140 team pairs); releases shipped in"
        " 6 months 105; variances 158; milestones 113; targets moved later 49"
    )
