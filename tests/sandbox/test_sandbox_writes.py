"""Write-back through the real `jira` client: custom fields, edit screens, issue edits,
comments and comment properties, checked against the sandbox's own state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import jira
import pytest
import requests

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.render import jira_time
from pmo_sync.sandbox.jira.server import JiraSandbox

FLOAT = "com.atlassian.jira.plugin.system.customfieldtypes:float"
KEY = "ABC-1"


@pytest.fixture
def site() -> Iterator[JiraSandbox]:
    """A small sandbox of its own, with the clock moved past every generated edit."""
    with JiraSandbox(issues_per_project=20) as running:
        running.dataset.clock.advance(days=1)
        yield running


@pytest.fixture
def client(site: JiraSandbox, connect: Callable[..., jira.JIRA]) -> jira.JIRA:
    return connect(site)


@pytest.fixture
def kpi(site: JiraSandbox) -> str:
    """A number KPI field on ABC's edit screen (not on DEF's)."""
    field_id = site.dataset.create_custom_field("Cycle time (days)", "number")
    site.dataset.add_field_to_screen(field_id, "ABC")
    return field_id


def _call(site: JiraSandbox, method: str, path: str, body: Any = None, **params: Any):
    return requests.request(
        method,
        f"{site.url}{path}",
        json=body,
        params=params,
        auth=site.basic_auth,
        timeout=10,
    )


def _items(history: Any) -> list[tuple[Any, ...]]:
    return [(i.field, i.fieldtype, i.field_id, i.from_string, i.to_string) for i in history.items]


# -- custom fields, screens, editmeta ----------------------------------------------------


def test_create_custom_field_needs_admin_and_stays_off_screens(
    site: JiraSandbox, client: jira.JIRA, dataset: JiraDataset
) -> None:
    """POST /field answers 201 with the GET /field entry; the field is on no screen until
    an admin puts it there; without admin rights it is a 403."""
    body = {
        "name": "Lead time (days)",
        "description": "Written by pmo-sync",
        "type": FLOAT,
        "searcherKey": "com.atlassian.jira.plugin.system.customfieldtypes:exactnumber",
    }
    created = client._session.post(client._get_url("field"), data=json.dumps(body))
    assert created.status_code == 201
    assert created.json() == {
        "id": "customfield_10030",
        "key": "customfield_10030",
        "name": "Lead time (days)",
        "untranslatedName": "Lead time (days)",
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": ["cf[10030]", "Lead time (days)"],
        "schema": {"type": "number", "custom": FLOAT, "customId": 10030},
    }
    assert {f["id"]: f for f in client.fields()}["customfield_10030"] == created.json()
    date_id = site.dataset.create_custom_field("Forecast date", "date")
    assert date_id == "customfield_10031"
    assert [f.id for f in site.dataset.custom_fields] == ["customfield_10030", date_id]

    assert "customfield_10030" not in client.editmeta(KEY)["fields"]
    refused = _call(site, "PUT", f"/rest/api/2/issue/{KEY}", {"fields": {date_id: "2026-12-01"}})
    assert refused.status_code == 400
    assert refused.json() == {
        "errorMessages": [],
        "errors": {
            date_id: f"Field '{date_id}' cannot be set. It is not on the appropriate screen, "
            "or unknown."
        },
    }
    site.dataset.add_field_to_screen(date_id, "ABC")
    assert client.editmeta(KEY)["fields"][date_id] == {
        "required": False,
        "schema": {
            "type": "date",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
            "customId": 10031,
        },
        "name": "Forecast date",
        "key": date_id,
        "operations": ["set"],
    }
    assert date_id not in client.editmeta("DEF-1")["fields"]
    default = _call(site, "POST", "/rest/api/2/screens/addToDefault/customfield_10030")
    assert default.status_code == 200
    assert "customfield_10030" in client.editmeta("DEF-1")["fields"]

    with JiraSandbox(dataset, admin=False) as plain:
        forbidden = _call(plain, "POST", "/rest/api/3/field", body)
        assert forbidden.status_code == 403
        assert forbidden.json()["errorMessages"] == [
            "You are not authorised to perform this action. Administrator privileges are required."
        ]
        perms = _call(plain, "GET", "/rest/api/2/mypermissions", permissions="ADMINISTER")
        assert perms.json()["permissions"]["ADMINISTER"]["havePermission"] is False
    assert dataset.custom_fields == []


# -- issue edits -------------------------------------------------------------------------


def test_field_write_is_a_bot_history_and_bumps_updated(
    site: JiraSandbox, client: jira.JIRA, kpi: str
) -> None:
    """A change writes one history authored by the API user and moves `updated`;
    the same value again is a 204 with no history and no bump."""
    ds = site.dataset
    before = len(ds.issue(KEY).histories)
    issue = client.issue(KEY)
    issue.update(fields={kpi: 4.5})
    assert issue.raw["fields"][kpi] == 4.5  # the client reloads the issue after the PUT
    assert ds.field_value(KEY, kpi) == 4.5
    written = ds.issue(KEY).histories[-1]
    assert len(ds.issue(KEY).histories) == before + 1
    assert written.author.account_id == site.account_id == client.myself()["accountId"]
    assert _items(written) == [("Cycle time (days)", "custom", kpi, None, "4.5")]
    assert ds.issue(KEY).updated == written.created == ds.clock.now
    assert issue.raw["fields"]["updated"] == jira_time(ds.clock.now)

    ds.clock.advance(hours=1)
    site.reset_log()
    issue.update(fields={kpi: 4.5})
    assert [(r.method, r.status) for r in site.writes] == [("PUT", 204)]
    assert len(ds.issue(KEY).histories) == before + 1
    assert ds.issue(KEY).updated == written.created

    _call(site, "PUT", f"/rest/api/3/issue/{KEY}", {"update": {kpi: [{"set": 5}]}})
    assert ds.field_value(KEY, kpi) == 5.0
    assert _items(ds.issue(KEY).histories[-1]) == [("Cycle time (days)", "custom", kpi, "4.5", "5")]
    assert ds.issue(KEY).updated == ds.clock.now

    changelog = _call(site, "GET", f"/rest/api/2/issue/{KEY}/changelog", startAt=before).json()
    assert [v["author"]["accountId"] for v in changelog["values"]] == [site.account_id] * 2
    assert changelog["values"][-1]["items"] == [
        {
            "field": "Cycle time (days)",
            "fieldtype": "custom",
            "fieldId": kpi,
            "from": None,
            "fromString": "4.5",
            "to": None,
            "toString": "5",
        }
    ]
    bulk = _call(
        site,
        "POST",
        "/rest/api/3/changelog/bulkfetch",
        {"issueIdsOrKeys": [KEY, "ABC-2"], "fieldIds": [kpi]},
    ).json()
    assert [len(log["changeHistories"]) for log in bulk["issueChangeLogs"]] == [2]


def test_search_and_get_return_custom_values(
    site: JiraSandbox, client: jira.JIRA, kpi: str
) -> None:
    """The value comes back when asked for by id, *all or *navigable; null elsewhere."""
    site.dataset.set_field(KEY, kpi, 3)
    jql = "project = ABC AND key in (ABC-1, ABC-2) ORDER BY key"
    for fields in (kpi, "*all", "*navigable", f"summary,{kpi}"):
        found = client.enhanced_search_issues(jql, fields=fields, json_result=True)
        assert [i["fields"][kpi] for i in found["issues"]] == [3.0, None]
    assert (
        "fields"
        not in client.enhanced_search_issues(jql, fields="id", json_result=True)["issues"][0]
    )
    navigable = client.enhanced_search_issues(jql, fields="*navigable", json_result=True)
    assert "comment" not in navigable["issues"][0]["fields"]
    assert client.issue(KEY).raw["fields"][kpi] == 3.0
    assert (
        _call(site, "GET", f"/rest/api/3/issue/{KEY}", fields=f"-{kpi},*all")
        .json()["fields"]
        .keys()
        .isdisjoint({kpi})
    )


def test_date_and_text_fields_and_rejected_values(site: JiraSandbox, kpi: str) -> None:
    """Dates are ISO in values and d/MMM/yy in changelog strings; bad values are 400s
    with Jira's messages, and a PUT with any bad field writes nothing at all."""
    ds = site.dataset
    date_id = ds.create_custom_field("Forecast date", "date")
    note_id = ds.create_custom_field("Flow note", "string")
    for fid in (date_id, note_id):
        ds.add_field_to_screen(fid, "ABC")
    path = f"/rest/api/2/issue/{KEY}"
    ok = _call(site, "PUT", path, {"fields": {date_id: "2026-12-04", note_id: "on track"}})
    assert ok.status_code == 204 and ok.content == b""
    history = ds.issue(KEY).histories[-1]
    assert [(i.field_id, i.to_value, i.to_string) for i in history.items] == [
        (date_id, "2026-12-04", "4/Dec/26"),
        (note_id, None, "on track"),
    ]
    assert ds.field_value(KEY, date_id) == "2026-12-04"

    count = len(ds.issue(KEY).histories)
    bad = _call(
        site,
        "PUT",
        path,
        {"fields": {kpi: "7", date_id: "04/12/2026", note_id: "x" * 256, "summary": "fine"}},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == {
        kpi: "Operation value must be a number",
        date_id: "Error parsing date string: 04/12/2026",
        note_id: "The entered text is too long. It exceeds the allowed limit of 255 characters.",
    }
    unknown = _call(site, "PUT", path, {"fields": {"customfield_99999": 1, kpi: 2}})
    assert unknown.json()["errors"] == {
        "customfield_99999": "Field 'customfield_99999' cannot be set. It is not on the "
        "appropriate screen, or unknown."
    }
    assert len(ds.issue(KEY).histories) == count and ds.field_value(KEY, kpi) is None


def test_system_fields_edit_in_one_history(site: JiraSandbox, client: jira.JIRA) -> None:
    """Summary, labels (add/remove), assignee and story points edit in one bot history."""
    ds = site.dataset
    issue = ds.issue(KEY)
    owner = next(u for u in ds.users if u != issue.assignee)
    labels = [lb for lb in issue.labels if lb != "kpi"]
    body = {
        "fields": {"summary": "Renamed", "assignee": {"accountId": owner.account_id}},
        "update": {"labels": [{"add": "kpi"}], "customfield_10016": [{"set": 13}]},
    }
    assert _call(site, "PUT", f"/rest/api/2/issue/{KEY}", body).status_code == 204
    after = ds.issue(KEY)
    assert (after.summary, after.assignee, after.labels, after.points) == (
        "Renamed",
        owner,
        [*labels, "kpi"],
        13.0,
    )
    history = after.histories[-1]
    assert history.author == site.api_user
    assert {i.field_id for i in history.items} == {
        "summary",
        "assignee",
        "labels",
        "customfield_10016",
    }
    fields = client.editmeta(KEY)["fields"]
    assert {"summary", "description", "labels", "assignee", "customfield_10016", "comment"} == set(
        fields
    )
    assert fields["summary"]["required"] is True


def test_missing_and_deleted_issues_are_404(site: JiraSandbox, kpi: str) -> None:
    ds = site.dataset
    comment = ds.comment_as("ABC-3", ds.users[1], "before deletion")
    ds.delete_issue("ABC-3")
    for key in ("ABC-3", "ABC-999"):
        put = _call(site, "PUT", f"/rest/api/2/issue/{key}", {"fields": {kpi: 1}})
        assert put.status_code == 404
        assert put.json()["errorMessages"] == [
            "Issue does not exist or you do not have permission to see it."
        ]
        comment_post = _call(site, "POST", f"/rest/api/2/issue/{key}/comment", {"body": "x"})
        assert comment_post.status_code == 404
        assert _call(site, "GET", f"/rest/api/2/issue/{key}/editmeta").status_code == 404
    assert _call(site, "GET", f"/rest/api/2/comment/{comment.id}/properties").status_code == 404
    assert _call(site, "GET", f"/rest/api/2/issue/ABC-1/comment/{comment.id}").status_code == 404


def test_human_edits_are_attributed_to_the_human(
    site: JiraSandbox, client: jira.JIRA, kpi: str
) -> None:
    """A person overwriting the KPI or commenting is told apart from the bot by author."""
    ds = site.dataset
    human = ds.users[2]
    client.issue(KEY).update(fields={kpi: 2})
    ds.clock.advance(minutes=5)
    by_hand = ds.set_field(KEY, kpi, 9, author=human)
    assert by_hand is not None and by_hand.author == human
    assert _items(by_hand) == [("Cycle time (days)", "custom", kpi, "2", "9")]
    assert client.issue(KEY).raw["fields"][kpi] == 9.0
    authors = [h.author.account_id for h in ds.issue(KEY).histories[-2:]]
    assert authors == [site.account_id, human.account_id]
    mine = client.add_comment(KEY, "KPI summary")
    theirs = ds.comment_as(KEY, human, "Please stop")
    assert [(c.author_id, c.text) for c in ds.comments(KEY)] == [
        (site.account_id, "KPI summary"),
        (human.account_id, "Please stop"),
    ]
    assert [c.raw["author"]["accountId"] for c in client.comments(KEY)] == [
        mine.raw["author"]["accountId"],
        theirs.author_id,
    ]


# -- comments ----------------------------------------------------------------------------


def test_comment_lifecycle_bumps_updated_without_history(
    site: JiraSandbox, client: jira.JIRA
) -> None:
    """Add (201, the sample's shape), edit in place (200), delete (204): each moves the
    issue's `updated` but writes no changelog history."""
    ds = site.dataset
    histories = len(ds.issue(KEY).histories)
    created_at = ds.clock.now
    comment = client.add_comment(KEY, "KPI report\n\ncycle time 4.5 d")
    raw = comment.raw
    assert raw["id"] == "10000" and raw["self"].endswith("/rest/api/2/issue/10001/comment/10000")
    assert raw["author"]["accountId"] == raw["updateAuthor"]["accountId"] == site.account_id
    assert raw["body"] == "KPI report\n\ncycle time 4.5 d"
    assert raw["created"] == raw["updated"] == jira_time(created_at)
    assert raw["jsdPublic"] is True
    assert ds.issue(KEY).updated == created_at

    ds.clock.advance(minutes=10)
    comment.update(body="KPI report\n\ncycle time 5 d")
    assert comment.body == "KPI report\n\ncycle time 5 d"  # reloaded by the client
    assert comment.raw["updated"] == jira_time(ds.clock.now)
    assert comment.raw["created"] == jira_time(created_at)
    (stored,) = ds.comments(KEY)
    assert (stored.id, stored.text, stored.created, stored.updated) == (
        "10000",
        "KPI report\n\ncycle time 5 d",
        created_at,
        ds.clock.now,
    )
    assert ds.issue(KEY).updated == ds.clock.now

    fields = client.issue(KEY, fields="comment").raw["fields"]["comment"]
    assert (fields["total"], fields["startAt"], [c["id"] for c in fields["comments"]]) == (
        1,
        0,
        ["10000"],
    )
    v3 = _call(site, "GET", f"/rest/api/3/issue/{KEY}/comment/10000").json()
    assert v3["body"] == {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "KPI report"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "cycle time 5 d"}]},
        ],
    }

    ds.clock.advance(minutes=10)
    comment.delete()
    assert ds.comments(KEY) == [] and client.comments(KEY) == []
    assert ds.issue(KEY).updated == ds.clock.now

    client.issue(KEY).update(comment="added through PUT /issue")  # update.comment[].add
    assert [(c.author_id, c.text) for c in ds.comments(KEY)] == [
        (site.account_id, "added through PUT /issue")
    ]
    assert len(ds.issue(KEY).histories) == histories


