"""Benchmark the portfolio answers' inputs read from a store (`evaluation.portfolio_inputs`).

Fills a store (SQLite in a temporary directory, by a child process), seeded and not measured,
with `--items` items of one Jira-like source through `Store.load_items`, as a sync would: 20
teams, 2% epics with the stories under them, 80% of the stories started (one status change
and a sprint stay) and 70% of those done, a due date on every epic and on a third of the stories
with one to three moves, a "blocks" link on one item in ten (stored at both ends) and on one in
a hundred to a key never synced, 40 releases with an item in twenty planned for one. Then it
collects garbage, records the peak RSS so far, times `read_portfolio_inputs` with two themes
and prints the seconds, the peak RSS over that baseline and what the inputs hold.

Run it from the repository root:

    python bench/portfolio_inputs.py                 # 100,000 items
    python bench/portfolio_inputs.py --items 10000
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pmo_sync.domain import (
    ChangeField,
    ItemBundle,
    ItemChange,
    ItemLink,
    LinkDirection,
    ReleaseRecord,
    SprintMembership,
    Stage,
    StatusRecord,
    WorkItemRecord,
)
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.repository import Store

SOURCE = "bench-jira"
TEAMS = 20
NOW = datetime(2030, 6, 3, 9, tzinfo=UTC)
STATUSES = [
    StatusRecord("1", "To Do", "new", Stage.TODO),
    StatusRecord("3", "In Progress", "indeterminate", Stage.IN_PROGRESS),
    StatusRecord("5", "Done", "done", Stage.DONE),
]


def _maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def bundles(items: int, seed: int = 1) -> list[ItemBundle]:
    """The synthetic store's items (module docstring)."""
    rng = random.Random(seed)
    epics = max(1, items // 50)
    out: list[ItemBundle] = []
    for n in range(1, items + 1):
        ext = str(n)
        key = f"B-{n}"
        team = f"Team {n % TEAMS:02d}"
        is_epic = n <= epics
        created = NOW - timedelta(days=rng.uniform(5, 365))
        changes: list[ItemChange] = []
        status, stage = "To Do", Stage.TODO
        if not is_epic and rng.random() < 0.8:
            started = created + timedelta(days=rng.uniform(0, 3))
            changes.append(ItemChange(ext, "s1", ChangeField.STATUS, started, "To Do",
                                      "In Progress"))  # fmt: skip
            status, stage = "In Progress", Stage.IN_PROGRESS
            if rng.random() < 0.7:
                done = min(started + timedelta(days=rng.uniform(1, 20)), NOW)
                changes.append(ItemChange(ext, "s2", ChangeField.STATUS, done, "In Progress",
                                          "Done"))  # fmt: skip
                status, stage = "Done", Stage.DONE
        due: date | None = None
        if is_epic or rng.random() < 0.33:
            due = (created + timedelta(days=rng.randint(20, 90))).date()
            before = None
            for m in range(rng.randint(1, 3)):
                at = created + timedelta(days=m + 0.5)
                changes.append(ItemChange(ext, f"d{m}", ChangeField.DUE_DATE, at,
                                          before, due.isoformat()))  # fmt: skip
                before = due.isoformat()
                due += timedelta(days=7)
            due -= timedelta(days=7)
        parent = None if is_epic else f"B-{rng.randint(1, epics)}"
        record = WorkItemRecord(
            external_id=ext, key=key, url=f"https://jira.example.com/browse/{key}",
            title=f"Item {n}", item_type="epic" if is_epic else "story",
            raw_type="Epic" if is_epic else "Story", status=status,
            status_category=stage.value, stage=stage, project="B", team=team, assignee=None,
            estimate=float(rng.choice([1, 2, 3, 5, 8])), parent_key=parent,
            labels=("growth",) if is_epic and n % 2 else ("reliability",) if is_epic else (),
            flagged=False, created=created, updated=created, resolved=None,
            level="epic" if is_epic else "story", due_date=due,
            rank=f"0|i{n:06d}:", priority=rng.choice(["High", "Medium", "Low"]),
            release_ids=(f"v{n % 40}",) if n % 20 == 0 else (),
        )  # fmt: skip
        links: list[ItemLink] = []
        if n % 10 == 0 and n + 1 <= items:
            links.append(ItemLink(ext, "blocks", LinkDirection.OUTWARD, f"B-{n + 1}", str(n + 1)))
        if n % 10 == 1 and n > 1:
            links.append(ItemLink(ext, "is blocked by", LinkDirection.INWARD, f"B-{n - 1}",
                                  str(n - 1)))  # fmt: skip
        if n % 100 == 0:
            links.append(ItemLink(ext, "is blocked by", LinkDirection.INWARD, "OUT-1", None))
        stays = [SprintMembership(ext, f"{n % TEAMS}-{n % 26}", created, None)] if changes else []
        out.append(ItemBundle(record, changes, stays, None, links=links))
    return out


def fill(url: str, size: int) -> None:
    """The synthetic store (module docstring), loaded in batches of 5,000 as a sync would."""
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine, clock=lambda: NOW)
    source_id = store.ensure_source(SOURCE, "jira", "https://jira.example.com")
    store.load_statuses(source_id, STATUSES)
    day = date(2030, 1, 1)
    releases = [
        ReleaseRecord(f"v{n}", f"2030.{n}", "B", None, day + timedelta(9 * n), n < 20, False)
        for n in range(40)
    ]
    store.load_releases(source_id, releases)
    items = bundles(size)
    for first in range(0, len(items), 5000):
        store.load_items(source_id, items[first : first + 5000], NOW)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--fill", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fill:
        fill(args.fill, args.items)
        return 0
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'pmo.db'}"
        started = time.perf_counter()
        # filled by a child process, so its memory is not this one's peak
        command = [sys.executable, __file__, "--fill", url, "--items", str(args.items)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"filled {args.items:,} items in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        themes = [
            ThemeConfig(name="Growth", match=ThemeMatch(labels=["growth"])),
            ThemeConfig(name="Reliability", match=ThemeMatch(labels=["reliability"])),
        ]
        gc.collect()
        baseline = _maxrss_mb()
        started = time.perf_counter()
        inputs = read_portfolio_inputs(engine, KpiConfig(), themes)
        seconds = time.perf_counter() - started
        peak = _maxrss_mb() - baseline
        engine.dispose()
    print(
        f"read_portfolio_inputs: {seconds:.2f} s, peak RSS +{peak:.0f} MB; "
        f"{len(inputs.items):,} items, {len(inputs.dependencies):,} dependencies, "
        f"{len(inputs.date_moves):,} date moves, {len(inputs.releases)} releases, "
        f"{sum(1 for i in inputs.items if i.theme):,} items with a theme"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
