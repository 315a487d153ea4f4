"""Stream bookmarks: versioned types whose JSON round-trips, that read every shape stored by
earlier releases, and the shared set of ids to read again (`connectors/bookmarks.py`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.azure_devops.streams import MetadataBookmark, TeamInfo, WorkItemsBookmark
from connectors.bookmarks import BookmarkUnreadable, RetrySet, load_bookmark, readable
from connectors.jira.convert import JiraFieldIds
from connectors.jira.streams import (
    BoardInfo,
    IssuesBookmark,
    SiteBookmark,
    SprintsBookmark,
    StatusesBookmark,
)
from connectors.trello.convert import BoardInfo as TrelloBoard
from connectors.trello.convert import FieldInfo, ListInfo
from connectors.trello.streams import BoardMark, CardsBookmark

AT = "2026-11-20T11:10:28.679026+00:00"
MOMENT = datetime.fromisoformat(AT)


# -- the shared parts ---------------------------------------------------------------------


def test_retry_set_reads_again_what_the_usual_read_did_not_bring_back() -> None:
    retry = RetrySet.of(["10", "9", "100"], sort_key=lambda i: (len(i), i))
    assert "9" in retry and "11" not in retry
    assert retry.found("10") is True  # back in the usual read: no read of its own
    assert retry.found("11") is False
    assert retry.unread() == ["9", "100"]  # in the key's order
    assert not retry.unchanged  # all three left: converted or gone
    retry.skip("100")
    retry.skip("7")
    assert retry.next_retry() == ("7", "100")
    assert RetrySet.of([3, 1]).unread() == [1, 3]  # natural order by default


def test_retry_set_unchanged_when_the_same_ids_fail_again() -> None:
    retry = RetrySet.of([5, 2])
    retry.skip(2)
    retry.skip(5)
    assert retry.unchanged and retry.next_retry() == (2, 5)
    assert RetrySet.of(()).unchanged


def test_a_stored_bookmark_without_version_is_version_1_and_a_later_one_unreadable() -> None:
    assert readable({"a": 1}, 1) == {"a": 1}
    assert readable({"version": 1, "a": 1}, 1)["a"] == 1
    with pytest.raises(BookmarkUnreadable, match="version 2; this release reads 1"):
        readable({"version": 2}, 1)


@pytest.mark.parametrize(
    "stored",
    [
        {"version": 2, "watermark": AT},  # a later release's
        {"seen": {}},  # no watermark
        {"watermark": "yesterday"},  # not a date
        {"watermark": AT, "seen": ["10001"]},  # `seen` not a mapping
    ],
)
def test_a_bookmark_that_cannot_be_understood_loads_as_none_and_says_so(
    stored: dict[str, Any],
) -> None:
    with capture_logs() as logs:
        assert load_bookmark(IssuesBookmark.from_json, stored, "issues") is None
    assert [(e["event"], e["stream"], e["then"]) for e in logs] == [
        ("bookmark_unreadable", "issues", "a full read")
    ]


def test_no_bookmark_or_an_empty_one_loads_as_none_quietly() -> None:
    with capture_logs() as logs:
        assert load_bookmark(IssuesBookmark.from_json, None, "issues") is None
        assert load_bookmark(IssuesBookmark.from_json, {}, "issues") is None
    assert logs == []


def test_bookmarks_are_frozen() -> None:
    bookmark = IssuesBookmark(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(AttributeError):
        bookmark.watermark = MOMENT  # type: ignore[misc]


# -- Jira ---------------------------------------------------------------------------------

FIELD_IDS = {
    "sprint": "customfield_10020",
    "story_points": "customfield_10016",
    "flagged": "customfield_10021",
    "story_points_name": "Story point estimate",
    "clause_names": {"Sprint": "customfield_10020"},
}
BOARD = {"id": 1, "name": "Team Alpha", "type": "scrum", "project": "ABC"}


def test_jira_site_cache_of_every_release_loads() -> None:
    today = {
        "fetched_at": AT,
        "time_zone": "America/New_York",
        "account_id": "e90290cc",
        "field_ids": FIELD_IDS,
        "boards": [BOARD, {**BOARD, "id": 4, "type": "kanban", "project": None}],
    }
    site = SiteBookmark.from_json(today)
    assert (site.fetched_at, site.time_zone, site.account_id) == (
        MOMENT,
        "America/New_York",
        "e90290cc",
    )
    assert site.field_ids == JiraFieldIds.from_json(FIELD_IDS)
    assert site.boards == (
        BoardInfo(1, "Team Alpha", "scrum", "ABC"),
        BoardInfo(4, "Team Alpha", "kanban", None),
    )
    assert SiteBookmark.from_json(site.to_json()) == site
    assert site.to_json()["version"] == 1
    first = {k: v for k, v in today.items() if k != "account_id"}
    assert SiteBookmark.from_json(first).fetched_at is None  # no API user kept: expired


def test_jira_issues_bookmark_of_every_release_loads() -> None:
    first = {"watermark": AT, "seen": {"10299": "2026-11-20T11:10:29.000+0000"}}
    loaded = IssuesBookmark.from_json(first)
    assert loaded == IssuesBookmark(MOMENT, {"10299": "2026-11-20T11:10:29.000+0000"}, ())
    today = {**first, "retry": ["10007", "9", "DROP TABLE", 10011]}
    assert IssuesBookmark.from_json(today).retry == ("10007", "9", "10011")  # numbers only
    bookmark = IssuesBookmark(MOMENT, {"1": "x"}, ("9", "10"))
    assert bookmark.to_json() == {
        "version": 1,
        "watermark": AT,
        "seen": {"1": "x"},
        "retry": ["9", "10"],
    }
    assert IssuesBookmark.from_json(bookmark.to_json()) == bookmark


def test_jira_sprints_and_statuses_bookmarks_load_as_stored() -> None:
    sprints = SprintsBookmark.from_json({"refreshed_at": AT, "open": {"1": ["40", "43"]}})
    assert sprints == SprintsBookmark(MOMENT, {"1": ("40", "43")})
    assert sprints.to_json() == {"version": 1, "refreshed_at": AT, "open": {"1": ["40", "43"]}}
    statuses = StatusesBookmark.from_json({"statuses": {"To Do": ["10000", "new"]}})
    assert statuses == StatusesBookmark({"To Do": ("10000", "new")})
    assert statuses.to_json() == {"version": 1, "statuses": {"To Do": ["10000", "new"]}}


# -- Azure DevOps -------------------------------------------------------------------------

TEAM = {
    "name": "Phoenix",
    "area_paths": ["Fabrikam\\Phoenix"],
    "iterations": [{"id": "187d", "name": "Sprint 1", "path": "Fabrikam\\Phoenix\\Sprint 1"}],
}
STATES = {"Bug": [{"name": "Active", "category": "InProgress"}]}


def test_ado_metadata_cache_of_every_release_loads() -> None:
    today = {"fetched_at": AT, "teams": [TEAM], "states": STATES, "api_user": "pmo@contoso.com"}
    metadata = MetadataBookmark.from_json(today)
    assert metadata == MetadataBookmark(
        MOMENT, (TeamInfo(**TEAM),), STATES, "pmo@contoso.com", fields=None
    )
    assert metadata.to_json() == {"version": 1, **today}  # no field list known: none written
    with_fields = MetadataBookmark(MOMENT, (), {}, None, fields=("System.Id",))
    assert MetadataBookmark.from_json(with_fields.to_json()) == with_fields
    first = {"fetched_at": AT, "teams": [TEAM], "states": STATES}
    assert MetadataBookmark.from_json(first).fetched_at is None  # no identity: expired


def test_ado_metadata_cache_covers_the_types_whose_states_it_asked() -> None:
    asked = MetadataBookmark(MOMENT, (), {}, None, types=("User Story", "Epic"))
    assert asked.to_json()["types"] == ["User Story", "Epic"]
    assert MetadataBookmark.from_json(asked.to_json()) == asked
    assert asked.covers(["epic", "USER STORY"])  # any case
    assert not asked.covers(["User Story", "Epic", "Feature"])  # Feature's states not asked
    unknown = {"fetched_at": AT, "teams": [TEAM], "states": STATES, "api_user": "pmo@contoso.com"}
    assert not MetadataBookmark.from_json(unknown).covers([])  # kept before `types`: refresh


def test_ado_work_items_bookmark_of_every_release_loads() -> None:
    first = {"continuation_token": "462", "scope": '{"areas": [], "types": ["bug"]}'}
    assert WorkItemsBookmark.from_json(first) == WorkItemsBookmark("462", first["scope"], ())
    today = {**first, "retry": [7, "12", "x"]}
    loaded = WorkItemsBookmark.from_json(today)
    assert loaded.retry == (7, 12)
    assert loaded.to_json() == {"version": 1, **first, "retry": [7, 12]}
    assert WorkItemsBookmark.from_json({"continuation_token": None, "scope": "s"}).retry == ()


# -- Trello -------------------------------------------------------------------------------

BOARD_MARK = {
    "name": "Team Alpha",
    "lists": [["l1", "To Do", False], ["l2", "Ideas (old)", True]],
    "fields": [["f1", "Sprint", "list", {"o1": "Sprint 11"}]],
    "last_action": "a9",
    "sprints": ["Sprint 11"],
}


def test_trello_cards_bookmark_of_every_release_loads() -> None:
    first = {
        "scope": "d795",
        "resolved_at": AT,
        "bot": "m1",
        "order": ["b1"],
        "boards": {"b1": BOARD_MARK},
    }
    loaded = CardsBookmark.from_json(first)
    info = TrelloBoard(
        "b1",
        "Team Alpha",
        {
            "l1": ListInfo("l1", "To Do", "b1", False),
            "l2": ListInfo("l2", "Ideas (old)", "b1", True),
        },
        {"f1": FieldInfo("f1", "Sprint", "list", "b1", {"o1": "Sprint 11"})},
    )
    assert loaded == CardsBookmark(
        "d795", MOMENT, "m1", ("b1",), {"b1": BoardMark(info, "a9", ("Sprint 11",))}, ()
    )
    today = {**first, "retry": ["c2", "c1"]}
    assert CardsBookmark.from_json(today).retry == ("c2", "c1")
    assert CardsBookmark.from_json(today).to_json() == {"version": 1, **today}


def test_trello_cards_bookmark_naming_a_board_it_has_no_mark_for_is_unreadable() -> None:
    stored = {
        "scope": "d795",
        "resolved_at": AT,
        "bot": None,
        "order": ["b1", "b2"],
        "boards": {"b1": BOARD_MARK},
    }
    with pytest.raises(BookmarkUnreadable, match="b2"):
        CardsBookmark.from_json(stored)
    assert load_bookmark(CardsBookmark.from_json, stored, "cards") is None