def test_v3_comments_are_adf_and_pages(site: JiraSandbox) -> None:
    """v3 takes ADF (text is refused), v2 shows ADF bodies as text; the list pages."""
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "From v3"}]},
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "a"}]}
                        ],
                    }
                ],
            },
        ],
    }
    path = f"/rest/api/3/issue/{KEY}/comment"
    added = _call(site, "POST", path, {"body": doc})
    assert added.status_code == 201 and added.json()["body"] == doc
    assert site.dataset.comments(KEY)[0].body == doc
    assert _call(site, "GET", f"/rest/api/2/issue/{KEY}/comment").json()["comments"][0]["body"] == (
        "From v3\n\na"
    )
    text = _call(site, "POST", path, {"body": "plain text"})
    assert text.status_code == 400
    assert text.json() == {"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}}
    empty = _call(site, "POST", f"/rest/api/2/issue/{KEY}/comment", {"body": "  "})
    assert empty.json()["errors"] == {"comment": "Comment body can not be empty!"}
    for n in range(4):
        site.dataset.comment_as(KEY, site.dataset.users[0], f"note {n}")
    page = _call(site, "GET", path, startAt=1, maxResults=2).json()
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 2, 5)
    assert [c["id"] for c in page["comments"]] == ["10001", "10002"]
    newest = _call(site, "GET", path, orderBy="-created", maxResults=1).json()
    assert [c["id"] for c in newest["comments"]] == ["10004"]


