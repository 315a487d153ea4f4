"""Jira's portfolio facts → the record's level, dates, priority, rank, releases and links,
checked on payloads shaped as Jira's search, changelog and project-versions answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from structlog.testing import capture_logs

from connectors.jira.convert import IssueContext, JiraFieldIds, convert_issue, find_field_ids
from connectors.jira.portfolio import (
    convert_version,
    issue_level,
    issue_links,
    jira_date,
    noted_plan,
    with_plan,
)
from connectors.jira.streams import ReleasesBookmark, SiteBookmark
from pmo_sync.domain import ChangeField, ItemChange, ItemLink, LinkDirection, ReleaseRecord

IDS = JiraFieldIds(
    sprint="customfield_10020",
    story_points="customfield_10016",
    flagged="customfield_10021",
    story_points_name="Story point estimate",
    rank="customfield_10019",
    epic_link="customfield_10014",
    target_start="customfield_10022",
    target_end="customfield_10023",
)
CTX = IssueContext(
    base_url="https://acme.atlassian.net", field_ids=IDS, status_map={}, team_for_project={}
)
BLOCKS = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
RELATES = {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"}


def ref(issue_id: str, key: str) -> dict:
    """A linked issue as `issuelinks` names it: id, key, a few of its fields."""
    return {
        "id": issue_id,
        "key": key,
        "self": f"https://acme.atlassian.net/rest/api/3/issue/{issue_id}",
        "fields": {"status": {"name": "To Do"}},
    }


def issue(**fields: object) -> dict:
    base: dict[str, object] = {
        "summary": "Pay by card",
        "issuetype": {"id": "10001", "name": "Story", "subtask": False, "hierarchyLevel": 0},
        "status": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "project": {"id": "10000", "key": "PAY"},
        "created": "2026-03-02T09:00:00.000+0000",
        "updated": "2026-03-05T09:00:00.000+0000",
        "parent": {"id": "10040", "key": "PAY-40"},
        "duedate": "2026-04-30",
        "customfield_10022": "2026-03-01",
        "customfield_10023": "2026-05-15",
        "priority": {"id": "2", "name": "High", "iconUrl": "https://acme/high.svg"},
        "customfield_10019": "0|i0001b:",
        "fixVersions": [
            {"id": "10100", "name": "2026.2", "released": False, "archived": False,
             "releaseDate": "2026-05-31", "self": "https://acme/version/10100"},
            {"id": "10101", "name": "2026.3", "released": False, "archived": False},
        ],
        "issuelinks": [
            {"id": "20001", "type": BLOCKS, "outwardIssue": ref("10050", "PAY-50")},
            {"id": "20002", "type": BLOCKS, "inwardIssue": ref("30007", "OPS-7")},
            {"id": "20003", "type": RELATES, "outwardIssue": ref("10051", "PAY-51")},
        ],
    }  # fmt: skip
    base.update(fields)
    return {"id": "10042", "key": "PAY-42", "fields": base}


def date_item(field_id: str, name: str, frm: str | None, to: str | None) -> dict:
    """A date field's changelog item: `from`/`to` ISO days, the strings with a time."""
    return {
        "field": name, "fieldtype": "jira" if field_id == "duedate" else "custom",
        "fieldId": field_id,
        "from": frm, "fromString": frm and f"{frm} 00:00:00.0",
        "to": to, "toString": to and f"{to} 00:00:00.0",
    }  # fmt: skip


def history(hid: str, created: str, *items: dict) -> dict:
    return {"id": hid, "author": {"accountId": "acc-1"}, "created": created, "items": list(items)}


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 10, tzinfo=UTC)


