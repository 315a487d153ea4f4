"""Nothing doubled, nothing lost, at any point of a push: a push killed at each point in turn,
or failing at each request in turn, then two clean service cycles, leaves one bot comment per
item and every planned write made.

For each tracker (Jira, Azure DevOps, Trello) on each database (SQLite, PostgreSQL):

1. a small world (tests/e2e/push_worlds.py: Jira one project of 6 issues; Azure DevOps one
   team's 14 work items; Trello one board of 5 cards, the heavy card on the other) gets four
   new stories in progress, A and B without an estimate (a finding each), C and D estimated;
   one service cycle syncs, computes the KPIs and findings, and pushes (the WIP age and cycle
   time fields, a bot comment on each item with findings, and on each open request of the
   generated portfolio (epics, features, Trello cards labelled Epic) its "When:" comment:
   docs/write-back.md, "Requests");
2. people change the tracker: A loses its assignee (its comment must be updated), B gets an
   estimate (its comment deleted), C loses its assignee (a comment added), D is done (its WIP
   age cleared, its cycle time set); the next cycle's sync and KPI refresh run, and the
   tracker and the store are saved there, just before its push;
3. that push is run once unbroken from there (the dry pass), with the refresh's portfolio
   answers as the service's cycle passes them (without them it would plan to delete the
   requests' comments): it must plan exactly those four actions (the requests' comments and
   forecasts are unchanged, so nothing for them) and make them (the tracker then shows what
   the plan says: the reference); its requests (as the tracker saw them: Jira 8, Azure DevOps
   7, Trello 9), its HTTP answers and its store commits (8: each action's ledger rows marked in
   flight before its write, then recorded) are counted;
4. **kills**: from the saved state, the push dies (tests/e2e/killpoints.py: nothing after the
   point happens, not even a `finally`) at answer k (the tracker carried request k out and
   the process died before reading the answer: a lost answer), before request k, or as the
   store was about to commit its k-th transaction;
5. **faults**: from the saved state, request k (and its retry: `max_retries` is 1) gets a
   fault: a read a 500, an HTML sign-in page, a dropped connection or an answer later than
   the client's timeout (0.05 s for that push); a write the same, each struck after the
   tracker carried the write out (`applied=True`; a slow answer always is): the write is
   made, its answer lost. The push must not raise.

After each point two clean service cycles run (`run_cycle`: sync, KPIs and findings, push),
then: no item carries two bot comments (checked after the broken push and after each cycle);
the first cycle succeeds; the second plans nothing and sends no write; the tracker shows
exactly the reference (every configured field of every item, each item's one bot comment and
its text); and the audit (`pmo_sync.sandbox.audit`) finds nothing between the store and the
tracker. Every point is swept, then one assertion lists each failing point (tracker,
database, the point, the request or commit at it) with what differs.

Which points (`test_a_push_killed_or_failing_at_any_point_doubles_nothing_and_loses_nothing`):
on SQLite every answer, every request and every commit (Jira 24 kill points, Azure DevOps
22, Trello 26) and every fault kind at every request (Jira 32, Azure DevOps 28, Trello 36).
On PostgreSQL, a deterministic subset: one kill point per state a kill can leave (the writes
the tracker carried out, the commits the store made: Jira 13, Azure DevOps 12, Trello 12; the
other points leave one of those states exactly, so they repeat its experiment), and the
fault kinds in turn, one a write request (Jira 5, Azure DevOps 4, Trello 4: a fault
exercises the connector and the push, not the database, and a write is where a lost answer
meets the ledger's commits). Each point starts from the saved state: the sandbox's dataset
unpickled, the store's written tables put back (checked exact once per test).

A second test (`test_a_write_made_unrecorded_then_taken_back_leaves_what_the_findings_say`,
on SQLite: it sweeps the plan against the ledger, the same on both databases) kills the push
as the answer to each of its four writes arrives (the write made, the ledger not told), then
a person takes that item's change back before the next cycle (A and C assigned again, B's
estimate cleared again, D back in progress): the two clean cycles must leave the tracker
showing what the KPIs, findings and portfolio answers then say (`push_worlds.unlike_desired`:
each open request's "When:" comment included), as they do after the push unbroken and the same
change taken back.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.base import ConnectorConfig
from pmo_sync.evaluation.refresh import KpiRefresh
from pmo_sync.governance.model import PortfolioFacts
from pmo_sync.sandbox.harness import Fault, RecordedRequest
from pmo_sync.store.ledger import load_ledger
from pmo_sync.writeback.plan import (
    Action,
    AddComment,
    DeleteComment,
    SetFields,
    UpdateComment,
    desired_state,
    plan,
)
from pmo_sync.writeback.service import PushSummary, push_connector

from ..schema_helpers import migrated_engine
from .cycles import sync_and_refresh
from .killpoints import KillSwitch, SimulatedKill, kill_switch
from .push_worlds import (
    KPIS,
    RETRIES,
    TRACKERS,
    CommitLog,
    PushWorld,
    StoreState,
    TrackerState,
    View,
    audit,
    cycle,
    doubled,
    push_world,
    unlike_desired,
    view,
)

pytestmark = pytest.mark.slow  # a push per kill point and per failing request: 4 to 25 s

TIMEOUT = 0.05  # the faulty push's client timeout; a slow answer comes SLOW seconds late
SLOW = 0.25
READ_FAULTS = ("500", "html", "drop", "slow")
WRITE_FAULTS = ("500 after the write", "html after the write", "drop after the write", "slow")
"""A write's faults strike after the tracker carried it out (a slow answer always does)."""


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py): the first cycle fills it."""


@dataclass
class Sweep:
    """A world saved just before a push, what that push does unbroken, and what the tracker
    shows once it is made (`reference`)."""

    w: PushWorld
    engine: Engine
    database: str
    switch: KillSwitch
    tracker: TrackerState
    store: StoreState
    refresh: KpiRefresh
    before: View
    """What the tracker shows just before the push."""
    actions: list[Action]
    """What the push plans."""
    reference: View
    """What the tracker shows once the push is made."""
    requests: list[RecordedRequest]  # what the tracker saw of the push, in order
    answers: int
    commits: CommitLog

    def where(self, k: int) -> str:
        if not 1 <= k <= len(self.requests):
            return "?"
        return f"{self.requests[k - 1].method} {self.requests[k - 1].path}"

    def restore(self) -> None:
        """The tracker and the store as they were just before the push."""
        self.tracker.restore(self.w)
        self.store.restore()
        self.w.sandbox.reset_log()

    @property
    def portfolio(self) -> PortfolioFacts | None:
        """The refresh's portfolio answers, as the service's cycle passes them to the push:
        without them a push would plan to delete the open requests' "When:" comments the
        first cycle posted (docs/write-back.md, "Requests")."""
        answers = self.refresh.portfolio
        return answers.facts if answers is not None else None

    def plan(self) -> list[Action]:
        """The actions the push plans (nothing sent), planned as `push_connector` plans them."""
        writeback = self.w.config.writeback  # type: ignore[attr-defined]
        run, source = self.refresh.run, self.w.source
        ledger = load_ledger(self.engine, source)
        desired = desired_state(
            run,
            self.refresh.findings,
            writeback,
            source,
            item_sources=run.item_sources,
            portfolio=self.portfolio,
            ledger=ledger,
        )
        return plan(desired, ledger, writeback, source=source)

    def push(self, config: ConnectorConfig | None = None) -> PushSummary:
        """The push of what the refresh computed, as the service's cycle makes it."""
        return push_connector(
            config or self.w.config,
            self.engine,
            self.refresh.run,
            self.refresh.findings,
            portfolio=self.portfolio,
            now=self.w.now,
            sleep=lambda seconds: None,
        )

    def check(
        self,
        point: str,
        problems: list[str],
        then: Callable[[], None] | None = None,
    ) -> str | None:
        """Two clean cycles, then what differs from the reference: one entry naming the point
        and every problem, or None. `then`: what people do before the first of those cycles;
        with it, the tracker must show what the KPIs and findings then say (the reference is
        the push's)."""
        w = self.w
        problems = problems + [f"after the broken push: {d}" for d in doubled(w)]
        if then is not None:
            then()
        first = cycle(w, self.engine)
        if not first.ok or first.push_errors:
            errors = first.errors + first.push_errors
            problems.append(f"the first clean cycle ended at {first.stage}: {errors}")
        problems += [f"after the first clean cycle: {d}" for d in doubled(w)]
        w.sandbox.reset_log()
        second = cycle(w, self.engine)
        if not second.ok or second.push_errors:
            errors = second.errors + second.push_errors
            problems.append(f"the second clean cycle ended at {second.stage}: {errors}")
        if second.push is not None and second.push.planned:
            problems.append(f"the second clean cycle planned {second.push.planned} action(s)")
        writes = [f"{r.method} {r.path} ({r.status})" for r in w.sandbox.writes]
        if writes:
            problems.append(f"the second clean cycle wrote: {writes}")
        problems += [f"after the second clean cycle: {d}" for d in doubled(w)]
        if then is None:
            problems += [f"the tracker: {d}" for d in view(w).differences(self.reference)]
        else:
            problems += [f"the tracker: {d}" for d in unlike_desired(w, self.engine)]
        problems += [f"the audit: {d}" for d in audit(w, self.engine)]
        if not problems:
            return None
        return f"{w.tracker} on {self.database}, {point}:\n    " + "\n    ".join(problems)


