"""Push isolation end to end, on Jira, Azure DevOps and Trello: one item's trouble is its own.

- An item deleted in the tracker after the sync (the store still has it): the
  push makes every other planned change, exactly the writes a push with nothing
  deleted makes to the other items (a twin sandbox, same seed, same steps,
  nothing deleted), drops the deleted item's ledger rows and counts it gone.
- An HTML page answering one item's comment read (before its bot comment is
  added): that comment fails, every other change is made, the next push adds it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig
from connectors.trello import TrelloConfig
from connectors.trello.provision import provision
from pmo_sync.evaluation.refresh import KpiRefresh
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.harness import RecordedRequest
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.store.models import WritebackLedgerRow
from pmo_sync.writeback.service import PushSummary

from .cycles import load_rules, push, sync_and_refresh

POLICY = """
rules:
  - id: estimate-committed
    rule: missing_estimate
  - id: in-progress-assignee
    rule: missing_assignee
  - id: epic-parent
    rule: missing_parent_epic
  - id: story-ac
    rule: missing_acceptance_criteria
"""
NAMED_FIELDS = {"wip_age_days": "WIP age (days)", "cycle_time_days": "Cycle time (days)"}
ADO_FIELDS = {"wip_age_days": "Custom.WipAgeDays", "cycle_time_days": "Custom.CycleTimeDays"}
COMMENT_READ = "could not list its comments before adding the bot comment: "
Write = tuple[str, str, int]


# -- one tracker's sandbox, config and ways to change it ------------------------------------------


@dataclass
class Tracker:
    """What the tests need of one tracker, through its sandbox."""

    sandbox: Any
    config: Any
    finds_deleted_by: ClassVar[str] = ""
    """The one request a field write to a deleted item makes (answered 404)."""
    sign_in_title: ClassVar[str] = ""
    """The title of the tracker's sign-in page (the sandbox's HTML answer)."""

    def changeable(self, key: str) -> bool:
        """Whether `change_findings` can change the item's findings (so its comment)."""
        raise NotImplementedError

    def change_findings(self, key: str) -> None:
        """Give or take the item's assignee: a finding appears or clears."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def comment_list(self, key: str) -> str:
        """The path of the item's comment list, after the sandbox's URL."""
        raise NotImplementedError

    def about(self, write: RecordedRequest, key: str, comment_ids: set[str]) -> bool:
        """Whether a request went to the item or to one of its comments."""
        raise NotImplementedError

    def bot_comments(self) -> dict[str, int]:
        """Item key -> how many comments the bot has on it."""
        raise NotImplementedError

    @property
    def clock(self) -> Any:
        return self.sandbox.dataset.clock


class Jira(Tracker):
    finds_deleted_by = "PUT"  # the field write itself
    sign_in_title = "Sign in"

    def changeable(self, key: str) -> bool:
        return self.sandbox.dataset.issue(key).assignee is not None

    def change_findings(self, key: str) -> None:
        self.sandbox.dataset.assign(key, None)

    def delete(self, key: str) -> None:
        self.sandbox.dataset.delete_issue(key)

    def comment_list(self, key: str) -> str:
        return f"/rest/api/2/issue/{key}/comment"

    def about(self, write: RecordedRequest, key: str, comment_ids: set[str]) -> bool:
        if re.search(rf"/issue/{key}(/|$)", write.path):
            return True
        found = re.search(r"/comment/(\d+)/properties/", write.path)
        return found is not None and found[1] in comment_ids

    def bot_comments(self) -> dict[str, int]:
        data, me = self.sandbox.dataset, self.sandbox.account_id
        counts = {i.key: sum(c.author_id == me for c in data.comments(i.key)) for i in data.issues}
        return {key: n for key, n in counts.items() if n}


class Ado(Tracker):
    finds_deleted_by = "PATCH"  # the field write itself
    sign_in_title = "Azure DevOps Services | Sign In"

    def changeable(self, key: str) -> bool:
        return bool(self.sandbox.dataset.item(int(key)).fields.get("System.AssignedTo"))

    def change_findings(self, key: str) -> None:
        data = self.sandbox.dataset
        data.assign(int(key), None, by=data.people[0])

    def delete(self, key: str) -> None:
        data = self.sandbox.dataset
        data.delete(int(key), by=data.people[0])

    def comment_list(self, key: str) -> str:
        return f"/{self.sandbox.dataset.project.name}/_apis/wit/workItems/{key}/comments"

    def about(self, write: RecordedRequest, key: str, comment_ids: set[str]) -> bool:
        return re.search(rf"/workitems/{key}(/|$)", write.path, re.IGNORECASE) is not None

    def bot_comments(self) -> dict[str, int]:
        data, me = self.sandbox.dataset, self.sandbox.identity.unique_name
        counts = {
            str(i.id): sum(c.created_by.unique_name == me for c in data.comments(i.id))
            for i in data.items()
        }
        return {key: n for key, n in counts.items() if n}


class Trello(Tracker):
    finds_deleted_by = "GET"  # the card's board, as the board's card list no longer has it
    sign_in_title = "Log in to Trello"

    def changeable(self, key: str) -> bool:
        return True

    def change_findings(self, key: str) -> None:
        data = self.sandbox.dataset
        members = list(data.card(key).member_ids)
        for member in members:
            data.remove_member(key, member, by=data.people[0])
        if not members:
            data.add_member(key, data.people[0], by=data.people[0])

    def delete(self, key: str) -> None:
        data = self.sandbox.dataset
        data.delete_card(key, by=data.people[0])

    def comment_list(self, key: str) -> str:
        return f"/cards/{key}/actions"

    def about(self, write: RecordedRequest, key: str, comment_ids: set[str]) -> bool:
        if re.search(rf"/cards/{key}(/|$)", write.path):
            return True
        found = re.search(r"/actions/([0-9a-f]{24})$", write.path)
        return found is not None and found[1] in comment_ids

    def bot_comments(self) -> dict[str, int]:
        bot = self.sandbox.member.id
        counts = {
            c.short_link: sum(a.creator.id == bot for a in c.comments)
            for c in self.sandbox.dataset.cards()
        }
        return {key: n for key, n in counts.items() if n}


def _jira(stack: ExitStack, monkeypatch: pytest.MonkeyPatch, more: bool) -> Tracker:
    sandbox = stack.enter_context(JiraSandbox(issues_per_project=12 if more else 8))
    for name in NAMED_FIELDS.values():
        field_id = sandbox.dataset.create_custom_field(name, "number")
        for project in ("ABC", "DEF", "GHI"):
            sandbox.dataset.add_field_to_screen(field_id, project)
    variable = f"PMO_SYNC_TEST_ISOLATION_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(variable, sandbox.token)
    config = JiraConfig.model_validate(
        {
            "name": "sandbox-jira",
            "kind": "jira",
            "url": sandbox.url,
            "email": sandbox.email,
            "token": f"${{{variable}}}",
            "jql": "project in (ABC, DEF, GHI)",
            "max_retry_wait_seconds": 5,
            "writeback": {"enabled": True, "fields": NAMED_FIELDS, "comments": True},
        }
    )
    return Jira(sandbox, config)


def _ado(stack: ExitStack, monkeypatch: pytest.MonkeyPatch, more: bool) -> Tracker:
    sandbox = stack.enter_context(AdoSandbox(wiql_cap=100, size=90 if more else 25))
    variable = f"PMO_SYNC_TEST_ISOLATION_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(variable, sandbox.pat)
    config = AzureDevOpsConfig.model_validate(
        {
            "name": "sandbox-ado",
            "kind": "azure_devops",
            "organization_url": sandbox.url,
            "token": f"${{{variable}}}",
            "project": sandbox.dataset.project.name,
            "wiql_cap": 100,
            "max_retry_wait_seconds": 5,
            "writeback": {"enabled": True, "fields": ADO_FIELDS, "comments": True},
        }
    )
    return Ado(sandbox, config)


def _trello(stack: ExitStack, monkeypatch: pytest.MonkeyPatch, more: bool) -> Tracker:
    # credentials of its own: the client paces each key and token process-wide
    tag = uuid.uuid4().hex[:12]
    sandbox = stack.enter_context(
        TrelloSandbox(cards_per_board=20 if more else 10, key=f"key-{tag}", token=f"token-{tag}")
    )
    key_variable, token_variable = f"PMO_SYNC_TEST_KEY_{tag}", f"PMO_SYNC_TEST_TOKEN_{tag}"
    monkeypatch.setenv(key_variable, sandbox.key)
    monkeypatch.setenv(token_variable, sandbox.token)
    config = TrelloConfig.model_validate(
        {
            "name": "sandbox-trello",
            "kind": "trello",
            "url": sandbox.root_url,
            "api_key": f"${{{key_variable}}}",
            "token": f"${{{token_variable}}}",
            "boards": ["Team Alpha", "Team Beta"],
            "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16"}},
            "max_retry_wait_seconds": 2,
            "writeback": {"enabled": True, "fields": NAMED_FIELDS, "comments": True},
        }
    )
    assert [s.status for s in provision(config)] == ["made"] * 4  # 2 fields on 2 boards
    return Trello(sandbox, config)


TRACKERS = {"jira": _jira, "ado": _ado, "trello": _trello}


@pytest.fixture(params=list(TRACKERS))
def make_tracker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., Tracker]]:
    """Builds trackers of the test's kind; each call, an identical one (same seed).

    `more=True`: a few more items, for at least three bot comments to add.
    """
    if request.param == "ado":
        request.getfixturevalue("cold_ado_sdk_cache")
    with ExitStack() as stack:
        yield lambda more=False: TRACKERS[request.param](stack, monkeypatch, more)


@pytest.fixture
def rules(tmp_path: Path) -> list[Any]:
    return load_rules(tmp_path, POLICY)


# -- steps ----------------------------------------------------------------------------------------


def _sync(tracker: Tracker, engine: Engine, rules: list[Any]) -> KpiRefresh:
    return sync_and_refresh(tracker.config, engine, rules, tracker.clock.now)


def _push(
    tracker: Tracker, engine: Engine, refresh: KpiRefresh, *, dry_run: bool = False
) -> PushSummary:
    return push(
        tracker.config,
        engine,
        refresh,
        tracker.clock.now,
        dry_run=dry_run,
        sleep=lambda seconds: None,
    )


def _ledger(engine: Engine, source: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(item, target) -> (value hash, comment id) of every ledger row of `source`."""
    table = WritebackLedgerRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.source == source))
        return {(r.item_key, r.target): (r.value_hash, r.comment_id) for r in rows}


