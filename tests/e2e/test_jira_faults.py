"""A misbehaving Jira: every fault gets a retry or a clear message, and nothing stored is lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from connectors.jira import JiraConfig, JiraConnector
from pmo_sync.sandbox.server import JiraSandbox
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_all

from .conftest import dump_tables

SEARCH = "/rest/api/2/search/jql"


def test_wrong_token_fails_with_a_clear_message_and_keeps_the_store(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    run_sync(make_config(jira_sandbox))
    before = dump_tables(engine)
    summary = run_sync(make_config(jira_sandbox, token_value="not-the-token"))
    assert summary.status == "failed"
    assert summary.errors == [
        "Jira rejected the credentials of pmo-bot@acme.example (HTTP 401) while trying to "
        "search issues: check the API token (and the email it belongs to)"
    ]
    assert summary.api_calls == 1  # a 401 is never retried
    assert dump_tables(engine) == before


def test_wrong_token_on_first_sync_is_reported_at_the_first_call(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], run_sync
) -> None:
    summary = run_sync(make_config(jira_sandbox, token_value="nope"))
    assert summary.status == "failed"
    assert "(HTTP 401) while trying to read the API user (/myself)" in summary.errors[0]
    assert "nope" not in summary.errors[0]


def test_project_the_user_cannot_browse_is_named(
    make_config: Callable[..., JiraConfig], run_sync: Callable[..., RunSummary]
) -> None:
    """JQL naming a forbidden project: Jira answers 400; the message names the project."""
    with JiraSandbox(forbidden_projects={"GHI"}) as sandbox:
        summary = run_sync(make_config(sandbox))
        report = JiraConnector(make_config(sandbox)).check()
    assert summary.status == "failed"
    assert summary.errors[-1] == (
        "Jira refused to search issues (HTTP 400): The value 'GHI' does not exist for the "
        "field 'project'. (no such project, or the API user lacks Browse Projects on it)"
    )
    failed = {r.name: r.detail for r in report.results if not r.ok}
    assert failed["project GHI"].startswith("missing BROWSE_PROJECTS")
    assert "project ABC" not in failed


def test_403_on_a_configured_board_skips_that_board_and_keeps_the_rest(
    make_config: Callable[..., JiraConfig], run_sync: Callable[..., RunSummary], engine: Engine
) -> None:
    """GHI's board answers 403: the run is partial, not failed, and ABC/DEF are complete."""
    with JiraSandbox(forbidden_projects={"GHI"}) as sandbox:
        boards = {b.project_key: b.id for b in sandbox.dataset.boards if b.type == "scrum"}
        config = make_config(sandbox, jql="project in (ABC, DEF)", boards=sorted(boards.values()))
        summary = run_sync(config)
        assert summary.status == "partial"
        assert summary.items_inserted == 200
        assert summary.errors == [
            f"board {boards['GHI']} skipped: pmo-bot@acme.example may not read board "
            f"{boards['GHI']} (HTTP 403): You don't have permission to view this board."
        ]
        stored = {row[0] for row in dump_tables(engine)["sprints"]}
        assert len(stored) == sum(
            1 for s in sandbox.dataset.sprints if s.board_id in (boards["ABC"], boards["DEF"])
        )


def test_403_on_one_boards_sprints_is_reported_and_the_rest_is_stored(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], run_sync
) -> None:
    board = next(b for b in jira_sandbox.dataset.boards if b.type == "scrum")
    jira_sandbox.inject(path=f"/rest/agile/1.0/board/{board.id}/sprint$", status=403)
    summary = run_sync(make_config(jira_sandbox), full=True)
    assert summary.status == "partial"
    assert summary.items_inserted == 300
    assert len(summary.errors) == 1
    assert summary.errors[0].startswith(f"sprints of board {board.id} ({board.name}): ")
    assert "(HTTP 403)" in summary.errors[0]


