"""The sandbox Jira's portfolio fields, as Jira's API shows them: only on issues a test gives
them, so the generated dataset's JSON is what it always was."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from pmo_sync.sandbox.jira.server import JiraSandbox

FIELDS = "summary,duedate,priority,fixVersions,issuelinks,customfield_10019"


def _get(sandbox: JiraSandbox, path: str, **params: Any) -> Any:
    response = requests.get(
        f"{sandbox.url}{path}", params=params, auth=sandbox.basic_auth, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def _made_here(sandbox: JiraSandbox, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions a test made: the generated releases ("ABC 1.0", ...) left out."""
    generated = sandbox.dataset.generated_version_ids
    return [v for v in listed if v["id"] not in generated]


def _fields(sandbox: JiraSandbox, key: str) -> dict[str, Any]:
    found = _get(sandbox, "/rest/api/3/search/jql", jql=f"key = {key}", fields=FIELDS)
    return found["issues"][0]["fields"]


def test_portfolio_fields_changelog_and_versions(fresh: JiraSandbox) -> None:
    data = fresh.dataset
    first, second = [
        i
        for i in data.issues
        if i.project_key == "ABC"
        and i.issue_type.name != "Epic"  # a generated epic has a rank (and a due date)
        and not i.fix_version_ids
        and not i.links
    ][:2]
    untouched = _fields(fresh, first.key)
    assert set(untouched) == {"summary"}  # no due date, priority, version, link or rank
    release = data.add_version("ABC", "2026.1", start_date=date(2026, 1, 5), released=True)
    data.set_due_date(first.key, date(2026, 4, 15))
    slip = data.set_due_date(first.key, date(2026, 4, 30))
    data.set_priority(first.key, "High")
    data.set_rank(first.key, "0|i0000f:")
    data.set_fix_versions(first.key, [release.id])
    link_id = data.link(first.key, second.key)
    api = f"{fresh.url}/rest/api/3"

    fields = _fields(fresh, first.key)
    assert fields["duedate"] == "2026-04-30"
    assert fields["priority"] == {
        "self": f"{api}/priority/2",
        "iconUrl": f"{fresh.url}/images/icons/priorities/high.svg",
        "name": "High",
        "id": "2",
    }
    assert fields["customfield_10019"] == "0|i0000f:"
    assert fields["fixVersions"] == [{
        "self": f"{api}/version/{release.id}", "id": release.id, "description": "",
        "name": "2026.1", "archived": False, "released": True,
    }]  # fmt: skip
    blocks = {
        "id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks",
        "self": f"{api}/issueLinkType/10000",
    }  # fmt: skip
    (link,) = fields["issuelinks"]
    assert (link["id"], link["type"], link["outwardIssue"]["key"]) == (link_id, blocks, second.key)
    (back,) = _fields(fresh, second.key)["issuelinks"]
    assert (back["id"], back["inwardIssue"]["key"], "outwardIssue" in back) == (
        link_id, first.key, False,
    )  # fmt: skip

    assert slip is not None
    item = next(i for i in slip.items if i.field_id == "duedate")
    assert (item.from_value, item.from_string, item.to_value, item.to_string) == (
        "2026-04-15", "2026-04-15 00:00:00.0", "2026-04-30", "2026-04-30 00:00:00.0",
    )  # fmt: skip
    assert _made_here(fresh, _get(fresh, "/rest/api/3/project/ABC/versions")) == [{
        "self": f"{api}/version/{release.id}", "id": release.id, "description": "",
        "name": "2026.1", "archived": False, "released": True, "startDate": "2026-01-05",
        "projectId": int(data.project("ABC").id),
    }]  # fmt: skip
    assert _made_here(fresh, _get(fresh, "/rest/api/3/project/DEF/versions")) == []
    missing = requests.get(
        f"{fresh.url}/rest/api/3/project/NOPE/versions", auth=fresh.basic_auth, timeout=10
    )
    assert missing.status_code == 404
    field_ids = {f["id"] for f in _get(fresh, "/rest/api/3/field")}
    assert {"duedate", "priority", "fixVersions", "issuelinks", "customfield_10019"} <= field_ids


