"""What the sync fault sweeps (tests/e2e/test_sync_sweeps.py) share: a small world per tracker
with the four changes people make, a snapshot of the store to start each point from, the store
normalised by natural keys, and a readable list of what differs from the truth.

- `World`: a running sandbox, the connector config that syncs it, and `change()`: a person
  deletes an item, creates one, edits one (its estimate) and moves one (its status), after
  the base sync; `live_ids()` is the sandbox's ground truth of what is live in scope.
- `snapshot` / `restore`: every row of every table, put back as it was (faster than a base
  sync into a fresh store for each point, and the same for every point).
- `normalise`: `work_items`, `item_changes`, `sprints`, `sprint_items` keyed by natural keys
  (the item's external id, the change id, the sprint's external id, the stay's sprint and
  start), without surrogate ids and sync timestamps.
- `differences`: what a swept store has that the truth has not, and the other way round.
- `WriteLog`: which tables each store commit of a run writes, to name a commit kill point.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from connectors.azure_devops import AzureDevOpsConfig
from connectors.base import ConnectorConfig
from connectors.jira import JiraConfig
from connectors.registry import connector_for_kind
from connectors.trello import TrelloConfig
from connectors.trello import client as trello_client
from connectors.trello.pacing import RatePacer
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import F_POINTS, AdoDataset
from pmo_sync.sandbox.harness import SandboxHarness
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import HEAVY_CARD
from pmo_sync.store.models import Base
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

__all__ = [
    "TRACKERS",
    "World",
    "WriteLog",
    "differences",
    "normalise",
    "restore",
    "run",
    "snapshot",
    "world",
]

TRACKERS = ("jira", "azure_devops", "trello")

RETRIES = 1
"""Every sweep config's `max_retries`: one retry, so a fault on `RETRIES + 1` attempts fails."""

# -- the worlds --------------------------------------------------------------------------------


@dataclass
class World:
    """A running sandbox, its connector config, and the changes people make after the base sync
    (filled in by `change`: external ids)."""

    tracker: str
    sandbox: SandboxHarness
    config: ConnectorConfig
    _change: Callable[[World], None]
    _live: Callable[[World], set[str]]
    deleted: str = ""
    created: str = ""
    edited: str = ""
    moved: str = ""

    def change(self) -> None:
        """A deletion, a new item, an estimate edit and a status move, in the tracker."""
        self._change(self)
        assert len({self.deleted, self.created, self.edited, self.moved}) == 4

    def live_ids(self) -> set[str]:
        """The external ids of the items live in the tracker and in the config's scope."""
        return self._live(self)

    def with_config(self, **overrides: Any) -> ConnectorConfig:
        """The config with some settings changed (a short timeout for a faulty run)."""
        return type(self.config).model_validate({**self.config.model_dump(), **overrides})


def _settings() -> dict[str, Any]:
    """Quick to fail: one retry, waits capped at 0.1 s (a 429's Retry-After too)."""
    return {"max_retries": RETRIES, "max_retry_wait_seconds": 0.1, "timeout_seconds": 10}


def _jira(monkeypatch: pytest.MonkeyPatch) -> World:
    """One project (ABC, 8 issues) and its scrum board's sprints; its team is the board's."""
    sandbox = JiraSandbox(JiraDataset.generate(projects=("ABC",), issues_per_project=8)).start()
    monkeypatch.setenv("PMO_SYNC_SWEEP_JIRA_TOKEN", sandbox.token)
    config = JiraConfig.model_validate(
        {"name": "sweep-jira", "kind": "jira", "url": sandbox.url, "email": sandbox.email,
         "token": "${PMO_SYNC_SWEEP_JIRA_TOKEN}", "jql": "project = ABC", **_settings()}
    )  # fmt: skip

    def change(w: World) -> None:
        data = sandbox.dataset
        data.clock.advance(minutes=30)
        issues = sorted(data.issues, key=lambda i: int(i.id))
        todo = [i for i in issues if i.status.name == "To Do"]
        gone = next(i for i in issues if i not in todo[:2])
        edited, moved = todo[:2]
        data.delete_issue(gone.key)
        new = data.create_issue("ABC", "Export the quarterly report", points=3)
        data.set_estimate(edited.key, (edited.points or 1) + 2)
        data.transition(moved.key, "In Progress")
        w.deleted, w.created, w.edited, w.moved = gone.id, new.id, edited.id, moved.id

    def live(w: World) -> set[str]:
        return {i.id for i in sandbox.dataset.issues if i.key.startswith("ABC-")}

    return World("jira", sandbox, config, change, live)