def _expected(actions: list[Action], before: View) -> View:
    """What the tracker should show once `actions` are made on top of `before`."""
    fields = dict(before.fields)
    comments = {k: list(v) for k, v in before.comments.items()}
    for action in actions:
        if isinstance(action, SetFields):
            for change in action.changes:
                if change.value is None:
                    fields.pop((action.key, change.tracker_field), None)
                else:
                    fields[(action.key, change.tracker_field)] = change.value
        elif isinstance(action, AddComment | UpdateComment):
            comments[action.key] = [action.body]
        elif isinstance(action, DeleteComment):
            comments.pop(action.key, None)
    return View(fields, comments)


@contextmanager
def _sweep(
    tracker: str,
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    tmp_path: Path,
) -> Iterator[Sweep]:
    """The world saved just before the push, and the push's dry pass."""
    with (
        push_world(tracker, monkeypatch, tmp_path) as w,
        kill_switch(monkeypatch, engine) as switch,
    ):
        w.prepare()
        first = cycle(w, engine)
        assert first.ok and not first.push_errors, first.errors + first.push_errors
        assert first.push is not None and first.push.done == first.push.planned > 0
        assert {w.a, w.b} <= set(w.bot_texts()) and w.c not in w.bot_texts()
        w.change()
        refresh = sync_and_refresh(w.config, engine, w.rules, w.now, kpis=KPIS)
        before = view(w)
        saved = TrackerState.save(w)
        store = StoreState(engine)
        try:
            sweep = Sweep(
                w, engine, engine.dialect.name, switch, saved, store, refresh, before, [],
                before, [], 0, CommitLog(lambda: switch.requests),
            )  # fmt: skip
            sweep.actions = actions = sweep.plan()
            # the push to sweep: an update, a delete, an add and a field write, nothing else
            # (the open requests' "When:" comments the first cycle posted stay as they are)
            assert sorted((type(a).__name__, a.key) for a in actions) == sorted(
                [("UpdateComment", w.a), ("DeleteComment", w.b), ("AddComment", w.c),
                 ("SetFields", w.d)]
            ), [a.describe() for a in actions]  # fmt: skip
            sweep.reference = _expected(actions, before)

            w.sandbox.reset_log()
            switch.disarm()
            with sweep.commits.recording(engine):
                summary = sweep.push()
            assert (summary.planned, summary.done, summary.errors) == (4, 4, [])
            sweep.requests, sweep.answers = w.sandbox.requests, switch.answers
            assert switch.requests == len(sweep.requests) == switch.answers
            assert switch.commits == len(sweep.commits.commits)
            assert view(w) == sweep.reference, view(w).differences(sweep.reference)
            unbroken = sweep.check("the push unbroken", [])
            assert unbroken is None, unbroken
            sweep.restore()
            assert store.differing() == [], "the store is not restored exactly"
            assert view(w) == before, "the tracker is not restored exactly"
            yield sweep
        finally:
            store.close()


