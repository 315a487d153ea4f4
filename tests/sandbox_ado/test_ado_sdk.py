"""The unmodified `azure-devops` SDK against the sandbox."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import requests
from azure.devops.exceptions import AzureDevOpsAuthenticationError, AzureDevOpsServiceError
from azure.devops.v7_1.core.models import WebApiTeam  # noqa: F401
from azure.devops.v7_1.work.models import TeamContext
from azure.devops.v7_1.work_item_tracking.models import (
    CommentCreate,
    CommentUpdate,
    JsonPatchOperation,
    Wiql,
    WorkItemBatchGetRequest,
)

from pmo_sync.sandbox.ado.generator import F_POINTS, format_ts, parse_ts

REPORTING = "f828fe59-dd87-495d-a17c-7a8d6211ca6c"


def all_ids(wit, where: str = "") -> list[int]:
    q = (
        "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
        f"{where} ORDER BY [System.Id]"
    )
    result = wit.query_by_wiql(Wiql(query=q), team_context=TeamContext(project="Fabrikam"))
    return [ref.id for ref in result.work_items]


def read_revisions(wit, **query) -> list[dict]:
    """The reporting stream, paged by continuationToken (the SDK model is empty: raw JSON)."""
    values, token, pages = [], None, 0
    while True:
        params = {k: v for k, v in query.items()}
        if token:
            params["continuationToken"] = token
        response = wit._send(
            http_method="GET", location_id=REPORTING, version="7.1-preview.2",
            route_values={"project": "Fabrikam"}, query_parameters=params,
        )  # fmt: skip
        batch = response.json()
        values.extend(batch["values"])
        token, pages = batch["continuationToken"], pages + 1
        assert token in batch["nextLink"]
        if batch["isLastBatch"]:
            return values, token, pages


def test_discovery_and_core(sandbox, conn):
    core = conn.clients_v7_1.get_core_client()
    projects = core.get_projects()
    assert [p.name for p in projects] == ["Fabrikam"]
    teams = core.get_teams(projects[0].id)
    assert sorted(t.name for t in teams) == sorted(t.name for t in sandbox.dataset.teams)
    options = [r for r in sandbox.requests if r.method == "OPTIONS"]
    assert options and all(r.path.lower() == "/contoso/_apis" for r in options)
    assert any(r.path.lower() == "/contoso/_apis/resourceareas" for r in sandbox.requests)


def test_wiql_and_batch_return_the_dataset(sandbox, wit):
    ds = sandbox.dataset
    ids = all_ids(wit)
    assert ids == ds.ids()
    items = []
    for start in range(0, len(ids), 200):
        req = WorkItemBatchGetRequest(ids=ids[start : start + 200], fields=None)
        items.extend(wit.get_work_items_batch(req))
    assert len(items) == len(ids)
    for got in items[:50]:
        truth = ds.item(got.id)
        assert got.rev == truth.rev
        assert got.fields["System.State"] == truth.state
        assert got.fields["System.ChangedBy"]["uniqueName"] in truth.fields["System.ChangedBy"]
        assert got.fields.get(F_POINTS) == truth.fields.get(F_POINTS)
    some = ids[:3]
    slim = wit.get_work_items_batch(WorkItemBatchGetRequest(ids=some, fields=["System.State"]))
    assert [set(w.fields) for w in slim] == [{"System.State"}] * 3


def test_wiql_changed_date_and_id_partition(sandbox, wit):
    ds = sandbox.dataset
    cut = ds.generated_at - timedelta(days=30)
    with pytest.raises(AzureDevOpsServiceError, match="VS402340"):
        all_ids(wit, f"AND [System.ChangedDate] >= '{format_ts(int(cut.timestamp() * 1000))}'")
    q = (f"SELECT [System.Id] FROM WorkItems WHERE [System.ChangedDate] >= "
         f"'{cut.isoformat()}' AND [System.Id] > 10 ORDER BY [System.Id]")  # fmt: skip
    result = wit.query_by_wiql(Wiql(query=q), team_context=TeamContext(project="Fabrikam"),
                               time_precision=True)  # fmt: skip
    expected = [
        i for i in ds.ids() if i > 10 and parse_ts(ds.item(i).fields["System.ChangedDate"]) >= cut
    ]
    assert [r.id for r in result.work_items] == expected and expected


def test_wiql_cap_and_batch_limit(sandbox, wit):
    sandbox.api.wiql_cap = 100
    with pytest.raises(AzureDevOpsServiceError, match="VS402337"):
        all_ids(wit)
    assert len(all_ids(wit, "AND [System.Id] <= 100")) == 100
    with pytest.raises(AzureDevOpsServiceError, match="VS403474"):
        wit.get_work_items_batch(WorkItemBatchGetRequest(ids=list(range(1, 202))))


def test_reporting_revisions_match_ground_truth(sandbox, wit):
    ds = sandbox.dataset
    values, token, pages = read_revisions(wit, **{"$maxPageSize": 500})
    assert pages > 2
    assert len(values) == ds.watermark()
    by_item: dict[int, list[dict]] = {}
    for v in values:
        by_item.setdefault(v["id"], []).append(v)
    assert sorted(by_item) == ds.ids()
    for item_id, revs in by_item.items():
        truth = ds.item(item_id)
        assert [r["rev"] for r in revs] == list(range(1, truth.rev + 1))
        for r in revs:
            fields = truth.revision(r["rev"]).fields
            assert r["fields"]["System.State"] == fields["System.State"]
            assert r["fields"].get("System.IterationPath") == fields.get("System.IterationPath")
            assert parse_ts(r["fields"]["System.ChangedDate"]) == parse_ts(
                fields["System.ChangedDate"]
            )
        # state transitions rebuilt from the stream equal the simulation's ground truth
        states = [
            (r["fields"]["System.State"], parse_ts(r["fields"]["System.ChangedDate"])) for r in revs
        ]
        rebuilt = [(None, "New", states[0][1])] + [
            (a[0], b[0], b[1]) for a, b in itertools.pairwise(states) if a[0] != b[0]
        ]
        assert rebuilt == [(t.from_state, t.to_state, t.at) for t in truth.transitions]
    # incremental: a change after the token shows up on the next read, and only it
    ds.clock.advance(hours=1)
    target = ds.ids()[0]
    ds.set_points(target, 21)
    more, _, _ = read_revisions(wit, continuationToken=token)
    assert [(v["id"], v["fields"][F_POINTS]) for v in more] == [(target, 21)]


def test_deleted_item_only_with_include_deleted(sandbox, wit):
    ds = sandbox.dataset
    _, token, _ = read_revisions(wit)
    victim = ds.ids()[5]
    ds.clock.advance(minutes=5)
    ds.delete(victim)
    assert victim not in all_ids(wit)
    hidden, _, _ = read_revisions(wit, continuationToken=token)
    assert hidden == []
    shown, _, _ = read_revisions(wit, continuationToken=token, includeDeleted="true")
    assert [(v["id"], v["fields"]["System.IsDeleted"]) for v in shown] == [(victim, True)]
    with pytest.raises(AzureDevOpsServiceError):
        wit.get_work_item(victim)


def test_updates_follow_revisions(sandbox, wit):
    item = max(sandbox.dataset.items(), key=lambda i: i.rev)
    updates = wit.get_updates(item.id)
    assert [u.rev for u in updates] == list(range(1, item.rev + 1))
    for u in updates[1:]:
        assert "System.Rev" in u.fields and u.fields["System.Rev"].new_value == u.rev


def test_team_iterations_and_states(sandbox, conn, wit):
    work = conn.clients_v7_1.get_work_client()
    team = sandbox.dataset.teams[0]
    its = work.get_team_iterations(TeamContext(project="Fabrikam", team=team.name))
    frames = [it.attributes.time_frame for it in its]
    assert frames.count("past") >= 6 and frames.count("current") == 1 and "future" in frames
    assert all(it.attributes.finish_date > it.attributes.start_date for it in its)
    current = work.get_team_iterations(TeamContext(project="Fabrikam", team=team.name), "current")
    assert [it.name for it in current] == [its[frames.index("current")].name]
    states = wit.get_work_item_type_states("Fabrikam", "User Story")
    assert {s.name: s.category for s in states} == {
        "New": "Proposed", "Active": "InProgress", "Resolved": "Resolved",
        "Closed": "Completed", "Removed": "Removed",
    }  # fmt: skip


def test_patch_with_rev_test_and_comments(sandbox, wit):
    ds = sandbox.dataset
    item = next(i for i in ds.items() if i.state == "Active")
    rev = item.rev
    doc = [
        JsonPatchOperation(op="test", path="/rev", value=rev),
        JsonPatchOperation(op="add", path="/fields/System.State", value="Resolved"),
    ]
    updated = wit.update_work_item(doc, item.id)
    assert updated.rev == rev + 1 and updated.fields["System.State"] == "Resolved"
    assert updated.fields["System.ChangedBy"]["uniqueName"] == sandbox.identity.unique_name
    assert ds.item(item.id).transitions[-1].to_state == "Resolved"
    with pytest.raises(AzureDevOpsServiceError, match="/rev"):
        wit.update_work_item(doc, item.id)  # stale rev
    assert ds.item(item.id).rev == rev + 1

    comment = wit.add_comment(CommentCreate(text="KPI: cycle time 4d"), "Fabrikam", item.id)
    assert comment.text == "KPI: cycle time 4d" and comment.version == 1
    edited = wit.update_comment(
        CommentUpdate(text="KPI: cycle time 5d"), "Fabrikam", item.id, comment.id
    )
    assert edited.version == 2 and edited.created_by.unique_name == sandbox.identity.unique_name
    listed = wit.get_comments("Fabrikam", item.id)
    assert [c.text for c in listed.comments] == ["KPI: cycle time 5d"]
    wit.delete_comment("Fabrikam", item.id, comment.id)
    assert wit.get_comments("Fabrikam", item.id).comments == []


def test_wrong_pat(sandbox, connect):
    wit = connect("not-the-pat").clients_v7_1.get_work_item_tracking_client()
    with pytest.raises(AzureDevOpsAuthenticationError):
        wit.get_work_item(1)
    raw = requests.get(f"{sandbox.url}/_apis/projects", auth=("", "not-the-pat"), timeout=5)
    assert raw.status_code == 203 and raw.headers["Content-Type"].startswith("text/html")
    assert "Sign in" in raw.text
    ok = requests.get(f"{sandbox.url}/_apis/projects", auth=("", sandbox.pat), timeout=5)
    assert ok.status_code == 200 and ok.json()["count"] == 1


def test_faults_429_and_500(sandbox, wit):
    sandbox.inject("GET", r"/workitems/1$", status=429, headers={"Retry-After": "0"})
    assert wit.get_work_item(1).id == 1  # the SDK retries a GET after Retry-After
    sandbox.inject("GET", r"/workitems/2$", status=500)
    assert wit.get_work_item(2).id == 2  # ...and on 5xx
    statuses = [
        r.status
        for r in sandbox.requests
        if r.path.lower().endswith(("/workitems/1", "/workitems/2"))
    ]
    assert statuses == [429, 200, 500, 200]
    fault = sandbox.inject("POST", r"/wiql$", status=429)
    with pytest.raises(AzureDevOpsServiceError, match="throttled"):
        all_ids(wit)  # POSTs are not retried
    assert fault.fired == 1
    raw = sandbox.requests[-1]
    assert raw.status == 429


def test_batch_expands_the_relations_a_test_sets_and_refuses_expand_with_fields(sandbox, wit):
    ds = sandbox.dataset
    a, b = ds.ids()[:2]
    rev = ds.item(a).rev
    ds.link(a, "System.LinkTypes.Dependency-Forward", b)
    ds.link(a, "System.LinkTypes.Related", 9999)  # another project's item
    assert ds.item(a).rev == rev + 2  # each link is a revision, as on the Links tab
    got = wit.get_work_items_batch(WorkItemBatchGetRequest(ids=[a, b], expand="relations"))
    assert [(r.rel, r.url.rsplit("/", 2)[-2:], r.attributes["name"]) for r in got[0].relations] == [
        ("System.LinkTypes.Dependency-Forward", ["workItems", str(b)], "Successor"),
        ("System.LinkTypes.Related", ["workItems", "9999"], "Related"),
    ]
    assert got[1].relations is None  # no relations: the key is left out
    assert got[0].fields["System.RelatedLinkCount"] == 2  # whole items: every field
    with pytest.raises(AzureDevOpsServiceError, match="expand parameter can not be used"):
        wit.get_work_items_batch(
            WorkItemBatchGetRequest(ids=[a], fields=["System.State"], expand="relations")
        )
