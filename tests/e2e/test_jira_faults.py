"""A misbehaving Jira: every fault gets a retry or a clear message, and nothing stored is lost."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from connectors.jira import JiraConfig, JiraConnector
from pmo_sync.sandbox.jira.render import RECENT_HISTORIES, FieldSelection, Renderer
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.models import ItemChangeRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_all

from ..schema_helpers import dump_tables

SEARCH = "/rest/api/2/search/jql"
COUNT = "/rest/api/2/search/approximate-count"
BULK = "/rest/api/2/changelog/bulkfetch"


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
    assert summaries[0].errors == [
        "cannot reach Jira at http://127.0.0.1:9 (connection refused): is the url right and "
        "the tracker up?"
    ]
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


def _search_answer(sandbox: JiraSandbox, keys: list[str], *, malformed: list[str]) -> dict:
    """A search/jql page holding these issues as Jira renders them, those in `malformed`
    without their `created` field."""
    renderer = Renderer(sandbox.dataset, sandbox.url)
    issues = []
    for key in keys:
        raw = renderer.issue(
            sandbox.dataset.issue(key), FieldSelection(None), changelog_recent=RECENT_HISTORIES
        )
        if key in malformed:
            del raw["fields"]["created"]
        issues.append(raw)
    return {"issues": issues, "isLast": True}


def _status_changes(engine: Engine, issue_id: str) -> list[tuple[str | None, str | None]]:
    query = (
        select(ItemChangeRow.from_value, ItemChangeRow.to_value)
        .join(WorkItemRow, WorkItemRow.id == ItemChangeRow.item_id)
        .where(WorkItemRow.external_id == issue_id, ItemChangeRow.field == "status")
        .order_by(ItemChangeRow.at, ItemChangeRow.change_id)
    )
    with engine.connect() as conn:
        return [(row.from_value, row.to_value) for row in conn.execute(query)]


def _stored_status(engine: Engine, issue_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(WorkItemRow.status).where(WorkItemRow.external_id == issue_id)
        ).scalar_one()


ITEM_TABLES = ("work_items", "item_changes", "sprint_items", "raw_records")
ISSUE_ORDER = " ORDER BY created ASC, key ASC"


def test_an_issue_that_comes_back_malformed_is_read_again_by_the_next_run(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """A changed issue Jira answers without `created`: skipped, its stored row and history
    kept. Another issue changed 20 minutes later moves the watermark past it (and past the
    overlap window), yet the next run reads it again, nobody having touched it, and stores
    its change; the run after that is a plain no-change one."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    data.clock.advance(minutes=30)
    issue, later = [i for i in data.issues if i.status.name == "To Do"][:2]
    data.transition(issue.key, "In Progress")
    data.clock.advance(minutes=20)
    data.transition(later.key, "In Progress")
    answer = _search_answer(jira_sandbox, [issue.key, later.key], malformed=[issue.key])
    jira_sandbox.inject(path=SEARCH, status=200, body=answer)
    before = dump_tables(engine)
    history = _status_changes(engine, issue.id)

    summary = run_sync(config)
    assert (summary.status, summary.items_updated) == ("partial", 1)  # `later`
    assert summary.errors == [
        f"issue {issue.key} skipped (read again next run): "
        f"issue {issue.key} has no created/updated timestamp"
    ]
    after = dump_tables(engine)
    assert [r for r in after["work_items"] if later.id not in r] == [
        r for r in before["work_items"] if later.id not in r
    ]  # every issue but `later` as it was
    assert {repr(r) for r in before["item_changes"]} <= {repr(r) for r in after["item_changes"]}
    assert _stored_status(engine, issue.id) == "To Do"
    assert _status_changes(engine, issue.id) == history

    # Jira answers properly again; nobody touches the issue, so the search by `updated`
    # no longer finds it: one more search, by id, reads it.
    jira_sandbox.clear_faults()
    jira_sandbox.reset_log()
    again = run_sync(config)
    assert (again.status, again.items_updated) == ("success", 1), again.errors
    searches = [r.query["jql"][0] for r in jira_sandbox.requests if r.path == SEARCH]
    assert len(searches) == 2 and "updated >=" in searches[0]
    assert searches[1] == f"(project in (ABC, DEF, GHI)) AND id in ({issue.id})" + ISSUE_ORDER
    assert [r.path for r in jira_sandbox.requests] == [SEARCH, SEARCH, COUNT]
    assert _stored_status(engine, issue.id) == "In Progress"
    assert _status_changes(engine, issue.id) == [*history, ("To Do", "In Progress")]

    jira_sandbox.reset_log()
    summary = run_sync(config)
    assert summary.status == "success", summary.errors
    assert [(r.method, r.path) for r in jira_sandbox.requests] == [("GET", SEARCH), ("POST", COUNT)]
    assert summary.api_calls == 2  # nothing left to read again