def test_every_portfolio_fact_of_a_story() -> None:
    bundle = convert_issue(issue(), [], CTX)
    item = bundle.item
    assert (item.level, item.parent_key) == ("story", "PAY-40")
    assert (item.start_date, item.due_date) == (None, date(2026, 4, 30))
    assert (item.target_start, item.target_end) == (date(2026, 3, 1), date(2026, 5, 15))
    assert (item.priority, item.rank) == ("High", "0|i0001b:")
    assert item.release_ids == ("10100", "10101")
    # Blocks only (Relates is not a dependency type by default), each as PAY-42 sees it
    assert bundle.links == [
        ItemLink("10042", "blocks", LinkDirection.OUTWARD, "PAY-50", "10050"),
        ItemLink("10042", "is blocked by", LinkDirection.INWARD, "OPS-7", "30007"),
    ]


def test_configured_link_types_any_case() -> None:
    ctx = IssueContext(
        base_url="https://acme.atlassian.net", field_ids=IDS, status_map={},
        team_for_project={}, link_types=("relates", "BLOCKS"),
    )  # fmt: skip
    links = convert_issue(issue(), [], ctx).links
    assert [(link.link_type, link.target_key) for link in links] == [
        ("blocks", "PAY-50"),
        ("is blocked by", "OPS-7"),
        ("relates to", "PAY-51"),
    ]


DEPENDENCY = {
    "id": "10009", "name": "Dependency", "inward": "is needed by", "outward": "depends on"
}  # fmt: skip


def test_a_depends_on_type_is_stored_reversed_so_outward_always_blocks() -> None:
    """PAY-42 "depends on" PAY-60 (outwardIssue): PAY-42 waits, so it is the inward end;
    PAY-61 "depends on" PAY-42 (inwardIssue: "is needed by"): PAY-42 blocks it, outward.
    The phrases stay Jira's as PAY-42 reads them; a Blocks link keeps its direction."""
    raw = [
        {"id": "1", "type": DEPENDENCY, "outwardIssue": ref("10060", "PAY-60")},
        {"id": "2", "type": DEPENDENCY, "inwardIssue": ref("10061", "PAY-61")},
        {"id": "3", "type": BLOCKS, "outwardIssue": ref("10050", "PAY-50")},
    ]
    links = issue_links("10042", "PAY-42", raw, ["Blocks", "dependency"], ["DEPENDENCY"])
    assert links == [
        ItemLink("10042", "depends on", LinkDirection.INWARD, "PAY-60", "10060"),
        ItemLink("10042", "is needed by", LinkDirection.OUTWARD, "PAY-61", "10061"),
        ItemLink("10042", "blocks", LinkDirection.OUTWARD, "PAY-50", "10050"),
    ]
    # without `waiting_outward` the type's outward end is taken to block, as for Blocks
    assert [link.direction for link in issue_links("10042", "PAY-42", raw[:1], ["Dependency"])] == [
        LinkDirection.OUTWARD
    ]


def test_the_issue_context_carries_the_reversed_types_to_the_links() -> None:
    ctx = IssueContext(
        base_url="https://acme.atlassian.net", field_ids=IDS, status_map={},
        team_for_project={}, link_types=("Dependency",), waiting_outward=("Dependency",),
    )  # fmt: skip
    link = {"id": "1", "type": DEPENDENCY, "outwardIssue": ref("10060", "PAY-60")}
    raw = issue(issuelinks=[link])
    assert convert_issue(raw, [], ctx).links == [
        ItemLink("10042", "depends on", LinkDirection.INWARD, "PAY-60", "10060")
    ]


def test_a_link_without_a_target_key_is_skipped_and_logged() -> None:
    raw = [
        {"id": "1", "type": BLOCKS, "outwardIssue": {"id": "10050"}},
        {"id": "2", "type": BLOCKS},
        {"id": "3", "type": BLOCKS, "inwardIssue": {"key": "GONE-1"}},
        "not a link",
    ]
    with capture_logs() as logs:
        links = issue_links("10042", "PAY-42", raw, ["Blocks"])
    assert links == [ItemLink("10042", "is blocked by", LinkDirection.INWARD, "GONE-1", None)]
    assert [e["event"] for e in logs] == ["jira_link_without_target"]


