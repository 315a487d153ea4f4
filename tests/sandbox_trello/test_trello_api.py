"""The read routes: shapes against Trello's own examples, filters, and action paging.

The paging test is the point of the sandbox: walking every board's actions from
the newest back with `before` must give exactly the list moves the simulation
recorded for every card, the heavy card's 1,000+ moves included.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pmo_sync.sandbox.trello.generator import (
    FIELD_POINTS,
    FIELD_SPRINT,
    NOT_FOUND,
    VENDOR_LIST,
    TrelloDataset,
    format_date,
    parse_date,
)

ID = re.compile(r"^[0-9a-f]{24}$")
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def assert_shape(sample: Any, ours: Any, where: str = "$") -> None:
    """Every key of the official example is in ours, recursively, with the same JSON type
    (an example's null stands for any type; ints and floats are both numbers)."""
    if sample is None:
        return
    if isinstance(sample, dict):
        assert isinstance(ours, dict), where
        missing = set(sample) - set(ours)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for key, value in sample.items():
            assert_shape(value, ours[key], f"{where}.{key}")
    elif isinstance(sample, list):
        assert isinstance(ours, list), where
        if sample and ours:
            assert_shape(sample[0], ours[0], f"{where}[0]")
    elif isinstance(sample, bool):
        assert isinstance(ours, bool), where
    elif isinstance(sample, int | float):
        assert isinstance(ours, int | float) and not isinstance(ours, bool), where
    else:
        assert isinstance(ours, type(sample)), f"{where}: {ours!r}"
        if isinstance(sample, str) and ID.match(sample.lower()):
            assert ID.match(ours), f"{where}: {ours!r} is no 24-hex id"
        if isinstance(sample, str) and DATE.match(sample):
            assert DATE.match(ours), f"{where}: {ours!r} is no Trello date"


def board_id(client, name: str = "Team Alpha") -> str:
    boards = client.json("/members/me/boards", fields="name")
    return next(b["id"] for b in boards if b["name"] == name)


# -- shapes --------------------------------------------------------------------------------


def test_board_actions_match_the_official_example(client, sample) -> None:
    """addMemberToCard: data.idMember, a top-level member, memberCreator, as documented."""
    ours = client.json(f"/boards/{board_id(client)}/actions", filter="addMemberToCard", limit=3)
    assert ours and all(a["type"] == "addMemberToCard" for a in ours)
    for example in sample("board-actions.GET.example.json"):
        assert_shape(example, ours[0])
    assert ours[0]["member"]["id"] == ours[0]["data"]["idMember"]


def test_card_actions_match_the_recorded_history(client, sample) -> None:
    """createCard, updateCard moves (listBefore/listAfter, old.idList) and archiving
    (card.closed, old.closed), key for key as the recorded card history."""
    board = board_id(client)
    ours = {
        "createCard": client.json(f"/boards/{board}/actions", filter="createCard", limit=1),
        "idList": client.json(f"/boards/{board}/actions", filter="updateCard:idList", limit=1),
        "closed": client.json(f"/boards/{board}/actions", filter="updateCard:closed", limit=1),
    }
    for example in sample("card-actions.GET.recorded-example.json"):
        old = example["data"].get("old")
        key = next(iter(old)) if old else example["type"]
        assert_shape(example, ours[key][0])
    archived = ours["closed"][0]["data"]
    assert set(archived["old"]) == {"closed"}
    assert archived["card"]["closed"] is not archived["old"]["closed"]


def test_custom_fields_match_the_official_example(client, sample) -> None:
    fields = client.json(f"/boards/{board_id(client)}/customFields")
    by_name = {f["name"]: f for f in fields}
    assert by_name[FIELD_POINTS]["type"] == "number" and "options" not in by_name[FIELD_POINTS]
    sprint = by_name[FIELD_SPRINT]
    for example in sample("board-customFields.GET.example.json"):
        assert_shape(example, sprint)
    assert [o["value"]["text"] for o in sprint["options"]][:2] == ["Sprint 5", "Sprint 6"]
    assert all(o["idCustomField"] == sprint["id"] for o in sprint["options"])


def test_cards_with_custom_field_items_match_the_official_example(client, sample) -> None:
    cards = client.json(f"/boards/{board_id(client)}/cards", customFieldItems="true")
    example = sample("list-cards-with-customFieldItems.GET.example.json")[0]
    list_item = next(
        i for c in cards for i in c["customFieldItems"] if "idValue" in i
    )  # a Sprint value
    number_item = next(i for c in cards for i in c["customFieldItems"] if "value" in i)
    card = next(c for c in cards if c["customFieldItems"])
    assert_shape({k: v for k, v in example.items() if k != "customFieldItems"}, card)
    assert_shape(example["customFieldItems"][0], list_item)
    assert set(number_item["value"]) == {"number"}
    assert isinstance(number_item["value"]["number"], str)
    assert number_item["modelType"] == "card"


# -- members, boards, lists, cards ---------------------------------------------------------


def test_members_me_and_boards_by_name(client, sandbox) -> None:
    me = client.json("/members/me")
    assert (me["username"], me["fullName"]) == ("pmobot", "PMO Bot")
    boards = client.json("/members/me/boards", fields="name,url")
    assert [b["name"] for b in boards] == ["Team Alpha", "Team Beta"]
    assert all(set(b) == {"id", "name", "url"} for b in boards)
    board = client.json(f"/boards/{boards[1]['id']}", fields="name")
    assert board == {"id": boards[1]["id"], "name": "Team Beta"}
    alpha = client.json(f"/boards/{board_id(client)}")
    assert alpha["shortLink"] == sandbox.dataset.boards[0].short_link


def test_lists_filter_includes_the_unusual_and_the_archived_list(client) -> None:
    board = board_id(client)
    every = client.json(f"/boards/{board}/lists", filter="all")
    names = [x["name"] for x in every]
    assert names == ["Backlog", "To Do", "Doing", VENDOR_LIST, "Review", "Done", "Ideas (old)"]
    assert [x["name"] for x in client.json(f"/boards/{board}/lists", filter="closed")] == [
        "Ideas (old)"
    ]
    assert len(client.json(f"/boards/{board}/lists")) == 7  # default: all
    assert len(client.json(f"/boards/{board}/lists/open")) == 6
    assert client.get(f"/boards/{board}/lists", filter="nope").status_code == 400


def test_cards_filters_and_state_match_the_ground_truth(client, dataset: TrelloDataset) -> None:
    for board in dataset.boards:
        every = client.json(f"/boards/{board.id}/cards", filter="all", customFieldItems="true")
        open_ = client.json(f"/boards/{board.id}/cards", filter="open")
        closed = client.json(f"/boards/{board.id}/cards/closed")
        visible = client.json(f"/boards/{board.id}/cards")  # the default: visible
        assert {c["id"] for c in every} == {c["id"] for c in open_} | {c["id"] for c in closed}
        assert closed and all(c["closed"] for c in closed)
        assert not any(c["closed"] for c in open_) and visible == open_
        truth = {c.id: c for c in dataset.cards(board)}
        assert {c["id"] for c in every} == set(truth)
        points = board.field_named(FIELD_POINTS)
        sprint = board.field_named(FIELD_SPRINT)
        for c in every:
            card = truth[c["id"]]
            assert (c["idList"], c["closed"], c["idBoard"], c["name"]) == (
                card.list_id,
                card.closed,
                board.id,
                card.name,
            )
            items = {i["idCustomField"]: i for i in c["customFieldItems"]}
            got_points = items.get(points.id, {}).get("value", {}).get("number")
            assert (float(got_points) if got_points else None) == card.estimate
            option = sprint.option(items[sprint.id]["idValue"]) if sprint.id in items else None
            assert (option.text if option else None) == card.sprint
    fields = client.json(f"/boards/{dataset.boards[0].id}/cards", fields="name,idList")
    assert all(set(c) == {"id", "name", "idList"} for c in fields)


def test_archived_and_deleted_cards(client, dataset: TrelloDataset) -> None:
    archived = next(c for c in dataset.cards() if c.closed)
    assert client.json(f"/cards/{archived.id}")["closed"] is True
    deleted = [c for c in dataset.cards(include_deleted=True) if c.deleted]
    assert deleted
    for card in deleted:
        response = client.get(f"/cards/{card.id}")
        assert (response.status_code, response.text) == (404, NOT_FOUND)
        assert response.headers["Content-Type"].startswith("text/plain")
        assert client.get(f"/cards/{card.id}/actions").status_code == 404
    gone = deleted[0]
    actions = client.json(f"/boards/{gone.board_id}/actions", filter="deleteCard", limit=1000)
    mine = [a for a in actions if a["data"]["card"]["id"] == gone.id]
    assert len(mine) == 1 and set(mine[0]["data"]["card"]) == {"id", "idShort"}
    assert client.get("/cards/not-an-id").text == "invalid id"
    assert client.get(f"/cards/{'0' * 24}").status_code == 404


def test_labels_and_members(client, dataset: TrelloDataset) -> None:
    board = dataset.boards[0]
    labels = client.json(f"/boards/{board.id}/labels")
    assert [(x["color"], x["name"]) for x in labels[:2]] == [
        ("green", "Feature"),
        ("yellow", "Chore"),
    ]
    uses = Counter(i for c in dataset.cards(board) for i in c.label_ids)
    assert {x["id"]: x["uses"] for x in labels} == {x.id: uses[x.id] for x in board.labels}
    members = client.json(f"/boards/{board.id}/members")
    assert "pmobot" in {m["username"] for m in members}


# -- actions: paging, limit, since ------------------------------------------------------


def test_paging_back_with_before_reproduces_every_cards_list_moves(
    client, dataset: TrelloDataset, helpers
) -> None:
    """All boards' actions, paged newest → oldest 1000 at a time, rebuild exactly the
    ground-truth list moves of every card (deleted, copied and moved ones too)."""
    moves_filter = "createCard,copyCard,updateCard:idList,moveCardFromBoard,moveCardToBoard"
    actions = []
    for board in dataset.boards:
        page_requests = len(client.sandbox.requests)
        got = client.all_actions(f"/boards/{board.id}/actions", filter=moves_filter)
        assert [a["id"] for a in got] == sorted((a["id"] for a in got), reverse=True)
        actions.extend(got)
        if board.index == 0:
            assert len(client.sandbox.requests) - page_requests > 1  # more than one page
    truth = helpers.truth_moves(dataset.cards(include_deleted=True))
    rebuilt = helpers.reconstruct_moves(actions)
    assert rebuilt == truth
    heavy = dataset.heavy_card
    assert len(rebuilt[heavy.id]) > 1000
    kinds = Counter(a["type"] for a in actions)
    assert kinds["copyCard"] and kinds["moveCardToBoard"] == kinds["moveCardFromBoard"] > 0


def test_heavy_card_needs_more_than_one_page(client, dataset: TrelloDataset, helpers) -> None:
    heavy = dataset.heavy_card
    first = client.json(f"/cards/{heavy.id}/actions", filter="all", limit=1000)
    assert len(first) == 1000
    every = client.all_actions(f"/cards/{heavy.id}/actions")
    assert [a["id"] for a in every] == [a.id for a in reversed(heavy.live_actions)]
    moves = helpers.reconstruct_moves(every)
    assert moves == helpers.truth_moves([heavy])
    # the default filter of card actions is commentCard,updateCard:idList, and 50 of them
    default = client.json(f"/cards/{heavy.id}/actions")
    assert len(default) == 50
    assert {(a["type"], "idList" in a["data"].get("old", {})) for a in default} <= {
        ("commentCard", False),
        ("updateCard", True),
    }


def test_limit_defaults_to_50_and_caps_at_1000(client, dataset: TrelloDataset) -> None:
    path = f"/boards/{dataset.boards[0].id}/actions"
    assert len(client.json(path)) == 50
    assert len(client.json(path, limit=1000)) == 1000
    assert client.json(path, limit=0) == []
    for bad in ("1001", "-1", "ten"):
        response = client.get(path, limit=bad)
        assert (response.status_code, response.text) == (400, "invalid value for limit")
    response = client.get(path, filter="updateCard:idList,bogusType")
    assert (response.status_code, response.text) == (400, "invalid value for filter")
    page0 = client.json(path, limit=20)
    page1 = client.json(path, limit=10, page=1)
    assert [a["id"] for a in page1] == [a["id"] for a in page0[10:20]]


def test_since_and_before_take_ids_or_dates(client, dataset: TrelloDataset) -> None:
    path = f"/boards/{dataset.boards[1].id}/actions"
    every = client.json(path, limit=1000)  # the newest 1000
    middle = every[500]
    newer = client.json(path, since=middle["id"], limit=1000)
    assert [a["id"] for a in newer] == [a["id"] for a in every[:500]]
    # since keeps newest-first: limit=5 gives the 5 newest, not the 5 after `since`
    assert client.json(path, since=middle["id"], limit=5) == every[:5]
    older = client.json(path, before=middle["id"], limit=499)
    assert [a["id"] for a in older] == [a["id"] for a in every[501:]]
    at = parse_date(middle["date"])
    by_date = client.json(path, since=format_date(at), limit=1000)
    assert by_date[-1]["id"] == middle["id"]  # a date bound includes that millisecond
    assert client.json(path, before=middle["date"], limit=499) == older
    day = middle["date"][:10]
    assert client.json(path, since=day, limit=1000)[-1]["date"] >= day  # a bare date works too
    assert client.get(path, before="yesterday").text == "invalid value for before"


def test_ids_encode_the_creation_time(client, dataset: TrelloDataset) -> None:
    """An action id's first 4 bytes are its date's Unix seconds (an ObjectId), so id order
    is time order; a card's id carries its creation time too."""
    actions = client.json(f"/boards/{dataset.boards[0].id}/actions", limit=1000)
    for a in actions:
        assert ID.match(a["id"]) and DATE.match(a["date"])
        assert int(a["id"][:8], 16) == parse_date(a["date"]) // 1000
    assert [a["date"] for a in actions] == sorted((a["date"] for a in actions), reverse=True)
    card = dataset.card(actions[0]["data"]["card"]["id"])
    assert int(card.id[:8], 16) == card.created_ms // 1000


# -- checklists ------------------------------------------------------------------------------

CHECKLIST_FIELDS = {"id", "name", "idBoard", "idCard", "pos", "checkItems"}
CHECK_ITEM_FIELDS = {
    "id", "name", "nameData", "pos", "state", "due", "dueReminder", "idMember", "idChecklist",
}  # fmt: skip
"""Trello's checklist and check item fields (REST reference: Checklists; the OpenAPI
`CheckItem` schema has `id`, `name`, `nameData`, `pos`, `state`, `idChecklist`)."""


def test_cards_come_with_their_checklists_when_asked(client, dataset: TrelloDataset) -> None:
    """`checklists=all` on the board's cards (a nested resource of the card) gives each
    card's checklists in `pos` order with their items; `checklist_fields` picks the
    checklist's fields (`id` and the items always come); without it, no `checklists` key.
    `idChecklists` and the badges count them either way."""
    board = board_id(client)
    cards = client.json(f"/boards/{board}/cards/all", checklists="all")
    truth = {c.id: c for c in dataset.cards()}
    with_lists = [c for c in cards if c["checklists"]]
    assert with_lists and len(with_lists) < len(cards)
    for card in cards:
        expected = truth[card["id"]].checklists
        assert card["idChecklists"] == [x.id for x in expected]
        assert [x["id"] for x in card["checklists"]] == [x.id for x in expected]
        for got, want in zip(card["checklists"], expected, strict=True):
            assert set(got) == CHECKLIST_FIELDS
            assert (got["name"], got["idCard"], got["idBoard"]) == (want.name, card["id"], board)
            assert [set(i) for i in got["checkItems"]] == [CHECK_ITEM_FIELDS] * len(want.items)
            assert [(i["name"], i["state"], i["idChecklist"]) for i in got["checkItems"]] == [
                (i.name, "complete" if i.complete else "incomplete", want.id) for i in want.items
            ]
        items = [i for x in expected for i in x.items]
        assert (card["badges"]["checkItems"], card["badges"]["checkItemsChecked"]) == (
            len(items),
            sum(i.complete for i in items),
        )
    picked = client.json(f"/boards/{board}/cards/all", checklists="all", checklist_fields="name")
    assert {frozenset(x) for c in picked for x in c["checklists"]} == {
        frozenset({"id", "name", "checkItems"})
    }
    assert all("checklists" not in c for c in client.json(f"/boards/{board}/cards/all"))
    response = client.get(f"/boards/{board}/cards/all", checklists="some")
    assert (response.status_code, response.text) == (400, "invalid value for checklists")


def test_a_cards_checklists_alone(client, dataset: TrelloDataset) -> None:
    """`GET /cards/{id}/checklists`: the same checklists; `checkItems=none` leaves the items
    out, `checkItem_fields` picks theirs, `fields` the checklist's; and `GET /cards/{id}`
    takes `checklists=all` like the listing."""
    card = next(c for c in dataset.cards() if len(c.checklists) == 2)
    lists = client.json(f"/cards/{card.id}/checklists")
    assert [(x["name"], len(x["checkItems"])) for x in lists] == [
        (x.name, len(x.items)) for x in card.checklists
    ]
    assert client.json(f"/cards/{card.id}", checklists="all")["checklists"] == lists
    bare = client.json(f"/cards/{card.id}/checklists", checkItems="none", fields="name")
    assert bare == [{"id": x.id, "name": x.name} for x in card.checklists]
    named = client.json(f"/cards/{card.id}/checklists", checkItem_fields="name,state")
    assert {frozenset(i) for x in named for i in x["checkItems"]} == {
        frozenset({"id", "name", "state"})
    }
    assert client.json(f"/cards/{card.id}/checklists", filter="none") == []