def test_a_skipped_issue_back_in_the_overlap_window_unchanged_is_converted_anyway(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """The skipped issue is the latest change: the next search returns it again with the
    same `updated`, which `seen` would take for "unchanged"; it is converted, no extra call."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    data.clock.advance(minutes=30)
    issue = next(i for i in data.issues if i.status.name == "To Do")
    data.transition(issue.key, "In Progress")
    answer = _search_answer(jira_sandbox, [issue.key], malformed=[issue.key])
    jira_sandbox.inject(path=SEARCH, status=200, body=answer)
    before = dump_tables(engine)

    summary = run_sync(config)
    assert summary.status == "partial"
    assert summary.errors[0].startswith(f"issue {issue.key} skipped (read again next run): ")
    after = dump_tables(engine)
    for table in ITEM_TABLES:
        assert after[table] == before[table], table
    assert after["sync_state"] != before["sync_state"]  # the watermark moved to the issue

    jira_sandbox.clear_faults()
    jira_sandbox.reset_log()
    again = run_sync(config)
    assert (again.status, again.items_updated) == ("success", 1), again.errors
    assert [r.path for r in jira_sandbox.requests] == [SEARCH, COUNT]  # no search by id
    assert _stored_status(engine, issue.id) == "In Progress"
    jira_sandbox.reset_log()
    assert run_sync(config).api_calls == 2


def test_skipped_issues_read_again_one_by_one_when_jira_refuses_their_ids_together(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """Two issues skipped; one is deleted before the next run, and Jira refuses the search
    naming both (400, as for an id it no longer knows): each is asked alone; the one left
    is read with its whole changelog (bulk), the deleted one is dropped, the census marks it."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    data.clock.advance(minutes=30)
    long = next(i for i in data.issues if len(i.histories) > RECENT_HISTORIES)
    gone, later = [i for i in data.issues if i.status.name == "To Do"][:2]
    data.transition(long.key, "In Progress")
    data.transition(gone.key, "In Progress")
    data.clock.advance(minutes=20)
    data.transition(later.key, "In Progress")
    keys = [long.key, gone.key, later.key]
    answer = _search_answer(jira_sandbox, keys, malformed=[long.key, gone.key])
    jira_sandbox.inject(path=SEARCH, status=200, body=answer)
    summary = run_sync(config)
    assert (summary.status, summary.items_updated) == ("partial", 1)
    assert [e.split(":")[0] for e in summary.errors] == [
        f"issue {long.key} skipped (read again next run)",
        f"issue {gone.key} skipped (read again next run)",
    ]

    jira_sandbox.clear_faults()
    data.delete_issue(gone.key)
    jira_sandbox.inject(path=SEARCH, status=400, skip=1)  # the search naming both ids
    jira_sandbox.reset_log()
    again = run_sync(config)
    assert again.status == "success", again.errors
    assert (again.items_updated, again.items_deleted) == (1, 1)
    searches = [(r.status, r.query["jql"][0]) for r in jira_sandbox.requests if r.path == SEARCH]
    ids = sorted([long.id, gone.id], key=lambda i: (len(i), i))
    assert [status for status, _ in searches] == [200, 400, 200, 200, 200]  # last: census ids
    assert [jql.partition(" AND ")[2] for _, jql in searches[1:4]] == [
        f"id in ({ids[0]}, {ids[1]})" + ISSUE_ORDER,
        *(f"id in ({i})" + ISSUE_ORDER for i in ids),
    ]
    bulk = [r.body for r in jira_sandbox.requests if r.path == BULK]
    assert [b["issueIdsOrKeys"] for b in bulk] == [[long.id]]
    assert _stored_status(engine, long.id) == "In Progress"
    assert _status_changes(engine, long.id)[-1] == ("Done", "In Progress")

    jira_sandbox.reset_log()
    assert run_sync(config).api_calls == 2  # neither is asked for again