def test_html_page_instead_of_json_is_an_error_not_a_parse_crash(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = make_config(jira_sandbox)
    run_sync(config)
    before = dump_tables(engine)
    jira_sandbox.inject(path=SEARCH, status=200, content_type="text/html")
    summary = run_sync(config)
    assert summary.status == "failed"
    assert summary.errors == [
        f"GET {jira_sandbox.url}{SEARCH} answered HTTP 200 with an HTML page ('Sign in') "
        "instead of JSON: the URL may point at a login page, a proxy or the wrong host"
    ]
    assert dump_tables(engine) == before


def test_429_with_retry_after_is_waited_out_and_recorded(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], run_sync, store: Store
) -> None:
    jira_sandbox.inject(path=SEARCH, status=429, headers={"Retry-After": "1"}, skip=1)
    summary = run_sync(make_config(jira_sandbox), full=True)
    assert summary.status == "success"
    assert summary.items_inserted == 300
    assert summary.rate_limit_waits == 1
    assert summary.rate_limit_wait_seconds >= 1.0
    statuses = [r.status for r in jira_sandbox.requests if r.path == SEARCH]
    assert statuses == [200, 429, 200, 200]
    run = store.last_run(store.ensure_source("sandbox-jira", "jira", None))
    assert run is not None and (run.rate_limit_waits, run.api_calls) == (1, summary.api_calls)


def test_500_in_the_middle_of_paging_retries_that_page_only(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], run_sync
) -> None:
    jira_sandbox.inject(path=SEARCH, status=500, skip=1, times=2)
    summary = run_sync(make_config(jira_sandbox), full=True)
    assert summary.status == "success"
    assert summary.items_inserted == 300
    search = [
        (r.status, r.query.get("nextPageToken")) for r in jira_sandbox.requests if r.path == SEARCH
    ]
    assert [s for s, _ in search] == [200, 500, 500, 200, 200]
    assert search[1][1] == search[2][1] == search[3][1] is not None  # the same page, asked again


def test_a_failing_connector_does_not_stop_the_others(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], store: Store
) -> None:
    good = make_config(jira_sandbox)
    bad = JiraConfig.model_validate(
        {**good.model_dump(), "name": "broken", "url": "http://127.0.0.1:9", "max_retries": 0}
    )
    summaries = sync_all([bad, good], store)
    assert [(s.connector, s.status) for s in summaries] == [
        ("broken", "failed"),
        ("sandbox-jira", "success"),
    ]
    assert "cannot reach Jira at http://127.0.0.1:9/" in summaries[0].errors[0]
    assert "connection refused" in summaries[0].errors[0]
    assert summaries[1].items_inserted == 300


def test_deleted_issue_missing_in_the_middle_of_a_changelog_read(
    jira_sandbox: JiraSandbox, make_config: Callable[..., JiraConfig], run_sync, engine
) -> None:
    """The bulk changelog answers 404 (no such endpoint): the per-issue changelog is used."""
    jira_sandbox.inject(method="POST", path="/changelog/bulkfetch", status=404, times=10)
    summary = run_sync(make_config(jira_sandbox), full=True)
    assert summary.status == "success"
    long = [i for i in jira_sandbox.dataset.issues if len(i.histories) > 20]
    changelog_calls = [r for r in jira_sandbox.requests if r.path.endswith("/changelog")]
    pages = sum(-(-len(i.histories) // 100) for i in long)
    assert len(changelog_calls) == pages


@pytest.mark.parametrize("deployment", ["server"])
def test_server_deployment_uses_legacy_search_with_personal_access_token(
    deployment: str, make_config: Callable[..., JiraConfig], run_sync: Callable[..., RunSummary]
) -> None:
    with JiraSandbox(deployment=deployment) as sandbox:
        summary = run_sync(make_config(sandbox, deployment="server", email=None), full=True)
        paths = {r.path for r in sandbox.requests}
    assert summary.status == "success", summary.errors
    assert summary.items_inserted == 300
    assert "/rest/api/2/search" in paths
    assert SEARCH not in paths and "/rest/api/2/changelog/bulkfetch" not in paths
