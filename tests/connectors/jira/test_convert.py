"""Raw Jira JSON → normalised records, checked field by field on hand-built payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.jira.convert import (
    IssueContext,
    JiraFieldIds,
    convert_issue,
    convert_sprint,
    find_field_ids,
    parse_jira_datetime,
    sprint_stays,
)
from pmo_sync.domain import ChangeField, CheckItem, ItemChange, SprintMembership, Stage

IDS = JiraFieldIds(
    sprint="customfield_10020",
    story_points="customfield_10016",
    flagged="customfield_10021",
    story_points_name="Story point estimate",
)
CTX = IssueContext(
    base_url="https://acme.atlassian.net/",
    field_ids=IDS,
    status_map={},
    team_for_project={"ABC": "Team Alpha"},
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def history(hid: str, created: str, *items: dict) -> dict:
    return {"id": hid, "author": {"accountId": "acc-1"}, "created": created, "items": list(items)}


def status_item(frm: str, to: str) -> dict:
    ids = {"To Do": "10000", "In Progress": "3", "In Review": "10001", "Done": "10002"}
    return {
        "field": "status", "fieldtype": "jira", "fieldId": "status",
        "from": ids[frm], "fromString": frm, "to": ids[to], "toString": to,
    }  # fmt: skip


def sprint_item(frm: str, to: str) -> dict:
    return {
        "field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
        "from": frm, "fromString": "x", "to": to, "toString": "y",
    }  # fmt: skip


def raw_issue(**fields: object) -> dict:
    base = {
        "summary": "Checkout flow",
        "issuetype": {"id": "10001", "name": "Story", "subtask": False},
        "status": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "project": {"id": "10000", "key": "ABC", "name": "Alpha"},
        "created": "2026-03-02T09:00:00.000+0000",
        "updated": "2026-03-05T17:30:00.000-0500",
        "resolutiondate": None,
        "assignee": {"accountId": "acc-2", "displayName": "Ben"},
        "labels": ["web", "checkout"],
        "customfield_10016": 5,
        "customfield_10020": [{"id": 12, "name": "ABC Sprint 3", "state": "active"}],
        "customfield_10021": None,
    }
    base.update(fields)
    return {"id": "10042", "key": "ABC-42", "fields": base}


def test_parse_jira_datetime_handles_offsets_and_epoch_millis() -> None:
    """Jira's +0000 offsets and the bulk changelog's epoch numbers both become aware UTC."""
    assert parse_jira_datetime("2026-03-05T17:30:00.000-0500") == utc(2026, 3, 5, 22, 30)
    assert parse_jira_datetime(1492070429000) == utc(2017, 4, 13, 8, 0, 29)
    assert parse_jira_datetime(1492070429) == utc(2017, 4, 13, 8, 0, 29)
    assert parse_jira_datetime(None) is None


def test_convert_issue_maps_every_field() -> None:
    """The item record carries the tracker's values, normalised."""
    bundle = convert_issue(raw_issue(), [], CTX)
    item = bundle.item
    assert item.external_id == "10042"
    assert item.url == "https://acme.atlassian.net/browse/ABC-42"
    assert (item.item_type, item.raw_type) == ("story", "Story")
    assert (item.status, item.status_category, item.stage) == (
        "In Progress",
        "indeterminate",
        Stage.IN_PROGRESS,
    )
    assert item.team == "Team Alpha"
    assert item.estimate == 5.0
    assert item.labels == ("checkout", "web")
    assert item.assignee == "acc-2"
    assert item.flagged is False
    assert item.updated == utc(2026, 3, 5, 22, 30)
    # never in a sprint change: in sprint 12 since creation
    assert bundle.memberships == [SprintMembership("10042", "12", utc(2026, 3, 2, 9), None)]


