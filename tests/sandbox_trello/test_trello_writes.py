"""The write routes and the dataset's mutation API: custom field items, custom field
definitions, comments and their author check, card moves, archiving and deletion.

Every write must leave the trace the real service leaves (an action in the card's
and the board's history) and move the ground truth with it, so that a sync
reading the actions still rebuilds exactly what happened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import (
    DOING,
    DONE,
    FIELD_POINTS,
    FIELD_SPRINT,
    NOT_FOUND,
    REVIEW,
    TODO,
    TrelloError,
    format_date,
    to_ms,
)


def open_card(sandbox: TrelloSandbox, board: int = 0):
    """An open card that is not done yet (nor the heavy card)."""
    ds = sandbox.dataset
    done = ds.boards[board].list_named(DONE).id
    return next(
        c for c in ds.cards(ds.boards[board]) if not c.closed and c.n != 1 and c.list_id != done
    )


def newest(client, board_id: str, kind: str = "all") -> dict:
    return client.json(f"/boards/{board_id}/actions", filter=kind, limit=1)[0]


# -- custom field items --------------------------------------------------------------------


def test_put_number_item_creates_an_action_and_shows_on_the_card(fresh, fresh_client) -> None:
    ds = fresh.dataset
    card = open_card(fresh)
    board = ds.board(card.board_id)
    points = board.field_named(FIELD_POINTS)
    before = card.estimate
    path = f"/cards/{card.id}/customField/{points.id}/item"
    response = fresh_client.request("PUT", path, json_body={"value": {"number": "21"}})
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["value"] == {"number": "21"} and item["idCustomField"] == points.id
    assert (item["idModel"], item["modelType"]) == (card.id, "card")
    shown = fresh_client.json(f"/cards/{card.id}", customFieldItems="true")["customFieldItems"]
    assert {"id": item["id"], **item} in shown
    action = newest(fresh_client, board.id, "updateCustomFieldItem")
    assert action["data"]["customFieldItem"]["value"] == {"number": "21"}
    assert action["data"]["customField"] == dict(id=points.id, name=FIELD_POINTS, type="number")
    old = {"number": format(before, "g")} if before is not None else None
    assert action["data"]["old"] == {"value": old}
    assert action["memberCreator"]["username"] == "pmobot"
    assert ds.card(card.id).estimate == 21.0
    # the same value again changes nothing and makes no action
    fresh_client.request("PUT", path, json_body={"value": {"number": "21"}})
    assert newest(fresh_client, board.id, "updateCustomFieldItem")["id"] == action["id"]
    # clearing
    cleared = fresh_client.request("PUT", path, json_body={"value": ""})
    assert cleared.status_code == 200 and "value" not in cleared.json()
    action = newest(fresh_client, board.id, "updateCustomFieldItem")
    assert action["data"]["customFieldItem"]["value"] is None
    assert action["data"]["old"] == {"value": {"number": "21"}}
    assert ds.card(card.id).estimate is None
    assert ds.card(card.id).estimate_changes[-2:] == [
        (ds.card(card.id).estimate_changes[-2][0], 21.0),
        (ds.card(card.id).estimate_changes[-1][0], None),
    ]
    for bad in ({"value": {"number": "many"}}, {"value": {"text": "3"}}, {"idValue": "x"}, {}):
        response = fresh_client.request("PUT", path, json_body=bad)
        assert (response.status_code, response.text) == (400, "Invalid custom field item value.")


def test_put_list_and_date_items(fresh, fresh_client) -> None:
    ds = fresh.dataset
    card = open_card(fresh)
    board = ds.board(card.board_id)
    sprint = board.field_named(FIELD_SPRINT)
    option = sprint.option("Sprint 19")
    path = f"/cards/{card.id}/customField/{sprint.id}/item"
    item = fresh_client.request("PUT", path, json_body={"idValue": option.id}).json()
    assert item["idValue"] == option.id and "value" not in item
    assert ds.card(card.id).sprint == "Sprint 19"
    action = newest(fresh_client, board.id, "updateCustomFieldItem")
    assert action["data"]["customFieldItem"]["idValue"] == option.id
    assert set(action["data"]["old"]) == {"idValue"}
    assert fresh_client.request("PUT", path, json_body={"idValue": ""}).status_code == 200
    assert ds.card(card.id).sprint is None
    # a date field made through POST /1/customFields
    created = fresh_client.request(
        "POST",
        "/customFields",
        json_body={
            "idModel": board.id,
            "modelType": "board",
            "name": "Due (vendor)",
            "type": "date",
            "pos": "bottom",
        },
    )
    assert created.status_code == 200, created.text
    due = created.json()
    assert (due["name"], due["type"], due["idModel"]) == ("Due (vendor)", "date", board.id)
    assert due["id"] in {f["id"] for f in fresh_client.json(f"/boards/{board.id}/customFields")}
    path = f"/cards/{card.id}/customField/{due['id']}/item"
    response = fresh_client.request(
        "PUT", path, json_body={"value": {"date": "2026-12-01T10:00:00Z"}}
    )
    assert response.json()["value"] == {"date": "2026-12-01T10:00:00.000Z"}
    changes = [c for c in ds.card(card.id).field_changes if c.field == "Due (vendor)"]
    assert changes[-1].value.isoformat() == "2026-12-01T10:00:00+00:00"


def test_post_custom_field_validates(fresh, fresh_client) -> None:
    board = fresh.dataset.boards[1]
    bad = fresh_client.request(
        "POST",
        "/customFields",
        json_body={"idModel": board.id, "modelType": "card", "name": "X", "type": "number"},
    )
    assert (bad.status_code, bad.text) == (400, "invalid value for modelType")
    bad = fresh_client.request(
        "POST",
        "/customFields",
        json_body={"idModel": board.id, "modelType": "board", "name": "X", "type": "money"},
    )
    assert (bad.status_code, bad.text) == (400, "invalid value for type")
    made = fresh_client.request(
        "POST",
        "/customFields",
        json_body={
            "idModel": board.id,
            "modelType": "board",
            "name": "Size",
            "type": "list",
            "options": [{"value": {"text": "S"}, "color": "none", "pos": 1024}, "M"],
        },
    ).json()
    assert [o["value"]["text"] for o in made["options"]] == ["S", "M"]
    assert fresh_client.json(f"/customFields/{made['id']}") == made


# -- comments --------------------------------------------------------------------------------


def test_comment_add_edit_delete_and_the_author_check(fresh, fresh_client, helpers) -> None:
    ds = fresh.dataset
    card = open_card(fresh)
    person = ds.boards[0].team[0]
    as_person = helpers.Client(fresh, fresh.token_for(person))
    posted = fresh_client.request("POST", f"/cards/{card.id}/actions/comments", text="Hello")
    assert posted.status_code == 200, posted.text
    comment = posted.json()
    assert (comment["type"], comment["data"]["text"]) == ("commentCard", "Hello")
    assert comment["data"]["card"]["id"] == card.id
    edited = fresh_client.request("PUT", f"/actions/{comment['id']}", text="Hello, world").json()
    assert edited["data"]["text"] == "Hello, world" and "dateLastEdited" in edited["data"]
    edited = fresh_client.request("PUT", f"/actions/{comment['id']}/text", value="Hi").json()
    assert edited["data"]["text"] == "Hi" and edited["id"] == comment["id"]
    # someone else may not touch it
    for method, path, params in (
        ("PUT", f"/actions/{comment['id']}", {"text": "hijacked"}),
        ("DELETE", f"/actions/{comment['id']}", {}),
        ("PUT", f"/cards/{card.id}/actions/{comment['id']}/comments", {"text": "x"}),
    ):
        refused = as_person.request(method, path, **params)
        assert (refused.status_code, refused.text) == (
            401,
            "unauthorized comment permission requested",
        )
    assert fresh_client.json(f"/actions/{comment['id']}")["data"]["text"] == "Hi"
    # the person's own comment: theirs to change, not the bot's
    theirs = as_person.request("POST", f"/cards/{card.id}/actions/comments", text="Mine").json()
    assert theirs["memberCreator"]["username"] == person.username
    assert fresh_client.request("DELETE", f"/actions/{theirs['id']}").status_code == 401
    gone = as_person.request("DELETE", f"/cards/{card.id}/actions/{theirs['id']}/comments")
    assert (gone.status_code, gone.json()) == (200, {"_value": None})
    assert fresh_client.get(f"/actions/{theirs['id']}").status_code == 404
    listed = fresh_client.json(f"/cards/{card.id}/actions", filter="commentCard", limit=1000)
    assert [a["id"] for a in listed][:1] == [comment["id"]]
    assert theirs["id"] not in {a["id"] for a in listed}
    assert fresh_client.json(f"/cards/{card.id}")["badges"]["comments"] == len(listed)
    # comments made through the dataset as a person, with the clock
    ds.clock.advance(hours=2)
    by_dataset = ds.add_comment(card.id, "Checked with the vendor.", by=person.username)
    assert by_dataset.date == ds.clock.now
    with pytest.raises(TrelloError) as refused_edit:
        ds.edit_comment(by_dataset.id, "nope")  # the bot is not the author
    assert refused_edit.value.status == 401
    assert (
        fresh_client.request(
            "PUT", f"/actions/{newest_card_action(fresh_client, card.id)}", text="x"
        ).status_code
        == 401
    )
    not_comment = fresh_client.json(f"/cards/{card.id}/actions", filter="createCard,copyCard")
    response = fresh_client.request("PUT", f"/actions/{not_comment[0]['id']}", text="x")
    assert response.status_code == 400
    assert fresh_client.request("POST", f"/cards/{card.id}/actions/comments").status_code == 400


def newest_card_action(client, card_id: str) -> str:
    return client.json(f"/cards/{card_id}/actions", filter="commentCard", limit=1)[0]["id"]


# -- cards -----------------------------------------------------------------------------------


def test_card_moves_archive_copy_and_delete_through_the_api(fresh, fresh_client, helpers) -> None:
    ds = fresh.dataset
    alpha, beta = ds.boards
    todo = alpha.list_named(TODO)
    created = fresh_client.request("POST", "/cards", idList=todo.id, name="Write the runbook")
    assert created.status_code == 200, created.text
    card = created.json()
    assert (card["idList"], card["idBoard"], card["closed"]) == (todo.id, alpha.id, False)
    assert newest(fresh_client, alpha.id)["type"] == "createCard"
    ds.clock.advance(minutes=5)
    doing = alpha.list_named(DOING)
    moved = fresh_client.request("PUT", f"/cards/{card['id']}", idList=doing.id).json()
    assert moved["idList"] == doing.id
    move = newest(fresh_client, alpha.id)
    assert (move["data"]["listBefore"]["name"], move["data"]["listAfter"]["name"]) == (TODO, DOING)
    assert move["date"] == format_date(to_ms(ds.clock.now))
    # to the other board, to a list of the same name
    across = fresh_client.request(
        "PUT", f"/cards/{card['id']}", idBoard=beta.id, idList=beta.list_named(REVIEW).id
    ).json()
    assert (across["idBoard"], across["idList"]) == (beta.id, beta.list_named(REVIEW).id)
    assert newest(fresh_client, alpha.id)["type"] == "moveCardFromBoard"
    arrived = newest(fresh_client, beta.id)
    assert arrived["type"] == "moveCardToBoard"
    assert arrived["data"]["boardSource"] == {"id": alpha.id}
    # archive, still listed by filter=closed and all
    archived = fresh_client.request("PUT", f"/cards/{card['id']}", closed="true").json()
    assert archived["closed"] is True
    assert card["id"] in {c["id"] for c in fresh_client.json(f"/boards/{beta.id}/cards/closed")}
    assert card["id"] not in {c["id"] for c in fresh_client.json(f"/boards/{beta.id}/cards")}
    closing = newest(fresh_client, beta.id)
    assert (closing["data"]["card"]["closed"], closing["data"]["old"]) == (True, {"closed": False})
    # copy, then delete the original
    copied = fresh_client.request(
        "POST", "/cards", idList=beta.list_named(DONE).id, idCardSource=card["id"]
    ).json()
    copy_action = newest(fresh_client, beta.id)
    assert copy_action["type"] == "copyCard"
    assert copy_action["data"]["cardSource"]["id"] == card["id"]
    assert copied["name"] == "Write the runbook"
    deleted = fresh_client.request("DELETE", f"/cards/{card['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {"limits": {}})
    again = fresh_client.get(f"/cards/{card['id']}")
    assert (again.status_code, again.text) == (404, NOT_FOUND)
    assert fresh_client.request("PUT", f"/cards/{card['id']}", closed="false").status_code == 404
    assert ds.card(card["id"]).deleted
    # and the whole history still rebuilds the ground truth
    actions = []
    for board in ds.boards:
        actions += fresh_client.all_actions(f"/boards/{board.id}/actions")
    assert helpers.reconstruct_moves(actions) == helpers.truth_moves(ds.cards(include_deleted=True))
    methods = [w.method for w in fresh.writes]
    assert methods == ["POST", "PUT", "PUT", "PUT", "POST", "DELETE", "PUT"]


def test_dataset_mutations_follow_the_clock(fresh) -> None:
    ds = fresh.dataset
    card = open_card(fresh, board=1)
    start = ds.clock.now
    ds.clock.advance(days=1)
    ds.move_card(card.id, DONE, by=ds.boards[1].team[0])
    moved = ds.card(card.id)
    assert moved.list_moves[-1].at == start + timedelta(days=1)
    assert moved.list_moves[-1].to_list == ds.boards[1].list_named(DONE).id
    ds.archive_card(card.id)
    ds.unarchive_card(card.id)
    closes = [a for a in moved.actions if a.type == "updateCard" and a.sub == "closed"]
    assert [a.data["card"]["closed"] for a in closes][-2:] == [True, False]
    assert ds.set_custom_field(card.id, FIELD_SPRINT, "Sprint 20") is not None
    assert ds.set_custom_field(card.id, FIELD_SPRINT, "Sprint 20") is None  # unchanged
    assert ds.card(card.id).sprint == "Sprint 20"
    # writes at one clock instant are still ordered, a millisecond apart
    last4 = [a.ms for a in moved.actions[-4:]]
    assert last4 == list(range(last4[0], last4[0] + 4))
    ds.clock.advance(minutes=1)
    made = ds.create_card(ds.boards[1], TODO, "Pair on the export")
    assert made.created == ds.clock.now and made.list_moves[0].from_list is None
    ds.delete_card(made.id)
    with pytest.raises(TrelloError):
        ds.move_card(made.id, DOING)
    with pytest.raises(ValueError):
        ds.clock.advance(days=-1)


def test_checklists_added_checked_and_removed_make_their_actions(fresh, fresh_client) -> None:
    """People write a card's checklist: one addChecklistToCard, one createCheckItem per item;
    checking one off is an updateCheckItemStateOnCard (none when it already is); removing the
    checklist a removeChecklistFromCard. The card answers with what is there now."""
    ds = fresh.dataset
    board = ds.board("Team Beta")
    card = ds.create_card(board, "To Do", "Receipts by email", by=board.team[0])
    added = ds.add_checklist(
        card.id, "Acceptance criteria", ["A PDF arrives", ("Sent within a minute", True)],
        by=board.team[1],
    )  # fmt: skip
    assert [(i.name, i.complete) for i in added.items] == [
        ("A PDF arrives", False),
        ("Sent within a minute", True),
    ]
    assert ds.set_check_item(card.id, "A PDF arrives", True, by=board.team[1]) is not None
    assert ds.set_check_item(card.id, added.items[0].id, True) is None  # already checked
    ds.add_checklist(card.id, "Definition of done", ["Reviewed"], by=board.team[2])
    answer = fresh_client.json(f"/cards/{card.id}", checklists="all")
    assert [
        (x["name"], [(i["name"], i["state"]) for i in x["checkItems"]])
        for x in answer["checklists"]
    ] == [
        (
            "Acceptance criteria",
            [("A PDF arrives", "complete"), ("Sent within a minute", "complete")],
        ),
        ("Definition of done", [("Reviewed", "incomplete")]),
    ]
    ds.remove_checklist(card.id, "Definition of done", by=board.team[2])
    actions = fresh_client.json(f"/cards/{card.id}/actions", filter="all")
    assert [a["type"] for a in reversed(actions)] == [
        "createCard", "addChecklistToCard", "createCheckItem", "createCheckItem",
        "updateCheckItemStateOnCard", "addChecklistToCard", "createCheckItem",
        "removeChecklistFromCard",
    ]  # fmt: skip
    checked = next(a for a in actions if a["type"] == "updateCheckItemStateOnCard")
    assert checked["data"]["checkItem"] | {"id": None} == {
        "id": None, "name": "A PDF arrives", "state": "complete", "textData": {"emoji": {}},
    }  # fmt: skip
    assert checked["data"]["checklist"] == {"id": added.id, "name": "Acceptance criteria"}
    assert checked["idMemberCreator"] == board.team[1].id
    since = fresh_client.json(
        f"/boards/{board.id}/actions", filter="updateCheckItemStateOnCard,removeChecklistFromCard"
    )
    assert [a["type"] for a in since[:2]] == [
        "removeChecklistFromCard",
        "updateCheckItemStateOnCard",
    ]
    assert [x["name"] for x in fresh_client.json(f"/cards/{card.id}/checklists")] == [
        "Acceptance criteria"
    ]


# -- dates and named card links (set by a test, never by the generated dataset) ---------------


def test_set_dates_shows_on_the_card_and_logs_an_update_card_with_old(fresh, fresh_client) -> None:
    ds = fresh.dataset
    card = open_card(fresh)
    board_id = card.board_id
    shown = fresh_client.json(f"/cards/{card.id}")
    assert (shown["start"], shown["due"], shown["badges"]["due"]) == (None, None, None)
    first = ds.set_dates(
        card.id,
        start=datetime(2026, 11, 23, 9, tzinfo=UTC),
        due=datetime(2026, 12, 4, 17, tzinfo=UTC),
    )
    assert first is not None
    action = newest(fresh_client, board_id, "updateCard")
    assert action["id"] == first.id
    assert action["data"]["old"] == {"start": None, "due": None}
    assert (action["data"]["card"]["start"], action["data"]["card"]["due"]) == (
        "2026-11-23T09:00:00.000Z",
        "2026-12-04T17:00:00.000Z",
    )
    moved = ds.set_dates(card.id, due=datetime(2026, 12, 11, 17, tzinfo=UTC))
    assert moved is not None
    action = newest(fresh_client, board_id, "updateCard")
    assert action["data"]["old"] == {"due": "2026-12-04T17:00:00.000Z"}
    assert action["data"]["card"]["due"] == "2026-12-11T17:00:00.000Z"
    shown = fresh_client.json(f"/cards/{card.id}")
    assert (shown["start"], shown["due"], shown["badges"]["start"]) == (
        "2026-11-23T09:00:00.000Z",
        "2026-12-11T17:00:00.000Z",
        "2026-11-23T09:00:00.000Z",
    )
    assert ds.set_dates(card.id, due=datetime(2026, 12, 11, 17, tzinfo=UTC)) is None  # unchanged


def test_a_card_link_attached_under_a_name_is_listed_with_it(fresh, fresh_client) -> None:
    ds = fresh.dataset
    card, target = open_card(fresh), open_card(fresh, board=1)
    ds.attach_card(card.id, target.id, name="Depends on: the Beta API")
    listed = fresh_client.json(
        f"/boards/{card.board_id}/cards/all", attachments="true", attachment_fields="name,url"
    )
    [mine] = [c for c in listed if c["id"] == card.id]
    url = f"https://trello.com/c/{target.short_link}"
    attached = mine["attachments"][-1]
    assert (attached["name"], attached["url"]) == ("Depends on: the Beta API", url)


def test_a_card_placed_in_its_list_logs_an_update_card_with_old_pos(fresh, fresh_client) -> None:
    """Dragging a card within its list (`PUT /cards/{id}?pos=`) is how a Trello team ranks
    its backlog: the listing's order follows, and the board's log holds an updateCard whose
    `old` is the previous position (what an incremental sync sees)."""
    ds = fresh.dataset
    done = ds.boards[0].list_named(DONE).id
    open_cards = [c for c in ds.cards(ds.boards[0]) if not c.closed and c.list_id != done]
    some = max(open_cards, key=lambda c: sum(o.list_id == c.list_id for o in open_cards))
    in_list = sorted(
        (c for c in ds.cards(some.board_id) if c.list_id == some.list_id and not c.closed),
        key=lambda c: c.pos,
    )
    card = in_list[-1]  # the last card of the list goes to the top
    assert len(in_list) >= 3
    before = card.pos
    response = fresh_client.request("PUT", f"/cards/{card.id}", json_body={"pos": "top"})
    assert response.status_code == 200, response.text
    assert response.json()["pos"] == in_list[0].pos / 2
    action = newest(fresh_client, card.board_id, "updateCard")
    assert action["data"]["old"] == {"pos": before}
    assert (action["data"]["card"]["id"], action["data"]["card"]["pos"]) == (
        card.id,
        in_list[0].pos / 2,
    )
    listed = fresh_client.json(f"/boards/{card.board_id}/cards/open")
    assert next(c["id"] for c in listed if c["idList"] == card.list_id) == card.id
    bottom = ds.set_position(card.id, "bottom")
    assert bottom is not None
    assert ds.card(card.id).pos == max(c.pos for c in in_list if c.id != card.id) + 65536
    assert ds.set_position(card.id, ds.card(card.id).pos) is None  # where it is: no action
    for bad in ("-5", "nan", "middle"):
        refused = fresh_client.request("PUT", f"/cards/{card.id}", json_body={"pos": bad})
        assert (refused.status_code, refused.text) == (400, "invalid value for pos")
