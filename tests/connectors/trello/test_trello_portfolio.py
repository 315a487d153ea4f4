"""A Trello card's portfolio facts (`connectors.trello.conventions` through `convert_card`).

Cards and actions are shaped as Trello answers `GET /boards/{id}/cards/all` (with
`attachments=true&attachment_fields=name,url` and `checklists=all`) and
`GET /boards/{id}/actions`: a date change is an `updateCard` whose `old` holds the previous
`due` / `start` and whose `card` the new one. Expected values are worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from connectors.trello.config import TrelloConfig
from connectors.trello.conventions import (
    DEPENDS_ON,
    PortfolioConventions,
    card_rank,
    release_record,
)
from connectors.trello.convert import (
    ACTION_FILTERS,
    BoardInfo,
    FieldInfo,
    ListInfo,
    TrelloContext,
    convert_card,
)
from connectors.trello.streams import TrelloRunState
from pmo_sync.domain import ChangeField, ItemLink, LinkDirection, ReleaseRecord

ANA = "5f2b8c1e4a7d9e0b3c6f1a01"
BOARD = "677b1d00e4b0c1a2f3d40a00"
TODO, DOING, RELEASE = (f"677b1d05e4b0c1a2f3d40a1{i}" for i in range(3))
LISTS = {TODO: ("To Do", 16384.0), DOING: ("Doing", 32768.0), RELEASE: ("Release 2027.1", 49152)}
PRIORITY = "677b1d0ae4b0c1a2f3d40a20"  # a dropdown custom field
CARD = "6900a2c0000ac4a9e01b7f3d"  # created 2025-10-28T12:00:00Z (0x6900a2c0)
CREATED = "2025-10-28T12:00:00.010Z"


def context(**portfolio: Any) -> TrelloContext:
    """The run's context for one board, with the config's `portfolio:` block."""
    config = TrelloConfig.model_validate(
        {
            "name": "acme-trello",
            "kind": "trello",
            "api_key": SecretStr("k"),
            "token": SecretStr("t"),
            "boards": ["Team Alpha"],
            "portfolio": portfolio,
        }
    )
    lists = {i: ListInfo(i, name, BOARD, False, pos) for i, (name, pos) in LISTS.items()}
    board = BoardInfo(BOARD, "Team Alpha", lists, {})
    return TrelloRunState(boards={BOARD: board}).context(config)


def card_json(**extra: Any) -> dict[str, Any]:
    labels = extra.pop("labels", [])
    return {
        "id": CARD,
        "idBoard": BOARD,
        "idList": extra.pop("idList", TODO),
        "name": "Checkout revamp",
        "shortLink": "Xk3vT9qa",
        "pos": 65536,
        "due": None,
        "start": None,
        "closed": False,
        "idMembers": [],
        "labels": [
            {"id": f"677b1d0fe4b0c1a2f3d40d{i:02x}", "name": name} for i, name in enumerate(labels)
        ],
        "dateLastActivity": CREATED,
        **extra,
    }


def link(short: str, name: str | None = None) -> dict[str, Any]:
    url = f"https://trello.com/c/{short}/7-some-card"
    return {"id": f"6900a2c0000a{short}0000", "name": name or url, "url": url}


def created() -> dict[str, Any]:
    return {
        "id": "6900a2c0000a7be3c2d15a01",
        "type": "createCard",
        "date": CREATED,
        "idMemberCreator": ANA,
        "data": {"card": {"id": CARD}, "list": {"id": TODO, "name": "To Do"}},
    }


def dated(serial: str, when: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An `updateCard` that changed dates, as Trello logs it."""
    return {
        "id": f"6900a2c0000a7be3c2d15{serial}",
        "type": "updateCard",
        "date": when,
        "idMemberCreator": ANA,
        "data": {"card": {"id": CARD, "name": "Checkout revamp", **new}, "old": old},
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def date_changes(bundle: Any) -> list[tuple[str, ChangeField, datetime, str | None, str | None]]:
    return [
        (c.change_id, c.field, c.at, c.from_value, c.to_value)
        for c in bundle.changes
        if c.field in (ChangeField.START_DATE, ChangeField.DUE_DATE)
    ]


# -- dates -----------------------------------------------------------------------------------


def test_start_and_due_are_utc_days_and_every_move_of_a_day_is_a_change() -> None:
    card = card_json(start="2026-11-20T08:00:00.000Z", due="2026-12-15T17:00:00.000Z")
    actions = [
        created(),
        dated(
            "b01", "2026-11-02T09:00:00.000Z", {"due": None}, {"due": "2026-12-01T17:00:00.000Z"}
        ),
        # the same day, a later hour: no change of the day
        dated(
            "b02",
            "2026-11-03T09:00:00.000Z",
            {"due": "2026-12-01T17:00:00.000Z"},
            {"due": "2026-12-01T23:00:00.000Z"},
        ),
        # both dates at once, as Trello's dates popover saves them
        dated(
            "b03",
            "2026-11-10T09:00:00.000Z",
            {"due": "2026-12-01T23:00:00.000Z", "start": None},
            {"due": "2026-12-15T17:00:00.000Z", "start": "2026-11-20T08:00:00.000Z"},
        ),
    ]
    bundle = convert_card(card, list(reversed(actions)), context())
    assert bundle.item.start_date == date(2026, 11, 20)
    assert bundle.item.due_date == date(2026, 12, 15)
    assert date_changes(bundle) == [
        (
            "6900a2c0000a7be3c2d15b01:due_date",
            ChangeField.DUE_DATE,
            at("2026-11-02T09:00:00Z"),
            None,
            "2026-12-01",
        ),
        (
            "6900a2c0000a7be3c2d15b03:start_date",
            ChangeField.START_DATE,
            at("2026-11-10T09:00:00Z"),
            None,
            "2026-11-20",
        ),
        (
            "6900a2c0000a7be3c2d15b03:due_date",
            ChangeField.DUE_DATE,
            at("2026-11-10T09:00:00Z"),
            "2026-12-01",
            "2026-12-15",
        ),
    ]


def test_a_due_date_set_before_the_history_is_no_change_and_a_late_hour_is_its_utc_day() -> None:
    card = card_json(due="2026-12-31T23:30:00.000-02:00")  # 1 January 01:30 UTC
    bundle = convert_card(card, [created()], context())
    assert bundle.item.due_date == date(2027, 1, 1)
    assert date_changes(bundle) == []


def test_a_garbage_date_is_logged_and_unknown_never_a_failure() -> None:
    card = card_json(due="next tuesday")
    actions = [
        created(),
        dated("b01", "2026-11-02T09:00:00.000Z", {"due": "soon"}, {"due": "next tuesday"}),
    ]
    with capture_logs() as logs:
        bundle = convert_card(card, actions, context())
    assert bundle.item.due_date is None
    assert date_changes(bundle) == []  # unknown before, unknown after: nothing moved
    unreadable = [e for e in logs if e["event"] == "trello_card_date_unreadable"]
    assert {(e["field"], e["value"]) for e in unreadable} == {
        ("due", "next tuesday"),
        ("due", "soon"),
    }


# -- level, parent, dependencies --------------------------------------------------------------


def test_parent_at_any_depth_and_the_level_from_labels() -> None:
    ctx = context(levels={"Initiative": "Initiative", "Epic": "epic"})
    epic = convert_card(
        card_json(labels=["Epic", "Backend"], attachments=[link("Init0001")]), [created()], ctx
    )
    assert (epic.item.level, epic.item.parent_key) == ("epic", "Init0001")
    story = convert_card(card_json(attachments=[link("Epic0001")]), [created()], ctx)
    assert (story.item.level, story.item.parent_key) == ("story", "Epic0001")
    top = convert_card(card_json(labels=["initiative"]), [created()], ctx)
    assert (top.item.level, top.item.parent_key) == ("initiative", None)


def test_depends_on_attachments_are_links_not_the_parent_and_out_of_scope_keeps_its_key() -> None:
    card = card_json(
        attachments=[
            link("Dep00001", "Depends on: payments API"),
            link("Epic0001"),
            link("Xk3vT9qa", "Depends on itself"),  # the card itself: dropped
            link("Dep00002", "depends on"),  # any case
            link("Dep00001", "Depends on (again)"),  # listed twice: once
            {"id": "x", "name": "Depends on the wiki", "url": "https://wiki.example.com/p"},
        ]
    )
    bundle = convert_card(card, [created()], context())
    assert bundle.item.parent_key == "Epic0001"
    assert bundle.links == [
        ItemLink(CARD, DEPENDS_ON, LinkDirection.INWARD, "Dep00001"),
        ItemLink(CARD, DEPENDS_ON, LinkDirection.INWARD, "Dep00002"),
    ]


def test_every_action_that_changes_a_portfolio_fact_is_one_an_incremental_run_asks_for() -> None:
    """An incremental run reads a card again only when the board's new actions (of these
    types) name it: a card link attached or removed (a parent, a dependency), a label (level,
    priority, release), a date (`updateCard`), a dependency checklist's items."""
    assert {
        "addAttachmentToCard",
        "deleteAttachmentFromCard",
        "addLabelToCard",
        "removeLabelFromCard",
        "updateCard",
        "createCheckItem",
        "updateCheckItem",
        "deleteCheckItem",
        "addChecklistToCard",
        "removeChecklistFromCard",
    } - set(ACTION_FILTERS) == set()


def test_a_checklist_of_card_links_is_dependencies_when_configured() -> None:
    checklist = {
        "id": "c1",
        "name": "Blocked by",
        "pos": 1,
        "checkItems": [
            {"name": "https://trello.com/c/Dep00003", "pos": 1, "state": "incomplete"},
            {"name": "call the vendor", "pos": 2, "state": "incomplete"},
            {"name": "see https://trello.com/c/Dep00004/9-x too", "pos": 3, "state": "complete"},
        ],
    }
    other = {**checklist, "name": "Notes", "id": "c2"}
    card = card_json(checklists=[checklist, other])
    conventions = {"dependencies": {"attachment_prefix": None, "checklist": "blocked by"}}
    bundle = convert_card(card, [created()], context(**conventions))
    assert [x.target_key for x in bundle.links] == ["Dep00003", "Dep00004"]
    assert convert_card(card, [created()], context()).links == []  # not configured: none


def test_a_parent_cycle_is_kept_as_trello_has_it() -> None:
    """Two cards each linked to the other: each names the other (the store's chain reading
    stops at the repeat); neither conversion fails."""
    mine = convert_card(card_json(attachments=[link("Other001")]), [created()], context())
    assert mine.item.parent_key == "Other001"


# -- priority, rank, releases ------------------------------------------------------------------


def test_priority_from_a_label_prefix_or_a_custom_field_else_none() -> None:
    card = card_json(labels=["Priority: High", "Backend"])
    assert convert_card(card, [created()], context()).item.priority is None
    by_label = context(priority={"from": "label", "prefix": "priority: "})
    assert convert_card(card, [created()], by_label).item.priority == "High"
    field = FieldInfo(PRIORITY, "Priority", "list", BOARD, {"6900a2c0000a00000000b001": "P1"})
    by_field = context(priority={"from": "custom_field", "name": "priority"})
    by_field = replace(
        by_field, boards={BOARD: replace(by_field.boards[BOARD], fields={PRIORITY: field})}
    )
    chosen = {"id": "i1", "idCustomField": PRIORITY, "idValue": "6900a2c0000a00000000b001"}
    assert (
        convert_card(card_json(customFieldItems=[chosen]), [created()], by_field).item.priority
        == "P1"
    )
    assert convert_card(card, [created()], by_field).item.priority is None  # the field unset
    with pytest.raises(ValidationError, match="prefix: must not be empty"):
        PortfolioConventions.model_validate({"priority": {"from": "label"}})


def test_rank_is_the_lists_position_then_the_cards() -> None:
    ctx = context()
    first = convert_card(card_json(pos=999999), [created()], ctx).item.rank
    second = convert_card(card_json(idList=DOING, pos=1.5), [created()], ctx).item.rank
    assert first == "c1000516384.c10006999999"
    assert second == "c1000532768.c1000115"
    assert first < second  # a card further down the board's first list is still before
    assert card_rank({"id": CARD, "pos": 1}, None) is None  # list position unknown
    assert card_rank({"id": CARD, "pos": "top"}, 16384) is None


def test_releases_by_list_or_label_with_dates_from_the_config() -> None:
    by_label = context(releases={"label": "Release {name}"})
    card = card_json(labels=["Release 2027.1", "release  2027.2 ", "Backend"])
    assert convert_card(card, [created()], by_label).item.release_ids == ("2027.1", "2027.2")
    by_list = context(releases={"list": "Release {name}"})
    on_list = convert_card(card_json(idList=RELEASE), [created()], by_list)
    assert on_list.item.release_ids == ("2027.1",)
    assert convert_card(card_json(), [created()], by_list).item.release_ids == ()
    conventions = PortfolioConventions.model_validate(
        {
            "releases": {
                "label": "Release {name}",
                "dates": {
                    "2027.1": {"planned": "2027-01-15"},
                    "2026.4": {"planned": "2026-11-30", "released": "2026-12-02"},
                },
            }
        }
    )
    today = date(2026, 12, 7)
    assert release_record("2027.1", conventions, today) == ReleaseRecord(
        "2027.1", "2027.1", None, None, date(2027, 1, 15), False, False, date(2027, 1, 15)
    )
    # Released 2 Dec, two days after the 30 Nov plan: the plan is kept beside the ship day.
    assert release_record("2026.4", conventions, today) == ReleaseRecord(
        "2026.4", "2026.4", None, None, date(2026, 12, 2), True, False, date(2026, 11, 30)
    )
    assert release_record("2028.1", conventions, today) == ReleaseRecord(  # undated
        "2028.1", "2028.1", None, None, None, False, False
    )


def test_the_portfolio_block_is_checked_with_the_connector_file() -> None:
    base = {
        "name": "t",
        "kind": "trello",
        "api_key": SecretStr("k"),
        "token": SecretStr("t"),
        "boards": ["A"],
    }
    config = TrelloConfig.model_validate(base)
    assert config.portfolio == PortfolioConventions()
    assert (config.portfolio.levels, config.portfolio.priority) == ({"Epic": "epic"}, None)
    assert config.portfolio.dependencies.attachment_prefix == "Depends on"
    with pytest.raises(ValidationError, match=r"portfolio\.releases\.label"):
        TrelloConfig.model_validate({**base, "portfolio": {"releases": {"label": "Release"}}})
    with pytest.raises(ValidationError, match=r"portfolio\.prioritty"):
        TrelloConfig.model_validate({**base, "portfolio": {"prioritty": {}}})
