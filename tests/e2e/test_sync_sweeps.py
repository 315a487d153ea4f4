"""Nothing lost at any point of failure: a sync killed at each point in turn, or failing at each
request in turn, then one clean sync, leaves the store equal to the tracker's truth.

For each tracker (Jira, Azure DevOps, Trello) on each database (SQLite, PostgreSQL):

1. a small world (tests/e2e/sweeps.py: Jira one project of 8 issues and its board's sprints;
   Azure DevOps one team's 21 work items and its iterations; Trello two boards of 4 cards, one
   the heavy card, sprints by the config's calendar) is synced once; the store is saved;
2. people change the tracker: an item is deleted, one created, one re-estimated, one moved to
   another status;
3. the sync of those changes is run once unarmed, from the saved store, to count its answers
   (HTTP answers reaching the client), its store commits and the requests the tracker saw, and
   to check that it alone gets the truth;
4. **kills** (`test_a_sync_killed_at_any_point_loses_nothing`): for every answer k and every
   commit k (on PostgreSQL a subset: below), from the saved store: the sync dies there
   (tests/e2e/killpoints.py: nothing after the point happens, not even a `finally`), then one
   clean sync runs;
5. **faults** (`test_a_sync_failing_at_any_request_loses_nothing`): for every request k, from
   the saved store: the k-th request (and its retry: `max_retries` is 1) gets a fault, one of
   a 500, an HTML sign-in page, a dropped connection, an answer later than the client's timeout
   (0.5 s for this run). On SQLite every kind at every request; on PostgreSQL the kinds in
   turn, one a request (what a kind exercises is the connector, not the database, and a slow
   answer costs a second a point). The run must end `failed` or `partial` with errors, none
   an internal error (a crash); then one clean sync runs.

After the clean sync the store must equal the truth: the live items are the sandbox's live
items in scope, the deleted item is marked deleted (`deleted_at`), and every live item's row,
history (`item_changes`), sprint stays and every sprint equal what a fresh full sync of the same
sandbox stores in `second_engine`, by natural keys (tests/e2e/sweeps.py `normalise`). Every
point is swept, then one assertion lists each failing point (tracker, database, the point and
the request or tables at it) with what differs.

Which kill points: on SQLite every answer and every commit. On PostgreSQL every commit (a kill
there dies inside the database's commit: the dialect's own path) and, of the answers, the first
to leave each number of commits made (a sync only reads the tracker, so a kill at an answer
leaves exactly the commits made before it: two answers that leave the same number are the same
experiment for the database, and the answers themselves are swept on SQLite). The SDK's route
discovery for Azure DevOps happens in the base sync (its cache is process-wide), so the swept
syncs make only the tracker's calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from .killpoints import KillSwitch, SimulatedKill, kill_switch
from .sweeps import (
    RETRIES,
    TRACKERS,
    Normalised,
    Snapshot,
    World,
    WriteLog,
    differences,
    normalise,
    restore,
    run,
    snapshot,
    world,
)

pytestmark = pytest.mark.slow  # a sync per kill point and per failing request: 3 to 12 s

FAULTS = ("500", "html", "drop", "slow")
TIMEOUT = 0.5  # the faulty run's client timeout; a slow answer comes SLOW seconds late
SLOW = 1.5


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py): the base sync fills it."""


@dataclass
class Sweep:
    """A world synced once (`base`: the store then), changed, and what its next sync does."""

    w: World
    engine: Engine
    database: str
    switch: KillSwitch
    base: Snapshot
    truth: Normalised
    requests: list[str]  # what the tracker saw, in order: "GET /path"
    answers: int
    commits: WriteLog

    def where(self, k: int) -> str:
        return self.requests[k - 1] if k <= len(self.requests) else "?"

    def check(self, point: str, problems: list[str]) -> str | None:
        """One line naming the point and what differs, or None."""
        problems = problems + differences(normalise(self.engine), self.truth, self.w)
        if not problems:
            return None
        return f"{self.w.tracker} on {self.database}, {point}:\n    " + "\n    ".join(problems)

    def clean_sync(self) -> list[str]:
        summary = run(self.w.config, self.engine)
        if summary.status == "success":
            return []
        return [f"the clean sync after it ended {summary.status}: {summary.errors}"]


