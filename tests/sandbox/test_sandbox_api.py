"""The sandbox Jira Cloud API, driven by the real `jira` client (read-only tests)."""

from __future__ import annotations

import json
from typing import Any

import jira
import pytest
import requests

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.model import FIELD_FLAGGED, FIELD_POINTS, FIELD_SPRINT
from pmo_sync.sandbox.jira.render import jira_time
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.jira.timeline import USER_TZ

JSON = "application/json;charset=UTF-8"


def _get(sandbox: JiraSandbox, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{sandbox.url}{path}", params=params, auth=sandbox.basic_auth, timeout=10)


def _post(sandbox: JiraSandbox, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sandbox.url}{path}", json=body, auth=sandbox.basic_auth, timeout=10)


def _long_issue(dataset: JiraDataset):
    return next(i for i in dataset.issues if len(i.histories) > 120 and i.project_key == "ABC")


def test_server_info_and_myself(client: jira.JIRA, sandbox: JiraSandbox) -> None:
    """Cloud server info and the API user in America/New_York."""
    info = client.server_info()
    assert info["deploymentType"] == "Cloud"
    assert info["versionNumbers"] == [1001, 0, 0]
    assert info["version"] == "1001.0.0-SNAPSHOT"
    assert info["buildNumber"] == 100001 and info["serverTitle"] == "Sandbox Jira"
    assert info["baseUrl"] == sandbox.url
    me = client.myself()
    assert me["emailAddress"] == "pmo-bot@acme.example"
    assert me["timeZone"] == "America/New_York" and me["active"] is True
    assert len(me["accountId"]) == 24
    response = _get(sandbox, "/rest/api/2/myself")
    assert response.headers["Content-Type"] == JSON


def test_enhanced_search_fetches_every_page(client: jira.JIRA, dataset: JiraDataset) -> None:
    """maxResults=0 pages through nextPageToken and returns exactly the ABC and DEF issues."""
    issues = client.enhanced_search_issues("project in (ABC, DEF) ORDER BY key", maxResults=0)
    expected = [i.key for i in dataset.issues if i.project_key in ("ABC", "DEF")]
    expected.sort(key=lambda k: (k.split("-")[0], int(k.split("-")[1])))
    assert [i.key for i in issues] == expected
    assert len(issues) == 200


def test_issue_fields_match_the_dataset(client: jira.JIRA, dataset: JiraDataset) -> None:
    """Every field the connector reads carries the dataset's current value."""
    found = client.enhanced_search_issues("project = DEF ORDER BY created", maxResults=0)
    by_key = {i.key: i.raw for i in found}
    for issue in dataset.issues:
        if issue.project_key != "DEF":
            continue
        raw = by_key[issue.key]
        fields = raw["fields"]
        assert raw["id"] == issue.id
        assert fields["summary"] == issue.summary
        assert fields["status"]["id"] == issue.status.id
        assert fields["status"]["statusCategory"]["key"] == issue.status.category.key
        assert fields["issuetype"]["name"] == issue.issue_type.name
        assert fields["project"]["key"] == "DEF"
        assert fields["created"] == jira_time(issue.created)
        assert fields["updated"] == jira_time(issue.updated)
        assert fields[FIELD_POINTS] == issue.points
        sprint_ids = [s["id"] for s in fields[FIELD_SPRINT] or []]
        assert sprint_ids == issue.sprint_ids
        assert (fields[FIELD_FLAGGED] is not None) == issue.flagged
        assignee = fields["assignee"]
        assert (assignee and assignee["accountId"]) == (
            issue.assignee and issue.assignee.account_id
        )
        assert fields["labels"] == issue.labels
        assert fields.get("parent", {}).get("key") == issue.parent_key
        assert (fields["resolutiondate"] is None) == (issue.resolution_date is None)


def test_search_page_has_no_total_and_tokens_belong_to_their_query(
    client: jira.JIRA, sandbox: JiraSandbox
) -> None:
    """search/jql pages carry isLast and nextPageToken but no total; a foreign token is a 400."""
    page = client.enhanced_search_issues(
        "project = ABC ORDER BY key", json_result=True, fields="id", maxResults=30
    )
    assert set(page) == {"issues", "nextPageToken", "isLast"}
    assert page["isLast"] is False and len(page["issues"]) == 30
    assert all("fields" not in i for i in page["issues"])
    assert page["issues"][0]["id"] == "10001"
    with pytest.raises(jira.JIRAError) as err:
        client.enhanced_search_issues(
            "project = DEF", nextPageToken=page["nextPageToken"], json_result=True, fields="id"
        )
    assert err.value.status_code == 400
    ids_only = _get(
        sandbox, "/rest/api/3/search/jql", jql="project = GHI", fields="id", maxResults=1000
    ).json()
    assert len(ids_only["issues"]) == 100 and ids_only["isLast"] is True
    assert "nextPageToken" not in ids_only
    assert ids_only["issues"][0] == {"id": "10003"}
    default = _get(sandbox, "/rest/api/3/search/jql", jql="project = GHI", maxResults=1000).json()
    # No fields parameter means id only, and so the 5000 cap: all 100 in one page.
    assert len(default["issues"]) == 100 and default["issues"][0] == {"id": "10003"}
    capped = _get(
        sandbox, "/rest/api/3/search/jql", jql="project = GHI", fields="summary", maxResults=1000
    ).json()
    assert len(capped["issues"]) == 100


def test_post_search_and_approximate_count(client: jira.JIRA, sandbox: JiraSandbox) -> None:
    """POST search/jql takes a JSON body; approximate-count counts the same query."""
    body = {"jql": "project in (ABC, GHI)", "fields": ["key", "status"], "maxResults": 150}
    page = _post(sandbox, "/rest/api/3/search/jql", body).json()
    assert len(page["issues"]) == 100 and page["issues"][0]["fields"]["status"]["name"]
    body["nextPageToken"] = page["nextPageToken"]
    rest = _post(sandbox, "/rest/api/3/search/jql", body)
    assert len(rest.json()["issues"]) == 100 and rest.json()["isLast"] is True
    assert client.approximate_issue_count("project in (ABC, GHI)") == 200


def test_unbounded_jql_is_refused(client: jira.JIRA) -> None:
    """Only ORDER BY: 400 with Jira Cloud's exact message."""
    with pytest.raises(jira.JIRAError) as err:
        client.enhanced_search_issues("ORDER BY key", json_result=True, maxResults=5)
    assert err.value.status_code == 400
    assert json.loads(err.value.response.text) == {
        "errorMessages": [
            "Unbounded JQL queries are not allowed here. Please add a search restriction to "
            "your query."
        ],
        "errors": {},
    }


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("sprint = 3", "Field 'sprint' does not exist or you do not have permission to view it."),
        ("project = XYZ", "The value 'XYZ' does not exist for the field 'project'."),
        (
            "project = ABC ORDER BY rank",
            "Field 'rank' does not exist or you do not have permission to view it.",
        ),
        ("updated >= 'yesterday'", "Date value 'yesterday' for field 'updated' is invalid."),
    ],
)
def test_jql_errors(sandbox: JiraSandbox, jql: str, message: str) -> None:
    """Unsupported fields, unknown projects and bad dates are 400s, as on Jira."""
    response = _get(sandbox, "/rest/api/3/search/jql", jql=jql)
    assert response.status_code == 400
    assert response.json()["errorMessages"][0].startswith(message)


