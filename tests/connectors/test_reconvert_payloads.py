"""Each connector's re-conversion of a stored payload, pure: what it knows, what it leaves.

A payload keeps the fields its sync asked for: one written before the portfolio fields were
asked for lacks them, and a fact it lacks is not known (the store keeps what it has), never
read as "unset"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.base import Reconverted, StoredItem
from connectors.jira import JiraConfig, JiraConnector
from connectors.jira.convert import JiraFieldIds
from connectors.jira.reconvert import JiraReconversion
from connectors.jira.streams import ReleasesBookmark, SiteBookmark
from connectors.trello import TrelloConfig, TrelloConnector
from pmo_sync.common.rank import sortable_rank
from pmo_sync.domain import ChangeField, ItemChange, ItemLink, LinkDirection, ReleaseRecord

TODAY = date(2026, 12, 7)
RANK = "customfield_10019"
BLOCKS = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("T_JIRA", "T_ADO", "T_TRELLO_KEY", "T_TRELLO"):
        monkeypatch.setenv(name, "x")


def _jira() -> JiraConfig:
    return JiraConfig.model_validate(
        {"name": "j", "kind": "jira", "url": "https://acme.atlassian.net",
         "email": "p@acme.example", "token": "${T_JIRA}", "jql": "project = ABC"}
    )  # fmt: skip


def _issue(fields: dict[str, Any], histories: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {
        "id": "10001",
        "key": "ABC-1",
        "fields": {
            "summary": "An epic",
            "issuetype": {"name": "Epic", "hierarchyLevel": 1},
            "status": {"name": "To Do", "statusCategory": {"key": "new"}},
            "project": {"key": "ABC"},
            "created": "2026-11-02T09:00:00.000+0000",
            "updated": "2026-11-03T09:00:00.000+0000",
            **fields,
        },
        "changelog": {"total": total, "histories": histories},
    }


DUE_MOVED = {
    "id": "501",
    "created": "2026-11-03T09:00:00.000+0000",
    "author": {"accountId": "a-1"},
    "items": [{"field": "duedate", "fieldId": "duedate", "from": None, "to": "2026-12-18",
               "fromString": None, "toString": "2026-12-18 00:00:00.0"}],
}  # fmt: skip
AT = datetime(2026, 11, 3, 9, tzinfo=UTC)


def _stored(raw: dict[str, Any], status: str = "", labels: tuple[str, ...] = ()) -> StoredItem:
    return StoredItem(str(raw["id"]), str(raw.get("key", raw["id"])), raw, status, labels)


def test_jira_reads_every_fact_of_a_payload_that_holds_them() -> None:
    cached = SiteBookmark(AT, "UTC", "bot", JiraFieldIds(None, None, None, rank=RANK), ())
    # 2026.3 (201) was read planned for 20 Nov while unreleased, shipped 28 Nov; 2026.2 (199)
    # was first read already released: its plan is unknown.
    releases = ReleasesBookmark(("ABC",), {"200": "2026-10-01"}, {"201": "2026-11-20"})
    stored = {"site": cached.to_json(), "releases": releases.to_json()}
    reconversion = JiraConnector.reconversion(_jira(), stored.get, TODAY)
    raw = _issue(
        {
            "duedate": "2026-12-18",
            "priority": {"name": "High"},
            "components": [{"id": "1", "name": "Payments"}, {"id": "2", "name": "Checkout"}],
            RANK: "0|i0000f:",
            "fixVersions": [
                {"id": "200", "name": "2026.4", "releaseDate": "2026-12-20"},
                {"id": "201", "name": "2026.3", "releaseDate": "2026-11-28", "released": True},
                {"id": "199", "name": "2026.2", "releaseDate": "2026-10-30", "released": True},
            ],
            "issuelinks": [
                {"id": "9", "type": BLOCKS, "outwardIssue": {"id": "10002", "key": "ABC-2"}}
            ],
        },
        [DUE_MOVED],
        1,
    )
    assert reconversion is not None and reconversion.kept == ()
    assert reconversion.reconvert(_stored(raw)) == Reconverted(
        columns={
            "level": "epic",
            "due_date": date(2026, 12, 18),
            "priority": "High",
            "components": ("Checkout", "Payments"),
            "rank": "0|i0000f:",
            "start_date": None,  # the site has no such field configured: known to be empty
            "target_start": None,
            "target_end": None,
        },
        links=(ItemLink("10001", "blocks", LinkDirection.OUTWARD, "ABC-2", "10002"),),
        release_ids=("200", "201", "199"),
        releases=(
            ReleaseRecord(  # not released: the plan is its release date
                "200",
                "2026.4",
                "ABC",
                date(2026, 10, 1),
                date(2026, 12, 20),
                False,
                False,
                date(2026, 12, 20),
            ),
            ReleaseRecord(  # released 8 days late: the bookmark's plan
                "201", "2026.3", "ABC", None, date(2026, 11, 28), True, False, date(2026, 11, 20)
            ),
            ReleaseRecord("199", "2026.2", "ABC", None, date(2026, 10, 30), True, False),
        ),
        date_changes=(
            ItemChange(
                "10001",
                "501:due_date",
                ChangeField.DUE_DATE,
                AT,
                None,
                "2026-12-18",
                None,
                "2026-12-18 00:00:00.0",
                "a-1",
            ),
        ),
    )


def test_jira_leaves_what_an_older_payload_lacks_and_a_history_it_holds_in_part() -> None:
    """Fetched before the search asked for due date, priority, fix versions, links and Rank;
    its changelog is the search's latest entries of more (completed by a call, not kept)."""
    reconversion = JiraReconversion(_jira(), JiraFieldIds(None, None, None, rank=RANK), {})
    raw = _issue({}, [DUE_MOVED], 140)
    assert reconversion.reconvert(_stored(raw)) == Reconverted(
        columns={"level": "epic", "start_date": None, "target_start": None, "target_end": None}
    )


