"""What a sync learned from the records it moved past is saved with the bookmark that passes
them, so a sync that fails or dies before the stream that acts on it forgets nothing.

- A deletion seen makes a census owed, saved with the continuation token (Azure DevOps) or the
  boards' marks (Trello) and cleared by the census that pays it. Before, the decision lived in
  memory: an Azure DevOps sync whose census failed (an HTML page, a kill) had stored the token
  past the deletion, so no later sync saw anything new and the deleted item stayed live in the
  store, its KPIs and its write-back.
- The sprints and statuses Jira's issues name are stored by the issues stream itself, before
  its bookmark moves; the sprints stream after it adds only the boards' lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig
from connectors.jira.streams import SprintsStream, StatusesStream
from connectors.trello import TrelloConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.render import RECENT_HISTORIES, FieldSelection, Renderer
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import HEAVY_CARD
from pmo_sync.store.models import SourceRow, SprintRow, WorkItemRow
from pmo_sync.sync import RunSummary

from .killpoints import SimulatedKill

ADO_API = "/contoso/Fabrikam/_apis/wit"
REPORTING = f"{ADO_API}/reporting/workItemRevisions"
WIQL = f"{ADO_API}/wiql"
HTML_ADVICE = "instead of JSON: the URL may point at a login page, a proxy or the wrong host"


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


def _deleted_at(engine: Engine, external_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(WorkItemRow.deleted_at).where(WorkItemRow.external_id == external_id)
        ).scalar_one()


def _census_owed(engine: Engine, source: str) -> str | None:
    """Why the source owes a census, as the store keeps it (None: it owes none)."""
    with engine.connect() as conn:
        return conn.execute(
            select(SourceRow.census_owed_reason).where(SourceRow.name == source)
        ).scalar_one()


# -- Azure DevOps --------------------------------------------------------------------------


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(wiql_cap=100, size=60) as sandbox:
        yield sandbox


def test_ado_deletion_survives_a_census_that_fails_and_the_next_sync_marks_it(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """The issue's reproduction: the revisions page with the deletion is stored, the census's
    WIQL answers an HTML page. The continuation token has moved past the deletion, yet the
    next sync, finding nothing new, takes the census it owes: one WIQL call."""
    config = ado_config(ado)
    assert sync(config).status == "success"
    ds = ado.dataset
    gone = next(i for i in ds.items() if i.state == "Active").id
    ds.delete(gone, by=ds.people[0])
    ado.inject("POST", r"/_apis/wit/wiql", status=200, content_type="text/html")

    failed = sync(config)
    assert failed.status == "failed"
    assert failed.errors == [
        f"POST {ado.url}/Fabrikam/_apis/wit/wiql answered HTTP 200 with an HTML page "
        f"('Azure DevOps Services | Sign In') {HTML_ADVICE}"
    ]
    assert _deleted_at(engine, str(gone)) is None  # not marked: the census never ran
    assert _census_owed(engine, "sandbox-ado") == f"work item {gone} deleted"

    ado.clear_faults()
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert [(r.method, r.path) for r in ado.requests if r.method != "OPTIONS"] == [
        ("POST", REPORTING),  # nothing new since the token
        ("POST", WIQL),  # the census owed: 59 live ids, under the cap of 100
    ]
    assert summary.items_deleted == 1
    assert _deleted_at(engine, str(gone)) is not None
    assert _census_owed(engine, "sandbox-ado") is None

    assert sync(config).api_calls == 1  # paid: the run after makes no census call


def test_ado_item_created_and_deleted_between_syncs_owes_no_census(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """A deletion of an item the store never held cannot leave anything stale: no census."""
    config = ado_config(ado)
    assert sync(config).status == "success"
    ds = ado.dataset
    brief = ds.create("Bug", "Opened by mistake").id
    ds.delete(brief, by=ds.people[0])
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert [(r.method, r.path) for r in ado.requests if r.method != "OPTIONS"] == [
        ("POST", REPORTING)
    ]
    assert _census_owed(engine, "sandbox-ado") is None


# -- Trello --------------------------------------------------------------------------------


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=12, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def test_trello_deletion_survives_a_census_put_off_and_the_next_sync_marks_it(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """A card deleted on Team Alpha; the census must list Team Beta, which had nothing new,
    and gets an HTML page: the census is put off (a partial one would mark Beta's cards
    deleted). The boards' marks have moved past the `deleteCard`, yet the next sync takes
    the census it owes."""
    config = trello_config(trello, max_retry_wait_seconds=1)
    assert sync(config).status == "success"
    ds = trello.dataset
    alpha, beta = ds.board("Team Alpha").id, ds.board("Team Beta").id
    card = next(c for c in ds.cards("Team Alpha") if not c.closed and c.n != HEAVY_CARD)
    ds.delete_card(card.id, by=ds.people[0])
    trello.inject("GET", rf"/boards/{beta}/cards/all$", status=200, content_type="text/html")

    partial = sync(config)
    assert partial.status == "partial"
    assert partial.errors == [
        f"census of board {beta} put off to the next run: GET {trello.root_url}/1/boards/"
        f"{beta}/cards/all answered HTTP 200 with an HTML page ('Log in to Trello') {HTML_ADVICE}"
    ]
    assert _deleted_at(engine, card.id) is None
    assert _census_owed(engine, "sandbox-trello") == f"card {card.id} deleted"

    trello.clear_faults()
    trello.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert [f"{r.method} {r.path}" for r in trello.requests] == [
        f"GET /1/boards/{alpha}/actions",  # nothing new on either board
        f"GET /1/boards/{beta}/actions",
        f"GET /1/boards/{alpha}/cards/all",  # the census owed lists both boards
        f"GET /1/boards/{beta}/cards/all",
    ]
    assert summary.items_deleted == 1
    assert _deleted_at(engine, card.id) is not None
    assert _census_owed(engine, "sandbox-trello") is None


# -- Jira ----------------------------------------------------------------------------------


def test_jira_census_counts_a_new_issue_it_had_to_skip(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """One issue deleted, one created that comes back malformed (skipped, never stored):
    Jira's count equals the store's live items, yet the store holds a deleted issue. The
    census counts the skipped issue the store lacks, so the counts differ and it runs."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    data.clock.advance(minutes=30)
    gone = next(i for i in data.issues if i.status.name == "To Do")
    data.delete_issue(gone.key)
    new = data.create_issue("ABC", "Export the quarterly report")
    renderer = Renderer(data, jira_sandbox.url)
    raw = renderer.issue(
        data.issue(new.key), FieldSelection(None), changelog_recent=RECENT_HISTORIES
    )
    del raw["fields"]["created"]
    jira_sandbox.inject(
        path="/rest/api/2/search/jql", status=200, body={"issues": [raw], "isLast": True}
    )

    summary = run_sync(config)
    assert summary.status == "partial"
    assert summary.errors == [
        f"issue {new.key} skipped (read again next run): "
        f"issue {new.key} has no created/updated timestamp"
    ]
    assert summary.items_deleted == 1
    assert _deleted_at(engine, gone.id) is not None


def test_jira_sprint_named_by_issues_is_stored_though_the_run_dies_after_the_issues(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A future sprint is started and an issue put in it; the run dies as the sprints stream
    begins, after the issues' bookmark moved past that issue. The sprint's new state came
    with the issue and is stored; the next sync (nothing new, boards not due for a refresh)
    has nothing to add."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    future = next(s for s in data.sprints if s.state == "future")
    data.clock.advance(minutes=10)
    data.start_sprint(future.id)
    issue = next(i for i in data.issues if i.status.name == "To Do" and i.project_key == "ABC")
    data.add_to_sprint(issue.key, future.id)

    def die(self: object, context: object) -> None:
        raise SimulatedKill("killed as the sprints stream starts")

    with monkeypatch.context() as patch:
        patch.setattr(SprintsStream, "records", die)
        patch.setattr(StatusesStream, "records", die)
        with pytest.raises(SimulatedKill):
            run_sync(config)

    def sprint_state() -> str:
        with engine.connect() as conn:
            return conn.execute(
                select(SprintRow.state).where(SprintRow.external_id == str(future.id))
            ).scalar_one()

    assert sprint_state() == "active"
    assert run_sync(config).status == "success"
    assert sprint_state() == "active"
