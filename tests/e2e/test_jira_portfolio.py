"""The portfolio facts of a Jira sync, stored row by row: levels, due dates and their slips,
priority, rank, fix versions and releases, dependency links across projects (one to an issue
outside the JQL), on the sandbox with a few issues given those fields."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select

from connectors.jira import JiraConfig
from pmo_sync.domain import ChangeField
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.models import ItemReleaseRow, WorkItemRow
from pmo_sync.store.portfolio import (
    DateChange,
    ItemLinks,
    StoredLink,
    StoredRelease,
    date_history,
    item_links,
    parent_chain,
    source_releases,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary

from ..schema_helpers import stored_items

JQL = "project in (ABC, DEF)"  # GHI is out of scope: a link to it is kept with its key
SEARCH = "/rest/api/2/search/jql"
COUNT = "/rest/api/2/search/approximate-count"


@pytest.fixture
def jira_sandbox() -> Iterator[JiraSandbox]:
    """The default site without its generated releases: these tests make every version, to
    see which projects' versions a sync reads and what it keeps of them."""
    with JiraSandbox(JiraDataset.generate(releases=False)) as sandbox:
        yield sandbox


def _versions_calls(sandbox: JiraSandbox) -> list[str]:
    return [r.path for r in sandbox.requests if r.path.endswith("/versions")]


def _releases_of(engine: Engine) -> dict[str, set[str]]:
    query = select(WorkItemRow.key, ItemReleaseRow.release_external_id).join(
        WorkItemRow, WorkItemRow.id == ItemReleaseRow.item_id
    )
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for key, release in conn.execute(query):
            found.setdefault(key, set()).add(release)
    return found


