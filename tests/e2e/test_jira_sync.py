"""Full and incremental Jira syncs against the sandbox, compared with its ground truth."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, select

from connectors.jira import JiraConfig
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.models import (
    SprintItemRow,
    SprintRow,
    SyncRunRow,
    WorkItemRow,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary

from ..schema_helpers import dump_tables, stored_changes, stored_items

SEARCH = "/rest/api/2/search/jql"
COUNT = "/rest/api/2/search/approximate-count"
BULK = "/rest/api/2/changelog/bulkfetch"


def _category(path: str) -> str:
    if path.startswith("/rest/agile/1.0/board/") and path.endswith("/sprint"):
        return "sprints"
    if path.startswith("/rest/agile/1.0/sprint/"):
        return "sprint"
    if path == "/rest/agile/1.0/board":
        return "boards"
    return path


def _stays(engine: Engine) -> dict[str, list[tuple]]:
    query = select(WorkItemRow.external_id, SprintItemRow).join(
        WorkItemRow, WorkItemRow.id == SprintItemRow.item_id
    )
    result: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            result.setdefault(row.external_id, []).append(
                (int(row.sprint_external_id), row.added_at, row.removed_at)
            )
    return {key: sorted(value) for key, value in result.items()}


def test_full_sync_stores_every_issue_change_and_sprint_stay_exactly(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """Every issue, status change, estimate change and sprint stay equals the sandbox's truth."""
    summary = run_sync(make_config(jira_sandbox), full=True)
    assert summary.status == "success", summary.errors
    issues = list(jira_sandbox.dataset.issues)
    assert (summary.items_seen, summary.items_inserted) == (len(issues), len(issues)) == (300, 300)

    items = stored_items(engine)
    statuses = stored_changes(engine, "status")
    estimates = stored_changes(engine, "estimate")
    stays = _stays(engine)
    assert set(items) == {issue.id for issue in issues}
    for issue in issues:
        row = items[issue.id]
        assert (row.key, row.status, row.estimate, row.project) == (
            issue.key,
            issue.status.name,
            issue.points,
            issue.project_key,
        )
        assert (row.created, row.updated, row.resolved) == (
            issue.created,
            issue.updated,
            issue.resolution_date,
        )
        assert row.assignee == (issue.assignee.account_id if issue.assignee else None)
        assert row.parent_key == issue.parent_key
        assert row.deleted_at is None
        assert [
            (c.change_id.split(":")[0], c.at, c.from_value, c.to_value)
            for c in statuses.get(issue.id, [])
        ] == [(t.history_id, t.at, t.from_status, t.to_status) for t in issue.status_transitions]
        assert [
            (c.change_id.split(":")[0], c.at, c.from_value, c.to_value)
            for c in estimates.get(issue.id, [])
        ] == [
            (
                e.history_id,
                e.at,
                None if e.from_points is None else repr(float(e.from_points)),
                None if e.to_points is None else repr(float(e.to_points)),
            )
            for e in issue.estimate_changes
        ]
        assert stays.get(issue.id, []) == sorted(
            (s.sprint_id, s.added_at, s.removed_at) for s in issue.sprint_stays
        ), issue.key

    with engine.connect() as conn:
        sprints = {row.external_id: row for row in conn.execute(select(SprintRow))}
    assert set(sprints) == {str(s.id) for s in jira_sandbox.dataset.sprints}
    for sprint in jira_sandbox.dataset.sprints:
        row = sprints[str(sprint.id)]
        assert (row.name, row.state, row.start, row.end, row.completed) == (
            sprint.name,
            sprint.state,
            sprint.start,
            sprint.end,
            sprint.complete,
        )
        assert row.board_external_id == str(sprint.board_id)


