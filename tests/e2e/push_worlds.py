"""What the push sweeps (tests/e2e/test_push_sweeps.py) and the chaos rounds
(tests/e2e/test_chaos_rounds.py) share: a small world per tracker with write-back on, its
service cycle, a way to put the tracker and the store back exactly as they were, and what the
tracker shows of pmo-sync's writes.

- `PushWorld`: a running sandbox, the connector config that syncs it and pushes two KPI
  fields (WIP age, cycle time) and the bot comment to it, the policy rules (an item in
  progress with no estimate, or with no assignee, gets a finding, so a bot comment), and
  what people do to it: `prepare()` before the first sync (four stories in progress: A and B
  without an estimate, so they get a comment; C and D estimated and assigned, so they get
  none), `change()` after the first push (half an hour on, the same day, so no WIP age
  changes; A loses its assignee: its comment is updated; B gets an estimate: its comment is
  deleted; C loses its assignee: a comment is added; D is done: its WIP age is cleared and its
  cycle time set), `undo(item)` (a person takes one of those changes back before the next
  cycle: A and C get an assignee again, B loses its estimate again, D goes back in progress),
  and `people(round)` for the chaos rounds (a status move, an estimate set or cleared, an
  assignee given or taken, a deletion and a new item in progress, chosen by the round; the
  clock moves 7 hours).
- `cycle(world, engine)`: what `pmo-sync serve` does once (`pmo_sync.service.cycle.run_cycle`:
  sync, KPIs and findings, push), with the sandbox's clock as the KPI clock.
- `TrackerState` / `StoreState`: the sandbox's tracker state (its dataset and the API over
  it, pickled) and every row of every store table, saved and put back exactly (faster than
  building the world again for each point, and the same for every point).
- `CommitLog`: which tables each store commit of a run writes, and after which request.
- `view(world)`: what the tracker holds of pmo-sync's writes, per item: the value of each
  configured field and the text of each bot comment (oldest first); `doubled(world)`: the
  items carrying two bot comments or more; `unlike_desired(world, engine)`: what it shows
  that the KPIs and findings computed from the store now do not say.
- `audit(world, engine)`: `pmo_sync.sandbox.audit` of the store against the sandbox.
"""

from __future__ import annotations

import functools
import io
import math
import pickle
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, event, select

from connectors.azure_devops import AzureDevOpsConfig
from connectors.base import ConnectorConfig
from connectors.jira import JiraConfig
from connectors.trello import TrelloConfig
from connectors.trello import client as trello_client
from connectors.trello.pacing import RatePacer
from connectors.trello.provision import provision
from pmo_sync.common.writeback_config import DEFAULT_MARKER
from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.config import ForecastConfig, KpiConfig
from pmo_sync.sandbox import audit as sandbox_audit
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import F_POINTS, AdoDataset
from pmo_sync.sandbox.harness import SandboxHarness
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.service.cycle import CycleResult, ServiceConfig, run_cycle
from pmo_sync.store.ledger import load_ledger
from pmo_sync.store.models import Base, SourceRow
from pmo_sync.store.repository import Store
from pmo_sync.writeback.plan import desired_state

from .cycles import load_rules

__all__ = [
    "KPIS",
    "RETRIES",
    "TRACKERS",
    "CommitLog",
    "PushWorld",
    "StoreState",
    "TrackerState",
    "View",
    "audit",
    "cycle",
    "doubled",
    "empty",
    "push_world",
    "unlike_desired",
    "view",
]

TRACKERS = ("jira", "azure_devops", "trello")

RETRIES = 1
"""Every config's `max_retries`: one retry, so a fault on `RETRIES + 1` tries fails the call."""

KPIS = KpiConfig(forecast=ForecastConfig(trials=100))
"""The KPI settings: 100 forecast trials instead of 10,000 (forecasts are not written back,
and the default costs most of a cycle's time in a world this small)."""