def test_a_full_then_an_incremental_sync_store_every_portfolio_fact(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    data = jira_sandbox.dataset
    shipped = data.add_version(
        "ABC", "2026.1", start_date=date(2026, 1, 5), release_date=date(2026, 2, 27),
        released=True,
    )  # fmt: skip
    undated = data.add_version("ABC", "2026.2")  # a version without a date
    old = data.add_version("DEF", "D-1", release_date=date(2026, 3, 31), archived=True)
    story = next(i for i in data.issues if i.project_key == "ABC" and i.parent_key)
    other = next(i for i in data.issues if i.project_key == "ABC" and i.key != story.key)
    blocked = next(i for i in data.issues if i.project_key == "DEF")
    outside = next(i for i in data.issues if i.project_key == "GHI")
    data.clock.advance(minutes=5)
    first_due = data.set_due_date(story.key, date(2026, 4, 15))
    data.clock.advance(minutes=5)
    slip = data.set_due_date(story.key, date(2026, 4, 30))  # it moved later
    data.set_priority(story.key, "High")
    data.set_rank(story.key, "0|i0000f:")
    data.set_rank(other.key, "0|i0000a:")
    data.set_fix_versions(story.key, [shipped.id, undated.id])
    data.link(story.key, blocked.key)  # story blocks an issue of another project
    data.link(outside.key, other.key)  # other is blocked by an issue outside the JQL
    data.link(story.key, other.key, "Relates")  # not a dependency type: not stored
    assert first_due is not None and slip is not None

    config = make_config(jira_sandbox, jql=JQL)
    summary = run_sync(config, full=True)
    assert summary.status == "success", summary.errors
    source_id = store.ensure_source(config.name, "jira", str(config.url))
    # only ABC plans releases (an issue names a fix version): its versions, one call
    assert _versions_calls(jira_sandbox) == ["/rest/api/2/project/ABC/versions"]

    items = stored_items(engine)
    row = items[story.id]
    assert (row.due_date, row.priority, row.rank, row.level) == (
        date(2026, 4, 30), "High", "0|i0000f:", "story" if story.issue_type.name != "Task"
        else "task",
    )  # fmt: skip
    assert (row.start_date, row.target_start, row.target_end) == (None, None, None)
    assert (items[other.id].rank, items[other.id].priority) == ("0|i0000a:", None)
    touched = {story.id, other.id, blocked.id}
    for issue in data.issues:
        if issue.project_key == "GHI":
            continue
        stored = items[issue.id]
        level = {"Epic": "epic", "Sub-task": "subtask", "Task": "task"}.get(
            issue.issue_type.name, "story"
        )
        assert stored.level == level, issue.key
        assert stored.parent_key == issue.parent_key, issue.key
        if issue.id not in touched:  # as generated: due dates and ranks on the epics only
            assert (stored.due_date, stored.priority, stored.rank) == (
                issue.due_date,
                issue.priority,
                issue.rank,
            ), issue.key
    chain = parent_chain(engine, source_id, story.key)
    assert [c.key for c in chain][:1] == [story.parent_key]

    at = [first_due.created, slip.created]
    author = first_due.author.account_id
    assert date_history(engine, source_id, story.key) == [
        DateChange(ChangeField.DUE_DATE, at[0], None, date(2026, 4, 15), author),
        DateChange(ChangeField.DUE_DATE, at[1], date(2026, 4, 15), date(2026, 4, 30), author),
    ]
    assert [(c.from_day, c.to_day) for c in data.issue(story.key).due_date_changes] == [
        (None, date(2026, 4, 15)),
        (date(2026, 4, 15), date(2026, 4, 30)),
    ]  # the sandbox's own truth says the same

    assert source_releases(engine, source_id) == [
        StoredRelease(
            shipped.id, "2026.1", "ABC", date(2026, 1, 5), date(2026, 2, 27), True, False
        ),
        StoredRelease(undated.id, "2026.2", "ABC", None, None, False, False),
    ]  # fmt: skip (DEF's D-1: no DEF issue plans a release yet, so DEF is not read)
    assert _releases_of(engine) == {story.key: {shipped.id, undated.id}}

    blocks = StoredLink(story.key, "blocks", "outward", blocked.key, blocked.id)
    blocked_by = StoredLink(blocked.key, "is blocked by", "inward", story.key, story.id)
    assert item_links(engine, source_id, story.key).own == (blocks,)
    assert item_links(engine, source_id, blocked.key).own == (blocked_by,)
    assert item_links(engine, source_id, other.key).own == (
        StoredLink(other.key, "is blocked by", "inward", outside.key, outside.id),
    )
    assert outside.id not in items  # out of scope: kept by its key only on the link

    # Incremental: the due date slips again and a DEF issue joins a release made since: DEF
    # plans releases from now on, so its versions are read, once (D-1 and D-2).
    data.clock.advance(minutes=30)
    late = data.add_version("DEF", "D-2", release_date=date(2026, 6, 30))
    again = data.set_due_date(story.key, date(2026, 5, 20))
    data.set_fix_versions(blocked.key, [late.id])
    assert again is not None
    jira_sandbox.reset_log()
    summary = run_sync(config)
    assert summary.status == "success", summary.errors
    assert summary.items_updated == 2
    assert _versions_calls(jira_sandbox) == ["/rest/api/2/project/DEF/versions"]
    assert [r.path for r in jira_sandbox.requests].count(SEARCH) == 1
    assert stored_items(engine)[story.id].due_date == date(2026, 5, 20)
    assert date_history(engine, source_id, story.key)[-1] == DateChange(
        ChangeField.DUE_DATE, again.created, date(2026, 4, 30), date(2026, 5, 20), author
    )
    # Not released: each version's date is its plan; 2026.2 has none.
    assert source_releases(engine, source_id)[1:] == [
        StoredRelease(old.id, "D-1", "DEF", None, date(2026, 3, 31), False, True,
                      date(2026, 3, 31)),
        StoredRelease(late.id, "D-2", "DEF", None, date(2026, 6, 30), False, False,
                      date(2026, 6, 30)),
        StoredRelease(undated.id, "2026.2", "ABC", None, None, False, False),
    ]  # fmt: skip
    assert _releases_of(engine)[blocked.key] == {late.id}
    assert item_links(engine, source_id, story.key).own == (blocks,)  # unchanged, kept

    # Unchanged: the calls of any unchanged sync (the search, the count), no versions call;
    # the story's release keeps the start date the listing gave, though its fixVersions
    # (which leave it out) come again with the next change.
    jira_sandbox.reset_log()
    assert run_sync(config).items_updated == 0
    assert [r.path for r in jira_sandbox.requests] == [SEARCH, COUNT]
    data.clock.advance(minutes=30)
    data.set_priority(story.key, "Highest")
    run_sync(config)
    assert source_releases(engine, source_id)[0].start_date == date(2026, 1, 5)


def test_a_version_released_late_keeps_the_plan_it_had_before_its_date_moved(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    """Jira keeps one date per version. 2026.3 is read planned for 31 Mar, then released on
    9 Apr with its date moved to that day (Jira's "Release" dialog): the store keeps the plan,
    31 Mar, beside the ship day, 9 Apr (nine days late), after the incremental sync that
    reads it again through its issue and after a full sync that lists it. 2026.1 was
    released before any sync read it: its plan is unknown."""
    data = jira_sandbox.dataset
    planned = data.add_version("ABC", "2026.3", release_date=date(2026, 3, 31))
    before = data.add_version("ABC", "2026.1", release_date=date(2026, 1, 30), released=True)
    story = next(i for i in data.issues if i.project_key == "ABC")
    data.clock.advance(minutes=5)
    data.set_fix_versions(story.key, [planned.id, before.id])

    config = make_config(jira_sandbox, jql=JQL)
    assert run_sync(config, full=True).status == "success"
    source_id = store.ensure_source(config.name, "jira", str(config.url))
    assert source_releases(engine, source_id) == [
        StoredRelease(before.id, "2026.1", "ABC", None, date(2026, 1, 30), True, False, None),
        StoredRelease(planned.id, "2026.3", "ABC", None, date(2026, 3, 31), False, False,
                      date(2026, 3, 31)),
    ]  # fmt: skip
    assert store.get_bookmark(source_id, "releases")["plans"] == {planned.id: "2026-03-31"}

    data.clock.advance(minutes=30)
    data.release_version(planned.id, release_date=date(2026, 4, 9))
    data.set_priority(story.key, "High")  # the story comes again, with its fixVersions
    assert run_sync(config).status == "success"
    shipped = StoredRelease(
        planned.id, "2026.3", "ABC", None, date(2026, 4, 9), True, False, date(2026, 3, 31)
    )
    assert source_releases(engine, source_id)[1] == shipped
    assert run_sync(config, full=True).status == "success"  # the listing says it too
    assert source_releases(engine, source_id)[1] == shipped
    assert store.get_bookmark(source_id, "releases")["plans"] == {planned.id: "2026-03-31"}


def test_versions_that_cannot_be_read_fail_nothing(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    """A project whose versions Jira refuses (404) is logged and skipped: the sync succeeds,
    the other project's versions are stored, and the versions the issues name still come
    with them (without the start date only the listing tells)."""
    data = jira_sandbox.dataset
    named = data.add_version("ABC", "2026.1", start_date=date(2026, 1, 5), released=True)
    data.add_version("ABC", "never named")
    listed = data.add_version("DEF", "D-1", start_date=date(2026, 2, 2))
    story = next(i for i in data.issues if i.project_key == "ABC")
    planned = next(i for i in data.issues if i.project_key == "DEF")
    data.clock.advance(minutes=5)
    data.set_fix_versions(story.key, [named.id])
    data.set_fix_versions(planned.key, [listed.id])
    jira_sandbox.inject(path=r"/project/ABC/versions$", status=404)

    config = make_config(jira_sandbox, jql=JQL)
    summary = run_sync(config, full=True)
    assert (summary.status, summary.errors) == ("success", [])
    source_id = store.ensure_source(config.name, "jira", str(config.url))
    assert source_releases(engine, source_id) == [
        StoredRelease(named.id, "2026.1", "ABC", None, None, True, False),
        StoredRelease(listed.id, "D-1", "DEF", date(2026, 2, 2), None, False, False),
    ]
    assert _releases_of(engine) == {story.key: {named.id}, planned.key: {listed.id}}


def test_a_link_to_an_issue_deleted_since_stays_by_its_key_until_the_issue_is_read_again(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    """Jira drops a deleted issue's links from the issues it was linked to without editing
    them, so an incremental sync cannot see the link go: the census marks the blocker
    deleted, the waiting issue keeps its link by the blocker's key (never a failed sync, no
    row lost), and the next read of the waiting issue (here a full sync) stores what Jira
    shows now: no link."""
    data = jira_sandbox.dataset
    waiting, blocker = [i for i in data.issues if i.project_key == "ABC"][2:4]
    data.clock.advance(minutes=5)
    data.link(blocker.key, waiting.key)
    config = make_config(jira_sandbox, jql=JQL)
    assert run_sync(config, full=True).status == "success"
    source_id = store.ensure_source(config.name, "jira", str(config.url))
    link = StoredLink(waiting.key, "is blocked by", "inward", blocker.key, blocker.id)
    assert item_links(engine, source_id, waiting.key).own == (link,)

    data.clock.advance(minutes=30)
    data.delete_issue(blocker.key)
    summary = run_sync(config)
    assert summary.status == "success", summary.errors
    assert (summary.items_updated, summary.items_deleted) == (0, 1)
    items = stored_items(engine)
    assert items[blocker.id].deleted_at is not None
    assert item_links(engine, source_id, waiting.key).own == (link,)  # kept, by its key
    # the deleted issue's own links are not read (only live items link); the waiting
    # issue's link still names it, and the store tells it is deleted (its row says so)
    assert item_links(engine, source_id, blocker.key) == ItemLinks((), (link,))

    summary = run_sync(config, full=True)
    assert summary.status == "success", summary.errors
    assert item_links(engine, source_id, waiting.key).own == ()