def _kill_points(sweep: Sweep) -> list[tuple[str, int]]:
    """Every point on SQLite; on PostgreSQL the first point of each state a kill can leave."""
    points = [("answer", k) for k in range(1, sweep.answers + 1)]
    points += [("request", k) for k in range(1, len(sweep.requests) + 1)]
    points += [("commit", k) for k in range(1, len(sweep.commits.commits) + 1)]
    if sweep.database == "sqlite":
        return points
    first: dict[tuple[int, int], tuple[str, int]] = {}
    for point in points:
        first.setdefault(_left(sweep, *point), point)
    return list(first.values())


def _left(sweep: Sweep, kind: str, k: int) -> tuple[int, int]:
    """What a kill at the point leaves: (writes the tracker carried out, store commits made).

    Two points that leave the same are the same experiment: a dead process keeps nothing
    else, and the clean cycles start from exactly that."""
    made = [after for _, after in sweep.commits.commits]
    writes = [r.is_write for r in sweep.requests]
    if kind == "commit":
        return sum(writes[: made[k - 1]]), k - 1
    sent = k if kind == "answer" else k - 1  # an answer's request was carried out
    return sum(writes[:sent]), sum(after <= k - 1 for after in made)


def _kill(sweep: Sweep, kind: str, k: int) -> str | None:
    if kind == "commit":
        count = len(sweep.commits.commits)
        name = f"killed at commit {k} of {count} ({sweep.commits.name(k, sweep.where)})"
    elif kind == "answer":
        name = f"killed at answer {k} of {sweep.answers} (lost: {sweep.where(k)})"
    else:
        name = f"killed before request {k} of {len(sweep.requests)} ({sweep.where(k)})"
    sweep.restore()
    sweep.switch.arm(**{f"at_{kind}": k})
    problems = []
    try:
        summary = sweep.push()
        problems.append(f"the kill never fired; the push made {summary.done} action(s)")
    except SimulatedKill:
        pass
    sweep.switch.disarm()
    return sweep.check(name, problems)