def test_comment_properties_round_trip(site: JiraSandbox, client: jira.JIRA) -> None:
    """Properties set on create or by PUT (201 then 200), listed, read, deleted."""
    marker = {"bot": "pmo-sync", "version": 1}
    created = _call(
        site,
        "POST",
        f"/rest/api/2/issue/{KEY}/comment",
        {"body": "KPIs", "properties": [{"key": "pmo-sync.marker", "value": marker}]},
    ).json()
    cid = created["id"]
    base = f"/rest/api/2/comment/{cid}/properties"
    got = client._session.get(client._get_url(f"comment/{cid}/properties/pmo-sync.marker"))
    assert got.json() == {"key": "pmo-sync.marker", "value": marker}
    url = client._get_url(f"comment/{cid}/properties/pmo-sync.hash")
    assert client._session.put(url, data=json.dumps({"sha": "ab12"})).status_code == 201
    assert client._session.put(url, data=json.dumps({"sha": "cd34"})).status_code == 200
    keys = _call(site, "GET", base).json()["keys"]
    assert [k["key"] for k in keys] == ["pmo-sync.marker", "pmo-sync.hash"]
    assert keys[1]["self"] == f"{site.url}{base}/pmo-sync.hash"
    assert site.dataset.comments(KEY)[0].properties == {
        "pmo-sync.marker": marker,
        "pmo-sync.hash": {"sha": "cd34"},
    }
    listed = _call(site, "GET", f"/rest/api/3/issue/{KEY}/comment", expand="properties").json()
    assert listed["comments"][0]["properties"][1] == {
        "key": "pmo-sync.hash",
        "value": {"sha": "cd34"},
    }
    assert _call(site, "DELETE", f"{base}/pmo-sync.hash").status_code == 204
    missing = _call(site, "GET", f"{base}/pmo-sync.hash")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == [
        "The property with key 'pmo-sync.hash' does not exist."
    ]
    assert _call(site, "GET", "/rest/api/2/comment/99999/properties").status_code == 404