def test_jql_filters_and_orders(sandbox: JiraSandbox, dataset: JiraDataset) -> None:
    """key, status, type, created and ORDER BY updated DESC select what the dataset says."""

    def keys(jql: str) -> list[str]:
        body = {"jql": jql, "fields": ["key"], "maxResults": 5000}
        return [i["key"] for i in _post(sandbox, "/rest/api/3/search/jql", body).json()["issues"]]

    issues = list(dataset.issues)
    assert keys("key = ABC-7 OR key in (DEF-1, GHI-2) ORDER BY key") == ["ABC-7", "DEF-1", "GHI-2"]
    done = [i.key for i in issues if i.project_key == "ABC" and i.status.name == "Done"]
    assert keys('project = ABC AND status = "Done"') == done
    bugs = [i.key for i in issues if i.project_key == "DEF" and i.issue_type.name == "Bug"]
    assert keys("project = DEF AND issuetype = Bug") == bugs
    newest = sorted(
        (i for i in issues if i.project_key == "GHI"), key=lambda i: i.updated, reverse=True
    )
    assert keys("project = GHI ORDER BY updated DESC") == [i.key for i in newest]
    cutoff = issues[150].created
    later = [i.key for i in issues if i.created >= cutoff.replace(second=0)]
    stamp = cutoff.astimezone(USER_TZ)
    assert keys(f'created >= "{stamp:%Y/%m/%d %H:%M}"') == later