def _writes(tracker: Tracker) -> list[Write]:
    return [(w.method, w.path, w.status) for w in tracker.sandbox.writes]


def _counts(summary: PushSummary) -> tuple[int, int, int, int, int]:
    return (summary.planned, summary.done, summary.failed, summary.deferred, summary.gone)


# -- an item deleted after the sync --------------------------------------------------------------


@pytest.mark.slow
def test_an_item_deleted_after_the_sync_is_gone_and_every_other_change_is_made(
    make_tracker: Callable[..., Tracker],
    engine: Engine,
    second_engine: Engine,
    rules: list[Any],
) -> None:
    """Twins: `control` has nothing deleted, `deleted` loses item K between sync and push."""
    control, deleted = make_tracker(), make_tracker()
    twins = ((control, engine), (deleted, second_engine))
    source = control.config.name
    for tracker, store in twins:  # the first push: every item's fields and comment
        refresh = _sync(tracker, store, rules)
        first = _push(tracker, store, refresh)
        assert first.ok and first.done == first.planned > 0, first.errors
    ledger = _ledger(engine, source)
    assert ledger == _ledger(second_engine, source)

    in_progress = {m.key for m in refresh.run.flow.metrics if m.wip_age_days is not None}
    key = next(
        k
        for k, target in sorted(ledger)
        if target == "comment" and k in in_progress and control.changeable(k)
    )
    comment_ids = {cid for (k, _), (_, cid) in ledger.items() if k == key and cid is not None}
    assert len(comment_ids) == 1
    refreshes = {}
    for tracker, store in twins:  # a day on (new WIP ages), and K's findings change
        tracker.clock.advance(days=1)
        tracker.change_findings(key)
        refreshes[store] = _sync(tracker, store, rules)
    plan = _push(deleted, second_engine, refreshes[second_engine], dry_run=True)
    assert [line.split(":")[0] for line in plan.lines].count(key) == 2  # fields, then comment
    deleted.delete(key)  # after the sync: the store still has it
    for tracker, _ in twins:
        tracker.sandbox.reset_log()

    expected = _push(control, engine, refreshes[engine])
    summary = _push(deleted, second_engine, refreshes[second_engine])

    assert _counts(expected) == (plan.planned, plan.planned, 0, 0, 0), expected.errors
    assert _counts(summary) == (plan.planned, plan.planned - 2, 0, 0, 1)
    assert (summary.errors, summary.ok) == ([], True)
    # the writes of a push with nothing deleted, but K's two (its fields, its comment)
    mine = [w for w in control.sandbox.writes if control.about(w, key, comment_ids)]
    assert len(mine) == 2 and all(200 <= w.status < 300 for w in mine)
    tried = [r for r in deleted.sandbox.requests if deleted.about(r, key, comment_ids)]
    assert [(r.method, r.status) for r in tried] == [(deleted.finds_deleted_by, 404)]
    others = [(w.method, w.path, w.status) for w in control.sandbox.writes if w not in mine]
    assert [w for w in _writes(deleted) if w != (tried[0].method, tried[0].path, 404)] == others
    assert len(_writes(deleted)) == len(_writes(control)) - 2 + (tried[0].method != "GET")
    # K's ledger rows are gone, every other row is the control's
    after, kept = _ledger(second_engine, source), _ledger(engine, source)
    assert {k for k, _ in kept} - {k for k, _ in after} == {key}
    assert after == {k: v for k, v in kept.items() if k[0] != key}
    assert {target for k, target in kept if k == key} == {"comment", "field:wip_age_days"}