def test_full_sync_makes_only_the_calls_it_needs(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """Issue pages + board and sprint pages + one bulk changelog per page with a truncated
    changelog, plus the site metadata cached for a day (fields, /myself), plus the versions
    of each project whose issues name a fix version (all three: their done work ships in
    releases). A first sync needs no census: nothing was stored that could have been
    deleted."""
    summary = run_sync(make_config(jira_sandbox), full=True)
    issues = list(jira_sandbox.dataset.issues)
    pages = [issues[i : i + 100] for i in range(0, len(issues), 100)]
    truncated_pages = sum(1 for page in pages if any(len(i.histories) > 20 for i in page))
    assert truncated_pages >= 1  # the sandbox has changelogs longer than search returns
    scrum_boards = [b for b in jira_sandbox.dataset.boards if b.type == "scrum"]

    calls = Counter(_category(r.path) for r in jira_sandbox.requests)
    assert calls == {
        SEARCH: math.ceil(len(issues) / 100),
        BULK: truncated_pages,
        "boards": 3,  # one page per project
        "sprints": len(scrum_boards),  # kanban boards are not asked
        "/rest/api/2/field": 1,
        "/rest/api/2/myself": 1,
        **{f"/rest/api/2/project/{key}/versions": 1 for key in ("ABC", "DEF", "GHI")},
    }
    assert summary.api_calls == sum(calls.values()) == len(jira_sandbox.requests)
    with engine.connect() as conn:
        run = conn.execute(select(SyncRunRow)).one()
    assert (run.api_calls, run.items_seen, run.items_inserted, run.status, run.full) == (
        summary.api_calls,
        300,
        300,
        "success",
        True,
    )


def test_second_sync_without_changes_makes_two_calls_and_changes_no_row(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = make_config(jira_sandbox)
    assert run_sync(config).status == "success"  # no bookmark yet: a full first run
    before = dump_tables(engine)
    jira_sandbox.reset_log()

    summary = run_sync(config)
    assert summary.status == "success", summary.errors
    assert [(r.method, r.path) for r in jira_sandbox.requests] == [
        ("GET", SEARCH),
        ("POST", COUNT),
    ]
    assert summary.api_calls == 2  # ≤ 2 per project, with three projects
    assert summary.items_seen == 0  # the overlap window's issues were recognised and skipped
    assert (summary.items_inserted, summary.items_updated, summary.items_deleted) == (0, 0, 0)
    assert dump_tables(engine) == before


def test_incremental_sync_fetches_only_what_changed_and_marks_deletions(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """A transition, a re-estimate, a new issue, a deleted issue and one moved out of scope."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    data.clock.advance(minutes=30)
    moved_key, deleted_key = "ABC-9", "GHI-7"
    moved_id, deleted_id = data.issue(moved_key).id, data.issue(deleted_key).id
    open_issue = next(i for i in data.issues if i.status.name == "To Do" and i.project_key == "DEF")
    data.transition(open_issue.key, "In Progress")
    data.clock.advance(minutes=5)
    data.set_estimate(open_issue.key, 8)
    created = data.create_issue("ABC", "Export the portfolio to CSV")
    data.delete_issue(deleted_key)
    data.move_to_project(moved_key, "ZZZ")
    jira_sandbox.reset_log()

    summary = run_sync(config)
    assert summary.status == "success", summary.errors
    assert (summary.items_inserted, summary.items_updated, summary.items_deleted) == (1, 1, 2)
    paths = [r.path for r in jira_sandbox.requests]
    assert paths[0] == SEARCH and paths.count(SEARCH) == 2  # the changes, then the id census
    assert COUNT in paths

    items = stored_items(engine)
    assert items[created.id].key == created.key
    assert items[open_issue.id].status == "In Progress"
    assert items[open_issue.id].estimate == 8.0
    assert items[deleted_id].deleted_at is not None
    assert items[moved_id].deleted_at is not None
    statuses = stored_changes(engine, "status")[open_issue.id]
    assert [(c.from_value, c.to_value) for c in statuses][-1:] == [("To Do", "In Progress")]
    live = [row for row in items.values() if row.deleted_at is None]
    in_scope = [i for i in data.issues if i.project_key in ("ABC", "DEF", "GHI")]
    assert len(live) == len(in_scope) == 299  # 300 + 1 created - 1 deleted - 1 moved out


def test_overlap_window_sees_an_edit_made_in_the_last_minute(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """JQL has minute precision (user's zone): an edit seconds after the last sync is not lost."""
    config = make_config(jira_sandbox)
    run_sync(config)
    data = jira_sandbox.dataset
    first, second = [i for i in data.issues if i.status.name == "To Do"][:2]
    data.clock.advance(seconds=10)
    data.transition(first.key, "In Progress")
    assert run_sync(config).items_updated == 1  # the watermark is now inside this minute
    data.clock.advance(seconds=20)
    data.transition(second.key, "In Progress")
    summary = run_sync(config)
    assert summary.items_updated == 1  # `second`; `first` came back unchanged and was skipped
    assert stored_items(engine)[second.id].status == "In Progress"


def test_run_is_recorded_and_bookmark_survives_a_failed_run(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    config = make_config(jira_sandbox, max_retries=2)
    run_sync(config)
    source_id = store.ensure_source(config.name, "jira", str(config.url))
    bookmark = store.get_bookmark(source_id, "issues")
    before = dump_tables(engine)
    jira_sandbox.inject(path=SEARCH, status=500, times=50)
    summary = run_sync(config)
    assert summary.status == "failed"
    assert any("kept answering HTTP 500" in e for e in summary.errors), summary.errors
    assert store.get_bookmark(source_id, "issues") == bookmark
    assert dump_tables(engine) == before
    last = store.last_run(source_id)
    assert last is not None and (last.status, last.errors) == ("failed", tuple(summary.errors))