def _fault_points(sweep: Sweep) -> list[tuple[int, str]]:
    """Every kind at every request on SQLite; on PostgreSQL the kinds in turn, one a write."""
    points: list[tuple[int, str]] = []
    for k, request in enumerate(sweep.requests, start=1):
        kinds = WRITE_FAULTS if request.is_write else READ_FAULTS
        if sweep.database == "sqlite":
            points += [(k, kind) for kind in kinds]
        elif request.is_write:
            points.append((k, kinds[len(points) % len(kinds)]))
    return points


def _inject(sweep: Sweep, k: int, kind: str) -> Fault:
    """Request k of the push (as the dry pass sent it) and its retry get a fault."""
    request = sweep.requests[k - 1]
    earlier = sum(
        (r.method, r.path) == (request.method, request.path) for r in sweep.requests[: k - 1]
    )
    where = {
        "method": request.method,
        "path": "^" + re.escape(request.path) + "$",
        "skip": earlier,
        "times": RETRIES + 1,
        "applied": kind.endswith("after the write"),
    }
    sandbox = sweep.w.sandbox
    base = kind.split()[0]
    if base == "500":
        return sandbox.inject(status=500, **where)
    if base == "html":
        return sandbox.inject(status=200, content_type="text/html; charset=utf-8", **where)
    if base == "drop":
        return sandbox.inject(drop=True, **where)
    return sandbox.inject(delay=SLOW, **where)