FIELD_NAMES = {"wip_age_days": "WIP age (days)", "cycle_time_days": "Cycle time (days)"}
ADO_FIELDS = {"wip_age_days": "Custom.WipAgeDays", "cycle_time_days": "Custom.CycleTimeDays"}


def _settings(timeout: float) -> dict[str, Any]:
    """Quick to fail: one retry, waits capped at 0.1 s (a 429's Retry-After too)."""
    return {"max_retries": RETRIES, "max_retry_wait_seconds": 0.1, "timeout_seconds": timeout}


# -- the worlds -----------------------------------------------------------------------------


@dataclass
class PushWorld:
    """A running sandbox, the config that syncs and pushes to it, and what people do to it.

    `a`, `b`, `c`, `d`: the keys of the four stories `prepare` puts in progress (see the
    module docstring); `deleted` and `created`: the keys `people` deleted and created."""

    tracker: str
    sandbox: SandboxHarness
    config: ConnectorConfig
    rules: list[RuleConfig]
    fields: tuple[str, ...]
    """The configured tracker fields (names, or Azure DevOps reference names)."""
    _ops: Any
    a: str = ""
    b: str = ""
    c: str = ""
    d: str = ""
    deleted: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.config.name

    @property
    def now(self) -> datetime:
        return self.sandbox.dataset.clock.now  # type: ignore[attr-defined, no-any-return]

    def with_config(self, **overrides: Any) -> ConnectorConfig:
        """The config with some settings changed (a short timeout for a faulty run)."""
        return type(self.config).model_validate({**self.config.model_dump(), **overrides})

    def prepare(self) -> None:
        """Before the first sync: A, B (no estimate), C, D (estimated) in progress, assigned."""
        self.a, self.b, self.c, self.d = self._ops.prepare(self)

    def change(self) -> None:
        """After the first push: half an hour on; A and C unassigned, B estimated, D done."""
        self._ops.change(self)

    def undo(self, item: str) -> None:
        """Half an hour on, a person takes back what `change` did to `item` ("a", "b", "c" or
        "d"): A's findings are again those of its comment before the push (no estimate), B's
        too (its estimate cleared again), C has none (an assignee again), D is in progress
        again (no cycle time)."""
        self.sandbox.dataset.clock.advance(minutes=30)  # type: ignore[attr-defined]
        getattr(self._ops, f"undo_{item}")(self)

    def people(self, round_: int) -> None:
        """One round of people's changes (chaos rounds): a move, an estimate, an edit, a
        deletion and a new item, chosen by `round_`."""
        self._ops.people(self, round_)

    def truth(self) -> sandbox_audit.TrackerTruth:
        return self._ops.truth(self)  # type: ignore[no-any-return]

    def bot_texts(self) -> dict[str, list[str]]:
        """Item key -> the texts of the bot's marked comments on it, oldest first."""
        return self._ops.bot_texts(self)  # type: ignore[no-any-return]