# Jira Cloud (REST v3) keeps rich text as Atlassian Document Format: the story's description
# with its acceptance criteria under a heading, a mention and a task list.
ADF_DESCRIPTION = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "As a shopper I want to pay by card "},
            {"type": "text", "text": "so that", "marks": [{"type": "strong"}]},
            {"type": "text", "text": " I can check out"},
        ]},
        {"type": "heading", "attrs": {"level": 3},
         "content": [{"type": "text", "text": "Acceptance criteria"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "Visa and Mastercard are accepted"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "a declined card shows why, ask "},
                {"type": "mention", "attrs": {"id": "acc-7", "text": "@Dana"}},
            ]}]},
        ]},
    ],
}  # fmt: skip
# The parent as the search answers it: a reference with a few of the parent's own fields.
PARENT = {
    "id": "10040",
    "key": "ABC-40",
    "self": "https://acme.atlassian.net/rest/api/3/issue/10040",
    "fields": {
        "summary": "Checkout revamp",
        "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "priority": {"id": "3", "name": "Medium"},
        "issuetype": {"id": "10000", "name": "Epic", "subtask": False, "hierarchyLevel": 1},
    },
}
# A paragraph custom field (Acceptance Criteria) holding an ADF task list, and a checklist
# app's field ("Checklist for Jira": a list of items; a header is not an item).
CRITERIA_ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "taskList", "attrs": {"localId": "t1"}, "content": [
        {"type": "taskItem", "attrs": {"localId": "t2", "state": "DONE"},
         "content": [{"type": "text", "text": "Receipt is emailed"}]},
        {"type": "taskItem", "attrs": {"localId": "t3", "state": "TODO"},
         "content": [{"type": "text", "text": "Refund within 5 days"}]},
    ]}],
}  # fmt: skip
CHECKLIST_APP = [
    {"id": 1, "name": "Definition of done", "checked": False, "mandatory": False, "rank": 0,
     "isHeader": True},
    {"id": 2, "name": "Code reviewed", "checked": True, "mandatory": True, "rank": 1,
     "status": {"id": "done", "name": "Done", "color": "green"}},
    {"id": 3, "name": "Release notes written", "checked": False, "mandatory": False, "rank": 2},
]  # fmt: skip
IDS_WITH_CRITERIA = JiraFieldIds(
    sprint="customfield_10020",
    story_points="customfield_10016",
    flagged="customfield_10021",
    story_points_name="Story point estimate",
    acceptance_criteria="customfield_10050",
    checklist="customfield_10051",
)


def test_the_description_parent_type_criteria_and_checklist_in_the_record() -> None:
    raw = raw_issue(
        description=ADF_DESCRIPTION,
        parent=PARENT,
        customfield_10050=CRITERIA_ADF,
        customfield_10051=CHECKLIST_APP,
    )
    ctx = IssueContext(CTX.base_url, IDS_WITH_CRITERIA, {}, {})
    item = convert_issue(raw, [], ctx).item
    assert item.description == (
        "As a shopper I want to pay by card so that I can check out\n"
        "h3. Acceptance criteria\n"
        "* Visa and Mastercard are accepted\n"
        "\n"  # a list item's paragraph and the item each end a line, as before
        "* a declined card shows why, ask @Dana"
    )
    assert (item.parent_key, item.parent_type) == ("ABC-40", "epic")
    assert item.acceptance_criteria == "* Receipt is emailed\n* Refund within 5 days"
    assert item.checklist == (
        CheckItem("Code reviewed", True),
        CheckItem("Release notes written", False),
    )
    # Without the fields configured the same issue has neither.
    plain = convert_issue(raw, [], CTX).item
    assert (plain.acceptance_criteria, plain.checklist) == (None, ())
    assert plain.description == item.description


def test_wiki_text_null_and_text_checklists() -> None:
    """REST v2 (and Server) keeps wiki text: as it is. A null description is None, an empty
    one ''; a sub-task's parent is a story; a text checklist field reads line by line."""
    ctx = IssueContext(CTX.base_url, IDS_WITH_CRITERIA, {}, {})
    subtask_parent = {**PARENT, "fields": {"issuetype": {"name": "Story", "subtask": False}}}
    item = convert_issue(
        raw_issue(
            description="h3. Acceptance criteria\n* works offline",
            parent=subtask_parent,
            customfield_10050="  ",
            customfield_10051="## Before review\n- [x] unit tests\n- [ ] docs\n+ demo given",
        ),
        [],
        ctx,
    ).item
    assert item.description == "h3. Acceptance criteria\n* works offline"
    assert item.parent_type == "story"
    assert item.acceptance_criteria is None  # blank: no criteria
    assert item.checklist == (
        CheckItem("unit tests", True),
        CheckItem("docs", False),
        CheckItem("demo given", True),
    )
    empty = convert_issue(raw_issue(description=""), [], ctx).item
    assert (empty.description, empty.parent_type, empty.checklist) == ("", None, ())
    assert convert_issue(raw_issue(description=None), [], ctx).item.description is None
    assert convert_issue(raw_issue(), [], ctx).item.description is None  # not asked for