@pytest.mark.parametrize(
    ("issuetype", "item_type", "level"),
    [
        ({"name": "Sub-task", "subtask": True, "hierarchyLevel": -1}, "subtask", "subtask"),
        ({"name": "Story", "hierarchyLevel": 0}, "story", "story"),
        ({"name": "Bug", "hierarchyLevel": 0}, "bug", "story"),
        ({"name": "Task", "hierarchyLevel": 0}, "task", "task"),
        ({"name": "Epic", "hierarchyLevel": 1}, "epic", "epic"),
        ({"name": "Feature", "hierarchyLevel": 1}, "other", "epic"),  # a renamed epic level
        ({"name": "Initiative", "hierarchyLevel": 2}, "other", "initiative"),
        ({"name": "Theme", "hierarchyLevel": 3}, "other", "theme"),
        # Server/Data Center: no hierarchyLevel, the type says it
        ({"name": "Epic", "subtask": False}, "epic", "epic"),
        ({"name": "Sub-task", "subtask": True}, "subtask", "subtask"),
        ({"name": "Improvement", "subtask": False}, "other", "story"),
        ({}, "other", None),
    ],
)
def test_level_from_the_hierarchy_level(issuetype: dict, item_type: str, level: str) -> None:
    assert issue_level(issuetype, item_type) == level


def test_epic_link_when_there_is_no_parent_and_a_self_parent_dropped() -> None:
    linked = convert_issue(issue(parent=None, customfield_10014="PAY-7"), [], CTX).item
    assert (linked.parent_key, linked.parent_type) == ("PAY-7", None)
    # `parent` wins over the older field
    both = convert_issue(issue(customfield_10014="PAY-7"), [], CTX).item
    assert both.parent_key == "PAY-40"
    with capture_logs() as logs:
        itself = convert_issue(issue(parent={"id": "10042", "key": "PAY-42"}), [], CTX).item
    assert itself.parent_key is None
    assert [e["event"] for e in logs] == ["jira_parent_is_itself"]


def test_garbage_dates_are_unknown_and_logged_never_an_error() -> None:
    with capture_logs() as logs:
        item = convert_issue(issue(duedate="next Tuesday", customfield_10023=17), [], CTX).item
    assert (item.due_date, item.target_end) == (None, date(1970, 1, 1))
    assert [(e["event"], e["field"]) for e in logs] == [("jira_date_unreadable", "duedate")]
    assert jira_date("2026-12-07 00:00:00.0") == date(2026, 12, 7)
    assert jira_date(1278385482288) == date(2010, 7, 6)  # the spec example's epoch millis
    assert jira_date(10**30) is None


def test_no_priority_rank_versions_or_links_leave_the_defaults() -> None:
    raw = issue(priority=None, customfield_10019="", fixVersions=None, issuelinks=None)
    bundle = convert_issue(raw, [], CTX)
    assert (bundle.item.priority, bundle.item.rank, bundle.item.release_ids) == (None, None, ())
    assert bundle.links == []


def test_date_history_from_the_changelog_slips_and_a_garbage_value() -> None:
    """Each change of a date field is a change: ISO days, None when unset or unreadable."""
    histories = [
        history("301", "2026-03-03T10:00:00.000+0000",
                date_item("duedate", "duedate", None, "2026-04-15")),
        history("302", "2026-03-04T10:00:00.000+0000",
                date_item("duedate", "duedate", "2026-04-15", "2026-04-30"),
                date_item("customfield_10023", "Target end", "2026-05-01", "2026-05-15")),
        history("303", "2026-03-05T10:00:00.000+0000",
                {"field": "duedate", "fieldtype": "jira", "from": "2026-04-30",
                 "fromString": "2026-04-30 00:00:00.0", "to": "soon", "toString": "soon"}),
    ]  # fmt: skip
    changes = convert_issue(issue(), histories, CTX).changes
    assert changes == [
        ItemChange("10042", "301:due_date", ChangeField.DUE_DATE, at(3), None, "2026-04-15",
                   None, "2026-04-15 00:00:00.0", "acc-1"),
        ItemChange("10042", "302:due_date", ChangeField.DUE_DATE, at(4), "2026-04-15",
                   "2026-04-30", "2026-04-15 00:00:00.0", "2026-04-30 00:00:00.0", "acc-1"),
        ItemChange("10042", "302:target_end", ChangeField.TARGET_END, at(4), "2026-05-01",
                   "2026-05-15", "2026-05-01 00:00:00.0", "2026-05-15 00:00:00.0", "acc-1"),
        # Server without fieldId: by name; "soon" is not a date
        ItemChange("10042", "303:due_date", ChangeField.DUE_DATE, at(5), "2026-04-30", None,
                   "2026-04-30 00:00:00.0", "soon", "acc-1"),
    ]  # fmt: skip