def test_jira_without_the_site_cache_says_which_facts_stay() -> None:
    reconversion = JiraConnector.reconversion(_jira(), {}.get, TODAY)
    assert reconversion is not None
    assert reconversion.kept == ("rank, start date and target dates (no cached Jira field ids)",)
    found = reconversion.reconvert(_stored(_issue({"duedate": None}, [DUE_MOVED], 1)))
    assert found.columns == {"level": "epic", "due_date": None}
    assert [c.change_id for c in found.date_changes] == ["501:due_date"]


def test_a_jira_payload_that_is_no_issue_raises_for_the_store_to_skip() -> None:
    reconversion = JiraReconversion(_jira(), None, {})
    with pytest.raises(KeyError):
        reconversion.reconvert(StoredItem("1", "ABC-1", {"id": "1"}, "", ()))


def test_azure_devops_reads_the_latest_revision_and_leaves_links_and_history() -> None:
    config = AzureDevOpsConfig.model_validate(
        {"name": "a", "kind": "azure_devops", "organization_url": "https://dev.azure.com/c",
         "token": "${T_ADO}", "project": "Fabrikam",
         "releases": {"tag": "release-{name}", "dates": {"2027.1": {"planned": "2027-03-31"}}}}
    )  # fmt: skip
    reconversion = AzureDevOpsConnector.reconversion(config, {}.get, TODAY)
    assert reconversion is not None
    raw = {
        "id": "42",
        "fields": {
            "System.WorkItemType": "Feature",
            "System.AreaPath": "Fabrikam\\Phoenix",
            "Microsoft.VSTS.Scheduling.FinishDate": "2026-12-10T23:00:00Z",
            "Microsoft.VSTS.Common.Priority": 2,
            "Microsoft.VSTS.Common.StackRank": 1999.25,
            "System.Tags": "Release-2027.1; ux",
        },
    }
    assert reconversion.reconvert(_stored(raw)) == Reconverted(
        columns={
            "level": "feature",
            "start_date": None,
            "due_date": date(2026, 12, 11),
            "target_start": None,
            "target_end": None,
            "priority": "2",
            "rank": sortable_rank(1999.25),
            "area_path": "Fabrikam\\Phoenix",
        },
        release_ids=("2027.1",),
        releases=(
            ReleaseRecord(
                "2027.1",
                "2027.1",
                "Fabrikam",
                None,
                date(2027, 3, 31),
                False,
                False,
                date(2027, 3, 31),
            ),
        ),
    )  # links None: kept as stored
    assert reconversion.kept == ("dependency links and date history (not in the stored payload)",)


@pytest.mark.parametrize(
    ("priority", "columns", "kept"),
    [
        (
            {"from": "label", "prefix": "Priority: "},
            {"level": "epic", "priority": "High"},
            ("start and due dates, rank and dependency links (not in the stored payload)",),
        ),
        (
            {"from": "custom_field", "name": "Priority"},
            {"level": "epic"},
            (
                "start and due dates, rank and dependency links (not in the stored payload)",
                "the custom-field priority",
            ),
        ),
    ],
)
def test_trello_reads_the_stored_labels_and_list(
    priority: dict[str, str], columns: dict[str, Any], kept: tuple[str, ...]
) -> None:
    config = TrelloConfig.model_validate(
        {"name": "t", "kind": "trello", "api_key": "${T_TRELLO_KEY}", "token": "${T_TRELLO}",
         "boards": ["Team Alpha"],
         "portfolio": {"priority": priority, "releases": {
             "list": "Ship {name}", "label": "Release {name}",
             "dates": {"2026.4": {"planned": "2026-11-30", "released": "2026-12-02"}}}}}
    )  # fmt: skip
    reconversion = TrelloConnector.reconversion(config, {}.get, TODAY)
    assert reconversion is not None and reconversion.kept == kept
    card = {"id": "c1", "fields": {"idList": "l1"}}
    found = reconversion.reconvert(
        _stored(card, "Ship 2026.4", ("Epic", "Priority: High", "Release 2027.1"))
    )
    assert found == Reconverted(
        columns=columns,
        release_ids=("2026.4", "2027.1"),
        releases=(
            ReleaseRecord(
                "2026.4", "2026.4", None, None, date(2026, 12, 2), True, False, date(2026, 11, 30)
            ),
            ReleaseRecord("2027.1", "2027.1", None, None, None, False, False),
        ),
    )
