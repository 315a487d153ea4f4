"""A tracker failing about one call in ten through rounds of people's changes: once the faults
stop, two clean cycles leave the store equal to the tracker, no duplicate comment, and the
ledger equal to what the tracker holds.

For each tracker (Jira, Azure DevOps, Trello) on each database (SQLite, PostgreSQL) and a few
fixed seeds:

1. the small world of tests/e2e/push_worlds.py (write-back on: two KPI fields and the bot
   comment), with its four stories in progress (`prepare`), and from the very first call the
   sandbox's seeded chaos: each request, with probability 0.1, gets a 429 (Retry-After), a
   500, a 503, an HTML sign-in page, a dropped connection, an answer later than the client's
   timeout (0.1 s), or its write carried out and the connection then dropped (a lost answer);
2. a first service cycle, then five rounds of: people change the tracker (`people`: a status
   move, an estimate set or cleared, an assignee given or taken, a deletion, a new item in
   progress; the clock moves 7 hours, so WIP ages change), then one service cycle
   (`run_cycle`: sync, KPIs and findings, push), whatever the faults make of it; no cycle
   may crash (an internal error, an exception caught by the cycle), and no item may carry
   two bot comments after any cycle;
3. the chaos stops; two clean cycles: both succeed, the second plans nothing and sends no
   write; the audit (`pmo_sync.sandbox.audit`) finds nothing (every live item stored live
   with its current status, every deletion marked, no duplicate bot comment, each ledger row
   in the tracker, each bot comment known to the ledger), and each bot comment's text is the
   one the ledger recorded.

The chaos must have struck (a seed whose faults all missed would prove nothing). Seeds 1 and
2 on SQLite, seed 3 on PostgreSQL, each a fresh world and an empty store (the faults exercise
the connectors and the push; each database sees the same kinds of transactions). Every seed
runs, then one assertion lists each failing run (tracker, database, seed, the faults that
struck) with what went wrong. Waits are short: one retry, Retry-After capped at
0.1 s, and a failed push look-up retried after 0.01 s instead of 1 s.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.service.cycle import CycleResult
from pmo_sync.store.ledger import load_ledger
from pmo_sync.writeback import service as writeback_service
from pmo_sync.writeback.plan import COMMENT_TARGET, value_hash

from .push_worlds import TRACKERS, PushWorld, audit, cycle, doubled, empty, push_world

pytestmark = pytest.mark.slow  # five rounds of changes and cycles under chaos: 2 to 8 s

ROUNDS = 5
RATE = 0.1
TIMEOUT = 0.1  # the client's timeout under chaos; a slow answer comes SLOW seconds late
SLOW = 0.3
KINDS = ("429", "500", "503", "html", "drop", "slow", "lost")
SEEDS = {"sqlite": (1, 2), "postgresql": (3,)}
"""The chaos seeds per database (see the module docstring)."""
CRASH = re.compile(r"^(internal error|(sync|kpis|push|done): [A-Z]\w*: )")
"""An error line that is a crash: the sync's own, or an exception `run_cycle` caught."""


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


def _crashes(result: CycleResult) -> list[str]:
    return [e for e in result.errors + result.push_errors if CRASH.match(e)]


def _comment_texts(w: PushWorld, engine: Engine) -> list[str]:
    """Each bot comment whose text is not the one the ledger recorded for its item."""
    ledger = load_ledger(engine, w.source)
    found = []
    for key, texts in sorted(w.bot_texts().items()):
        entry = ledger.get((w.source, key, COMMENT_TARGET))
        if entry is not None and [value_hash(t) for t in texts] != [entry.value_hash]:
            found.append(f"{key}: its bot comment is not the text the ledger recorded")
    return found


@pytest.mark.parametrize("tracker", TRACKERS)
def test_rounds_of_changes_under_chaos_lose_nothing_and_double_nothing(
    tracker: str, monkeypatch: pytest.MonkeyPatch, engine: Engine, tmp_path: Path
) -> None:
    monkeypatch.setattr(writeback_service, "LOOKUP_BACKOFF_SECONDS", 0.01)
    database = engine.dialect.name
    failures = []
    for seed in SEEDS[database]:
        empty(engine)
        with push_world(tracker, monkeypatch, tmp_path / f"seed{seed}", timeout=TIMEOUT) as w:
            failure = _rounds(w, engine, seed)
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)


def _rounds(w: PushWorld, engine: Engine, seed: int) -> str | None:
    """The rounds under chaos, then two clean cycles: one entry naming the run and every
    problem, or None."""
    w.prepare()
    problems: list[str] = []
    chaos = w.sandbox.chaos(rate=RATE, seed=f"{w.tracker}-{seed}", kinds=KINDS, slow_seconds=SLOW)
    for round_ in range(ROUNDS + 1):  # round 0: the first sync and push
        if round_:
            w.people(round_)
        result = cycle(w, engine)
        problems += [f"round {round_}: the cycle crashed: {e}" for e in _crashes(result)]
        problems += [f"round {round_}: {d}" for d in doubled(w)]
    w.sandbox.clear_faults()
    if chaos.total == 0:
        problems.append("the chaos never struck")
    struck = ", ".join(f"{n} {kind}" for kind, n in sorted(chaos.fired.items()))

    clean = w.with_config(timeout_seconds=10)
    first = cycle(w, engine, clean)
    if not first.ok or first.push_errors:
        errors = first.errors + first.push_errors
        problems.append(f"the first clean cycle ended at {first.stage}: {errors}")
    problems += [f"after the first clean cycle: {d}" for d in doubled(w)]
    w.sandbox.reset_log()
    second = cycle(w, engine, clean)
    if not second.ok or second.push_errors:
        errors = second.errors + second.push_errors
        problems.append(f"the second clean cycle ended at {second.stage}: {errors}")
    if second.push is not None and second.push.planned:
        problems.append(f"the second clean cycle planned {second.push.planned} action(s)")
    writes = [f"{r.method} {r.path} ({r.status})" for r in w.sandbox.writes]
    if writes:
        problems.append(f"the second clean cycle wrote: {writes}")
    problems += [f"the audit: {d}" for d in audit(w, engine)]
    problems += _comment_texts(w, engine)
    if not problems:
        return None
    database = engine.dialect.name
    return (
        f"{w.tracker} on {database}, seed {seed} ({chaos.total} faults in {chaos.seen} "
        f"requests: {struck}):\n    " + "\n    ".join(problems)
    )