def _fail(sweep: Sweep, k: int, kind: str, faulty: ConnectorConfig) -> str | None:
    name = f"{kind} at request {k} of {len(sweep.requests)} ({sweep.where(k)})"
    sweep.restore()
    fault = _inject(sweep, k, kind)
    problems = []
    started = time.monotonic()
    try:
        sweep.push(faulty)
    except Exception as exc:  # a tracker's failure is reported, never raised
        problems.append(f"the faulty push raised {type(exc).__name__}: {exc}")
    if not fault.fired:
        problems.append("the fault never fired")
    if time.monotonic() - started > 10:
        problems.append("the faulty push took over 10 s")
    sweep.w.sandbox.clear_faults()
    return sweep.check(name, problems)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_push_killed_or_failing_at_any_point_doubles_nothing_and_loses_nothing(
    tracker: str, monkeypatch: pytest.MonkeyPatch, engine: Engine, tmp_path: Path
) -> None:
    with _sweep(tracker, monkeypatch, engine, tmp_path) as sweep:
        kills = _kill_points(sweep)
        faults = _fault_points(sweep)
        faulty = sweep.w.with_config(timeout_seconds=TIMEOUT)
        failures = [f for kind, k in kills if (f := _kill(sweep, kind, k))]
        failures += [f for k, kind in faults if (f := _fail(sweep, k, kind, faulty))]
        assert not failures, (
            f"{len(failures)} of {len(kills)} kill points and {len(faults)} faulty requests "
            "fail:\n" + "\n".join(failures)
        )


def _write(sweep: Sweep, action: Action) -> int:
    """The request that makes the action's write (its item's, or its comment's)."""
    comment = getattr(action, "comment_id", None)
    for k, r in enumerate(sweep.requests, start=1):
        mine = re.search(rf"/{re.escape(action.key)}(/|$)", r.path, re.I) or (
            comment is not None and comment in r.path
        )
        if r.is_write and mine:
            return k
    raise AssertionError(f"no write request for {action.describe()}")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'taken-back' / 'pmo.db'}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_write_made_unrecorded_then_taken_back_leaves_what_the_findings_say(
    tracker: str, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Each of the push's four writes (A's comment updated, B's deleted, C's added, D's
    fields) is carried out and its answer lost (the process killed as it arrives), so the
    ledger still says what was there before; then, before the next cycle, a person takes that
    item's change back (A and C assigned again, B's estimate cleared again, D back in
    progress). The two clean cycles must leave the tracker showing what the KPIs, findings and
    portfolio answers then say (the open requests' "When:" comments too), as they do after the
    push unbroken.

    On SQLite only: what is swept is the plan against the ledger, the same on every database
    (the main sweep crosses every commit on both)."""
    with _sweep(tracker, monkeypatch, sqlite_engine, tmp_path) as sweep:
        w = sweep.w
        failures: list[str] = []
        for item in "abcd":
            key = getattr(w, item)
            action = next(a for a in sweep.actions if a.key == key)
            taken_back = functools.partial(w.undo, item)
            line = action.describe().split("\n")[0]
            what = f"then {item.upper()}'s change taken back ({line})"
            sweep.restore()
            sweep.push()
            failures.append(sweep.check(f"the push unbroken, {what}", [], taken_back))
            k = _write(sweep, action)
            sweep.restore()
            sweep.switch.arm(at_answer=k)
            problems = []
            try:
                sweep.push()
                problems.append("the kill never fired")
            except SimulatedKill:
                pass
            sweep.switch.disarm()
            point = f"killed at answer {k} of {sweep.answers} (lost: {sweep.where(k)}), {what}"
            failures.append(sweep.check(point, problems, taken_back))
        found = [f for f in failures if f]
        assert not found, (
            f"{len(found)} of {len(failures)} runs end unlike the findings:\n" + "\n".join(found)
        )