def _ado(monkeypatch: pytest.MonkeyPatch) -> World:
    """One team's area (Phoenix: 21 work items) and its iterations.

    Below the generator's `PORTFOLIO_MIN_SIZE` (60: pmo_sync/sandbox/ado/teamwork.py) there is
    no portfolio, each item lives on its own, which keeps the sweep small. The move needs an
    Active item whose type has a Resolved state: since the generator makes portfolios, its small
    datasets draw differently and 20 items hold none (ids 19 and 20 were Active stories; now 19
    is a closed Bug, 20 a New story), so the world is 21 items, whose Bug 20 and Story 21 are
    Active (the first, Bug 20, is resolved)."""
    sandbox = AdoSandbox(AdoDataset.generate(size=21, teams=("Phoenix",)), wiql_cap=100).start()
    monkeypatch.setenv("PMO_SYNC_SWEEP_ADO_TOKEN", sandbox.pat)
    config = AzureDevOpsConfig.model_validate(
        {"name": "sweep-ado", "kind": "azure_devops", "organization_url": sandbox.url,
         "token": "${PMO_SYNC_SWEEP_ADO_TOKEN}", "project": sandbox.dataset.project.name,
         "wiql_cap": 100, **_settings()}
    )  # fmt: skip

    def change(w: World) -> None:
        ds = sandbox.dataset
        by = ds.people[0]
        items = list(ds.items())
        active = [i for i in items if i.state == "Active" and "Resolved" in ds.states(i.type)]
        assert active, "no Active item to resolve: pick a size that holds one"
        moved = active[0]
        edited = next(i for i in items if i is not moved and i.type == "User Story")
        gone = next(i for i in items if i not in (moved, edited))
        ds.delete(gone.id, by=by)
        new = ds.create("User Story", "Export the quarterly report", team="Phoenix", by=by)
        ds.update(edited.id, {F_POINTS: (edited.fields.get(F_POINTS) or 1) + 2}, by=by)
        ds.update(moved.id, {"System.State": "Resolved"}, by=by)
        w.deleted, w.created, w.edited, w.moved = (
            str(gone.id), str(new.id), str(edited.id), str(moved.id)
        )  # fmt: skip

    def live(w: World) -> set[str]:
        return {str(i.id) for i in sandbox.dataset.items()}

    return World("azure_devops", sandbox, config, change, live)


