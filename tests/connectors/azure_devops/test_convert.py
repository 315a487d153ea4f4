"""Azure DevOps revisions → records: the official reporting-revisions shape and hand-built ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.convert import (
    AdoContext,
    convert_iteration,
    convert_revisions,
    convert_state,
    hold_revision,
    parse_ado_datetime,
)
from pmo_sync.domain import ChangeField, CheckItem, SprintMembership, Stage

from ...api_samples import api_sample

CATEGORIES = {
    ("User Story", "New"): "Proposed",
    ("User Story", "Active"): "InProgress",
    ("User Story", "Resolved"): "Resolved",
    ("User Story", "Closed"): "Completed",
    ("User Story", "Removed"): "Removed",
    ("Product Backlog Item", "New"): "Proposed",
}
CTX = AdoContext(
    organization_url="https://dev.azure.com/contoso/",
    project="Fabrikam",
    state_categories=CATEGORIES,
    iteration_ids={"Fabrikam\\Sprint 1": "it-1", "Fabrikam\\Sprint 2": "it-2"},
    team_of_area={"Fabrikam\\Web": "Web Team", "Fabrikam": "Fabrikam Team"},
    estimate_fields=("Microsoft.VSTS.Scheduling.StoryPoints",),
    bot="pmo-bot@contoso.example",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BEN = "Ben <ben@contoso.example>"


def rev(n: int, changed: str, by: str = "Ana <ana@contoso.example>", **fields: Any) -> dict:
    base = {
        "System.Id": 42,
        "System.Rev": n,
        "System.WorkItemType": "User Story",
        "System.TeamProject": "Fabrikam",
        "System.AreaPath": "Fabrikam\\Web",
        "System.IterationPath": "Fabrikam",
        "System.State": "New",
        "System.Title": "Checkout",
        "System.CreatedDate": "2026-03-02T09:00:00.123Z",
        "System.ChangedDate": changed,
        "System.ChangedBy": by,
    }
    base.update(fields)
    return {"id": 42, "rev": n, "fields": base}


def test_parse_ado_datetime_takes_any_number_of_fraction_digits() -> None:
    assert parse_ado_datetime("2014-03-18T17:17:05.76Z") == datetime(
        2014, 3, 18, 17, 17, 5, 760000, UTC
    )
    assert parse_ado_datetime("2014-03-18T17:17:05Z") == utc(2014, 3, 18, 17, 17, 5)
    assert parse_ado_datetime("2014-03-18T17:17:05.1234567Z") == datetime(
        2014, 3, 18, 17, 17, 5, 123456, UTC
    )


def test_the_official_sample_revisions_convert() -> None:
    """The reporting-revisions example: item 1 in two revisions, no state change."""
    sample = api_sample("azure-devops", "reporting-workitemrevisions.GET.example.json")
    values = sample["responses"]["200"]["body"]["values"]
    bundle = convert_revisions([v for v in values if v["id"] == 1], CTX)
    item = bundle.item
    assert (item.key, item.raw_type, item.item_type, item.status) == (
        "1", "Product Backlog Item", "story", "New",
    )  # fmt: skip
    assert (item.status_category, item.stage) == ("Proposed", Stage.TODO)
    assert item.created == datetime(2014, 3, 18, 17, 16, 56, 250000, UTC)
    assert item.updated == datetime(2014, 3, 18, 17, 17, 5, 760000, UTC)
    assert bundle.changes == [] and bundle.memberships == []


def test_history_becomes_changes_stays_and_a_final_done() -> None:
    """New → Active (in Sprint 1, 3 points) → Sprint 2, 5 points → Closed → reopened → Closed."""
    revisions = [
        rev(1, "2026-03-02T09:00:00.123Z"),
        rev(2, "2026-03-03T10:00:00Z", **{
            "System.State": "Active", "System.IterationPath": "Fabrikam\\Sprint 1",
            "Microsoft.VSTS.Scheduling.StoryPoints": 3, "System.AssignedTo": BEN,
        }),
        rev(3, "2026-03-10T10:00:00Z", **{
            "System.State": "Active", "System.IterationPath": "Fabrikam\\Sprint 2",
            "Microsoft.VSTS.Scheduling.StoryPoints": 5, "System.AssignedTo": BEN,
            "System.Tags": "Blocked; web",
        }),
        rev(4, "2026-03-12T10:00:00Z", **{
            "System.State": "Closed", "System.IterationPath": "Fabrikam\\Sprint 2",
            "Microsoft.VSTS.Scheduling.StoryPoints": 5, "System.AssignedTo": BEN,
        }),
        rev(5, "2026-03-13T10:00:00Z", **{
            "System.State": "Active", "System.IterationPath": "Fabrikam\\Sprint 2",
            "Microsoft.VSTS.Scheduling.StoryPoints": 5, "System.AssignedTo": BEN,
        }),
        rev(6, "2026-03-14T10:00:00Z", **{
            "System.State": "Closed", "System.IterationPath": "Fabrikam\\Sprint 2",
            "Microsoft.VSTS.Scheduling.StoryPoints": 5, "System.AssignedTo": BEN,
        }),
        rev(7, "2026-03-15T10:00:00Z", by="pmo-bot <pmo-bot@contoso.example>", **{
            "System.State": "Closed", "System.IterationPath": "Fabrikam\\Sprint 2",
            "Microsoft.VSTS.Scheduling.StoryPoints": 5, "System.AssignedTo": BEN,
            "Custom.CycleTime": 12,
        }),
    ]  # fmt: skip
    bundle = convert_revisions(list(reversed(revisions)), CTX)  # any order
    summary = [(c.change_id, c.from_value, c.to_value) for c in bundle.changes]
    assert summary == [
        ("2:status", "New", "Active"),
        ("2:sprint", None, "it-1"),
        ("2:estimate", None, "3.0"),
        ("2:assignee", None, "ben@contoso.example"),
        ("3:sprint", "it-1", "it-2"),
        ("3:estimate", "3.0", "5.0"),
        ("3:flagged", "false", "true"),
        ("4:status", "Active", "Closed"),
        ("4:flagged", "true", "false"),
        ("5:status", "Closed", "Active"),
        ("6:status", "Active", "Closed"),
    ]
    assert bundle.changes[0].at == utc(2026, 3, 3, 10)
    assert (
        bundle.changes[1].from_display == "Fabrikam"
        and bundle.changes[1].to_display == "Fabrikam\\Sprint 1"
    )
    assert bundle.memberships == [
        SprintMembership("42", "it-1", utc(2026, 3, 3, 10), utc(2026, 3, 10, 10)),
        SprintMembership("42", "it-2", utc(2026, 3, 10, 10), None),
    ]
    item = bundle.item
    assert (item.stage, item.status_category, item.resolved) == (
        Stage.DONE, "Completed", utc(2026, 3, 14, 10),
    )  # fmt: skip
    assert (item.team, item.estimate, item.assignee, item.flagged) == (
        "Web Team", 5.0, "ben@contoso.example", False,
    )  # fmt: skip
    assert item.updated == utc(2026, 3, 15, 10)  # the bot's revision moved `changed`…
    assert item.last_activity == utc(2026, 3, 14, 10)  # …but not a person's activity
    assert item.url == "https://dev.azure.com/contoso/Fabrikam/_workitems/edit/42"
    assert all(c.field is not ChangeField.FLAGGED or c.author for c in bundle.changes)


# Rich text as the web editor saves it: divs, a bold line, a list, entities.
DESCRIPTION_HTML = (
    "<div>As a shopper I want to pay by card so that I can check out</div>"
    "<div><br></div><div><b>Notes</b></div><div>Card data never touches our servers&nbsp;"
    "(PCI)</div>"
)
CRITERIA_HTML = (
    "<ul><li>Visa and Mastercard are accepted</li>"
    "<li>A declined card shows the bank&#39;s reason</li></ul>"
)
CHECKLIST_HTML = "<div>[x] Code reviewed</div><div>[ ] Release notes written</div><div><br></div>"


def test_the_latest_revision_gives_the_description_criteria_and_checklist() -> None:
    """Read from the latest revision only (an earlier one may be held without them); the
    parent's type is not in a revision: None, the store's record of the parent tells."""
    ctx = replace(CTX, checklist_field="Custom.Checklist")
    revisions = [
        hold_revision(1, rev(1, "2026-03-02T09:00:00.123Z")["fields"], ctx.estimate_fields),
        rev(2, "2026-03-03T10:00:00Z", **{
            "System.Parent": 40,
            "System.Description": DESCRIPTION_HTML,
            "Microsoft.VSTS.Common.AcceptanceCriteria": CRITERIA_HTML,
            "Custom.Checklist": CHECKLIST_HTML,
        }),
    ]  # fmt: skip
    item = convert_revisions(revisions, ctx).item
    assert item.description == (
        "As a shopper I want to pay by card so that I can check out\n"
        "Notes\n"
        "Card data never touches our servers (PCI)"
    )
    assert item.acceptance_criteria == (
        "* Visa and Mastercard are accepted\n* A declined card shows the bank's reason"
    )
    assert item.checklist == (
        CheckItem("Code reviewed", True),
        CheckItem("Release notes written", False),
    )
    assert (item.parent_key, item.parent_type) == ("40", None)
    # Not configured, the checklist field is not read; an emptied criteria field is None.
    emptied = rev(3, "2026-03-04T10:00:00Z", **{
        "Microsoft.VSTS.Common.AcceptanceCriteria": "<div><br></div>",
        "Custom.Checklist": CHECKLIST_HTML,
    })  # fmt: skip
    later = convert_revisions([*revisions, emptied], CTX).item
    assert (later.description, later.acceptance_criteria, later.checklist) == (None, None, ())


def test_states_and_iterations() -> None:
    state = convert_state("User Story", {"name": "Resolved", "category": "Resolved"}, {})
    assert (state.external_id, state.stage) == ("User Story:Resolved", Stage.IN_PROGRESS)
    assert convert_state("Bug", {"name": "Done", "category": "Completed"}, {}).stage is Stage.DONE
    now = utc(2026, 3, 20)
    past = convert_iteration(
        {"id": "it-1", "name": "Sprint 1", "attributes": {
            "startDate": "2026-03-02T00:00:00Z", "finishDate": "2026-03-13T00:00:00Z"}},
        "Web Team", now,
    )  # fmt: skip
    last_second = utc(2026, 3, 13) + timedelta(days=1, seconds=-1)  # the last day is in it
    assert (past.state, past.start, past.end) == ("closed", utc(2026, 3, 2), last_second)
    assert past.completed == last_second
    # On its last day, an iteration the service calls current is active, whatever the clock.
    last_day = convert_iteration(
        {"id": "it-2", "name": "Sprint 2", "attributes": {"timeFrame": "current",
            "startDate": "2026-03-16T00:00:00Z", "finishDate": "2026-03-27T00:00:00Z"}},
        "Web Team", utc(2026, 3, 27) + timedelta(hours=15),
    )  # fmt: skip
    assert (last_day.state, last_day.completed) == ("active", None)
    # Without a timeFrame the dates decide: the last day still belongs to the iteration.
    undated_frame = {"startDate": "2026-03-16T00:00:00Z", "finishDate": "2026-03-27T00:00:00Z"}
    raw = {"id": "it-3", "name": "Sprint 3", "attributes": undated_frame}
    assert convert_iteration(raw, "T", utc(2026, 3, 27) + timedelta(hours=23)).state == "active"
    assert convert_iteration(raw, "T", utc(2026, 3, 28)).state == "closed"
    undated = convert_iteration(
        {"id": "x", "name": "Sprint 2", "attributes": {"startDate": None, "finishDate": None}},
        "Web Team", now,
    )  # fmt: skip
    assert (undated.state, undated.start) == ("future", None)


def test_the_issue_config_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADO_PAT", "secret-pat")
    config = AzureDevOpsConfig.model_validate(
        {
            "name": "contoso-ado",
            "kind": "azure_devops",
            "organization_url": "https://dev.azure.com/contoso",
            "token": "${ADO_PAT}",
            "project": "Fabrikam",
        }
    )
    assert config.token.get_secret_value() == "secret-pat"
    assert config.wiql_cap == 20_000
    with pytest.raises(ValueError, match="give teams or area_paths, not both"):
        AzureDevOpsConfig.model_validate(
            {**config.model_dump(), "token": "${ADO_PAT}", "teams": ["A"], "area_paths": ["X"]}
        )


def test_the_area_path_is_kept_as_written_beside_the_team_it_gives() -> None:
    """The team is read from the area path (several paths may fold into one team); a theme
    names the path itself, so the record keeps the latest revision's path as it is. An item
    without one (a payload that leaves the field out) has none, not an empty path."""
    moved = [
        rev(1, "2026-03-02T09:00:00Z", **{"System.AreaPath": "Fabrikam\\Web"}),
        rev(2, "2026-03-03T09:00:00Z", **{"System.AreaPath": "Fabrikam\\Web\\Checkout"}),
    ]
    item = convert_revisions(moved, CTX).item
    # Checkout sits under Web: Web's team, while a theme can tell Checkout from the rest
    assert (item.area_path, item.team) == ("Fabrikam\\Web\\Checkout", "Web Team")
    root = rev(1, "2026-03-02T09:00:00Z", **{"System.AreaPath": "Fabrikam"})
    top = convert_revisions([root], CTX)
    assert (top.item.area_path, top.item.team) == ("Fabrikam", "Fabrikam Team")
    bare = rev(1, "2026-03-02T09:00:00Z")
    del bare["fields"]["System.AreaPath"]
    assert convert_revisions([bare], CTX).item.area_path is None
    assert convert_revisions([bare], CTX).item.components == ()  # components are Jira's