class _Jira:
    """One project (ABC, 6 issues) and its board's sprints; the two KPI fields on its screen."""

    @staticmethod
    def build(monkeypatch: pytest.MonkeyPatch, timeout: float) -> tuple[SandboxHarness, Any]:
        sandbox = JiraSandbox(JiraDataset.generate(projects=("ABC",), issues_per_project=6))
        sandbox.start()
        for name in FIELD_NAMES.values():
            field_id = sandbox.dataset.create_custom_field(name, "number")
            sandbox.dataset.add_field_to_screen(field_id, "ABC")
        variable = f"PMO_SYNC_PUSH_JIRA_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv(variable, sandbox.token)
        config = JiraConfig.model_validate(
            {"name": "push-jira", "kind": "jira", "url": sandbox.url, "email": sandbox.email,
             "token": f"${{{variable}}}", "jql": "project = ABC", **_settings(timeout),
             "writeback": {"enabled": True, "fields": FIELD_NAMES, "comments": True}}
        )  # fmt: skip
        return sandbox, config

    @staticmethod
    def prepare(w: PushWorld) -> tuple[str, str, str, str]:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        people = data.teams["ABC"]
        keys = []
        for n, name in enumerate("ABCD"):
            data.clock.advance(minutes=5)
            points = None if n < 2 else 3
            issue = data.create_issue(
                "ABC", f"Story {name}", points=points, assignee=people[n % len(people)]
            )
            data.transition(issue.key, "In Progress")
            keys.append(issue.key)
        return tuple(keys)  # type: ignore[return-value]

    @staticmethod
    def change(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.clock.advance(minutes=30)
        data.assign(w.a, None)
        data.set_estimate(w.b, 5)
        data.assign(w.c, None)
        data.transition(w.d, "Done")

    @staticmethod
    def undo_a(w: PushWorld) -> None:
        w.sandbox.dataset.assign(w.a, w.sandbox.dataset.teams["ABC"][0])  # type: ignore[attr-defined]

    @staticmethod
    def undo_b(w: PushWorld) -> None:
        w.sandbox.dataset.set_estimate(w.b, None)  # type: ignore[attr-defined]

    @staticmethod
    def undo_c(w: PushWorld) -> None:
        w.sandbox.dataset.assign(w.c, w.sandbox.dataset.teams["ABC"][0])  # type: ignore[attr-defined]

    @staticmethod
    def undo_d(w: PushWorld) -> None:
        w.sandbox.dataset.transition(w.d, "In Progress")  # type: ignore[attr-defined]

    @staticmethod
    def people(w: PushWorld, round_: int) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.clock.advance(hours=7)
        issues = sorted(data.issues, key=lambda i: int(i.id))
        keys = [i.key for i in issues]
        order = ("To Do", "In Progress", "In Review", "Done")
        moved = issues[round_ % len(issues)]
        now = order.index(moved.status.name) if moved.status.name in order else 0
        data.transition(moved.key, order[(now + 1) % len(order)])
        estimated = issues[(round_ * 3 + 1) % len(issues)]
        data.set_estimate(estimated.key, None if round_ % 2 else (round_ % 5) + 1)
        edited = issues[(round_ * 5 + 2) % len(issues)]
        data.assign(edited.key, None if edited.assignee else data.teams["ABC"][0])
        gone = next(k for k in reversed(keys) if k not in (w.a, w.b, w.c, w.d, moved.key))
        data.delete_issue(gone)
        w.deleted.append(gone)
        new = data.create_issue("ABC", f"Round {round_}: export the report", points=None)
        data.transition(new.key, "In Progress")
        w.created.append(new.key)

    @staticmethod
    def truth(w: PushWorld) -> sandbox_audit.TrackerTruth:
        return sandbox_audit.jira_truth(
            w.sandbox,  # type: ignore[arg-type]
            w.source,
            projects=["ABC"],
            fields=w.fields,
        )

    @staticmethod
    def bot_texts(w: PushWorld) -> dict[str, list[str]]:
        sandbox: JiraSandbox = w.sandbox  # type: ignore[assignment]
        data, me = sandbox.dataset, sandbox.account_id
        found = {}
        with data.lock:
            for issue in data.issues:
                texts = [
                    c.text for c in issue.comments if c.author_id == me and DEFAULT_MARKER in c.text
                ]
                if texts:
                    found[issue.key] = texts
        return found


class _Ado:
    """One team's area (Phoenix: 14 work items) and its iterations; the sandbox takes any
    `Custom.*` field on a PATCH, so the config names the fields by reference name."""

    @staticmethod
    def build(monkeypatch: pytest.MonkeyPatch, timeout: float) -> tuple[SandboxHarness, Any]:
        sandbox = AdoSandbox(AdoDataset.generate(size=14, teams=("Phoenix",)), wiql_cap=100)
        sandbox.start()
        variable = f"PMO_SYNC_PUSH_ADO_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv(variable, sandbox.pat)
        config = AzureDevOpsConfig.model_validate(
            {"name": "push-ado", "kind": "azure_devops", "organization_url": sandbox.url,
             "token": f"${{{variable}}}", "project": sandbox.dataset.project.name,
             "wiql_cap": 100, **_settings(timeout),
             "writeback": {"enabled": True, "fields": ADO_FIELDS, "comments": True}}
        )  # fmt: skip
        return sandbox, config

    @staticmethod
    def prepare(w: PushWorld) -> tuple[str, str, str, str]:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        people = data.people
        keys = []
        for n, name in enumerate("ABCD"):
            data.clock.advance(minutes=5)
            item = data.create("User Story", f"Story {name}", team="Phoenix", by=people[0])
            changes = {"System.AssignedTo": people[n % len(people)].ref, "System.State": "Active"}
            if n >= 2:
                changes[F_POINTS] = 3
            data.update(item.id, changes, by=people[0])
            keys.append(str(item.id))
        return tuple(keys)  # type: ignore[return-value]

    @staticmethod
    def change(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        by = data.people[0]
        data.clock.advance(minutes=30)
        data.assign(int(w.a), None, by=by)
        data.set_points(int(w.b), 5, by=by)
        data.assign(int(w.c), None, by=by)
        data.set_state(int(w.d), "Closed", by=by)

    @staticmethod
    def undo_a(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.assign(int(w.a), data.people[0], by=data.people[0])

    @staticmethod
    def undo_b(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.set_points(int(w.b), None, by=data.people[0])

    @staticmethod
    def undo_c(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.assign(int(w.c), data.people[0], by=data.people[0])

    @staticmethod
    def undo_d(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.set_state(int(w.d), "Active", by=data.people[0])

    @staticmethod
    def people(w: PushWorld, round_: int) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        by = data.people[round_ % len(data.people)]
        data.clock.advance(hours=7)
        items = [i for i in data.items() if i.type in ("User Story", "Bug")]
        order = ("New", "Active", "Resolved", "Closed")
        moved = items[round_ % len(items)]
        now = order.index(moved.state) if moved.state in order else 0
        data.set_state(moved.id, order[(now + 1) % len(order)], by=by)
        estimated = items[(round_ * 3 + 1) % len(items)]
        data.set_points(estimated.id, None if round_ % 2 else (round_ % 5) + 1, by=by)
        edited = items[(round_ * 5 + 2) % len(items)]
        assignee = edited.fields.get("System.AssignedTo")
        data.assign(edited.id, None if assignee else data.people[0], by=by)
        keep = {w.a, w.b, w.c, w.d, str(moved.id)}
        gone = next(i.id for i in reversed(items) if str(i.id) not in keep)
        data.delete(gone, by=by)
        w.deleted.append(str(gone))
        new = data.create("User Story", f"Round {round_}: export the report", team="Phoenix", by=by)
        data.set_state(new.id, "Active", by=by)
        w.created.append(str(new.id))

    @staticmethod
    def truth(w: PushWorld) -> sandbox_audit.TrackerTruth:
        return sandbox_audit.ado_truth(w.sandbox, w.source, fields=w.fields)  # type: ignore[arg-type]

    @staticmethod
    def bot_texts(w: PushWorld) -> dict[str, list[str]]:
        sandbox: AdoSandbox = w.sandbox  # type: ignore[assignment]
        data, me = sandbox.dataset, sandbox.identity.unique_name
        found = {}
        with data.lock:
            for item in data.items():
                texts = [
                    c.text
                    for c in sorted(data.comments(item.id), key=lambda c: c.id)
                    if c.created_by.unique_name == me and DEFAULT_MARKER in c.text
                ]
                if texts:
                    found[str(item.id)] = texts
        return found


class _Trello:
    """One board synced and pushed to (Team Beta, of two boards of 5 cards each: the heavy
    card, with over a thousand actions, is on the other) and the sprints of the config's
    calendar; the two KPI fields provisioned on it.

    No rate limits, neither in the sandbox nor in the client's pacer: a sweep sends hundreds
    of requests in seconds (pacing is tested in tests/e2e/test_trello_faults.py)."""

    @staticmethod
    def build(monkeypatch: pytest.MonkeyPatch, timeout: float) -> tuple[SandboxHarness, Any]:
        tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each
        sandbox = TrelloSandbox(
            TrelloDataset.generate(cards_per_board=5),
            key=f"key-{tag}",
            token=f"token-{tag}",
            token_limit=None,
            key_limit=None,
        )
        sandbox.start()
        unpaced = functools.partial(RatePacer, token_limit=None, key_limit=None)
        monkeypatch.setattr(trello_client, "RatePacer", unpaced)
        key_variable, token_variable = f"PMO_SYNC_PUSH_KEY_{tag}", f"PMO_SYNC_PUSH_TOKEN_{tag}"
        monkeypatch.setenv(key_variable, sandbox.key)
        monkeypatch.setenv(token_variable, sandbox.token)
        config = TrelloConfig.model_validate(
            {"name": "push-trello", "kind": "trello", "url": sandbox.root_url,
             "api_key": f"${{{key_variable}}}", "token": f"${{{token_variable}}}",
             "boards": ["Team Beta"],
             "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}},
             **_settings(timeout),
             "writeback": {"enabled": True, "fields": FIELD_NAMES, "comments": True}}
        )  # fmt: skip
        # setting the board up is not under test: no chaos timeout for it (a loaded machine
        # can take longer than the world's 0.1 s to answer a POST)
        patient = config.model_copy(update={"timeout_seconds": 10.0})
        assert [s.status for s in provision(patient)] == ["made"] * 2  # 2 fields on the board
        return sandbox, config

    @staticmethod
    def _cards(w: PushWorld) -> list[Any]:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        return [c for c in data.cards(data.board("Team Beta")) if not c.closed]

    @staticmethod
    def prepare(w: PushWorld) -> tuple[str, str, str, str]:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        by = data.people[0]
        board = data.board("Team Beta")
        keys = []
        for n, name in enumerate("ABCD"):
            data.clock.advance(minutes=5)
            card = data.create_card(board, "Doing", f"Story {name}", by=by)
            data.add_member(card.id, board.team[n % len(board.team)], by=by)
            if n >= 2:
                data.set_custom_field(card.id, "Story Points", 3, by=by)
            keys.append(card.short_link)
        return tuple(keys)  # type: ignore[return-value]

    @staticmethod
    def change(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        by = data.people[0]
        data.clock.advance(minutes=30)
        for key in (w.a, w.c):
            for member in list(data.card(key).member_ids):
                data.remove_member(key, member, by=by)
        data.set_custom_field(w.b, "Story Points", 5, by=by)
        data.move_card(w.d, "Done", by=by)

    @staticmethod
    def undo_a(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.add_member(w.a, data.board("Team Beta").team[0], by=data.people[0])

    @staticmethod
    def undo_b(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.set_custom_field(w.b, "Story Points", None, by=data.people[0])

    @staticmethod
    def undo_c(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.add_member(w.c, data.board("Team Beta").team[0], by=data.people[0])

    @staticmethod
    def undo_d(w: PushWorld) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        data.move_card(w.d, "Doing", by=data.people[0])

    @staticmethod
    def people(w: PushWorld, round_: int) -> None:
        data = w.sandbox.dataset  # type: ignore[attr-defined]
        by = data.people[round_ % len(data.people)]
        data.clock.advance(hours=7)
        cards = _Trello._cards(w)
        order = ("To Do", "Doing", "Review", "Done")
        moved = cards[round_ % len(cards)]
        lists = {x.id: x.name for b in data.boards for x in b.lists}
        now = order.index(lists[moved.list_id]) if lists[moved.list_id] in order else 0
        data.move_card(moved.id, order[(now + 1) % len(order)], by=by)
        estimated = cards[(round_ * 3 + 1) % len(cards)]
        points = None if round_ % 2 else (round_ % 5) + 1
        data.set_custom_field(estimated.id, "Story Points", points, by=by)
        edited = cards[(round_ * 5 + 2) % len(cards)]
        board = data.board(edited.board_id)
        if edited.member_ids:
            for member in list(edited.member_ids):
                data.remove_member(edited.id, member, by=by)
        else:
            data.add_member(edited.id, board.team[0], by=by)
        keep = {w.a, w.b, w.c, w.d, moved.short_link}
        gone = next(c for c in reversed(cards) if c.short_link not in keep)
        data.delete_card(gone.id, by=by)
        w.deleted.append(gone.short_link)
        board = data.board("Team Beta")
        new = data.create_card(board, "Doing", f"Round {round_}: export the report", by=by)
        w.created.append(new.short_link)

    @staticmethod
    def truth(w: PushWorld) -> sandbox_audit.TrackerTruth:
        return sandbox_audit.trello_truth(
            w.sandbox,  # type: ignore[arg-type]
            w.source,
            boards=["Team Beta"],
            fields=w.fields,
        )

    @staticmethod
    def bot_texts(w: PushWorld) -> dict[str, list[str]]:
        sandbox: TrelloSandbox = w.sandbox  # type: ignore[assignment]
        data, bot = sandbox.dataset, sandbox.member.id
        found = {}
        with data.lock:
            for card in data.cards():
                comments = sorted(card.comments, key=lambda a: a.id)
                texts = [
                    str(a.data.get("text") or "")
                    for a in comments
                    if a.creator.id == bot and DEFAULT_MARKER in str(a.data.get("text") or "")
                ]
                if texts:
                    found[card.short_link] = texts
        return found


_OPS: dict[str, Any] = {"jira": _Jira, "azure_devops": _Ado, "trello": _Trello}


@contextmanager
def push_world(
    tracker: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, timeout: float = 10
) -> Iterator[PushWorld]:
    """The small world of a tracker with write-back on, its sandbox running until the block
    ends. `timeout`: the client's timeout (seconds)."""
    ops = _OPS[tracker]
    sandbox, config = ops.build(monkeypatch, timeout)
    try:
        fields = tuple(config.writeback.fields.values())
        yield PushWorld(tracker, sandbox, config, load_rules(tmp_path), fields, ops)
    finally:
        sandbox.stop()


# -- a service cycle ------------------------------------------------------------------------


def cycle(w: PushWorld, engine: Engine, config: ConnectorConfig | None = None) -> CycleResult:
    """One service cycle (`run_cycle`: sync, KPIs and findings, push) at the sandbox's clock."""
    config = config or w.config
    service = ServiceConfig({config.name: config}, KPIS, w.rules)
    return run_cycle(config, service, Store(engine), now=w.now)


# -- saving and restoring the tracker and the store ------------------------------------------

_LOCKS = (type(threading.Lock()), type(threading.RLock()))
_STATE = {
    "jira": ("dataset", "api"),
    "azure_devops": ("dataset", "api"),
    "trello": ("dataset", "api", "_tokens"),
}
"""The sandbox's attributes that hold the tracker's state (the harness's own, its server,
faults and request log, are left alone)."""


@dataclass
class TrackerState:
    """Everything the sandbox knows of its tracker, as it was when saved: its dataset and the
    API over it, pickled (a lock they hold is not pickled but kept: between two points
    nothing holds it)."""

    tracker: str
    saved: bytes
    locks: list[Any]

    @classmethod
    def save(cls, w: PushWorld) -> TrackerState:
        state = {name: getattr(w.sandbox, name) for name in _STATE[w.tracker]}
        locks = [
            value
            for obj in state.values()
            for value in (vars(obj).values() if hasattr(obj, "__dict__") else ())
            if isinstance(value, _LOCKS)
        ]
        buffer = io.BytesIO()
        _LockKeeper(buffer, locks).dump(state)
        return cls(w.tracker, buffer.getvalue(), locks)

    def restore(self, w: PushWorld) -> None:
        """Put a copy of the saved state in (the saved one stays for the next point)."""
        fresh = _LockGiver(io.BytesIO(self.saved), self.locks).load()
        for name, value in fresh.items():
            setattr(w.sandbox, name, value)
        w.sandbox.clear_faults()


class _LockKeeper(pickle.Pickler):
    def __init__(self, file: io.BytesIO, locks: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._locks = {id(lock): n for n, lock in enumerate(locks)}

    def persistent_id(self, obj: Any) -> int | None:
        return self._locks.get(id(obj)) if isinstance(obj, _LOCKS) else None


class _LockGiver(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, locks: list[Any]) -> None:
        super().__init__(file)
        self._locks = locks

    def persistent_load(self, pid: Any) -> Any:
        return self._locks[pid]


_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.I)
_NOT_A_WRITE = re.compile(
    r"^\s*(SELECT|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|SHOW)\b", re.I
)


class StoreState:
    """Every row of every table, as it was when saved, and the tables written since.

    `restore` puts back the tables written since the last save or restore (and the tables
    whose rows a deletion there cascades to), so a point that leaves the KPI values as they
    were does not pay for rewriting them. A statement that may write and names no table
    marks every table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows = _rows(engine)
        self.written: set[str] = set()
        event.listen(engine, "before_cursor_execute", self._statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        match = _WRITE.match(statement)
        if match is not None:
            self.written.add(match.group(2))
        elif _NOT_A_WRITE.match(statement) is None:
            self.written.update(self.rows)

    def restore(self) -> None:
        """The store exactly as saved (ids included), in one transaction."""
        tables = [t for t in Base.metadata.sorted_tables if self._stale(t)]
        with self.engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(table.delete())
            for table in tables:
                if self.rows[table.name]:
                    conn.execute(table.insert(), self.rows[table.name])
            # the store's triggers bumped the sources' data versions (migration 0018) on those
            # writes, inside the database where no statement shows it: put the saved ones back
            sources: Table = SourceRow.__table__  # type: ignore[assignment]
            for row in self.rows[sources.name]:
                conn.execute(
                    sources.update()
                    .where(sources.c.id == row["id"])
                    .values(data_version=row["data_version"])
                )
        self.written.clear()

    def _stale(self, table: Any) -> bool:
        """Whether the table was written, or a table it cascades from was."""
        if table.name in self.written:
            return True
        return any(self._stale(fk.column.table) for fk in table.foreign_keys)

    def differing(self) -> list[str]:
        """The tables whose rows are not the saved ones now (a check of `restore`)."""
        now = _rows(self.engine)
        return [
            name
            for name, rows in self.rows.items()
            if sorted(map(repr, rows)) != sorted(map(repr, now[name]))
        ]


def empty(engine: Engine) -> None:
    """Every table of the store emptied: a fresh store, still migrated."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table."""
    with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


# -- naming the commits of a run -------------------------------------------------------------


class CommitLog:
    """For each commit on an engine, the tables its transaction wrote and how many requests
    the run had sent by then (`after`), to name a commit kill point."""

    def __init__(self, requests_sent: Callable[[], int]) -> None:
        self.commits: list[tuple[list[str], int]] = []
        self._requests_sent = requests_sent
        self._pending: list[str] = []

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        match = _WRITE.match(statement)
        if match and match.group(2) not in self._pending:
            self._pending.append(match.group(2))

    def _commit(self, conn: Any) -> None:
        self.commits.append((self._pending, self._requests_sent()))
        self._pending = []

    def _rollback(self, conn: Any) -> None:
        self._pending = []

    @contextmanager
    def recording(self, engine: Engine) -> Iterator[CommitLog]:
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

    def name(self, k: int, request: Callable[[int], str]) -> str:
        """Commit k (1-based): what it writes and the request it follows (`request(n)` names
        request n)."""
        if k > len(self.commits):
            return "?"
        tables, after = self.commits[k - 1]
        wrote = "writes " + ", ".join(tables) if tables else "writes nothing"
        return f"{wrote}, after request {after}: {request(after)}" if after else wrote


# -- what the tracker shows -------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What the tracker holds of pmo-sync's writes: each configured field's value per item
    (absent: empty), and each item's bot comments (texts, oldest first)."""

    fields: dict[tuple[str, str], Any]
    comments: dict[str, list[str]]

    def differences(self, want: View, limit: int = 8) -> list[str]:
        found: list[str] = []
        for key in sorted(set(self.fields) | set(want.fields)):
            got, wanted = self.fields.get(key), want.fields.get(key)
            if got != wanted:
                found.append(f"field {key[1]!r} of {key[0]}: {got!r}, expected {wanted!r}")
        for item in sorted(set(self.comments) | set(want.comments)):
            got_texts, wanted_texts = self.comments.get(item, []), want.comments.get(item, [])
            if got_texts == wanted_texts:
                continue
            got_shown, wanted_shown = _shown(got_texts), _shown(wanted_texts)
            if len(got_texts) != len(wanted_texts):
                found.append(
                    f"{item} carries {len(got_texts)} bot comment(s), expected "
                    f"{len(wanted_texts)}: {got_shown}"
                )
            else:
                found.append(f"{item}'s bot comment is {got_shown}, expected {wanted_shown}")
        if len(found) > limit:
            found = [*found[:limit], f"... and {len(found) - limit} more"]
        return found


def _shown(texts: list[str]) -> str:
    """Comment texts in a line each: the first line of each, cut at 80 characters."""
    return "[" + ", ".join(repr(t.split("\n")[0][:80]) for t in texts) + "]"


def view(w: PushWorld) -> View:
    return View(dict(w.truth().fields), w.bot_texts())


def unlike_desired(w: PushWorld, engine: Engine) -> list[str]:
    """What the tracker shows of pmo-sync's writes that the desired state does not say, one
    line each: the KPIs, findings and portfolio answers computed from the store now (as a
    cycle does), planned as `push_connector` plans them (the ledger's kept forecasts too),
    each managed field's value (None: empty) and each item's one bot comment (None: none;
    an open request's carries its sentence)."""
    refresh = refresh_kpis(engine, KPIS, rules=w.rules, now=w.now)
    writeback = w.config.writeback  # type: ignore[attr-defined]
    run = refresh.run
    desired = desired_state(
        run,
        refresh.findings,
        writeback,
        w.source,
        item_sources=run.item_sources,
        portfolio=refresh.portfolio.facts if refresh.portfolio is not None else None,
        ledger=load_ledger(engine, w.source),
    )
    shown = view(w)
    found: list[str] = []
    for item in desired:
        for metric, value in item.fields.items():
            name = writeback.fields[metric]
            held = shown.fields.get((item.key, name))
            if not _same_value(held, value):
                found.append(f"field {name!r} of {item.key}: {held!r}, the KPIs say {value!r}")
        texts = shown.comments.get(item.key, [])
        if texts != ([item.comment] if item.comment else []):
            found.append(
                f"{item.key} carries {len(texts)} bot comment(s) {_shown(texts)}, its findings "
                + (f"say {_shown([item.comment])}" if item.comment else "are none")
            )
    wanted = {item.key for item in desired}
    found += [
        f"{key} carries {len(texts)} bot comment(s) {_shown(texts)}, and is not in scope"
        for key, texts in sorted(shown.comments.items())
        if key not in wanted
    ]
    return found


def _same_value(held: Any, value: Any) -> bool:
    if held is None or value is None:
        return held is None and value is None
    if isinstance(value, float | int) and isinstance(held, float | int | str):
        return math.isclose(float(held), float(value), abs_tol=1e-9)
    return bool(held == value)


def doubled(w: PushWorld) -> list[str]:
    """The items carrying more than one bot comment, one line each."""
    return [
        f"{key} carries {len(texts)} bot comments"
        for key, texts in sorted(w.bot_texts().items())
        if len(texts) > 1
    ]


def audit(w: PushWorld, engine: Engine) -> list[str]:
    """What the audit finds wrong between the store and the sandbox, one line each."""
    return [str(d) for d in sandbox_audit.audit_store(engine, w.truth())]
