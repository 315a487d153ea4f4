"""`TrelloWriter` against the sandbox Trello: per-board fields, the call count, comments, faults."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    PermissionDeniedError,
    WriteOutcomeUnknownError,
)
from connectors.http import CallStats
from connectors.trello import TrelloClient
from connectors.trello.push import TrelloWriter
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import DONE, Card, CustomField

MakeClient = Callable[..., TrelloClient]  # the make_client fixture (conftest.py)
CYCLE = "Cycle time (days)"
WIP = "WIP age (days)"
FORECAST = "Forecast done (p85)"
MARKER = "[pmo-sync]"
WRITEBACK = {
    "enabled": True,
    "fields": {"cycle_time_days": CYCLE, "wip_age_days": WIP, "forecast_done_p85_date": FORECAST},
}


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    """A small sandbox of its own (credentials unique to it), the three KPI fields on both
    boards, each board's with its own ids."""
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=12, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        for board in sandbox.dataset.boards:
            sandbox.dataset.create_custom_field(board, CYCLE, "number")
            sandbox.dataset.create_custom_field(board, WIP, "number")
            sandbox.dataset.create_custom_field(board, FORECAST, "date")
        yield sandbox


@pytest.fixture
def stats() -> CallStats:
    return CallStats()


@pytest.fixture
def writer(trello: TrelloSandbox, make_client: MakeClient, stats: CallStats) -> TrelloWriter:
    client = make_client(trello, stats, writeback=WRITEBACK)
    return TrelloWriter(client, client.config)


def calls(sandbox: TrelloSandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests]


def field(sandbox: TrelloSandbox, board: int, name: str) -> CustomField:
    found = sandbox.dataset.boards[board].field_named(name)
    assert found is not None
    return found


def live_card(sandbox: TrelloSandbox, board: int, skip: int = 0) -> Card:
    cards = [c for c in sandbox.dataset.cards(sandbox.dataset.boards[board]) if not c.closed]
    return cards[skip]


def item_value(sandbox: TrelloSandbox, card: Card, the_field: CustomField) -> Any:
    item = sandbox.dataset.card(card.id).items.get(the_field.id)
    return None if item is None else item.value


def listing(board_id: str) -> tuple[str, str]:
    return ("GET", f"/1/boards/{board_id}/cards/all")


# -- fields ---------------------------------------------------------------------------------------