def test_versions_as_releases() -> None:
    """`GET /project/{key}/versions` (and an issue's `fixVersions`): dates may be missing."""
    released = convert_version(
        {"id": "10000", "name": "2026.1", "projectId": 10000, "released": True,
         "archived": False, "startDate": "2026-01-05", "releaseDate": "2026-02-27",
         "userReleaseDate": "27/Feb/26", "overdue": False},
        "PAY",
    )  # fmt: skip
    assert released == ReleaseRecord(
        "10000", "2026.1", "PAY", date(2026, 1, 5), date(2026, 2, 27), True, False
    )
    with capture_logs() as logs:
        undated = convert_version(
            {"id": "10010", "name": "Later", "archived": True, "releaseDate": "TBD"}, None
        )
    assert undated == ReleaseRecord("10010", "Later", None, None, None, False, True)
    assert [e["event"] for e in logs] == ["jira_date_unreadable"]


def test_a_versions_plan_is_its_date_while_unreleased_and_kept_once_released() -> None:
    """Jira keeps one date per version. While unreleased it is the plan (noted in the
    bookmark's plans); once released, the date may have moved to the ship day, so the plan
    is the one noted before; a version never seen unreleased has none."""
    plans: dict[str, str] = {"9": "2026-01-31"}
    planned = ReleaseRecord("1", "2026.1", "PAY", None, date(2026, 2, 27), False, False)
    noted_plan(plans, planned)
    assert plans == {"1": "2026-02-27", "9": "2026-01-31"}
    assert with_plan(planned, plans).planned_date == date(2026, 2, 27)

    # Released on 6 Mar, its date moved to that day: 7 days late against the plan kept.
    shipped = replace(planned, release_date=date(2026, 3, 6), released=True)
    noted_plan(plans, shipped)
    assert plans == {"1": "2026-02-27", "9": "2026-01-31"}  # a released version notes nothing
    assert with_plan(shipped, plans) == replace(shipped, planned_date=date(2026, 2, 27))

    # First seen released: unknown. Unreleased with its date cleared: no plan any more.
    other = ReleaseRecord("2", "2025.4", "PAY", None, date(2025, 12, 1), True, False)
    assert with_plan(other, plans).planned_date is None
    noted_plan(plans, replace(planned, release_date=None))
    assert plans == {"9": "2026-01-31"}
    assert with_plan(replace(planned, release_date=None), plans).planned_date is None

    # A kept plan that is not a day (a hand-edited bookmark) is unknown, with a warning.
    with capture_logs() as logs:
        garbled = with_plan(replace(other, external_id="9"), {"9": "soon"})
    assert garbled.planned_date is None
    assert [(e["event"], e["field"]) for e in logs] == [("jira_date_unreadable", "planned")]


