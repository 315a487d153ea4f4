"""`AdoWriter` against the sandbox Azure DevOps, through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.azure_devops import AzureDevOpsConfig
from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.push import (
    AdoWriter,
    CommentNotFoundError,
    FieldNotFoundError,
    IssueNotFoundError,
    RevisionConflictError,
    WriteOutcomeUnknownError,
)
from connectors.http import CallStats
from pmo_sync.sandbox.ado import AdoProcess, AdoSandbox

TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
FIELD = "Custom.CycleTimeDays"
MARKER = "[pmo-sync:kpi]"
NO_WAIT_429 = {"Retry-After": "0"}


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(size=20) as sandbox:
        yield sandbox


@pytest.fixture
def writer(ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdoWriter]:
    monkeypatch.setenv(TOKEN_VARIABLE, ado.pat)
    config = AzureDevOpsConfig.model_validate(
        {
            "name": "sandbox-ado",
            "kind": "azure_devops",
            "organization_url": ado.url,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "project": ado.dataset.project.name,
            "max_retry_wait_seconds": 2,
        }
    )
    client = AdoClient(config, CallStats())
    with AdoWriter(client) as w:
        yield w
    client.close()


def _live_id(ado: AdoSandbox) -> int:
    return next(iter(ado.dataset.items())).id


def _patches(ado: AdoSandbox, item_id: int) -> list[Any]:
    return [
        r
        for r in ado.requests
        if r.method == "PATCH" and r.path.lower().endswith(f"/_apis/wit/workitems/{item_id}")
    ]


def test_set_fields_appends_one_revision_authored_by_the_pat_identity(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    item_id = _live_id(ado)
    before = ado.dataset.item(item_id).rev
    ado.reset_log()
    writer.set_fields(str(item_id), {FIELD: 4.5})
    item = ado.dataset.item(item_id)
    assert item.rev == before + 1
    assert item.fields[FIELD] == 4.5
    assert ado.identity.unique_name in str(item.fields["System.ChangedBy"])
    [patch] = _patches(ado, item_id)
    assert patch.body == [{"op": "add", "path": f"/fields/{FIELD}", "value": 4.5}]
    assert patch.query.get("suppressNotifications") == ["true"]
    assert [r.method for r in ado.writes] == ["PATCH"]  # no read before the write

    # The same value again: the writer still sends it (the planner dedupes, not the writer).
    writer.set_fields(item_id, {FIELD: 4.5})
    assert len(_patches(ado, item_id)) == 2
    assert ado.dataset.item(item_id).rev == before + 1  # the service made no new revision


def test_test_rev_conflict_is_a_clear_error_and_writes_nothing(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    item_id = _live_id(ado)
    rev = writer.current_rev(item_id)
    ado.dataset.update(item_id, {"System.Title": "edited by a human"})
    with pytest.raises(RevisionConflictError) as caught:
        writer.set_fields(item_id, {FIELD: 3}, expected_rev=rev)
    assert "changed since the revision" in str(caught.value)
    assert (caught.value.expected_rev, caught.value.current_rev) == (rev, rev + 1)
    assert FIELD not in ado.dataset.item(item_id).fields
    assert _patches(ado, item_id)[-1].body[0] == {"op": "test", "path": "/rev", "value": rev}

    writer.set_fields(item_id, {FIELD: 3}, expected_rev=rev + 1)
    assert ado.dataset.item(item_id).fields[FIELD] == 3


def test_patch_applied_then_500_is_retried_and_its_own_revision_is_not_a_conflict(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    item_id = _live_id(ado)
    rev = ado.dataset.item(item_id).rev
    ado.inject("PATCH", rf"/workItems/{item_id}$", status=500, applied=True)
    ado.reset_log()
    writer.set_fields(item_id, {FIELD: 7}, expected_rev=rev)
    assert [r.status for r in _patches(ado, item_id)] == [500, 400]
    assert ado.dataset.item(item_id).rev == rev + 1


def test_throttled_patch_is_retried(ado: AdoSandbox, writer: AdoWriter) -> None:
    item_id = _live_id(ado)
    ado.inject("PATCH", rf"/workItems/{item_id}$", status=429, headers=NO_WAIT_429)
    ado.reset_log()
    writer.set_fields(item_id, {FIELD: 2})
    assert [r.status for r in _patches(ado, item_id)] == [429, 200]
    assert ado.dataset.item(item_id).fields[FIELD] == 2
    assert writer.stats.retries == 1


def test_comment_add_update_delete(ado: AdoSandbox, writer: AdoWriter) -> None:
    item_id = _live_id(ado)
    comment_id = writer.add_comment(item_id, f"{MARKER} cycle time 4 d", {"key": "ignored"})
    [comment] = ado.dataset.comments(item_id)
    assert (str(comment.id), comment.text) == (comment_id, f"{MARKER} cycle time 4 d")
    assert comment.created_by.unique_name == ado.identity.unique_name

    writer.update_comment(item_id, comment_id, f"{MARKER} cycle time 5 d")
    assert ado.dataset.comments(item_id)[0].text == f"{MARKER} cycle time 5 d"

    writer.delete_comment(item_id, comment_id)
    assert ado.dataset.comments(item_id) == []
    writer.delete_comment(item_id, comment_id)  # already gone: done
    with pytest.raises(CommentNotFoundError):
        writer.update_comment(item_id, comment_id, "again")


def test_find_bot_comments_ignores_a_human_quoting_the_marker(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    item_id = _live_id(ado)
    human = ado.dataset.people[0]
    ado.dataset.add_comment(item_id, f"why does {MARKER} say 4 d?", by=human)
    ado.dataset.add_comment(item_id, "a bot comment without the marker", by=ado.identity)
    ours = writer.add_comment(item_id, f"{MARKER} cycle time 4 d")
    gone = writer.add_comment(item_id, f"{MARKER} duplicate")
    writer.delete_comment(item_id, gone)
    for who in (ado.identity.id, ado.identity.unique_name):
        assert writer.find_bot_comments(item_id, who, MARKER) == [
            (ours, f"{MARKER} cycle time 4 d")
        ]


def test_500_on_add_comment_is_not_retried_and_says_the_outcome_is_unknown(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    item_id = _live_id(ado)
    ado.inject("POST", r"/comments$", status=500, applied=True, times=3)
    ado.reset_log()
    with pytest.raises(WriteOutcomeUnknownError) as caught:
        writer.add_comment(item_id, f"{MARKER} cycle time 4 d")
    assert caught.value.status_code == 500
    assert "find_bot_comments" in str(caught.value)
    assert [r.method for r in ado.writes] == ["POST"]
    # It was in fact created: the recovery finds it.
    assert len(writer.find_bot_comments(item_id, ado.identity.id, MARKER)) == 1


def test_throttled_add_comment_is_retried(ado: AdoSandbox, writer: AdoWriter) -> None:
    item_id = _live_id(ado)
    ado.inject("POST", r"/comments$", status=429, headers=NO_WAIT_429)
    ado.reset_log()
    writer.add_comment(item_id, f"{MARKER} x")
    assert [r.status for r in ado.writes] == [429, 200]
    assert len(ado.dataset.comments(item_id)) == 1


def test_deleted_work_item_is_issue_not_found(ado: AdoSandbox, writer: AdoWriter) -> None:
    item_id = _live_id(ado)
    ado.dataset.delete(item_id)
    with pytest.raises(IssueNotFoundError, match="no longer exists"):
        writer.set_fields(item_id, {FIELD: 1})
    with pytest.raises(IssueNotFoundError):
        writer.add_comment(item_id, f"{MARKER} x")
    with pytest.raises(IssueNotFoundError):
        writer.find_bot_comments(item_id, ado.identity.id, MARKER)


def test_field_ids_resolve_names_and_reference_names_from_the_field_list(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    ado.reset_log()
    assert writer.field_ids(["Cycle time (days)", "microsoft.vsts.scheduling.storypoints"]) == {
        "Cycle time (days)": FIELD,
        "microsoft.vsts.scheduling.storypoints": "Microsoft.VSTS.Scheduling.StoryPoints",
    }
    listed = [r.path for r in ado.requests if r.method == "GET" and "ResourceAreas" not in r.path]
    assert listed == ["/contoso/Fabrikam/_apis/wit/fields"]  # one call (and route discovery)
    with pytest.raises(FieldNotFoundError, match="no field named 'Cycle time'"):
        writer.field_ids(["Cycle time"])


def test_field_ids_without_the_fields_route_accepts_reference_names(
    ado: AdoSandbox, writer: AdoWriter
) -> None:
    ado.api.process = AdoProcess(lists_fields=False)  # an older server: the list answers 404
    assert writer.field_ids([FIELD, "Microsoft.VSTS.Scheduling.StoryPoints"]) == {
        FIELD: FIELD,
        "Microsoft.VSTS.Scheduling.StoryPoints": "Microsoft.VSTS.Scheduling.StoryPoints",
    }
    with pytest.raises(FieldNotFoundError, match="'Cycle time' is not a reference name"):
        writer.field_ids(["Cycle time"])
