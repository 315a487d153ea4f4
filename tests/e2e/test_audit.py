"""`pmo_sync.sandbox.audit`: a clean sync and push audit clean; each corruption of the store or
the tracker is caught, with its exact line. Small worlds: a sync and a push per tracker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.audit import (
    DUPLICATE_COMMENT,
    KINDS,
    LEDGER_COMMENT,
    LEDGER_FIELD,
    LOST_DELETION,
    LOST_ITEM,
    STALE_STAGE,
    STALE_STATUS,
    UNTRACKED_COMMENT,
    Discrepancy,
    LedgerRow,
    StoredItem,
    StoredState,
    TrackerTruth,
    TruthItem,
    ado_truth,
    audit,
    audit_store,
    jira_truth,
    read_store,
    trello_truth,
)
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import ROLE_CHILD, ROLE_PLAIN
from pmo_sync.store.models import WorkItemRow

from .cycles import load_rules, service_cycle

JIRA_FIELDS = {"cycle_time_days": "Cycle time (days)", "wip_age_days": "WIP age (days)"}
ADO_FIELDS = {"cycle_time_days": "Custom.CycleTimeDays", "wip_age_days": "Custom.WipAgeDays"}
WRITEBACK = {"enabled": True, "comments": True}


# -- the comparison alone -----------------------------------------------------------------------


def _truth() -> TrackerTruth:
    return TrackerTruth(
        "t",
        items={
            "1": TruthItem("1", "A-1", "Done", "done"),
            "2": TruthItem("2", "A-2", "To Do", "todo"),
            "3": TruthItem("3", "A-3", "Doing", "in_progress"),
        },
        live_keys={"A-1", "A-2", "A-3", "B-9"},
        bot_comments={"A-1": ["c1", "c7"], "A-3": ["c3"]},
        comment_ids={"A-1": {"c1", "c7"}, "A-3": {"c3", "c4"}},
        fields={("A-1", "Cycle"): 4.0, ("A-3", "Cycle"): 2.5},
        field_names=("Cycle",),
    )


def test_audit_names_each_kind_of_discrepancy_in_one_line() -> None:
    stored = StoredState(
        "t",
        items={
            "1": StoredItem("1", "A-1", "In Progress", "in_progress", False),
            "2": StoredItem("2", "A-2", "To Do", "todo", True),
            "4": StoredItem("4", "A-4", "Done", "done", False),
            "9": StoredItem("9", "B-9", "Done", "done", False),
            "8": StoredItem("8", "A-8", "Done", "done", True),  # deleted in both: fine
        },
        ledger=[
            LedgerRow("A-1", "comment", None, None, "c1"),
            LedgerRow("A-1", "field:cycle_time_days", "Cycle", "4.0", None),
            LedgerRow("A-3", "field:cycle_time_days", "Cycle", "3.0", None),
            LedgerRow("A-2", "field:cycle_time_days", "Cycle", "1.5", None),
            LedgerRow("A-2", "comment", None, None, "c2"),
            LedgerRow("A-2", "field:wip_age_days", "Wip", "2.0", None),
            LedgerRow("A-4", "comment", None, None, "c9"),  # A-4 is gone: not checked
        ],
    )
    found = audit(stored, _truth())
    assert [str(d) for d in found] == [
        "t: lost item: A-2: live in the tracker, marked deleted in the store (id 2)",
        "t: lost item: A-3: live in the tracker, not stored (id 3)",
        "t: lost deletion: A-4: live in the store, deleted in the tracker (id 4)",
        "t: lost deletion: B-9: live in the store, out of the connector's scope in the tracker "
        "(id 9)",
        "t: stale status: A-1: store 'In Progress', tracker 'Done'",
        "t: stale stage: A-1: store 'in_progress', tracker 'done' (status 'Done')",
        "t: duplicate comment: A-1: 2 bot comments (c1, c7)",
        "t: ledger field not in tracker: A-3: Cycle: ledger 3.0, tracker 2.5",
        "t: ledger field not in tracker: A-2: Cycle: ledger 1.5, tracker empty",
        "t: ledger field not in tracker: A-2: Wip: ledger 2.0, tracker field not read",
        "t: ledger comment not in tracker: A-2: comment c2 recorded, not in the tracker",
        "t: untracked comment: A-1: bot comment(s) c7 not in the ledger (it records c1)",
        "t: untracked comment: A-3: bot comment(s) c3 not in the ledger",
    ]
    assert {d.kind for d in found} == set(KINDS)
    assert found[0] == Discrepancy("t", LOST_ITEM, "A-2", found[0].detail)


def test_a_cleared_field_matches_an_empty_one_and_numbers_compare_as_numbers() -> None:
    truth = _truth()
    truth.bot_comments.pop("A-1")  # one comment each, both in the ledger
    truth.fields[("A-2", "Cycle")] = "7"  # a tracker that keeps numbers as text
    items = truth.items.items()
    stored = StoredState(
        "t",
        items={k: StoredItem(k, i.key, i.status, i.stage or "", False) for k, i in items},
        ledger=[
            LedgerRow("A-3", "comment", None, None, "c3"),
            LedgerRow("A-1", "field:cycle_time_days", "Cycle", "4", None),  # 4 == 4.0
            LedgerRow("A-2", "field:cycle_time_days", "Cycle", "7.0", None),  # 7.0 == "7"
            LedgerRow("B-9", "field:cycle_time_days", "Cycle", "null", None),  # cleared, empty
            LedgerRow("A-3", "field:wip_age_days", "Wip", None, None),  # no value: not checked
        ],
    )
    assert audit(stored, truth) == []
    truth.fields[("B-9", "Cycle")] = 1.0
    assert [str(d) for d in audit(stored, truth)] == [
        "t: ledger field not in tracker: B-9: Cycle: ledger empty, tracker 1.0"
    ]


def test_the_truth_survives_json() -> None:
    truth = _truth()
    assert TrackerTruth.from_json(truth.to_json()) == truth


# -- against the sandboxes ----------------------------------------------------------------------


@pytest.fixture
def cycle(engine: Engine, tmp_path: Path) -> Callable[[Any, datetime], None]:
    """Sync, KPIs and findings as of `now`, push: what a service cycle does."""
    rules = load_rules(tmp_path)

    def run(config: Any, now: datetime) -> None:
        pushed = service_cycle(config, engine, rules, now)
        assert pushed.ok and pushed.done > 0, pushed.errors

    return run


def _mark_deleted(engine: Engine, external_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(WorkItemRow)
            .where(WorkItemRow.external_id == external_id)
            .values(deleted_at=datetime.now(UTC))
        )


def _commented(engine: Engine, source: str) -> list[tuple[str, str]]:
    """(item key, comment id) of each bot comment the ledger records, by key."""
    return sorted(
        (r.key, r.comment_id or "") for r in read_store(engine, source).ledger if r.comment_id
    )


def _with_field(engine: Engine, source: str, name: str, keys: set[str]) -> str:
    """The first key (among `keys`) with a ledger row for field `name` holding a value."""
    return next(
        r.key
        for r in read_store(engine, source).ledger
        if r.tracker_field == name and r.value_json not in (None, "null") and r.key in keys
    )


def _lines(found: list[Discrepancy]) -> list[str]:
    return [f"{d.kind}: {d.key}: {d.detail}" for d in found]


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=6) as sandbox:
        data = sandbox.dataset
        for name in JIRA_FIELDS.values():
            field_id = data.create_custom_field(name, "number")
            for project in ("ABC", "DEF", "GHI"):
                data.add_field_to_screen(field_id, project)
        yield sandbox


def test_jira_store_and_tracker_corrupted_every_way(
    jira: JiraSandbox,
    make_config: Callable[..., Any],
    cycle: Callable[[Any, datetime], None],
    engine: Engine,
) -> None:
    config = make_config(
        jira, jql="project in (ABC, DEF)", writeback={**WRITEBACK, "fields": JIRA_FIELDS}
    )
    data = jira.dataset
    stories = [i.key for i in data.issues if i.issue_type.name in ("Story", "Bug")]
    for key in stories[:3]:  # in progress with no assignee: findings, so the push comments
        if data.issue(key).status.name != "In Progress":
            data.transition(key, "In Progress")
        data.assign(key, None)
    cycle(config, data.clock.now)

    def truth() -> TrackerTruth:
        return jira_truth(
            jira, "sandbox-jira", projects={"ABC", "DEF"}, fields=JIRA_FIELDS.values()
        )

    assert audit_store(engine, truth()) == []
    issues = {i.key: i for i in data.issues}
    commented = _commented(engine, "sandbox-jira")
    (dup_key, dup_id), (gone_key, gone_id) = commented[:2]
    plain = sorted(k for k, i in issues.items() if i.project_key != "GHI" and not i.comments)
    field_key = _with_field(
        engine, "sandbox-jira", "Cycle time (days)", set(issues) - {dup_key, gone_key}
    )
    lost_key, deleted_key, moved_key = [k for k in plain if k != field_key][:3]
    moved = issues[moved_key]
    status, was = moved.status.name, _jira_stage(moved)  # before the transition changes them
    target = "Done" if status != "Done" else "To Do"

    _mark_deleted(engine, issues[lost_key].id)
    new = data.create_issue("ABC", "Born while nobody looked")
    data.delete_issue(deleted_key)
    data.transition(moved_key, target)
    extra = data.add_comment(dup_key, "[pmo-sync] again", author=jira.api_user)
    data.delete_comment(gone_id)
    field_id = next(f.id for f in data.custom_fields if f.name == "Cycle time (days)")
    held = data.field_value(field_key, field_id)
    data.set_field(field_key, field_id, 99.0)

    stage = {"Done": "done", "To Do": "todo"}[target]
    stale_stage = (
        f"{STALE_STAGE}: {moved_key}: store {was!r}, tracker {stage!r} (status {target!r})"
    )
    assert _lines(audit_store(engine, truth())) == [
        f"{LOST_ITEM}: {lost_key}: live in the tracker, marked deleted in the store "
        f"(id {issues[lost_key].id})",
        f"{LOST_ITEM}: {new.key}: live in the tracker, not stored (id {new.id})",
        f"{LOST_DELETION}: {deleted_key}: live in the store, deleted in the tracker "
        f"(id {issues[deleted_key].id})",
        f"{STALE_STATUS}: {moved_key}: store {status!r}, tracker {target!r}",
        *([stale_stage] if was != stage else []),
        f"{DUPLICATE_COMMENT}: {dup_key}: 2 bot comments ({dup_id}, {extra.id})",
        f"{LEDGER_FIELD}: {field_key}: Cycle time (days): ledger {held!r}, tracker 99.0",
        f"{LEDGER_COMMENT}: {gone_key}: comment {gone_id} recorded, not in the tracker",
        f"{UNTRACKED_COMMENT}: {dup_key}: bot comment(s) {extra.id} not in the ledger "
        f"(it records {dup_id})",
    ]


def _jira_stage(issue: Any) -> str:
    return {"new": "todo", "indeterminate": "in_progress", "done": "done"}[
        issue.status.category.key
    ]


@pytest.fixture
def ado(cold_ado_sdk_cache: None) -> Iterator[AdoSandbox]:
    with AdoSandbox(size=25, wiql_cap=100) as sandbox:
        yield sandbox


def test_ado_store_and_tracker_corrupted_every_way(
    ado: AdoSandbox,
    ado_config: Callable[..., Any],
    cycle: Callable[[Any, datetime], None],
    engine: Engine,
) -> None:
    config = ado_config(ado, writeback={**WRITEBACK, "fields": ADO_FIELDS})
    data = ado.dataset
    stories = [i.id for i in data.items() if i.type in ("User Story", "Bug")]
    for item_id in stories[:3]:  # in progress with no assignee: findings, so the push comments
        data.set_state(item_id, "Active")
        data.assign(item_id, None)
    cycle(config, data.clock.now)

    def truth() -> TrackerTruth:
        return ado_truth(ado, "sandbox-ado", fields=ADO_FIELDS.values())

    assert audit_store(engine, truth()) == []
    commented = _commented(engine, "sandbox-ado")
    (dup_key, dup_id), (gone_key, gone_id) = commented[:2]
    bot_commented = {k for k, _ in commented}
    plain = sorted(
        (str(i.id) for i in data.items() if str(i.id) not in bot_commented),
        key=int,
    )
    field_key = _with_field(
        engine, "sandbox-ado", "Custom.CycleTimeDays", {str(i) for i in data.ids()} - {dup_key}
    )
    lost_key, deleted_key, moved_key = [k for k in plain if k != field_key][:3]

    status = data.item(int(moved_key)).state
    target = "Active" if status != "Active" else "Closed"
    stages = {"New": "todo", "Active": "in_progress", "Resolved": "in_progress"}
    was, stage = stages.get(status, "done"), stages.get(target, "done")

    _mark_deleted(engine, lost_key)
    new = data.create("Bug", "Born while nobody looked")
    data.delete(int(deleted_key))
    data.set_state(int(moved_key), target)
    extra = data.add_comment(int(dup_key), "[pmo-sync] again", by=ado.identity)
    data.delete_comment(int(gone_key), int(gone_id))
    held = data.item(int(field_key)).fields["Custom.CycleTimeDays"]
    data.update(int(field_key), {"Custom.CycleTimeDays": 99.0})

    assert _lines(audit_store(engine, truth())) == [
        f"{LOST_ITEM}: {lost_key}: live in the tracker, marked deleted in the store "
        f"(id {lost_key})",
        f"{LOST_ITEM}: {new.id}: live in the tracker, not stored (id {new.id})",
        f"{LOST_DELETION}: {deleted_key}: live in the store, deleted in the tracker "
        f"(id {deleted_key})",
        f"{STALE_STATUS}: {moved_key}: store {status!r}, tracker {target!r}",
        f"{STALE_STAGE}: {moved_key}: store {was!r}, tracker {stage!r} (status {target!r})",
        f"{DUPLICATE_COMMENT}: {dup_key}: 2 bot comments ({dup_id}, {extra.id})",
        f"{LEDGER_FIELD}: {field_key}: Custom.CycleTimeDays: ledger {held!r}, tracker 99.0",
        f"{LEDGER_COMMENT}: {gone_key}: comment {gone_id} recorded, not in the tracker",
        f"{UNTRACKED_COMMENT}: {dup_key}: bot comment(s) {extra.id} not in the ledger "
        f"(it records {dup_id})",
    ]


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each process-wide
    with TrelloSandbox(cards_per_board=8, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        for board in sandbox.dataset.boards:
            for name in JIRA_FIELDS.values():
                sandbox.dataset.create_custom_field(board, name, "number")
        yield sandbox


def test_trello_store_and_tracker_corrupted_every_way(
    trello: TrelloSandbox,
    trello_config: Callable[..., Any],
    cycle: Callable[[Any, datetime], None],
    engine: Engine,
) -> None:
    config = trello_config(trello, writeback={**WRITEBACK, "fields": JIRA_FIELDS})
    data = trello.dataset
    work = [c for c in data.cards() if not c.closed and data.role(c.n) in (ROLE_PLAIN, ROLE_CHILD)]
    for card in work[:3]:  # findings (on work, not on the generated epics): the push comments
        data.move_card(card.id, "Doing")
        for member in list(card.member_ids):
            data.remove_member(card.id, member)
    cycle(config, data.clock.now)

    def truth() -> TrackerTruth:
        return trello_truth(trello, "sandbox-trello", fields=JIRA_FIELDS.values())

    assert audit_store(engine, truth()) == []
    commented = _commented(engine, "sandbox-trello")
    (dup_key, dup_id), (gone_key, gone_id) = commented[:2]
    cards = {c.short_link: c for c in data.cards()}
    field_key = _with_field(engine, "sandbox-trello", "Cycle time (days)", set(cards) - {dup_key})
    names = {x.id: x.name for b in data.boards for x in b.lists}
    bot_commented = {k for k, _ in commented}
    plain = sorted(k for k, c in cards.items() if k not in bot_commented | {field_key})
    lost_key, deleted_key, moved_key = plain[:3]
    status = names[cards[moved_key].list_id]
    target = "Done" if status != "Done" else "To Do"
    stages = {"Backlog": "todo", "To Do": "todo", "Done": "done"}
    was, stage = stages.get(status, "in_progress"), stages[target]

    _mark_deleted(engine, cards[lost_key].id)
    new = data.create_card("Team Alpha", "To Do", "Born while nobody looked")
    data.delete_card(deleted_key)
    data.move_card(moved_key, target)
    extra = data.add_comment(dup_key, "[pmo-sync] again")
    data.delete_comment(gone_id)
    board = data.board(cards[field_key].board_id)
    custom = board.field_named("Cycle time (days)")
    assert custom is not None
    held = float(cards[field_key].items[custom.id].value["number"])  # type: ignore[index]
    data.set_custom_field(field_key, "Cycle time (days)", 99)

    assert _lines(audit_store(engine, truth())) == [
        f"{LOST_ITEM}: {lost_key}: live in the tracker, marked deleted in the store "
        f"(id {cards[lost_key].id})",
        f"{LOST_ITEM}: {new.short_link}: live in the tracker, not stored (id {new.id})",
        f"{LOST_DELETION}: {deleted_key}: live in the store, deleted in the tracker "
        f"(id {cards[deleted_key].id})",
        f"{STALE_STATUS}: {moved_key}: store {status!r}, tracker {target!r}",
        *(
            [f"{STALE_STAGE}: {moved_key}: store {was!r}, tracker {stage!r} (status {target!r})"]
            if was != stage
            else []
        ),
        f"{DUPLICATE_COMMENT}: {dup_key}: 2 bot comments ({dup_id}, {extra.id})",
        f"{LEDGER_FIELD}: {field_key}: Cycle time (days): ledger {held!r}, tracker 99.0",
        f"{LEDGER_COMMENT}: {gone_key}: comment {gone_id} recorded, not in the tracker",
        f"{UNTRACKED_COMMENT}: {dup_key}: bot comment(s) {extra.id} not in the ledger "
        f"(it records {dup_id})",
    ]