FIELDS = [
    {"id": "duedate", "name": "Due date", "custom": False, "clauseNames": ["due", "duedate"]},
    {"id": "customfield_10019", "name": "Rank", "custom": True, "clauseNames": ["rank"],
     "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-lexo-rank"}},
    {"id": "customfield_10014", "name": "Epic Link", "custom": True,
     "clauseNames": ["cf[10014]", "Epic Link"],
     "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"}},
    {"id": "customfield_10022", "name": "Target start", "custom": True,
     "clauseNames": ["cf[10022]", "Target start"],
     "schema": {"type": "date", "custom": "com.atlassian.jpo:jpo-custom-field-baseline-start"}},
    {"id": "customfield_10023", "name": "Target end", "custom": True,
     "clauseNames": ["cf[10023]", "Target end"],
     "schema": {"type": "date", "custom": "com.atlassian.jpo:jpo-custom-field-baseline-end"}},
]  # fmt: skip


def test_find_field_ids_rank_epic_link_and_configured_dates() -> None:
    ids = find_field_ids(FIELDS, None, target_start="Target start", target_end="customfield_10023")
    assert (ids.rank, ids.epic_link) == ("customfield_10019", "customfield_10014")
    assert (ids.start_date, ids.target_start, ids.target_end) == (
        None, "customfield_10022", "customfield_10023",
    )  # fmt: skip
    assert ids.bulk_field_ids() == [
        "status", "assignee", "duedate", "customfield_10022", "customfield_10023",
    ]  # fmt: skip
    assert ids.search_field_ids() == [
        "customfield_10019", "customfield_10014", "customfield_10022", "customfield_10023",
    ]  # fmt: skip
    assert JiraFieldIds.from_json(ids.to_json()) == ids
    with pytest.raises(LookupError, match="target_end_field 'Target finish'"):
        find_field_ids(FIELDS, None, target_end="Target finish")


def test_the_releases_bookmark_and_an_old_site_cache() -> None:
    """The releases stream keeps the projects it reads and the start dates; a site cache
    written before Rank was looked for is used as it is until it expires."""
    kept = ReleasesBookmark(("ABC", "DEF"), {"10100": "2026-01-05"}, {"10101": "2026-03-31"})
    assert ReleasesBookmark.from_json(kept.to_json()) == kept
    assert ReleasesBookmark.from_json({"version": 1}) == ReleasesBookmark()
    # written before plans were kept: none known
    old_release = {"version": 1, "projects": ["ABC"], "starts": {"10100": "2026-01-05"}}
    assert ReleasesBookmark.from_json(old_release) == ReleasesBookmark(
        ("ABC",), {"10100": "2026-01-05"}, {}
    )
    cached = SiteBookmark(
        fetched_at=datetime(2026, 12, 1, tzinfo=UTC),
        time_zone="UTC",
        account_id="bot",
        field_ids=IDS,
        boards=(),
    )
    old = cached.to_json()
    old["field_ids"] = {k: v for k, v in old["field_ids"].items() if k != "rank"}
    read = SiteBookmark.from_json(old)
    assert (read.fetched_at, read.field_ids.rank) == (datetime(2026, 12, 1, tzinfo=UTC), None)


def test_components_by_name_sorted_once_none_when_absent_or_malformed() -> None:
    """`fields.components` as the search answers it (self, id, name, description): the names,
    which portfolio.yaml's themes match; a component without a name, or a value not shaped as
    Jira's list, is none rather than a failed conversion."""
    components = [
        {"self": "https://acme.atlassian.net/rest/api/3/component/10002", "id": "10002",
         "name": "Payments", "description": "Card and wallet payments"},
        {"self": "https://acme.atlassian.net/rest/api/3/component/10001", "id": "10001",
         "name": "API"},
        {"id": "10003"},
        {"id": "10002", "name": "Payments"},
    ]  # fmt: skip
    assert convert_issue(issue(components=components), [], CTX).item.components == (
        "API",
        "Payments",
    )
    assert convert_issue(issue(), [], CTX).item.components == ()  # not in the answer
    assert convert_issue(issue(components=[]), [], CTX).item.components == ()
    assert convert_issue(issue(components="API"), [], CTX).item.components == ()
    # Jira has no area path: that is Azure DevOps'.
    assert convert_issue(issue(components=components), [], CTX).item.area_path is None