@contextmanager
def _sweep(
    tracker: str, monkeypatch: pytest.MonkeyPatch, engine: Engine, second_engine: Engine
) -> Iterator[Sweep]:
    with world(tracker, monkeypatch) as w, kill_switch(monkeypatch, engine) as switch:
        base_run = run(w.config, engine)
        assert base_run.status == "success", base_run.errors
        base = snapshot(engine)
        before = normalise(engine)
        w.change()
        full = run(w.config, second_engine, full=True)
        assert full.status == "success", full.errors
        truth = normalise(second_engine)
        assert truth.live() == w.live_ids()
        # the four changes are there to lose: a sweep of a world that did not change is void
        assert w.deleted in before.live() and w.deleted not in truth.items
        assert w.created not in before.items and w.created in truth.live()
        assert before.items[w.edited]["estimate"] != truth.items[w.edited]["estimate"]
        assert before.items[w.moved]["status"] != truth.items[w.moved]["status"]

        w.sandbox.reset_log()
        switch.disarm()
        with WriteLog(lambda: switch.answers).recording(engine) as commits:
            summary = run(w.config, engine)
        assert summary.status == "success", summary.errors
        sweep = Sweep(
            w, engine, engine.dialect.name, switch, base, truth,
            [f"{r.method} {r.path}" for r in w.sandbox.requests], switch.answers, commits,
        )  # fmt: skip
        assert switch.commits == len(commits.commits)
        unbroken = sweep.check("the sync of the changes, nothing failing", [])
        assert unbroken is None, unbroken
        yield sweep


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_sync_killed_at_any_point_loses_nothing(
    tracker: str, monkeypatch: pytest.MonkeyPatch, engine: Engine, second_engine: Engine
) -> None:
    with _sweep(tracker, monkeypatch, engine, second_engine) as sweep:
        points = _kill_points(sweep)
        failures: list[str] = []
        for kind, k in points:
            name = (
                f"killed at answer {k} of {sweep.answers} ({sweep.where(k)})"
                if kind == "answer"
                else f"killed at commit {k} of {len(sweep.commits.commits)} "
                f"({sweep.commits.name(k)})"
            )
            restore(sweep.engine, sweep.base)
            sweep.switch.arm(**{f"at_{kind}": k})
            problems = []
            try:
                summary = run(sweep.w.config, sweep.engine)
                problems.append(f"the kill never fired; the sync ended {summary.status}")
            except SimulatedKill:
                pass
            sweep.switch.disarm()
            failure = sweep.check(name, problems + sweep.clean_sync())
            if failure:
                failures.append(failure)
        assert not failures, f"{len(failures)} of {len(points)} kill points lose something:\n" + (
            "\n".join(failures)
        )


def _kill_points(sweep: Sweep) -> list[tuple[str, int]]:
    """Every answer and commit on SQLite; on PostgreSQL every commit and, of the answers, the
    first to leave each number of commits made (the module docstring says why)."""
    answers = [("answer", k) for k in range(1, sweep.answers + 1)]
    commits = [("commit", k) for k in range(1, len(sweep.commits.commits) + 1)]
    if sweep.database == "sqlite":
        return answers + commits
    assert len(sweep.commits.answered) == len(sweep.commits.commits)
    first: dict[int, tuple[str, int]] = {}
    for point in answers:
        made = sum(1 for n in sweep.commits.answered if n < point[1])  # before answer k came
        first.setdefault(made, point)
    return list(first.values()) + commits


def _inject(sweep: Sweep, kind: str, k: int) -> object:
    """The k-th request from now and its retry get a fault of this kind."""
    sandbox, where = sweep.w.sandbox, {"method": None, "skip": k - 1, "times": RETRIES + 1}
    if kind == "500":
        return sandbox.inject(status=500, **where)
    if kind == "html":
        return sandbox.inject(status=200, content_type="text/html; charset=utf-8", **where)
    if kind == "drop":
        return sandbox.inject(drop=True, **where)
    return sandbox.inject(delay=SLOW, **where)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_sync_failing_at_any_request_loses_nothing(
    tracker: str, monkeypatch: pytest.MonkeyPatch, engine: Engine, second_engine: Engine
) -> None:
    with _sweep(tracker, monkeypatch, engine, second_engine) as sweep:
        faulty = sweep.w.with_config(timeout_seconds=TIMEOUT)
        requests = range(1, len(sweep.requests) + 1)
        if sweep.database == "sqlite":  # every kind at every request
            points = [(k, kind) for k in requests for kind in FAULTS]
        else:  # the kinds in turn, one a request
            points = [(k, FAULTS[(k - 1) % len(FAULTS)]) for k in requests]
        failures: list[str] = []
        for k, kind in points:
            name = f"{kind} at request {k} of {len(sweep.requests)} ({sweep.where(k)})"
            restore(sweep.engine, sweep.base)
            sweep.w.sandbox.clear_faults()
            fault = _inject(sweep, kind, k)
            started = time.monotonic()
            summary = run(faulty, sweep.engine)
            problems = []
            if not getattr(fault, "fired", 0):
                problems.append("the fault never fired")
            if summary.status not in ("failed", "partial") or not summary.errors:
                problems.append(f"the faulty sync ended {summary.status}: {summary.errors}")
            crashes = [e for e in summary.errors if e.startswith("internal error")]
            if crashes:
                problems.append(f"the faulty sync crashed: {crashes}")
            if time.monotonic() - started > 20:
                problems.append("the faulty sync took over 20 s")
            sweep.w.sandbox.clear_faults()
            failure = sweep.check(name, problems + sweep.clean_sync())
            if failure:
                failures.append(failure)
        assert not failures, (
            f"{len(failures)} of {len(points)} faulty requests lose something:\n"
            + "\n".join(failures)
        )