def _trello(monkeypatch: pytest.MonkeyPatch) -> World:
    """Two boards (Team Alpha, Team Beta: 4 cards each, one of them the heavy card with over a
    thousand actions) and the sprints of the config's calendar.

    No rate limits, neither in the sandbox nor in the client's pacer: a sweep sends hundreds
    of requests in seconds, which Trello's 100 per 10 s would spread over minutes (pacing is
    tested in tests/connectors and tests/e2e/test_trello_faults.py)."""
    tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each process-wide
    data = TrelloDataset.generate(cards_per_board=4)
    sandbox = TrelloSandbox(
        data, key=f"key-{tag}", token=f"token-{tag}", token_limit=None, key_limit=None
    ).start()
    unpaced = functools.partial(RatePacer, token_limit=None, key_limit=None)
    monkeypatch.setattr(trello_client, "RatePacer", unpaced)
    monkeypatch.setenv("PMO_SYNC_SWEEP_TRELLO_KEY", sandbox.key)
    monkeypatch.setenv("PMO_SYNC_SWEEP_TRELLO_TOKEN", sandbox.token)
    config = TrelloConfig.model_validate(
        {"name": "sweep-trello", "kind": "trello", "url": sandbox.root_url,
         "api_key": "${PMO_SYNC_SWEEP_TRELLO_KEY}", "token": "${PMO_SYNC_SWEEP_TRELLO_TOKEN}",
         "boards": ["Team Alpha", "Team Beta"],
         "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}},
         **_settings()}
    )  # fmt: skip

    def change(w: World) -> None:
        ds = sandbox.dataset
        by = ds.people[0]
        alpha = ds.board("Team Alpha")
        cards = [c for c in ds.cards(alpha) if not c.closed and c.n != HEAVY_CARD]
        gone, edited, moved = cards[:3]
        ds.delete_card(gone.id, by=by)
        new = ds.create_card(alpha, "To Do", "Export the quarterly report", by=by)
        ds.set_custom_field(edited.id, "Story Points", (edited.estimate or 1) + 2, by=by)
        review = alpha.list_named("Review")
        assert review is not None
        ds.move_card(moved.id, "Review" if moved.list_id != review.id else "Doing", by=by)
        w.deleted, w.created, w.edited, w.moved = gone.id, new.id, edited.id, moved.id

    def live(w: World) -> set[str]:
        return {c.id for c in sandbox.dataset.cards()}

    return World("trello", sandbox, config, change, live)