def test_expand_changelog_returns_the_twenty_most_recent(
    client: jira.JIRA, dataset: JiraDataset
) -> None:
    """On search, a long changelog is cut to its 20 newest histories, with the true total."""
    long = _long_issue(dataset)
    page = client.enhanced_search_issues(
        f"key = {long.key}", json_result=True, fields="summary", expand="changelog"
    )
    changelog = page["issues"][0]["changelog"]
    total = len(long.histories)
    assert changelog["total"] == total and changelog["maxResults"] == 20
    assert changelog["startAt"] == total - 20
    assert [h["id"] for h in changelog["histories"]] == [h.id for h in long.histories[-20:]]
    short = next(i for i in dataset.issues if 3 <= len(i.histories) <= 20)
    page = client.enhanced_search_issues(
        f"key = {short.key}", json_result=True, fields="summary", expand="changelog"
    )
    full = page["issues"][0]["changelog"]
    assert full["total"] == len(full["histories"]) == len(short.histories)
    assert full["startAt"] == 0


def test_changelog_endpoint_pages_reassemble_the_history(
    sandbox: JiraSandbox, dataset: JiraDataset
) -> None:
    """issue/{key}/changelog pages (max 100, oldest first) give back the whole changelog."""
    long = _long_issue(dataset)
    values: list[dict[str, Any]] = []
    start = 0
    pages = 0
    while True:
        page = _get(
            sandbox, f"/rest/api/2/issue/{long.key}/changelog", startAt=start, maxResults=1000
        ).json()
        assert page["maxResults"] == 100 and page["total"] == len(long.histories)
        values += page["values"]
        pages += 1
        if page["isLast"]:
            assert "nextPage" not in page
            break
        assert page["nextPage"].endswith(f"startAt={start + 100}&maxResults=100")
        start += 100
    assert pages == 2
    assert [v["id"] for v in values] == [h.id for h in long.histories]
    first = long.histories[0]
    assert values[0]["created"] == jira_time(first.created)
    assert values[0]["author"]["accountId"] == first.author.account_id
    assert [
        (i["fieldId"], i["from"], i["fromString"], i["to"], i["toString"])
        for i in values[0]["items"]
    ] == [(i.field_id, i.from_value, i.from_string, i.to_value, i.to_string) for i in first.items]


def test_changelog_items_have_jira_shapes(sandbox: JiraSandbox, dataset: JiraDataset) -> None:
    """Status, Sprint, points and Flagged items look the way Jira writes them."""
    items = {}
    for issue in dataset.issues:
        for h in issue.histories:
            for item in h.items:
                items.setdefault(item.field_id, (issue.key, h.id))
    seen = {}
    for field_id, (key, hid) in items.items():
        page = _get(sandbox, f"/rest/api/2/issue/{key}/changelog", maxResults=100).json()
        history = next(v for v in page["values"] if v["id"] == hid)
        seen[field_id] = next(i for i in history["items"] if i["fieldId"] == field_id)
    status = seen["status"]
    assert status["field"] == "status" and status["fieldtype"] == "jira"
    assert status["from"] in {"10000", "3", "10001", "10002", "10003"}
    sprint = seen[FIELD_SPRINT]
    assert sprint["field"] == "Sprint" and sprint["fieldtype"] == "custom"
    assert all(part.isdigit() for part in sprint["to"].split(", "))
    points = seen[FIELD_POINTS]
    assert points["field"] == "Story point estimate" and points["from"] is None
    assert points["to"] is None and float(points["toString"]) > 0
    flag = seen[FIELD_FLAGGED]
    assert flag["field"] == "Flagged" and "Impediment" in (flag["toString"], flag["fromString"])