def test_status_map_overrides_the_category() -> None:
    ctx = IssueContext(CTX.base_url, IDS, {"In Progress": Stage.TODO}, {})
    bundle = convert_issue(raw_issue(), [], ctx)
    assert bundle.item.stage is Stage.TODO
    assert bundle.item.team == "ABC"  # no board: the project key


def test_changes_keep_only_the_fields_that_matter_in_time_order() -> None:
    """Noise fields are dropped; a history touching two fields gives two changes."""
    histories = [
        history(
            "205",
            "2026-03-04T10:00:00.000+0000",
            status_item("In Progress", "In Review"),
            {"field": "description", "fieldId": "description", "fromString": "a", "toString": "b"},
        ),
        history(
            "201",
            "2026-03-03T10:00:00.000+0000",
            status_item("To Do", "In Progress"),
            {
                "field": "Story point estimate",
                "fieldId": "customfield_10016",
                "from": None,
                "fromString": "3",
                "to": None,
                "toString": "5",
            },
        ),
        history(
            "210",
            "2026-03-05T10:00:00.000+0000",
            {
                "field": "Flagged",
                "fieldId": "customfield_10021",
                "fromString": None,
                "toString": "Impediment",
            },
            {
                "field": "assignee",
                "fieldId": "assignee",
                "from": "acc-1",
                "fromString": "Ana",
                "to": "acc-2",
                "toString": "Ben",
            },
        ),
    ]
    changes = convert_issue(raw_issue(), histories, CTX).changes
    assert [(c.change_id, c.field, c.from_value, c.to_value) for c in changes] == [
        ("201:status", ChangeField.STATUS, "To Do", "In Progress"),
        ("201:estimate", ChangeField.ESTIMATE, "3.0", "5.0"),
        ("205:status", ChangeField.STATUS, "In Progress", "In Review"),
        ("210:flagged", ChangeField.FLAGGED, "false", "true"),
        ("210:assignee", ChangeField.ASSIGNEE, "acc-1", "acc-2"),
    ]
    assert changes[0].at == utc(2026, 3, 3, 10)
    assert changes[0].from_display == "To Do" and changes[0].author == "acc-1"


def _sprint_change(at: datetime, frm: str | None, to: str | None, n: int) -> ItemChange:
    return ItemChange("1", f"{n}:sprint", ChangeField.SPRINT, at, frm, to)


def test_sprint_stays_rebuild_removal_readd_and_carry_over() -> None:
    """Created in sprint 12, removed, re-added, carried over to 13 (Jira keeps 12 in the field)."""
    created = utc(2026, 1, 1)
    changes = [
        _sprint_change(utc(2026, 1, 3), "12", None, 1),  # removed to the backlog
        _sprint_change(utc(2026, 1, 5), None, "12", 2),  # back in
        _sprint_change(utc(2026, 1, 14), "12", "12,13", 3),  # carried over at sprint close
    ]
    stays = sprint_stays("1", created, ["12", "13"], changes)
    assert stays == [
        SprintMembership("1", "12", utc(2026, 1, 1), utc(2026, 1, 3)),
        SprintMembership("1", "12", utc(2026, 1, 5), None),
        SprintMembership("1", "13", utc(2026, 1, 14), None),
    ]


def test_sprint_stays_trust_the_change_when_history_has_a_gap() -> None:
    """A `from` that disagrees with the rebuilt state wins: the gap is closed at that change."""
    changes = [
        _sprint_change(utc(2026, 1, 3), None, "12", 1),
        _sprint_change(utc(2026, 1, 9), "14", "15", 2),  # 12 left and 14 came unlogged
    ]
    stays = sprint_stays("1", utc(2026, 1, 1), ["15"], changes)
    assert stays == [
        SprintMembership("1", "12", utc(2026, 1, 3), utc(2026, 1, 9)),
        SprintMembership("1", "14", utc(2026, 1, 9), utc(2026, 1, 9)),
        SprintMembership("1", "15", utc(2026, 1, 9), None),
    ]