# -- faults and the request log on writes -------------------------------------------------


def test_faults_on_writes(site: JiraSandbox, client: jira.JIRA, kpi: str) -> None:
    """A 429 on a PUT is retried by the client and lands once; a 500 writes nothing;
    an applied 504 on a comment POST loses the answer but keeps the comment."""
    ds = site.dataset
    issue = client.issue(KEY)
    histories = len(ds.issue(KEY).histories)
    site.reset_log()
    site.inject(method="PUT", path=r"/issue/10001$", status=429, headers={"Retry-After": "0"})
    issue.update(fields={kpi: 1})
    assert [(r.method, r.status) for r in site.writes] == [("PUT", 429), ("PUT", 204)]
    assert len(ds.issue(KEY).histories) == histories + 1

    site.inject(method="PUT", path=r"/issue/10001$", status=500)
    with pytest.raises(jira.JIRAError) as err:
        issue.update(fields={kpi: 2})
    assert err.value.status_code == 500
    assert ds.field_value(KEY, kpi) == 1.0

    site.inject(method="POST", path=r"/issue/ABC-1/comment$", status=504, applied=True)
    with pytest.raises(jira.JIRAError) as err:
        client.add_comment(KEY, "KPI report")
    assert err.value.status_code == 504
    assert [c.text for c in ds.comments(KEY)] == ["KPI report"]

    site.inject(method="DELETE", path=r"/comment/10000$", status=403)
    site.inject(method="DELETE", path=r"/comment/10000$", status=404, skip=1)
    for status in (403, 404):
        response = _call(site, "DELETE", f"/rest/api/2/issue/{KEY}/comment/10000")
        assert response.status_code == status
    assert len(ds.comments(KEY)) == 1

    client.enhanced_search_issues("project = ABC", fields="id", maxResults=5)
    assert [(r.method, r.status) for r in site.writes][-3:] == [
        ("POST", 504),
        ("DELETE", 403),
        ("DELETE", 404),
    ]