def test_field_ids_checks_every_board_and_hands_back_the_names(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    alpha, beta = trello.dataset.boards
    assert writer.checks_revisions is False
    assert writer.field_ids([CYCLE, FORECAST]) == {CYCLE: CYCLE, FORECAST: FORECAST}
    assert calls(trello) == [
        ("GET", "/1/members/me/boards"),
        ("GET", f"/1/boards/{alpha.id}/customFields"),
        ("GET", f"/1/boards/{beta.id}/customFields"),
    ]
    writer.field_ids([WIP])  # cached for the writer's life
    assert len(trello.requests) == 3


def test_a_field_on_no_board_names_the_boards_and_the_fix(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    trello.dataset.create_custom_field(trello.dataset.boards[0], "Blocked (days)", "number")
    with pytest.raises(FieldNotFoundError) as caught:
        writer.field_ids([CYCLE, "Blocked (days)", "Lead time (days)"])
    assert str(caught.value) == (
        "Trello custom fields of acme-trello: no custom field 'Lead time (days)' on boards "
        "'Team Alpha', 'Team Beta'. A Trello custom field belongs to one board, so each board "
        "in `boards` needs its own. Run `pmo-sync connectors provision acme-trello` to create "
        "the missing ones (the Custom Fields power-up must be on for the board)."
    )


def test_a_field_missing_on_one_board_is_refused_on_that_boards_cards_only(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    """A name one board has is no error for `field_ids`: the cards of the board without it
    are refused (`FieldRefusedError`, no call), the others written."""
    alpha = trello.dataset.boards[0]
    trello.dataset.create_custom_field(alpha, "Blocked (days)", "number")
    assert writer.field_ids(["Blocked (days)"]) == {"Blocked (days)": "Blocked (days)"}
    on_beta = live_card(trello, 1)
    writer.set_fields(live_card(trello, 0).short_link, {"Blocked (days)": 2.0})
    trello.reset_log()
    with pytest.raises(FieldRefusedError) as caught:
        writer.set_fields(on_beta.short_link, {"Blocked (days)": 2.0, CYCLE: 1.0})
    assert str(caught.value) == (
        f"cannot write 'Blocked (days)' on card {on_beta.short_link}: board 'Team Beta' has "
        "no custom field 'Blocked (days)'. Run `pmo-sync connectors provision acme-trello` "
        "(the board needs the Custom Fields power-up)"
    )
    assert (caught.value.fields, caught.value.reason) == (
        ("Blocked (days)",),
        "not a custom field of the board",
    )
    assert trello.writes == []  # refused before any call


def test_a_board_refusing_its_custom_fields_is_a_refusal_for_that_board(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    """A 403 on the PUT of a card still on its board: the board refuses (power-up off, the
    member no longer an editor), not the card: `FieldRefusedError`, after one look-up."""
    card = live_card(trello, 0)
    writer.field_ids([CYCLE])
    writer.set_fields(live_card(trello, 0, skip=1).short_link, {CYCLE: 1.0})  # cache filled
    trello.inject("PUT", r"/customField/[^/]+/item$", status=403)
    trello.reset_log()
    with pytest.raises(FieldRefusedError) as caught:
        writer.set_fields(card.short_link, {CYCLE: 2.0})
    assert caught.value.fields == (CYCLE,)
    assert caught.value.reason == "Trello refused its custom fields, HTTP 403"
    assert str(caught.value).startswith(
        f"Trello refused custom fields {CYCLE!r} on card {card.short_link} of board "
        "'Team Alpha' (HTTP 403): "
    )
    assert [m for m, _ in calls(trello)] == ["PUT", "GET"]  # the write, where the card is


def test_field_ids_refuses_a_dropdown_and_a_name_used_twice(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    alpha, beta = trello.dataset.boards
    for board in (alpha, beta):
        trello.dataset.create_custom_field(board, "Health", "list", options=("green", "red"))
    twins = [trello.dataset.create_custom_field(b, CYCLE, "number") for b in (alpha, beta)]
    with pytest.raises(FieldNotFoundError) as caught:
        writer.field_ids([CYCLE, "Health"])
    message = str(caught.value)
    first = field(trello, 1, CYCLE)
    assert f"board 'Team Beta' has 2 custom fields named {CYCLE!r} ({first.id}, {twins[1].id})" in (
        message
    )
    assert "'Health' on board 'Team Alpha' is a list field" in message


def test_set_fields_writes_several_fields_in_one_put_with_the_ids_of_the_cards_board(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    alpha, beta = trello.dataset.boards
    card = live_card(trello, 1)
    writer.field_ids([CYCLE, WIP, FORECAST])
    trello.reset_log()
    writer.set_fields(card.short_link, {CYCLE: 3.5, WIP: 12.0, FORECAST: "2026-12-01"})
    cycle, wip, forecast = (field(trello, 1, n) for n in (CYCLE, WIP, FORECAST))
    assert calls(trello) == [
        listing(alpha.id),
        listing(beta.id),
        ("PUT", f"/1/cards/{card.short_link}/customFields"),
    ]
    assert trello.requests[0].query["fields"] == ["id,shortLink,idBoard"]
    assert trello.requests[-1].body == {
        "customFieldItems": [
            {"idCustomField": cycle.id, "value": {"number": "3.5"}},
            {"idCustomField": wip.id, "value": {"number": "12"}},
            {"idCustomField": forecast.id, "value": {"date": "2026-12-01T12:00:00.000Z"}},
        ]
    }
    assert item_value(trello, card, cycle) == {"number": "3.5"}
    assert item_value(trello, card, wip) == {"number": "12"}
    assert item_value(trello, card, forecast) == {"date": "2026-12-01T12:00:00.000Z"}
    for name in (CYCLE, WIP, FORECAST):  # the board A field of the same name is untouched
        assert item_value(trello, card, field(trello, 0, name)) is None
    updates = [a for a in trello.dataset.card(card.id).actions if a.type == "updateCustomFieldItem"]
    assert [a.data["customField"]["id"] for a in updates[-3:]] == [cycle.id, wip.id, forecast.id]
    assert {a.creator.id for a in updates[-3:]} == {trello.member.id}

    # One field: the single-item PUT; a None clears; the card's board is cached.
    writer.set_fields(card.short_link, {WIP: None})
    assert calls(trello)[3:] == [("PUT", f"/1/cards/{card.short_link}/customField/{wip.id}/item")]
    assert trello.requests[-1].body == {"value": ""}
    assert item_value(trello, card, wip) is None
    assert item_value(trello, card, cycle) == {"number": "3.5"}


def test_a_typical_push_costs_one_plus_two_calls_per_board_plus_one_per_card(
    trello: TrelloSandbox, writer: TrelloWriter, stats: CallStats
) -> None:
    cards = [live_card(trello, 0), live_card(trello, 1), live_card(trello, 1, skip=1)]
    writer.field_ids([CYCLE, WIP, FORECAST])
    for n, card in enumerate(cards):
        writer.set_fields(card.short_link, {CYCLE: n + 1.0, WIP: 2.0, FORECAST: "2027-01-04"})
    # N = 3 cards, F = 3 fields, B = 2 boards: 1 + 2B + N, not N x F
    assert stats.api_calls == 1 + 2 * 2 + 3 == len(trello.requests)
    assert [r.status for r in trello.requests] == [200] * 8
    for n, card in enumerate(cards):
        board = 0 if n == 0 else 1
        assert item_value(trello, card, field(trello, board, CYCLE)) == {"number": str(n + 1)}


def test_a_card_moved_to_another_board_after_the_cache_was_filled(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    beta = trello.dataset.boards[1]
    card = live_card(trello, 0)
    writer.set_fields(card.short_link, {CYCLE: 4.0, WIP: 1.0})
    trello.dataset.move_card(card.id, DONE, board=beta)
    trello.reset_log()
    writer.set_fields(card.short_link, {CYCLE: 6.0, WIP: 2.0})
    assert [(r.method, r.path, r.status) for r in trello.requests] == [
        ("PUT", f"/1/cards/{card.short_link}/customFields", 404),  # board A's field ids
        ("GET", f"/1/cards/{card.short_link}", 200),
        ("PUT", f"/1/cards/{card.short_link}/customFields", 200),  # board B's
    ]
    assert trello.requests[1].query["fields"] == ["idBoard"]
    assert [i["idCustomField"] for i in trello.requests[2].body["customFieldItems"]] == [
        field(trello, 1, CYCLE).id,
        field(trello, 1, WIP).id,
    ]
    assert item_value(trello, card, field(trello, 1, CYCLE)) == {"number": "6"}
    trello.reset_log()
    writer.set_fields(card.short_link, {CYCLE: 7.0})  # the new board is remembered
    assert calls(trello) == [
        ("PUT", f"/1/cards/{card.short_link}/customField/{field(trello, 1, CYCLE).id}/item")
    ]


def test_a_card_created_after_the_cache_was_filled_costs_one_get(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    beta = trello.dataset.boards[1]
    writer.set_fields(live_card(trello, 0).short_link, {CYCLE: 1.0})
    new = trello.dataset.create_card(beta, "To Do", "Born after the listing")
    trello.reset_log()
    writer.set_fields(new.short_link, {CYCLE: 2.0, WIP: 3.0})
    assert calls(trello) == [
        ("GET", f"/1/cards/{new.short_link}"),
        ("PUT", f"/1/cards/{new.short_link}/customFields"),
    ]
    assert item_value(trello, new, field(trello, 1, WIP)) == {"number": "3"}


def test_a_deleted_card_raises_issue_not_found(trello: TrelloSandbox, writer: TrelloWriter) -> None:
    alpha, beta = trello.dataset.boards
    gone_before, gone_after = live_card(trello, 0), live_card(trello, 0, skip=1)
    writer.field_ids([CYCLE, WIP])
    trello.dataset.delete_card(gone_before.id)
    trello.reset_log()
    with pytest.raises(IssueNotFoundError, match=f"card {gone_before.short_link} no longer"):
        writer.set_fields(gone_before.short_link, {CYCLE: 1.0, WIP: 1.0})
    assert [(r.method, r.path, r.status) for r in trello.requests] == [
        (*listing(alpha.id), 200),
        (*listing(beta.id), 200),
        ("GET", f"/1/cards/{gone_before.short_link}", 404),
    ]  # nothing sent to a card that is not listed

    trello.dataset.delete_card(gone_after.id)  # listed, then deleted
    trello.reset_log()
    with pytest.raises(IssueNotFoundError):
        writer.set_fields(gone_after.short_link, {CYCLE: 1.0})
    assert [(r.method, r.status) for r in trello.requests] == [("PUT", 404), ("GET", 404)]


def test_a_value_its_field_cannot_hold_is_refused_before_any_write(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    card = live_card(trello, 0)
    with pytest.raises(ConnectorError, match="'Forecast done \\(p85\\)' on board 'Team Alpha' "):
        writer.set_fields(card.short_link, {FORECAST: 3.0})
    with pytest.raises(ConnectorError, match="is a number field and cannot hold '2026-12-01'"):
        writer.set_fields(card.short_link, {CYCLE: "2026-12-01"})
    assert trello.writes == []


# -- the bulk route, in the client and in the sandbox ---------------------------------------------


def test_the_bulk_put_is_all_or_nothing_and_makes_one_action_per_changed_item(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(trello)
    card = live_card(trello, 0)
    cycle, wip, forecast = (field(trello, 0, n) for n in (CYCLE, WIP, FORECAST))
    before = len(trello.dataset.card(card.id).actions)
    with pytest.raises(ConnectorError, match="HTTP 400"):
        client.set_custom_fields(card.id, {cycle.id: (5, "number"), wip.id: ("soon", "number")})
    assert item_value(trello, card, cycle) is None  # the good item was not set either
    answer = client.set_custom_fields(
        card.id, {cycle.id: (5, "number"), forecast.id: ("2026-12-24T09:30:00.000Z", "date")}
    )
    assert {i["idCustomField"] for i in answer} >= {cycle.id, forecast.id}
    again = client.set_custom_fields(card.id, {cycle.id: (5, "number"), wip.id: (None, "number")})
    assert {i["idCustomField"] for i in again} == {i["idCustomField"] for i in answer}
    actions = trello.dataset.card(card.id).actions[before:]
    assert [a.type for a in actions] == ["updateCustomFieldItem"] * 2  # unchanged: no action
    with pytest.raises(IssueNotFoundError):
        client.set_custom_fields(card.id, {field(trello, 1, CYCLE).id: (1, "number")})


def test_an_empty_answer_to_the_bulk_put_counts_as_done(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(trello)
    card = live_card(trello, 0)
    cycle, wip = field(trello, 0, CYCLE), field(trello, 0, WIP)
    trello.inject("PUT", r"/customFields$", status=200, body="", applied=True)
    assert client.set_custom_fields(card.id, {cycle.id: (2, "number"), wip.id: (3, "number")}) is (
        None
    )
    assert item_value(trello, card, wip) == {"number": "3"}


def test_a_5xx_on_the_put_is_retried(
    trello: TrelloSandbox, make_client: MakeClient, stats: CallStats
) -> None:
    client = make_client(trello, stats, writeback=WRITEBACK, max_retry_wait_seconds=0.05)
    writer = TrelloWriter(client, client.config)
    card = live_card(trello, 1)
    writer.set_fields(card.short_link, {CYCLE: 8.0})  # fills the caches
    trello.inject("PUT", r"/customFields$", status=502)
    trello.reset_log()
    writer.set_fields(card.short_link, {CYCLE: 9.0, WIP: 1.0})
    assert [(r.method, r.status) for r in trello.requests] == [("PUT", 502), ("PUT", 200)]
    assert item_value(trello, card, field(trello, 1, CYCLE)) == {"number": "9"}


# -- comments ---------------------------------------------------------------------------------


def test_bot_account_id_is_the_tokens_member_read_once(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    assert writer.bot_account_id() == trello.member.id
    assert writer.bot_account_id() == trello.member.id
    assert calls(trello) == [("GET", "/1/members/me")]


def test_comment_added_edited_in_place_and_deleted(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    card = live_card(trello, 0)
    key = card.short_link
    comment_id = writer.add_comment(key, f"{MARKER} cycle time 3 d", {"key": "ignored"})
    action = trello.dataset.find_action(comment_id)
    assert action is not None and action.type == "commentCard"
    assert (action.creator.id, action.data["text"]) == (
        trello.member.id,
        f"{MARKER} cycle time 3 d",
    )
    count = len(trello.dataset.card(card.id).comments)

    writer.update_comment(key, comment_id, f"{MARKER} cycle time 4 d")
    edited = trello.dataset.find_action(comment_id)
    assert edited is not None and edited.data["text"] == f"{MARKER} cycle time 4 d"
    assert len(trello.dataset.card(card.id).comments) == count  # in place: no new comment

    writer.delete_comment(key, comment_id)
    assert trello.dataset.find_action(comment_id).deleted  # type: ignore[union-attr]
    writer.delete_comment(key, comment_id)  # already gone: done
    with pytest.raises(CommentNotFoundError, match=f"comment {comment_id} on card {key}"):
        writer.update_comment(key, comment_id, f"{MARKER} too late")
    assert [(r.method, r.path, r.status) for r in trello.requests] == [
        ("POST", f"/1/cards/{key}/actions/comments", 200),
        ("PUT", f"/1/actions/{comment_id}", 200),
        ("DELETE", f"/1/actions/{comment_id}", 200),
        ("DELETE", f"/1/actions/{comment_id}", 404),
        ("PUT", f"/1/actions/{comment_id}", 404),
    ]
    assert trello.requests[0].body == {"text": f"{MARKER} cycle time 3 d"}
    assert trello.requests[1].body == {"text": f"{MARKER} cycle time 4 d"}


def test_find_bot_comments_keeps_the_bots_marked_comments_oldest_first(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    ds = trello.dataset
    card = live_card(trello, 1)
    person = ds.boards[1].team[0]
    first = ds.add_comment(card.id, f"{MARKER} first").id
    ds.add_comment(card.id, f"{person.full_name}: why does {MARKER} say so?", by=person)
    ds.add_comment(card.id, "the bot, unmarked")
    ds.add_comment(card.id, "a plain remark", by=ds.boards[1].team[1])
    second = ds.add_comment(card.id, f"a duplicate {MARKER} second").id
    bot = writer.bot_account_id()
    trello.reset_log()
    found = writer.find_bot_comments(card.short_link, bot, MARKER)
    assert found == [(first, f"{MARKER} first"), (second, f"a duplicate {MARKER} second")]
    [read] = trello.requests
    assert (read.method, read.path) == ("GET", f"/1/cards/{card.short_link}/actions")
    assert read.query["filter"] == ["commentCard"] and read.query["limit"] == ["1000"]
    assert writer.find_bot_comments(card.short_link, trello.member.username, MARKER) == found
    assert writer.find_bot_comments(card.short_link, person.id, MARKER) == [
        (ds.card(card.id).comments[-4].id, f"{person.full_name}: why does {MARKER} say so?")
    ]
    ds.delete_card(card.id)
    with pytest.raises(IssueNotFoundError):
        writer.find_bot_comments(card.short_link, bot, MARKER)


def test_a_5xx_on_add_comment_is_not_retried_and_find_bot_comments_recovers_it(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    card = live_card(trello, 0)
    trello.inject("POST", r"/actions/comments$", status=500, applied=True)
    with pytest.raises(WriteOutcomeUnknownError) as caught:
        writer.add_comment(card.short_link, f"{MARKER} lost answer")
    assert caught.value.status_code == 500
    assert "call find_bot_comments before adding it again" in str(caught.value)
    assert [(r.method, r.status) for r in trello.writes] == [("POST", 500)]  # no retry
    [(comment_id, text)] = writer.find_bot_comments(
        card.short_link, writer.bot_account_id(), MARKER
    )
    assert text == f"{MARKER} lost answer"
    assert trello.dataset.find_action(comment_id) is not None


def test_editing_someone_elses_comment_is_refused_and_says_why(
    trello: TrelloSandbox, writer: TrelloWriter
) -> None:
    card = live_card(trello, 0)
    person = trello.dataset.boards[0].team[0]
    theirs = trello.dataset.add_comment(card.id, f"{MARKER} typed by a person", by=person).id
    with pytest.raises(PermissionDeniedError, match="only a comment's author edit it"):
        writer.update_comment(card.short_link, theirs, f"{MARKER} overwritten")
    assert trello.dataset.find_action(theirs).data["text"] == f"{MARKER} typed by a person"  # type: ignore[union-attr]