def test_find_field_ids_by_schema_then_name_and_config_override() -> None:
    fields = [
        {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"]},
        {"id": "customfield_10020", "name": "Sprint", "custom": True, "clauseNames": ["Sprint"],
         "schema": {"custom": "com.pyxis.greenhopper.jira:gh-sprint"}},
        {"id": "customfield_10016", "name": "Story point estimate", "custom": True,
         "clauseNames": ["cf[10016]"],
         "schema": {"custom": "com.pyxis.greenhopper.jira:jsw-story-points"}},
        {"id": "customfield_10030", "name": "Size", "custom": True, "clauseNames": ["Size"]},
        {"id": "customfield_10021", "name": "Flagged", "custom": True, "clauseNames": ["Flagged"]},
    ]  # fmt: skip
    ids = find_field_ids(fields, None)
    assert (ids.sprint, ids.story_points, ids.flagged) == (
        "customfield_10020",
        "customfield_10016",
        "customfield_10021",
    )
    assert ids.clause_names["summary"] == "summary"
    assert "Size" not in ids.clause_names
    assert find_field_ids(fields, "Size").story_points == "customfield_10030"
    assert find_field_ids(fields, "customfield_10030").story_points_name == "Size"
    with pytest.raises(LookupError, match="'Velocity' is neither a field id nor a field name"):
        find_field_ids(fields, "Velocity")


def test_find_field_ids_takes_the_configured_criteria_and_checklist_fields() -> None:
    fields = [
        {"id": "customfield_10016", "name": "Story Points", "custom": True,
         "clauseNames": ["cf[10016]", "Story Points"]},
        {"id": "customfield_10050", "name": "Acceptance Criteria", "custom": True,
         "clauseNames": ["cf[10050]", "Acceptance Criteria"],
         "schema": {"type": "string",
                    "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea"}},
        {"id": "customfield_10051", "name": "Checklists", "custom": True,
         "clauseNames": ["cf[10051]", "Checklists"],
         "schema": {"type": "array", "custom": "com.okapya.jira.checklist:checklist"}},
    ]  # fmt: skip
    ids = find_field_ids(
        fields, None, acceptance_criteria="acceptance criteria", checklist="customfield_10051"
    )
    assert (ids.acceptance_criteria, ids.checklist) == ("customfield_10050", "customfield_10051")
    assert ids.search_field_ids() == ["customfield_10016", "customfield_10050", "customfield_10051"]
    assert ids.clause_names["Acceptance Criteria"] == "customfield_10050"
    assert JiraFieldIds.from_json(ids.to_json()) == ids
    assert find_field_ids(fields, None).search_field_ids() == ["customfield_10016"]
    newer = ("acceptance_criteria", "checklist")
    older = {k: v for k, v in ids.to_json().items() if k not in newer}
    assert JiraFieldIds.from_json(older).checklist is None  # a bookmark saved before them
    with pytest.raises(LookupError, match="checklist_field 'Todo' is neither a field id"):
        find_field_ids(fields, None, checklist="Todo")


def test_convert_sprint_from_the_agile_sample_shape() -> None:
    raw = {
        "id": 37, "state": "closed", "name": "sprint 1",
        "startDate": "2015-04-11T15:22:00.000+10:00", "endDate": "2015-04-20T01:22:00.000+10:00",
        "completeDate": "2015-04-20T11:04:00.000+10:00", "originBoardId": 5,
        "goal": "sprint 1 goal",
    }  # fmt: skip
    sprint = convert_sprint(raw, "Team Alpha")
    assert sprint.external_id == "37" and sprint.board_external_id == "5"
    assert sprint.start == utc(2015, 4, 11, 5, 22)
    assert sprint.completed == utc(2015, 4, 20, 1, 4)
    assert (sprint.state, sprint.team, sprint.goal) == ("closed", "Team Alpha", "sprint 1 goal")