def test_bulkfetch_filters_by_field_and_pages(sandbox: JiraSandbox, dataset: JiraDataset) -> None:
    """changelog/bulkfetch keeps only the asked fields, drops emptied histories, pages by token."""
    keys = [i.key for i in dataset.issues if i.project_key == "ABC"][:40]
    wanted = {"status", FIELD_SPRINT}
    expected = {}
    for key in keys:
        issue = dataset.issue(key)
        hist = [
            (h.id, [i.field_id for i in h.items if i.field_id in wanted]) for h in issue.histories
        ]
        expected[issue.id] = [(hid, f) for hid, f in hist if f]
    got: dict[str, list] = {}
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {
            "issueIdsOrKeys": keys,
            "fieldIds": sorted(wanted),
            "maxResults": 50,
        }
        if token:
            body["nextPageToken"] = token
        page = _post(sandbox, "/rest/api/3/changelog/bulkfetch", body).json()
        pages += 1
        for log in page["issueChangeLogs"]:
            for h in log["changeHistories"]:
                assert isinstance(h["created"], int)
                got.setdefault(log["issueId"], []).append(
                    (h["id"], [i["fieldId"] for i in h["items"]])
                )
        token = page.get("nextPageToken")
        if not token:
            break
    assert got == {k: v for k, v in expected.items() if v}
    assert pages == -(-sum(len(v) for v in expected.values()) // 50)
    one = dataset.issue(keys[0])
    page = _post(sandbox, "/rest/api/3/changelog/bulkfetch", {"issueIdsOrKeys": [one.id]}).json()
    first = page["issueChangeLogs"][0]["changeHistories"][0]
    assert first["created"] == int(one.histories[0].created.timestamp() * 1000)
    assert len(page["issueChangeLogs"][0]["changeHistories"]) == len(one.histories)


def test_bulkfetch_limits(sandbox: JiraSandbox) -> None:
    """More than 1000 issues or 10 field ids is a 400."""
    too_many = _post(
        sandbox,
        "/rest/api/3/changelog/bulkfetch",
        {"issueIdsOrKeys": [str(10001 + n) for n in range(1001)]},
    )
    assert too_many.status_code == 400
    fields = [f"customfield_{n}" for n in range(11)]
    too_wide = _post(
        sandbox,
        "/rest/api/3/changelog/bulkfetch",
        {"issueIdsOrKeys": ["ABC-1"], "fieldIds": fields},
    )
    assert too_wide.status_code == 400


def test_boards_and_sprints(client: jira.JIRA, dataset: JiraDataset) -> None:
    """boards() and sprints(board, maxResults=False) mirror the dataset."""
    boards = client.boards()
    assert [(b.id, b.name, b.type) for b in boards] == [
        (b.id, b.name, b.type) for b in dataset.boards
    ]
    assert boards[0].raw["location"]["projectKey"] == "ABC"
    for board in dataset.boards[:3]:
        sprints = client.sprints(board.id, maxResults=False)
        assert [(s.id, s.name, s.state) for s in sprints] == [
            (s.id, s.name, s.state) for s in dataset.board_sprints(board.id)
        ]
        closed = sprints[0].raw
        assert set(closed) == {
            "id",
            "self",
            "state",
            "name",
            "startDate",
            "endDate",
            "completeDate",
            "originBoardId",
            "goal",
        }
        assert closed["originBoardId"] == board.id
        assert "startDate" not in sprints[-1].raw  # a future sprint has no dates yet
    open_ones = client.sprints(1, state="active,future")
    assert [s.state for s in open_ones] == ["active", "future"]
    assert [b.name for b in client.boards(projectKeyOrID="GHI")] == ["Team Gamma", "Gamma Flow"]
    assert client.sprint(dataset.board_sprints(2)[3].id).name == "DEF Sprint 4"


def test_kanban_board_has_no_sprints(client: jira.JIRA) -> None:
    """Asking a kanban board for sprints is a 400, as on Jira."""
    with pytest.raises(jira.JIRAError) as err:
        client.sprints(4)
    assert err.value.status_code == 400
    assert "The board does not support sprints" in err.value.response.text


def test_legacy_search_is_gone_in_cloud(client: jira.JIRA, sandbox: JiraSandbox) -> None:
    """GET and POST /search answer 410 with the migration notice."""
    response = _get(sandbox, "/rest/api/2/search", jql="project = ABC")
    assert response.status_code == 410
    assert response.json()["errorMessages"][0].startswith(
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
    )
    assert _post(sandbox, "/rest/api/2/search", {"jql": "project = ABC"}).status_code == 410


def test_fields_statuses_projects_permissions(client: jira.JIRA, sandbox: JiraSandbox) -> None:
    """The metadata a connector checks before syncing."""
    fields = {f["id"]: f for f in client.fields()}
    sprint = fields[FIELD_SPRINT]
    assert sprint["name"] == "Sprint" and sprint["clauseNames"] == ["cf[10020]", "Sprint"]
    assert sprint["schema"] == {
        "type": "array",
        "items": "json",
        "customId": 10020,
        "custom": "com.pyxis.greenhopper.jira:gh-sprint",
    }
    assert fields[FIELD_POINTS]["schema"]["custom"] == "com.pyxis.greenhopper.jira:jsw-story-points"
    assert fields[FIELD_FLAGGED]["name"] == "Flagged"
    statuses = {
        s["name"]: (s["id"], s["statusCategory"]["key"])
        for s in _get(sandbox, "/rest/api/2/status").json()
    }
    assert statuses == {
        "To Do": ("10000", "new"),
        "In Progress": ("3", "indeterminate"),
        "In Review": ("10001", "indeterminate"),
        "Done": ("10002", "done"),
        "Won't Do": ("10003", "done"),
    }
    assert [p.key for p in client.projects()] == ["ABC", "DEF", "GHI"]
    assert client.project("DEF").raw["name"] == "Beacon Payments"
    perms = client.my_permissions("ABC", permissions="BROWSE_PROJECTS,EDIT_ISSUES,ADD_COMMENTS")
    assert {k: v["havePermission"] for k, v in perms["permissions"].items()} == {
        "BROWSE_PROJECTS": True,
        "EDIT_ISSUES": True,
        "ADD_COMMENTS": True,
    }
    assert perms["permissions"]["EDIT_ISSUES"]["type"] == "PROJECT"


def test_v2_description_is_text_and_v3_is_adf(sandbox: JiraSandbox, dataset: JiraDataset) -> None:
    """REST v2 returns the description as plain text, v3 as an ADF document."""
    story = next(i for i in dataset.issues if i.has_acceptance_criteria)
    v2 = _get(sandbox, f"/rest/api/2/issue/{story.key}", fields="description").json()
    assert v2["fields"]["description"] == story.description
    v3 = _get(sandbox, f"/rest/api/3/issue/{story.key}", fields="description").json()
    doc = v3["fields"]["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    assert {
        "type": "heading",
        "attrs": {"level": 3},
        "content": [{"type": "text", "text": "Acceptance criteria"}],
    } in doc["content"]


def test_unknown_issue_and_route(sandbox: JiraSandbox) -> None:
    """A missing issue or changelog is a 404 with Jira's message; so is an unknown path."""
    missing = _get(sandbox, "/rest/api/2/issue/ABC-999/changelog")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]
    assert _get(sandbox, "/rest/api/2/nothing-here").status_code == 404
