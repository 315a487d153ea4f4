"""The acceptance-criteria rule sees what each tracker holds, end to end (SQLite and PostgreSQL).

People write a story's criteria where their tracker keeps them: a Trello card's checklist, a
Jira site's "Acceptance Criteria" and "Checklist" fields (named in the connector's config),
Azure DevOps' Acceptance Criteria field or a checklist field of the process. Each tracker's
sandbox holds three stories in progress, one with criteria there, one with them in its
description, one with none; the connector syncs them into the store and the rules, reading the
store's columns, find the one without. When people change the criteria, the next incremental
sync carries the change and the finding follows.

The policy is the shipped one (`config/policies/backlog-quality.yaml`: `where: [description,
checklist]`, section "acceptance criteria|AC"), widened to the criteria field where the
tracker has one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig
from connectors.trello import TrelloConfig
from pmo_sync.domain import CheckItem
from pmo_sync.evaluation.inputs import iter_item_inputs
from pmo_sync.evaluation.refresh import evaluate_store
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import AdoDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.store.models import WorkItemRow
from pmo_sync.sync import RunSummary

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "policies" / "backlog-quality.yaml"
RULE_ID = "acceptance-criteria"
STORY = "As a shopper I want receipts by email so that I can file them"
DESCRIBED = f"{STORY}\n\nAcceptance criteria: a PDF arrives within a minute"


@pytest.fixture
def shipped_rule(tmp_path: Path) -> Callable[..., list[RuleConfig]]:
    """The shipped acceptance-criteria rule, its `where` widened when asked."""

    def rule(*where: str) -> list[RuleConfig]:
        (tmp_path / "policies").mkdir(exist_ok=True)
        text = SHIPPED.read_text(encoding="utf-8")
        if where:
            shipped = "where: [description, checklist]"
            assert shipped in text
            text = text.replace(shipped, f"where: [{', '.join(where)}]")
        (tmp_path / "policies" / "backlog-quality.yaml").write_text(text, encoding="utf-8")
        rules, errors = load_policies(tmp_path)
        assert errors == []
        return [r for r in rules if r.id == RULE_ID]

    return rule


def _missing(engine: Engine, rules: list[RuleConfig], keys: set[str], now: datetime) -> set[str]:
    """The keys among `keys` the rule finds without acceptance criteria."""
    _run, findings = evaluate_store(engine, KpiConfig(), rules=rules, now=now)
    return {f.scope_key for f in findings if f.rule_id == RULE_ID and f.scope_key in keys}


def _stored(engine: Engine, keys: set[str]) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                WorkItemRow.key,
                WorkItemRow.description,
                WorkItemRow.acceptance_criteria,
                WorkItemRow.checklist,
            ).where(WorkItemRow.key.in_(sorted(keys)))
        )
        return {r.key: (r.description, r.acceptance_criteria, r.checklist) for r in rows}


# -- Trello: a card's checklists ---------------------------------------------------------------


@pytest.fixture
def small_trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each process-wide
    data = TrelloDataset.generate(cards_per_board=0, boards=("Team Alpha",))
    with TrelloSandbox(data, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def test_trello_a_cards_checklist_is_its_acceptance_criteria(
    small_trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
    shipped_rule: Callable[..., list[RuleConfig]],
) -> None:
    ds = small_trello.dataset
    board = ds.board("Team Alpha")
    ana, ben = board.team[0], board.team[1]  # people: the sandbox's default writer is the bot
    listed = ds.create_card(board, "To Do", STORY, by=ana)
    described = ds.create_card(board, "To Do", STORY, by=ana, desc=DESCRIBED)
    bare = ds.create_card(board, "To Do", STORY, by=ana)
    ds.add_checklist(listed.id, "Acceptance criteria", ["A PDF arrives", "Within a minute"], by=ben)
    for card in (listed, described, bare):
        ds.move_card(card.id, "Doing", by=ana)
    keys = {listed.short_link, described.short_link, bare.short_link}
    config = trello_config(small_trello, boards=["Team Alpha"])
    rules = shipped_rule()

    assert sync(config).status == "success"
    assert _missing(engine, rules, keys, ds.clock.now) == {bare.short_link}
    stored = _stored(engine, keys)
    assert stored[listed.short_link] == (
        "",
        None,
        [["A PDF arrives", False], ["Within a minute", False]],
    )
    assert stored[described.short_link] == (DESCRIBED, None, [])

    # The criteria move: written on the bare card, the listed one's checklist removed. The
    # checklist actions make the incremental sync read both cards again.
    ds.add_checklist(bare.id, "Acceptance criteria", [("Refund within 5 days", True)], by=ben)
    ds.remove_checklist(listed.id, "Acceptance criteria", by=ben)
    small_trello.reset_log()
    summary = sync(config)
    assert (summary.status, summary.items_updated) == ("success", 2)
    assert _missing(engine, rules, keys, ds.clock.now) == {listed.short_link}
    details = {h.key: d for h, d in iter_item_inputs(engine)}
    assert details[bare.short_link] is not None
    assert details[bare.short_link].checklist == (CheckItem("Refund within 5 days", True),)
    # and it cost nothing beyond the usual: the checklists come with the card listing
    assert not [r for r in small_trello.requests if "checklists" in r.path]


# -- Jira: the fields a site keeps them in -------------------------------------------------------


def test_jira_the_configured_criteria_and_checklist_fields(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
    shipped_rule: Callable[..., list[RuleConfig]],
) -> None:
    ds = jira_sandbox.dataset
    criteria = ds.create_custom_field("Acceptance Criteria", "string")
    checklist = ds.create_custom_field("Checklist", "string")
    written = ds.create_issue("ABC", STORY)
    listed = ds.create_issue("ABC", STORY)
    described = ds.create_issue("ABC", STORY, description=DESCRIBED)
    bare = ds.create_issue("ABC", STORY)
    ds.set_field(written.key, criteria, "Given a paid order, a PDF arrives within a minute")
    ds.set_field(listed.key, checklist, "- [x] A PDF arrives\n- [ ] Within a minute")
    for issue in (written, listed, described, bare):
        ds.transition(issue.key, "In Progress")
    keys = {written.key, listed.key, described.key, bare.key}
    config = make_config(
        jira_sandbox,
        jql="project = ABC",
        acceptance_criteria_field="Acceptance Criteria",
        checklist_field=checklist,
    )
    rules = shipped_rule("description", "field", "checklist")

    assert sync(config).status == "success"
    assert _missing(engine, rules, keys, ds.clock.now) == {bare.key}
    stored = _stored(engine, keys)
    assert stored[written.key][1:] == ("Given a paid order, a PDF arrives within a minute", [])
    assert stored[listed.key][1:] == (None, [["A PDF arrives", True], ["Within a minute", False]])
    # The shipped option alone does not look in the criteria field.
    assert _missing(engine, shipped_rule(), keys, ds.clock.now) == {written.key, bare.key}

    # Someone writes criteria into the bare story and empties the other field.
    ds.set_field(bare.key, criteria, "Refund within 5 days")
    ds.set_field(written.key, criteria, None)
    summary = sync(config)
    assert (summary.status, summary.items_updated) == ("success", 2)
    assert _missing(engine, rules, keys, ds.clock.now) == {written.key}


# -- Azure DevOps: the Acceptance Criteria field, and a checklist field of the process ----------


@pytest.fixture
def small_ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(AdoDataset.generate(size=0, teams=("Team Alpha",))) as sandbox:
        yield sandbox


def test_azure_devops_the_criteria_field_and_a_checklist_field(
    small_ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
    shipped_rule: Callable[..., list[RuleConfig]],
) -> None:
    ds = small_ado.dataset
    team = ds.team("Team Alpha")
    assert team is not None
    by = team.members[0]
    criteria = "<ul><li>A PDF arrives</li><li>Within a minute</li></ul>"
    checklist = "<div>[x] A PDF arrives</div><div>[ ] Within a minute</div>"
    items = {
        "written": ds.create(
            "User Story", STORY, team="Team Alpha", by=by,
            fields={"Microsoft.VSTS.Common.AcceptanceCriteria": criteria},
        ),
        "listed": ds.create(
            "User Story", STORY, team="Team Alpha", by=by, fields={"Custom.Checklist": checklist}
        ),
        "described": ds.create(
            "User Story", STORY, team="Team Alpha", by=by,
            fields={"System.Description": f"<div>{STORY}</div><h3>AC</h3><div>a PDF</div>"},
        ),
        "bare": ds.create("User Story", STORY, team="Team Alpha", by=by),
    }  # fmt: skip
    for item in items.values():
        assert ds.update(item.id, {"System.State": "Active"}, by=by) is not None
    keys = {str(item.id): name for name, item in items.items()}
    config = ado_config(small_ado, checklist_field="Custom.Checklist")
    rules = shipped_rule("description", "field", "checklist")

    assert sync(config).status == "success"
    assert {keys[k] for k in _missing(engine, rules, set(keys), ds.clock.now)} == {"bare"}
    stored = {keys[k]: v for k, v in _stored(engine, set(keys)).items()}
    assert stored["written"][1:] == ("* A PDF arrives\n* Within a minute", [])
    assert stored["listed"][1:] == (None, [["A PDF arrives", True], ["Within a minute", False]])
    assert stored["described"][0] == f"{STORY}\nh3. AC\na PDF"

    # Criteria written into the bare story; the written one's field emptied.
    ds.update(items["bare"].id, {"Microsoft.VSTS.Common.AcceptanceCriteria": "Refunds"}, by=by)
    ds.update(items["written"].id, {"Microsoft.VSTS.Common.AcceptanceCriteria": None}, by=by)
    summary = sync(config)
    assert (summary.status, summary.items_updated) == ("success", 2)
    assert {keys[k] for k in _missing(engine, rules, set(keys), ds.clock.now)} == {"written"}
