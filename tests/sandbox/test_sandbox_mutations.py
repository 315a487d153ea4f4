"""Mutations of the dataset show up through the API as they would on a live Jira."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jira
import pytest
import requests

from pmo_sync.sandbox.jira.model import FIELD_POINTS, FIELD_SPRINT
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.jira.timeline import USER_TZ


def _keys(client: jira.JIRA, jql: str) -> list[str]:
    return [i.key for i in client.enhanced_search_issues(jql, maxResults=0, fields="key")]


def _changelog(sandbox: JiraSandbox, key: str) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    start = 0
    while True:
        page = requests.get(
            f"{sandbox.url}/rest/api/2/issue/{key}/changelog",
            params={"startAt": start},
            auth=sandbox.basic_auth,
            timeout=10,
        )
        page.raise_for_status()
        values += page.json()["values"]
        if page.json()["isLast"]:
            return values
        start += 100


@pytest.fixture
def fresh_client(fresh: JiraSandbox, connect: Callable[..., jira.JIRA]) -> jira.JIRA:
    return connect(fresh)


def test_updated_is_compared_in_the_users_time_zone(
    fresh: JiraSandbox, fresh_client: jira.JIRA
) -> None:
    """An update at 03:45 UTC is 22:45 the evening before in New York, where JQL reads dates."""
    ds = fresh.dataset
    ds.clock.set(datetime(2026, 11, 21, 3, 45, tzinfo=UTC))
    history = ds.transition(
        "ABC-3", "Won't Do" if ds.issue("ABC-3").status.name != "Won't Do" else "To Do"
    )
    assert history.created == datetime(2026, 11, 21, 3, 45, tzinfo=UTC)
    assert _keys(fresh_client, 'project = ABC AND updated >= "2026/11/20 22:45"') == ["ABC-3"]
    assert _keys(fresh_client, 'project = ABC AND updated > "2026/11/20 22:45"') == []
    assert _keys(fresh_client, 'project = ABC AND updated >= "2026/11/21 00:00"') == []
    assert _keys(fresh_client, 'project = ABC AND updated >= "2026-11-20 22:00"') == ["ABC-3"]
    assert _keys(fresh_client, "project = ABC AND updated >= -1h") == ["ABC-3"]


def test_transition_estimate_and_sprint_moves(fresh: JiraSandbox, fresh_client: jira.JIRA) -> None:
    """Each mutation appends a real history, moves `updated` and changes search results."""
    ds = fresh.dataset
    issue = next(
        i
        for i in ds.issues
        if i.key.startswith("DEF")
        and i.status.name == "To Do"
        and i.issue_type.name in ("Story", "Bug", "Task")
        and not i.sprint_ids
        and i.points != 8
    )
    key = issue.key
    before = len(issue.histories)
    active = next(s for s in ds.board_sprints(2) if s.state == "active")
    future = next(s for s in ds.board_sprints(2) if s.state == "future")
    ds.clock.advance(minutes=5)
    start = ds.clock.now
    ds.add_to_sprint(key, future.id)
    ds.clock.advance(minutes=1)
    ds.add_to_sprint(key, active.id)
    ds.clock.advance(minutes=1)
    ds.transition(key, "In Progress")
    ds.clock.advance(minutes=1)
    ds.set_estimate(key, 8)
    ds.clock.advance(minutes=1)
    ds.remove_from_sprint(key)
    issue = ds.issue(key)
    assert len(issue.histories) == before + 5
    assert issue.status_transitions[-1][2:] == ("To Do", "In Progress")
    assert issue.estimate_changes[-1].to_points == 8
    assert issue.sprint_stays[-2:] == [
        (future.id, start, start.replace(minute=start.minute + 1)),
        (active.id, start.replace(minute=start.minute + 1), ds.clock.now),
    ]
    stamp = start.astimezone(USER_TZ)
    assert _keys(fresh_client, f'project = DEF AND updated >= "{stamp:%Y/%m/%d %H:%M}"') == [key]
    raw = fresh_client.enhanced_search_issues(
        f"key = {key}", json_result=True, fields=["status", FIELD_POINTS, FIELD_SPRINT]
    )
    fields = raw["issues"][0]["fields"]
    assert fields["status"]["name"] == "In Progress"
    assert fields[FIELD_POINTS] == 8
    closed_before = [s for s in issue.sprint_ids]
    assert [s["id"] for s in fields[FIELD_SPRINT] or []] == closed_before
    items = [h["items"] for h in _changelog(fresh, key)[-5:]]
    sprint_moves = [(i["from"], i["to"]) for h in items for i in h if i["field"] == "Sprint"]
    base = ", ".join(str(s) for s in closed_before)
    with_future = ", ".join(filter(None, [base, str(future.id)]))
    with_active = ", ".join(filter(None, [base, str(active.id)]))
    assert sprint_moves == [(base, with_future), (with_future, with_active), (with_active, base)]


def test_created_issue_appears_without_history(fresh: JiraSandbox, fresh_client: jira.JIRA) -> None:
    """create_issue adds the next key, with initial values and an empty changelog."""
    ds = fresh.dataset
    sprint = next(s for s in ds.board_sprints(1) if s.state == "active")
    created = ds.create_issue("ABC", "Brand new story", points=3, sprint_id=sprint.id)
    assert created.key == "ABC-101" and created.id == "10301"
    assert _keys(fresh_client, "project = ABC ORDER BY key DESC")[0] == "ABC-101"
    assert _changelog(fresh, "ABC-101") == []
    assert created.sprint_stays == [(sprint.id, created.created, None)]
    assert fresh_client.approximate_issue_count("project = ABC") == 101


def test_deleted_issue_disappears_everywhere(fresh: JiraSandbox, fresh_client: jira.JIRA) -> None:
    """A deleted issue leaves search, count, changelog and bulkfetch."""
    ds = fresh.dataset
    victim = ds.issue("GHI-10")
    ds.delete_issue("GHI-10")
    keys = _keys(fresh_client, "project = GHI")
    assert "GHI-10" not in keys and len(keys) == 99
    assert fresh_client.approximate_issue_count("project = GHI") == 99
    response = requests.get(
        f"{fresh.url}/rest/api/2/issue/GHI-10/changelog", auth=fresh.basic_auth, timeout=10
    )
    assert response.status_code == 404
    bulk = requests.post(
        f"{fresh.url}/rest/api/3/changelog/bulkfetch",
        auth=fresh.basic_auth,
        json={"issueIdsOrKeys": [victim.id, "GHI-11"]},
        timeout=10,
    ).json()
    assert [log["issueId"] for log in bulk["issueChangeLogs"]] == [ds.issue("GHI-11").id]
    with pytest.raises(KeyError):
        ds.issue("GHI-10")


def test_moved_issue_leaves_the_scope(fresh: JiraSandbox, fresh_client: jira.JIRA) -> None:
    """move_to_project gives a new key in the new project, same id, and logs it."""
    ds = fresh.dataset
    old = ds.issue("DEF-20")
    issue_id = old.id
    moved = ds.move_to_project("DEF-20", "ZZZ")
    assert moved.key == "ZZZ-1" and moved.id == issue_id
    assert "DEF-20" not in _keys(fresh_client, "project in (ABC, DEF)")
    found = fresh_client.enhanced_search_issues("project = ZZZ", json_result=True, fields="key")
    assert found["issues"] == [
        {"id": issue_id, "self": f"{fresh.url}/rest/api/2/issue/{issue_id}", "key": "ZZZ-1"}
    ]
    last = _changelog(fresh, "DEF-20")[-1]  # the old key still resolves, like Jira's redirect
    assert [(i["field"], i["fromString"], i["toString"]) for i in last["items"]] == [
        ("project", "Beacon Payments", "ZZZ"),
        ("Key", "DEF-20", "ZZZ-1"),
    ]


def test_closing_and_starting_sprints(fresh: JiraSandbox, fresh_client: jira.JIRA) -> None:
    """close_sprint carries unfinished items to the next sprint; start_sprint activates it."""
    ds = fresh.dataset
    active, future = [s for s in ds.board_sprints(1) if s.state in ("active", "future")]
    members = [i for i in ds.issues if active.id in i.sprint_ids]
    unfinished = sorted(i.key for i in members if not i.status.is_done)
    assert unfinished and len(unfinished) < len(members)
    closed_at = ds.clock.advance(days=7)
    moved = ds.close_sprint(active.id)
    assert sorted(moved) == unfinished
    for key in unfinished:
        issue = ds.issue(key)
        assert issue.sprint_ids[-2:] == [active.id, future.id]
        assert issue.sprint_stays[-1] == (future.id, ds.clock.now, None)
    ds.clock.advance(minutes=30)
    ds.start_sprint(future.id)
    states = {s.id: s.state for s in fresh_client.sprints(1, maxResults=False)}
    assert states[active.id] == "closed" and states[future.id] == "active"
    assert fresh_client.sprint(active.id).raw["completeDate"] == "2026-11-27T12:00:00.000Z"
    assert closed_at == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    started = fresh_client.sprint(future.id).raw
    assert (started["startDate"], started["endDate"]) == (
        "2026-11-27T12:30:00.000Z",
        "2026-12-11T12:30:00.000Z",
    )


def test_incremental_window_sees_exactly_the_changes(
    fresh: JiraSandbox, fresh_client: jira.JIRA
) -> None:
    """A bounded `updated >=` query after a few mutations returns just those issues."""
    ds = fresh.dataset
    ds.clock.advance(hours=2)
    mark = ds.clock.now.astimezone(USER_TZ)
    assert ds.set_estimate("ABC-5", ds.issue("ABC-5").points) is None  # no change, no history
    ds.set_estimate("ABC-5", 1 if ds.issue("ABC-5").points != 1 else 2)
    ds.clock.advance(minutes=3)
    ds.edit("GHI-8", summary="Renamed by the PO")
    ds.clock.advance(minutes=3)
    ds.set_flagged("DEF-9", not ds.issue("DEF-9").flagged)
    jql = f'project in (ABC, DEF, GHI) AND updated >= "{mark:%Y/%m/%d %H:%M}" ORDER BY key'
    assert _keys(fresh_client, jql) == ["ABC-5", "DEF-9", "GHI-8"]