@contextmanager
def world(tracker: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The small world of a tracker, its sandbox running until the block ends."""
    built = {"jira": _jira, "azure_devops": _ado, "trello": _trello}[tracker](monkeypatch)
    try:
        yield built
    finally:
        built.sandbox.stop()


def run(config: ConnectorConfig, engine: Engine, *, full: bool = False) -> RunSummary:
    """One sync of the config's connector into the store on `engine`, as `pmo-sync sync` does."""
    with connector_for_kind(config.kind)(config) as connector:
        return sync_connector(connector, Store(engine), full=full)


# -- the store: snapshot, restore, normalised -------------------------------------------------


Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(engine: Engine) -> Snapshot:
    """Every row of every table."""
    with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


def restore(engine: Engine, saved: Snapshot) -> None:
    """The store exactly as `saved` (ids included), in one transaction."""
    tables = Base.metadata.sorted_tables
    with engine.begin() as conn:
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            if saved[table.name]:
                conn.execute(table.insert(), saved[table.name])


IGNORED = {"id", "source_id", "item_id", "synced_at"}
"""Surrogate ids and sync timestamps: they differ between two stores of the same truth."""


@dataclass
class Normalised:
    """A store's items, history, sprints and sprint stays, by natural keys."""

    items: dict[str, dict[str, Any]]  # external id -> columns (deleted ones included)
    changes: dict[tuple[str, str], dict[str, Any]]  # (item, change id) -> columns
    sprints: dict[str, dict[str, Any]]  # external id -> columns
    stays: dict[tuple[str, str, Any], dict[str, Any]]  # (item, sprint, added_at) -> columns
    runs: list[str] = field(default_factory=list)

    def live(self) -> set[str]:
        return {key for key, row in self.items.items() if row["deleted_at"] is None}


def _columns(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if k not in IGNORED}


def normalise(engine: Engine) -> Normalised:
    tables = Base.metadata.tables
    items_t, changes_t = tables["work_items"], tables["item_changes"]
    sprints_t, stays_t = tables["sprints"], tables["sprint_items"]
    with engine.connect() as conn:
        rows = conn.execute(select(items_t)).all()
        by_id = {row.id: row.external_id for row in rows}
        items = {row.external_id: _columns(row) for row in rows}
        changes = {
            (by_id[row.item_id], row.change_id): _columns(row)
            for row in conn.execute(select(changes_t))
        }
        sprints = {row.external_id: _columns(row) for row in conn.execute(select(sprints_t))}
        stays = {
            (by_id[row.item_id], row.sprint_external_id, row.added_at): _columns(row)
            for row in conn.execute(select(stays_t))
        }
    return Normalised(items, changes, sprints, stays)


def _diff_rows(what: str, got: dict[Any, dict], want: dict[Any, dict], limit: int) -> list[str]:
    found: list[str] = []
    for key in sorted(set(got) | set(want), key=repr):
        if key not in got:
            found.append(f"{what} {key!r} missing")
        elif key not in want:
            found.append(f"{what} {key!r} extra (a fresh full sync has none): {got[key]}")
        elif got[key] != want[key]:
            columns = [c for c in want[key] if got[key].get(c) != want[key][c]]
            found.append(
                f"{what} {key!r} differs: "
                + ", ".join(f"{c} {got[key].get(c)!r} != {want[key][c]!r}" for c in columns)
            )
    if len(found) > limit:
        found = [*found[:limit], f"... and {len(found) - limit} more {what} differences"]
    return found


def differences(got: Normalised, truth: Normalised, w: World, limit: int = 6) -> list[str]:
    """What the swept store `got` has wrong, against the fresh full sync `truth` and the
    sandbox's own live items; empty when they agree."""
    found: list[str] = []
    live = w.live_ids()
    if got.live() != live:
        lost, kept = sorted(live - got.live()), sorted(got.live() - live)
        named = {w.deleted: "the deleted", w.created: "the new"}
        found += [f"item {i} ({named.get(i, 'a live')} item) is not stored live" for i in lost]
        found += [
            f"item {i} ({named.get(i, 'an')} item) is live in the store, gone from the tracker"
            for i in kept
        ]
    if truth.live() != live:
        found.append(f"(the fresh full sync's live items are not the tracker's: {truth.live()})")
    deleted = got.items.get(w.deleted)
    if deleted is None:
        found.append(f"the deleted item {w.deleted} is not in the store at all")
    elif deleted["deleted_at"] is None:
        found.append(f"the deleted item {w.deleted} is not marked deleted (deleted_at unset)")
    live_items = {k: v for k, v in got.items.items() if k in live}
    found += _diff_rows("work item", live_items, truth.items, limit)
    found += _diff_rows(
        "change",
        {k: v for k, v in got.changes.items() if k[0] in live},
        truth.changes,
        limit,
    )
    found += _diff_rows("sprint", got.sprints, truth.sprints, limit)
    found += _diff_rows(
        "sprint stay", {k: v for k, v in got.stays.items() if k[0] in live}, truth.stays, limit
    )
    return found


# -- naming the points ------------------------------------------------------------------------


_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.I)


class WriteLog:
    """For each commit on an engine, the tables its transaction wrote (INSERT/UPDATE/DELETE)."""

    def __init__(self, answers: Callable[[], int] | None = None) -> None:
        self.commits: list[list[str]] = []
        self.answered: list[int] = []
        """With `answers` (the HTTP answers had so far), how many each commit came after."""
        self._answers = answers
        self._pending: list[str] = []

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        match = _WRITE.match(statement)
        if match and match.group(2) not in self._pending:
            self._pending.append(match.group(2))

    def _commit(self, conn: Any) -> None:
        self.commits.append(self._pending)
        if self._answers is not None:
            self.answered.append(self._answers())
        self._pending = []

    def _rollback(self, conn: Any) -> None:
        self._pending = []

    @contextmanager
    def recording(self, engine: Engine) -> Iterator[WriteLog]:
        hooks: list[tuple[str, Callable[..., None]]] = [
            ("before_cursor_execute", self._statement),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        for name, hook in hooks:
            event.listen(engine, name, hook)
        try:
            yield self
        finally:
            for name, hook in hooks:
                event.remove(engine, name, hook)

    def name(self, k: int) -> str:
        """Commit k (1-based): the tables it writes, or that it writes none (a read's)."""
        tables = self.commits[k - 1] if k <= len(self.commits) else []
        return "writes " + ", ".join(tables) if tables else "writes nothing"