# -- an HTML page instead of one item's comments --------------------------------------------------


def test_an_html_page_reading_one_items_comments_fails_that_comment_only(
    make_tracker: Callable[..., Tracker], engine: Engine, rules: list[Any]
) -> None:
    tracker = make_tracker(more=True)
    refresh = _sync(tracker, engine, rules)
    plan = _push(tracker, engine, refresh, dry_run=True)
    added = [line.split(":")[0] for line in plan.lines if ": add comment\n" in line]
    assert len(added) >= 3
    key = added[1]
    tracker.sandbox.inject(
        method="GET",
        path=re.escape(tracker.comment_list(key)) + "$",
        status=200,
        content_type="text/html",
    )
    summary = _push(tracker, engine, refresh)

    assert _counts(summary) == (plan.planned, plan.planned - 1, 1, 0, 0)
    assert summary.errors == [
        f"{key}: {COMMENT_READ}GET {tracker.sandbox.url}{tracker.comment_list(key)} answered "
        f"HTTP 200 with an HTML page ({tracker.sign_in_title!r}) instead of JSON: the URL may "
        "point at a login page, a proxy or the wrong host"
    ]
    assert tracker.bot_comments() == {k: 1 for k in added if k != key}
    ledger = _ledger(engine, tracker.config.name)
    assert {k for k, target in ledger if target == "comment"} == set(added) - {key}

    again = _push(tracker, engine, _sync(tracker, engine, rules))
    assert (_counts(again), again.errors) == ((1, 1, 0, 0, 0), [])
    assert tracker.bot_comments() == dict.fromkeys(added, 1)