def test_an_initiative_level_above_epic_once_an_admin_adds_it(fresh: JiraSandbox) -> None:
    """A new site has no level above Epic; Advanced Roadmaps' "Initiative" (hierarchy level
    2), once added, is a type of every project, its issues are found by type, and an epic
    names its initiative as `parent`."""
    data = fresh.dataset
    types = [t["name"] for t in _get(fresh, "/rest/api/3/project/ABC")["issueTypes"]]
    assert types == ["Epic", "Story", "Task", "Bug", "Sub-task"]
    assert data.issue_types == types
    with pytest.raises(KeyError):
        data.create_issue("ABC", "Grow checkout conversion", issue_type="Initiative")

    added = data.add_hierarchy_level("Initiative")
    assert (added.name, added.hierarchy_level) == ("Initiative", 2)
    types = [t["name"] for t in _get(fresh, "/rest/api/3/project/ABC")["issueTypes"]]
    assert types == ["Epic", "Story", "Task", "Bug", "Sub-task", "Initiative"]
    initiative = data.create_issue("ABC", "Grow checkout conversion", issue_type="Initiative")
    epic = data.create_issue("DEF", "Saved payments", issue_type="Epic", parent_key=initiative.key)
    api = f"{fresh.url}/rest/api/3"
    found = _get(fresh, "/rest/api/3/search/jql", jql="issuetype = Initiative", fields="issuetype")
    assert [(i["key"], i["fields"]["issuetype"]) for i in found["issues"]] == [
        (initiative.key, {"self": f"{api}/issuetype/10005", "id": "10005",
                          "name": "Initiative", "subtask": False, "hierarchyLevel": 2}),
    ]  # fmt: skip
    parent = _get(fresh, "/rest/api/3/search/jql", jql=f"key = {epic.key}", fields="parent")
    assert parent["issues"][0]["fields"]["parent"] == {
        "id": initiative.id, "key": initiative.key, "self": f"{api}/issue/{initiative.id}",
    }  # fmt: skip


def test_releasing_a_version_sets_its_release_day_and_flag(fresh: JiraSandbox) -> None:
    """Jira's "Release": `released` becomes true, the release date the day it shipped (or
    the planned one when none is given); issues naming the version show it released, and
    their `updated` does not move."""
    data = fresh.dataset
    planned = data.add_version("ABC", "2026.1", release_date=date(2026, 12, 1))
    on_time = data.add_version("ABC", "2026.2", release_date=date(2026, 12, 15))
    issue = next(i for i in data.issues if i.project_key == "ABC")
    data.set_fix_versions(issue.key, [planned.id])
    updated = data.issue(issue.key).updated

    shipped = data.release_version(planned.id, release_date=date(2026, 12, 4))
    assert (shipped.released, shipped.release_date) == (True, date(2026, 12, 4))
    assert data.release_version(on_time.id).release_date == date(2026, 12, 15)
    listed = _made_here(fresh, _get(fresh, "/rest/api/3/project/ABC/versions"))
    assert [(v["name"], v["releaseDate"], v["released"]) for v in listed] == [
        ("2026.1", "2026-12-04", True), ("2026.2", "2026-12-15", True),
    ]  # fmt: skip
    (fix,) = _fields(fresh, issue.key)["fixVersions"]
    assert (fix["releaseDate"], fix["released"]) == ("2026-12-04", True)
    assert data.issue(issue.key).updated == updated


def test_a_parent_must_sit_one_level_up(fresh: JiraSandbox) -> None:
    """As in Jira: a story's parent is an epic, an epic's an initiative, a sub-task's a
    story; any other parent is refused with Jira's message and nothing is made."""
    data = fresh.dataset
    data.add_hierarchy_level("Initiative")
    initiative = data.create_issue("ABC", "Grow", issue_type="Initiative")
    epic = data.create_issue("ABC", "Checkout", issue_type="Epic", parent_key=initiative.key)
    story = data.create_issue("DEF", "Vault", parent_key=epic.key)
    data.create_issue("DEF", "Endpoint", issue_type="Sub-task", parent_key=story.key)
    count = len(data.issues)
    for issue_type, parent in (("Story", initiative), ("Epic", story), ("Sub-task", epic)):
        with pytest.raises(
            ValueError, match=r"^Given parent issue does not belong to appropriate hierarchy\.$"
        ):
            data.create_issue("ABC", "Misplaced", issue_type=issue_type, parent_key=parent.key)
    assert len(data.issues) == count
