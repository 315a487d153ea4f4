"""Trello cards and their actions → records (`connectors.trello.convert`), worked out by hand.

The card, custom field and action JSON is shaped like Trello's own answers (see
`tests/fixtures/api-samples/trello`): 24-hex ids whose first 8 hex digits are the Unix
seconds of their creation, dates with milliseconds and a Z, `idMemberCreator`,
and `data` with `card`, `board`, `list` / `listBefore` / `listAfter`, `old`,
`customField` / `customFieldItem`, `label`, `idMember`. Actions are handed over
newest first, as `GET /boards/{id}/actions` returns them. Each expected value
is read off the actions listed in the test, not computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.trello.config import SprintSource, TrelloConfig
from connectors.trello.convert import (
    BoardInfo,
    ListInfo,
    TrelloContext,
    convert_card,
    convert_list,
    convert_sprint,
    object_id_time,
    parent_of,
)
from connectors.trello.streams import TrelloRunState, board_info
from pmo_sync.domain import (
    ChangeField,
    CheckItem,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
)

# -- members ---------------------------------------------------------------------------------

ANA = "5f2b8c1e4a7d9e0b3c6f1a01"
BEN = "5f2b8c1e4a7d9e0b3c6f1a02"
BOT = "6a1d4e7b2c5f8a0d3e6b9c03"  # the token's member: pmo-sync's own writes
PEOPLE = {
    ANA: ("Ana Lima", "analima"),
    BEN: ("Ben Okafor", "benokafor"),
    BOT: ("PMO Bot", "pmobot"),
}

# -- boards: ids created 2025-01-06 (0x677b1d00) -----------------------------------------------

ALPHA = "677b1d00e4b0c1a2f3d40a00"
BETA = "677b1d00e4b0c1a2f3d40b00"
GAMMA = "677b1d00e4b0c1a2f3d40c00"  # sprints as lists
BOARD_NAMES = {ALPHA: "Team Alpha", BETA: "Team Beta", GAMMA: "Team Gamma"}

A_BACKLOG, A_TODO, A_DOING, A_VENDOR, A_REVIEW, A_DONE, A_IDEAS = (
    f"677b1d05e4b0c1a2f3d40a1{i}" for i in range(7)
)
B_BACKLOG, B_TODO, B_DOING, B_REVIEW, B_DONE = (f"677b1d05e4b0c1a2f3d40b1{i}" for i in range(5))
G_BACKLOG, G_S18, G_S19, G_DONE = (f"677b1d05e4b0c1a2f3d40c1{i}" for i in range(4))

A_POINTS, A_SPRINT, A_SIZE, A_CYCLE = (f"677b1d0ae4b0c1a2f3d40a2{i}" for i in range(4))
A_S17, A_S18, A_S19 = (f"677b1d0ae4b0c1a2f3d40a3{i}" for i in range(3))
A_SIZE_OPTIONS = {t: f"677b1d0ae4b0c1a2f3d40a4{i}" for i, t in enumerate(["1", "2", "3", "5", "8"])}
B_POINTS, B_SPRINT = (f"677b1d0ae4b0c1a2f3d40b2{i}" for i in range(2))
B_S18, B_S19 = (f"677b1d0ae4b0c1a2f3d40b3{i}" for i in range(2))

LABEL_IDS = {
    name: f"677b1d0fe4b0c1a2f3d40d{i:02x}"
    for i, name in enumerate(
        ["Bug", "Blocked", "Backend", "5 pts", "8", "Sprint 18", "Sprint 19", "Epic"]
    )
}


def _lists_json(board: str, names: dict[str, str], closed: Iterable[str] = ()) -> list[dict]:
    return [
        {"id": list_id, "name": name, "closed": list_id in closed, "idBoard": board, "pos": 16384}
        for list_id, name in names.items()
    ]


def _field_json(
    board: str, field_id: str, name: str, kind: str, options: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A `GET /boards/{id}/customFields` entry, like the official sample."""
    return {
        "id": field_id,
        "idModel": board,
        "modelType": "board",
        "fieldGroup": f"{field_id}fieldgroup",
        "name": name,
        "pos": 16384,
        "options": [
            {
                "id": option_id,
                "idCustomField": field_id,
                "value": {"text": text},
                "color": "none",
                "pos": 16384 * (i + 1),
            }
            for i, (text, option_id) in enumerate((options or {}).items())
        ],
        "type": kind,
    }


LIST_NAMES = {
    A_BACKLOG: "Backlog",
    A_TODO: "To Do",
    A_DOING: "Doing",
    A_VENDOR: "Blocked by vendor",
    A_REVIEW: "Review",
    A_DONE: "Done",
    A_IDEAS: "Ideas (old)",
    B_BACKLOG: "Backlog",
    B_TODO: "To Do",
    B_DOING: "Doing",
    B_REVIEW: "Review",
    B_DONE: "Done",
    G_BACKLOG: "Backlog",
    G_S18: "Sprint 18",
    G_S19: "Sprint 19",
    G_DONE: "Done",
}
FIELDS = {  # field id -> (name, type, option text -> option id)
    A_POINTS: ("Story Points", "number", {}),
    A_SPRINT: ("Sprint", "list", {"Sprint 17": A_S17, "Sprint 18": A_S18, "Sprint 19": A_S19}),
    A_SIZE: ("Size", "list", A_SIZE_OPTIONS),
    A_CYCLE: ("Cycle time (days)", "number", {}),
    B_POINTS: ("Story Points", "number", {}),
    B_SPRINT: ("Sprint", "list", {"Sprint 18": B_S18, "Sprint 19": B_S19}),
}


def _board(board_id: str, lists: list[str], fields: list[str]) -> BoardInfo:
    board = {"id": board_id, "name": BOARD_NAMES[board_id], "closed": False}
    return board_info(
        board,
        _lists_json(board_id, {x: LIST_NAMES[x] for x in lists}, closed=[A_IDEAS]),
        [_field_json(board_id, f, *FIELDS[f]) for f in fields],
    )


ALPHA_INFO = _board(
    ALPHA,
    [A_BACKLOG, A_TODO, A_DOING, A_VENDOR, A_REVIEW, A_DONE, A_IDEAS],
    [A_POINTS, A_SPRINT, A_SIZE, A_CYCLE],
)
BETA_INFO = _board(BETA, [B_BACKLOG, B_TODO, B_DOING, B_REVIEW, B_DONE], [B_POINTS, B_SPRINT])
GAMMA_INFO = _board(GAMMA, [G_BACKLOG, G_S18, G_S19, G_DONE], [])
BOARDS = {ALPHA: ALPHA_INFO, BETA: BETA_INFO, GAMMA: GAMMA_INFO}


def context(
    *,
    boards: tuple[BoardInfo, ...] = (ALPHA_INFO, BETA_INFO),
    bot: str | None = BOT,
    **config: Any,
) -> TrelloContext:
    """The context as a run builds it (`TrelloRunState.context`) from a config's mapping."""
    validated = TrelloConfig.model_validate(
        {
            "name": "acme-trello",
            "kind": "trello",
            "api_key": SecretStr("key-for-tests"),
            "token": SecretStr("token-for-tests"),
            "boards": [b.name for b in boards],
            **config,
        }
    )
    return TrelloRunState(boards={b.id: b for b in boards}, bot=bot).context(validated)


# -- JSON builders ---------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def object_id(date: str, tail: str) -> str:
    """A Trello id: 8 hex of Unix seconds, 4 of milliseconds (as the sandbox does), 12 more."""
    when = at(date)
    return f"{int(when.timestamp()):08x}{when.microsecond // 1000:04x}{tail}"


def card_json(
    created: str,
    name: str,
    list_id: str,
    *,
    board: str = ALPHA,
    labels: Iterable[str] = (),
    members: Iterable[str] = (),
    items: Iterable[dict[str, Any]] = (),
    closed: bool = False,
    last_activity: str | None = None,
    short: str = "Xk3vT9qa",
) -> dict[str, Any]:
    """A `GET /boards/{id}/cards/all?customFieldItems=true` entry."""
    card_id = object_id(created, "c4a9e01b7f3d")
    return {
        "id": card_id,
        "closed": closed,
        "dateLastActivity": last_activity or created,
        "desc": "",
        "due": None,
        "idBoard": board,
        "idChecklists": [],
        "idLabels": [LABEL_IDS[x] for x in labels],
        "idList": list_id,
        "idMembers": list(members),
        "idShort": 42,
        "labels": [
            {"id": LABEL_IDS[x], "idBoard": board, "name": x, "color": "red"} for x in labels
        ],
        "name": name,
        "pos": 65536,
        "shortLink": short,
        "shortUrl": f"https://trello.com/c/{short}",
        "url": f"https://trello.com/c/{short}/42-card",
        "customFieldItems": [{**item, "idModel": card_id} for item in items],
    }


def number_item(field_id: str, number: str) -> dict[str, Any]:
    return {
        "id": f"{field_id[:12]}e1e1e1e1e1e1",
        "value": {"number": number},
        "idCustomField": field_id,
        "modelType": "card",
    }


def option_item(field_id: str, option_id: str) -> dict[str, Any]:
    return {
        "id": f"{field_id[:12]}e2e2e2e2e2e2",
        "idValue": option_id,
        "idCustomField": field_id,
        "modelType": "card",
    }


def _card_ref(card: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": card["id"],
        "name": card["name"],
        "idShort": card["idShort"],
        "shortLink": card["shortLink"],
        **extra,
    }


def _board_ref(board: str) -> dict[str, Any]:
    return {"id": board, "name": BOARD_NAMES[board], "shortLink": f"B{board[-3:]}xyzq"}


def _list_ref(list_id: str, name: str | None = None) -> dict[str, Any]:
    return {"id": list_id, "name": name or LIST_NAMES[list_id]}


_SERIAL = {
    "createCard": "a01",
    "copyCard": "a02",
    "updateCard": "a03",
    "moveCardFromBoard": "a04",
    "moveCardToBoard": "a05",
    "updateCustomFieldItem": "a06",
    "addLabelToCard": "a07",
    "removeLabelFromCard": "a08",
    "addMemberToCard": "a09",
    "removeMemberFromCard": "a0a",
    "commentCard": "a0b",
}


def action(kind: str, date: str, data: dict[str, Any], by: str = ANA) -> dict[str, Any]:
    full_name, username = PEOPLE[by]
    return {
        "id": object_id(date, f"7be3c2d15{_SERIAL[kind]}"),
        "idMemberCreator": by,
        "data": data,
        "type": kind,
        "date": date,
        "memberCreator": {"id": by, "fullName": full_name, "username": username},
    }


def created(card: Mapping[str, Any], date: str, list_id: str, by: str = ANA) -> dict[str, Any]:
    board = "".join(b for b, info in BOARDS.items() if list_id in info.lists)
    data = {"board": _board_ref(board), "list": _list_ref(list_id), "card": _card_ref(card)}
    return action("createCard", date, data, by)


def copied(card: Mapping[str, Any], date: str, list_id: str, source: str) -> dict[str, Any]:
    data = {
        "cardSource": {"id": source, "name": card["name"], "idShort": 7, "shortLink": "Qw8rT2zx"},
        "board": _board_ref(card["idBoard"]),
        "list": _list_ref(list_id),
        "card": _card_ref(card),
    }
    return action("copyCard", date, data)


def moved(
    card: Mapping[str, Any],
    date: str,
    before: str,
    after: str,
    *,
    by: str = ANA,
    names: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`updateCard` to another list; `names`: the list names the action recorded then."""
    before_name, after_name = names or (LIST_NAMES[before], LIST_NAMES[after])
    board = "".join(b for b, info in BOARDS.items() if after in info.lists)
    data = {
        "listAfter": _list_ref(after, after_name),
        "listBefore": _list_ref(before, before_name),
        "board": _board_ref(board),
        "card": _card_ref(card, idList=after),
        "old": {"idList": before},
    }
    return action("updateCard", date, data, by)


def renamed(card: Mapping[str, Any], date: str, old: str, new: str) -> dict[str, Any]:
    data = {
        "list": _list_ref(card["idList"]),
        "board": _board_ref(card["idBoard"]),
        "card": {**_card_ref(card), "name": new},
        "old": {"name": old},
    }
    return action("updateCard", date, data)


def archived(card: Mapping[str, Any], date: str, by: str = ANA) -> dict[str, Any]:
    data = {
        "list": _list_ref(card["idList"]),
        "board": _board_ref(card["idBoard"]),
        "card": _card_ref(card, closed=True),
        "old": {"closed": False},
    }
    return action("updateCard", date, data, by)


def field_set(
    card: Mapping[str, Any],
    date: str,
    field_id: str,
    new: str | None,
    old: str | None = None,
    *,
    board: str = ALPHA,
    by: str = ANA,
) -> dict[str, Any]:
    """`updateCustomFieldItem`: a number as text ("3") or a dropdown option's text; None clears."""
    name, kind, options = FIELDS[field_id]
    item: dict[str, Any] = {"id": f"{field_id[:12]}e1e1e1e1e1e1"}
    if kind == "list":
        item["idValue"] = options[new] if new is not None else None
        previous: dict[str, Any] = {"idValue": options[old] if old is not None else None}
    else:
        item["value"] = {"number": new} if new is not None else None
        previous = {"value": {"number": old} if old is not None else None}
    item.update({"idCustomField": field_id, "idModel": card["id"], "modelType": "card"})
    data = {
        "card": _card_ref(card),
        "board": _board_ref(board),
        "customField": {"id": field_id, "name": name, "type": kind},
        "customFieldItem": item,
        "old": previous,
    }
    return action("updateCustomFieldItem", date, data, by)


def labelled(
    card: Mapping[str, Any], date: str, name: str, *, add: bool = True, recorded: str | None = None
) -> dict[str, Any]:
    """`addLabelToCard` / `removeLabelFromCard`; `recorded`: the label's name back then."""
    shown = recorded or name
    data = {
        "board": _board_ref(card["idBoard"]),
        "card": _card_ref(card),
        "label": {"id": LABEL_IDS[name], "name": shown, "color": "red"},
        "text": shown,
    }
    return action("addLabelToCard" if add else "removeLabelFromCard", date, data)


def membered(
    card: Mapping[str, Any], date: str, member: str, *, add: bool = True, by: str = ANA
) -> dict[str, Any]:
    """`addMemberToCard` / `removeMemberFromCard` (`data.idMember`, and `member` beside it)."""
    full_name, username = PEOPLE[member]
    data = {"board": _board_ref(card["idBoard"]), "card": _card_ref(card), "idMember": member}
    kind = "addMemberToCard" if add else "removeMemberFromCard"
    result = action(kind, date, data, by)
    result["member"] = {"id": member, "fullName": full_name, "username": username}
    return result


def commented(card: Mapping[str, Any], date: str, text: str, by: str) -> dict[str, Any]:
    data = {
        "text": text,
        "board": _board_ref(card["idBoard"]),
        "list": _list_ref(card["idList"]),
        "card": _card_ref(card),
    }
    return action("commentCard", date, data, by)


def moved_to_board(
    card: Mapping[str, Any], date: str, source: tuple[str, str], target: tuple[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """moveCardFromBoard on the old board's log, moveCardToBoard on the new one's 1 ms later."""
    (from_board, from_list), (to_board, to_list) = source, target
    leaving = action(
        "moveCardFromBoard",
        date,
        {
            "board": _board_ref(from_board),
            "list": _list_ref(from_list),
            "card": _card_ref(card),
            "boardTarget": {"id": to_board},
        },
    )
    later = (at(date) + timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
    arriving = action(
        "moveCardToBoard",
        later.replace("+00:00", "Z"),
        {
            "board": _board_ref(to_board),
            "list": _list_ref(to_list),
            "card": _card_ref(card),
            "boardSource": {"id": from_board},
        },
    )
    return leaving, arriving


def newest_first(*actions: dict[str, Any]) -> list[dict[str, Any]]:
    """As `GET /boards/{id}/actions` and `GET /cards/{id}/actions` answer."""
    return list(reversed(actions))


def changes_of(bundle: ItemBundle, field: ChangeField) -> list[tuple]:
    return [
        (c.change_id, c.at, c.from_value, c.to_value) for c in bundle.changes if c.field is field
    ]


def sprint_changes(bundle: ItemBundle) -> list[tuple]:
    return [
        (c.change_id, c.at, c.from_value, c.to_value, c.from_display, c.to_display)
        for c in bundle.changes
        if c.field is ChangeField.SPRINT
    ]


# -- status ----------------------------------------------------------------------------------


def test_list_moves_are_status_changes_named_by_the_lists_current_names() -> None:
    """The initial status is the creation's list; each move one change `<action id>:status`
    from and to the lists' names *now* (Doing was "In Progress" when the card entered it)."""
    card = card_json(
        "2026-11-16T09:00:00.000Z",
        "Checkout retries",
        A_DONE,
        last_activity="2026-11-20T16:45:00.500Z",
    )
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    start = moved(card, "2026-11-17T10:15:30.250Z", A_TODO, A_DOING, names=("To Do", "In Progress"))
    wait = moved(
        card, "2026-11-18T08:00:00.000Z", A_DOING, A_VENDOR, names=("In Progress", "Vendor")
    )
    review = moved(card, "2026-11-19T13:20:00.000Z", A_VENDOR, A_REVIEW, by=BEN)
    finish = moved(card, "2026-11-20T16:45:00.500Z", A_REVIEW, A_DONE, by=BEN)

    bundle = convert_card(card, newest_first(create, start, wait, review, finish), context())

    assert changes_of(bundle, ChangeField.STATUS) == [
        (f"{start['id']}:status", at("2026-11-17T10:15:30.250Z"), "To Do", "Doing"),
        (f"{wait['id']}:status", at("2026-11-18T08:00:00.000Z"), "Doing", "Blocked by vendor"),
        (f"{review['id']}:status", at("2026-11-19T13:20:00.000Z"), "Blocked by vendor", "Review"),
        (f"{finish['id']}:status", at("2026-11-20T16:45:00.500Z"), "Review", "Done"),
    ]
    assert [c.author for c in bundle.changes] == [ANA, ANA, BEN, BEN]
    assert len(bundle.changes) == 4  # no estimate, sprint, assignee or flag ever changed
    item = bundle.item
    assert (item.external_id, item.key, item.url) == (
        card["id"],
        "Xk3vT9qa",
        "https://trello.com/c/Xk3vT9qa",
    )
    assert (item.status, item.status_category, item.stage) == ("Done", "done", Stage.DONE)
    assert (item.project, item.team, item.raw_type, item.item_type) == (
        "Team Alpha",
        "Team Alpha",
        "card",
        "story",
    )
    assert item.created == at("2026-11-16T09:00:00.000Z")
    assert item.resolved == at("2026-11-20T16:45:00.500Z")
    assert item.updated == item.last_activity == at("2026-11-20T16:45:00.500Z")
    assert bundle.memberships == []
    assert bundle.raw == {  # the raw shape of every tracker: the rules read `fields`
        "id": card["id"],
        "fields": {
            "idShort": 42,
            "shortLink": "Xk3vT9qa",
            "idBoard": ALPHA,
            "idList": A_DONE,
            "closed": False,
            "desc": card.get("desc"),
            "idMembers": card.get("idMembers"),
        },
    }


def test_resolved_is_the_last_entry_into_a_done_list() -> None:
    """Done, reopened (no resolution while it is back in progress), done again: the later."""
    created_at = "2026-11-16T09:00:00.000Z"
    reopened_card = card_json(created_at, "Invoice PDF", A_DOING)
    create = created(reopened_card, created_at, A_DOING)
    done = moved(reopened_card, "2026-11-18T12:00:00.000Z", A_DOING, A_DONE)
    reopen = moved(reopened_card, "2026-11-19T09:30:00.000Z", A_DONE, A_DOING)

    reopened = convert_card(reopened_card, newest_first(create, done, reopen), context())
    assert (reopened.item.stage, reopened.item.resolved) == (Stage.IN_PROGRESS, None)

    card = {**reopened_card, "idList": A_DONE}
    again = moved(card, "2026-11-20T17:00:00.000Z", A_DOING, A_DONE)
    bundle = convert_card(card, newest_first(create, done, reopen, again), context())
    assert (bundle.item.stage, bundle.item.resolved) == (Stage.DONE, at("2026-11-20T17:00Z"))
    assert [c[2:] for c in changes_of(bundle, ChangeField.STATUS)] == [
        ("Doing", "Done"),
        ("Done", "Doing"),
        ("Doing", "Done"),
    ]


def test_a_card_created_on_a_done_list_is_resolved_at_creation() -> None:
    card = card_json("2026-11-16T09:00:00.000Z", "Already shipped", A_DONE)
    bundle = convert_card(card, [created(card, "2026-11-16T09:00:00.000Z", A_DONE)], context())
    assert bundle.changes == []
    assert bundle.item.resolved == at("2026-11-16T09:00:00.000Z")


def test_an_unmapped_list_is_status_category_unmapped_in_progress() -> None:
    card = card_json("2026-11-16T09:00:00.000Z", "Waiting on the PSP", A_VENDOR)
    history = newest_first(
        created(card, "2026-11-16T09:00:00.000Z", A_DOING),
        moved(card, "2026-11-17T11:00:00.000Z", A_DOING, A_VENDOR),
    )

    item = convert_card(card, history, context()).item
    assert (item.status, item.status_category, item.stage) == (
        "Blocked by vendor",
        "unmapped",
        Stage.IN_PROGRESS,
    )
    assert item.resolved is None

    mapped = convert_card(card, history, context(list_stages={"blocked BY vendor": "todo"}))
    assert (mapped.item.status_category, mapped.item.stage) == ("todo", Stage.TODO)


def test_convert_list_gives_each_list_its_stage() -> None:
    ctx = context()
    assert convert_list(ALPHA_INFO.lists[A_VENDOR], ctx) == StatusRecord(
        A_VENDOR, "Blocked by vendor", "unmapped", Stage.IN_PROGRESS
    )
    assert convert_list(ALPHA_INFO.lists[A_DONE], ctx) == StatusRecord(
        A_DONE, "Done", "done", Stage.DONE
    )
    assert convert_list(ListInfo(A_REVIEW, "  review ", ALPHA), ctx) == StatusRecord(
        A_REVIEW, "  review ", "in_progress", Stage.IN_PROGRESS
    )
    custom = context(list_stages={"Blocked by vendor": "in_progress", "Done": "todo"})
    assert convert_list(ALPHA_INFO.lists[A_VENDOR], custom).category == "in_progress"
    assert convert_list(ALPHA_INFO.lists[A_DONE], custom).stage is Stage.TODO


# -- estimate --------------------------------------------------------------------------------


def test_estimate_from_the_story_points_field_set_changed_and_cleared() -> None:
    card = card_json("2026-11-16T09:00:00.000Z", "Refund API", A_TODO)  # cleared: no item
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    set3 = field_set(card, "2026-11-16T09:05:00.000Z", A_POINTS, "3")
    set5 = field_set(card, "2026-11-18T10:00:00.000Z", A_POINTS, "5", "3")
    half = field_set(card, "2026-11-18T10:30:00.000Z", A_POINTS, "2.5", "5")
    clear = field_set(card, "2026-11-19T11:00:00.000Z", A_POINTS, None, "2.5")

    bundle = convert_card(card, newest_first(create, set3, set5, half, clear), context())

    assert changes_of(bundle, ChangeField.ESTIMATE) == [
        (f"{set3['id']}:estimate", at("2026-11-16T09:05:00Z"), None, "3.0"),
        (f"{set5['id']}:estimate", at("2026-11-18T10:00:00Z"), "3.0", "5.0"),
        (f"{half['id']}:estimate", at("2026-11-18T10:30:00Z"), "5.0", "2.5"),
        (f"{clear['id']}:estimate", at("2026-11-19T11:00:00Z"), "2.5", None),
    ]
    assert bundle.item.estimate is None

    now_eight = card_json(
        "2026-11-16T09:00:00.000Z", "Refund API", A_TODO, items=[number_item(A_POINTS, "8")]
    )
    again = field_set(now_eight, "2026-11-20T08:00:00.000Z", A_POINTS, "8")
    history = newest_first(create, set3, set5, half, clear, again)
    bundle = convert_card(now_eight, history, context())
    assert changes_of(bundle, ChangeField.ESTIMATE)[-1] == (
        f"{again['id']}:estimate",
        at("2026-11-20T08:00:00Z"),
        None,
        "8.0",
    )
    assert bundle.item.estimate == 8.0


def test_estimate_from_a_dropdown_whose_options_are_numbers() -> None:
    card = card_json(
        "2026-11-16T09:00:00.000Z",
        "Search filters",
        A_TODO,
        items=[option_item(A_SIZE, A_SIZE_OPTIONS["5"])],
    )
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    three = field_set(card, "2026-11-16T10:00:00.000Z", A_SIZE, "3")
    five = field_set(card, "2026-11-17T10:00:00.000Z", A_SIZE, "5", "3")
    ctx = context(estimate={"from": "custom_field", "name": "size"})

    bundle = convert_card(card, newest_first(create, three, five), ctx)

    assert changes_of(bundle, ChangeField.ESTIMATE) == [
        (f"{three['id']}:estimate", at("2026-11-16T10:00:00Z"), None, "3.0"),
        (f"{five['id']}:estimate", at("2026-11-17T10:00:00Z"), "3.0", "5.0"),
    ]
    assert bundle.item.estimate == 5.0


def test_estimate_from_labels_with_the_default_pattern() -> None:
    """ "5 pts" and "8" read as numbers, "Backend" does not."""
    card = card_json("2026-11-16T09:00:00.000Z", "Audit log", A_TODO, labels=["Backend", "8"])
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    five = labelled(card, "2026-11-16T09:10:00.000Z", "5 pts")
    backend = labelled(card, "2026-11-16T09:11:00.000Z", "Backend")
    unfive = labelled(card, "2026-11-18T14:00:00.000Z", "5 pts", add=False)
    eight = labelled(card, "2026-11-18T14:01:00.000Z", "8")

    history = newest_first(create, five, backend, unfive, eight)
    bundle = convert_card(card, history, context(estimate={"from": "label"}))

    assert changes_of(bundle, ChangeField.ESTIMATE) == [
        (f"{five['id']}:estimate", at("2026-11-16T09:10:00Z"), None, "5.0"),
        (f"{unfive['id']}:estimate", at("2026-11-18T14:00:00Z"), "5.0", None),
        (f"{eight['id']}:estimate", at("2026-11-18T14:01:00Z"), None, "8.0"),
    ]
    assert bundle.item.estimate == 8.0
    assert bundle.item.labels == ("8", "Backend")


def test_estimate_from_the_title() -> None:
    """ "(3) Fix login" renamed "(5) Fix login": one change, at the rename; a rename that
    keeps the number changes nothing."""
    card = card_json("2026-11-16T09:00:00.000Z", "(5) Fix login on Safari", A_DOING)
    create = created(card, "2026-11-16T09:00:00.000Z", A_DOING)
    bump = renamed(card, "2026-11-17T15:00:00.000Z", "(3) Fix login", "(5) Fix login")
    reword = renamed(card, "2026-11-18T09:00:00.000Z", "(5) Fix login", "(5) Fix login on Safari")

    bundle = convert_card(
        card, newest_first(create, bump, reword), context(estimate={"from": "title"})
    )

    assert bundle.changes == [
        ItemChange(
            card["id"],
            f"{bump['id']}:estimate",
            ChangeField.ESTIMATE,
            at("2026-11-17T15:00:00Z"),
            "3.0",
            "5.0",
            None,
            None,
            ANA,
        )
    ]
    assert (bundle.item.title, bundle.item.estimate) == ("(5) Fix login on Safari", 5.0)


# -- sprint ----------------------------------------------------------------------------------


def test_sprint_from_the_dropdown_added_removed_and_added_again() -> None:
    """The option id reads as its text; each stay is one membership, the last one open."""
    card = card_json(
        "2026-11-10T09:00:00.000Z",
        "Saved carts",
        A_DOING,
        items=[option_item(A_SPRINT, A_S19)],
    )
    create = created(card, "2026-11-10T09:00:00.000Z", A_BACKLOG)
    into18 = field_set(card, "2026-11-16T08:00:00.000Z", A_SPRINT, "Sprint 18")
    out = field_set(card, "2026-11-20T12:00:00.000Z", A_SPRINT, None, "Sprint 18")
    into19 = field_set(card, "2026-11-30T08:00:00.000Z", A_SPRINT, "Sprint 19")
    start = moved(card, "2026-11-30T09:00:00.000Z", A_BACKLOG, A_DOING)

    bundle = convert_card(card, newest_first(create, into18, out, into19, start), context())

    s18, s19 = f"{ALPHA}:Sprint 18", f"{ALPHA}:Sprint 19"
    assert sprint_changes(bundle) == [
        (f"{into18['id']}:sprint", at("2026-11-16T08:00Z"), None, s18, None, "Sprint 18"),
        (f"{out['id']}:sprint", at("2026-11-20T12:00Z"), s18, None, "Sprint 18", None),
        (f"{into19['id']}:sprint", at("2026-11-30T08:00Z"), None, s19, None, "Sprint 19"),
    ]
    assert bundle.memberships == [
        SprintMembership(card["id"], s18, at("2026-11-16T08:00Z"), at("2026-11-20T12:00Z")),
        SprintMembership(card["id"], s19, at("2026-11-30T08:00Z"), None),
    ]


def test_sprint_from_labels_with_the_prefix() -> None:
    """Carried over: "Sprint 19" added before "Sprint 18" is taken off; the label added last
    is the sprint, so the card moves from 18 to 19 at the add."""
    card = card_json(
        "2026-11-12T09:00:00.000Z", "Promo codes", A_TODO, labels=["Backend", "Sprint 19"]
    )
    create = created(card, "2026-11-12T09:00:00.000Z", A_TODO)
    into18 = labelled(card, "2026-11-16T08:30:00.000Z", "Sprint 18")
    backend = labelled(card, "2026-11-16T08:31:00.000Z", "Backend")
    into19 = labelled(card, "2026-11-30T08:00:00.000Z", "Sprint 19")
    off18 = labelled(card, "2026-11-30T08:01:00.000Z", "Sprint 18", add=False)

    history = newest_first(create, into18, backend, into19, off18)
    bundle = convert_card(card, history, context(sprints={"from": "label"}))

    s18, s19 = f"{ALPHA}:Sprint 18", f"{ALPHA}:Sprint 19"
    assert sprint_changes(bundle) == [
        (f"{into18['id']}:sprint", at("2026-11-16T08:30Z"), None, s18, None, "Sprint 18"),
        (f"{into19['id']}:sprint", at("2026-11-30T08:00Z"), s18, s19, "Sprint 18", "Sprint 19"),
    ]
    assert bundle.memberships == [
        SprintMembership(card["id"], s18, at("2026-11-16T08:30Z"), at("2026-11-30T08:00Z")),
        SprintMembership(card["id"], s19, at("2026-11-30T08:00Z"), None),
    ]


def test_sprint_from_lists_matching_the_pattern() -> None:
    card = card_json("2026-11-13T09:00:00.000Z", "Export CSV", G_DONE, board=GAMMA)
    create = created(card, "2026-11-13T09:00:00.000Z", G_BACKLOG)
    plan = moved(card, "2026-11-16T08:00:00.000Z", G_BACKLOG, G_S18)
    carry = moved(card, "2026-11-30T08:00:00.000Z", G_S18, G_S19)
    ship = moved(card, "2026-12-03T16:00:00.000Z", G_S19, G_DONE)
    ctx = context(boards=(GAMMA_INFO,), sprints={"from": "list", "pattern": "^sprint \\d+$"})

    bundle = convert_card(card, newest_first(create, plan, carry, ship), ctx)

    s18, s19 = f"{GAMMA}:Sprint 18", f"{GAMMA}:Sprint 19"
    assert [(c.change_id, c.from_value, c.to_value) for c in bundle.changes] == [
        (f"{plan['id']}:status", "Backlog", "Sprint 18"),
        (f"{plan['id']}:sprint", None, s18),
        (f"{carry['id']}:status", "Sprint 18", "Sprint 19"),
        (f"{carry['id']}:sprint", s18, s19),
        (f"{ship['id']}:status", "Sprint 19", "Done"),
        (f"{ship['id']}:sprint", s19, None),
    ]
    assert bundle.memberships == [
        SprintMembership(card["id"], s18, at("2026-11-16T08:00Z"), at("2026-11-30T08:00Z")),
        SprintMembership(card["id"], s19, at("2026-11-30T08:00Z"), at("2026-12-03T16:00Z")),
    ]
    assert (bundle.item.team, bundle.item.resolved) == ("Team Gamma", at("2026-12-03T16:00Z"))


# -- another board ---------------------------------------------------------------------------


def _alpha_history(card: Mapping[str, Any], sprint: str) -> list[dict[str, Any]]:
    """Created on Team Alpha, 5 points, in `sprint`, started: oldest first."""
    return [
        created(card, "2026-11-16T09:00:00.000Z", A_TODO),
        field_set(card, "2026-11-16T09:02:00.000Z", A_POINTS, "5"),
        field_set(card, "2026-11-16T09:03:00.000Z", A_SPRINT, sprint),
        moved(card, "2026-11-17T10:00:00.000Z", A_TODO, A_DOING),
    ]


def test_a_card_moved_to_a_board_with_the_same_sprint_keeps_it_as_that_boards_sprint() -> None:
    card = card_json(
        "2026-11-16T09:00:00.000Z",
        "Webhooks retry",
        B_REVIEW,
        board=BETA,
        items=[number_item(B_POINTS, "5"), option_item(B_SPRINT, B_S18)],
    )
    history = _alpha_history(card, "Sprint 18")
    leave, arrive = moved_to_board(
        card, "2026-11-18T11:00:00.000Z", (ALPHA, A_DOING), (BETA, B_REVIEW)
    )
    assert arrive["date"] == "2026-11-18T11:00:00.001Z"

    bundle = convert_card(card, newest_first(*history, leave, arrive), context())

    a18, b18 = f"{ALPHA}:Sprint 18", f"{BETA}:Sprint 18"
    arrived = at("2026-11-18T11:00:00.001Z")
    assert [(c.change_id, c.at, c.from_value, c.to_value) for c in bundle.changes] == [
        (f"{history[1]['id']}:estimate", at("2026-11-16T09:02Z"), None, "5.0"),
        (f"{history[2]['id']}:sprint", at("2026-11-16T09:03Z"), None, a18),
        (f"{history[3]['id']}:status", at("2026-11-17T10:00Z"), "To Do", "Doing"),
        (f"{arrive['id']}:status", arrived, "Doing", "Review"),
        (f"{arrive['id']}:sprint", arrived, a18, b18),
    ]
    assert sprint_changes(bundle)[-1][4:] == ("Sprint 18", "Sprint 18")
    assert bundle.memberships == [
        SprintMembership(card["id"], a18, at("2026-11-16T09:03Z"), arrived),
        SprintMembership(card["id"], b18, arrived, None),
    ]
    item = bundle.item
    assert (item.team, item.project, item.status, item.estimate) == (
        "Team Beta",
        "Team Beta",
        "Review",
        5.0,
    )


def test_a_card_moved_to_a_board_without_its_sprint_option_loses_the_sprint() -> None:
    """Team Beta's Sprint dropdown has no "Sprint 17": Trello drops the value without an
    action, so the sprint ends at the moveCardToBoard; the Story Points value is kept."""
    card = card_json(
        "2026-11-16T09:00:00.000Z",
        "Webhooks retry",
        B_REVIEW,
        board=BETA,
        items=[number_item(B_POINTS, "5")],
    )
    history = _alpha_history(card, "Sprint 17")
    leave, arrive = moved_to_board(
        card, "2026-11-18T11:00:00.000Z", (ALPHA, A_DOING), (BETA, B_REVIEW)
    )

    bundle = convert_card(card, newest_first(*history, leave, arrive), context())

    a17 = f"{ALPHA}:Sprint 17"
    arrived = at("2026-11-18T11:00:00.001Z")
    assert sprint_changes(bundle) == [
        (f"{history[2]['id']}:sprint", at("2026-11-16T09:03Z"), None, a17, None, "Sprint 17"),
        (f"{arrive['id']}:sprint", arrived, a17, None, "Sprint 17", None),
    ]
    assert bundle.memberships == [
        SprintMembership(card["id"], a17, at("2026-11-16T09:03Z"), arrived),
    ]
    assert [c.change_id for c in bundle.changes if c.field is ChangeField.ESTIMATE] == [
        f"{history[1]['id']}:estimate"
    ]
    assert bundle.item.estimate == 5.0


# -- copies, members, labels -----------------------------------------------------------------


def test_a_copys_field_values_date_from_its_creation_without_an_invented_change() -> None:
    """copyCard brought Story Points 3 and Sprint 18 along; no action ever set them."""
    card = card_json(
        "2026-11-18T09:00:00.000Z",
        "Webhooks retry (copy)",
        A_DOING,
        items=[number_item(A_POINTS, "3"), option_item(A_SPRINT, A_S18)],
    )
    copy = copied(card, "2026-11-18T09:00:00.000Z", A_TODO, source="6a0f1b2c3d4e5f6a7b8c9d0e")
    start = moved(card, "2026-11-18T11:00:00.000Z", A_TODO, A_DOING)

    bundle = convert_card(card, newest_first(copy, start), context())

    assert [(c.change_id, c.field) for c in bundle.changes] == [
        (f"{start['id']}:status", ChangeField.STATUS)
    ]
    assert bundle.memberships == [
        SprintMembership(card["id"], f"{ALPHA}:Sprint 18", at("2026-11-18T09:00Z"), None)
    ]
    assert (bundle.item.created, bundle.item.estimate) == (at("2026-11-18T09:00Z"), 3.0)


def test_a_copys_labels_and_members_date_from_its_creation_too() -> None:
    """The copy came with the labels Bug and Blocked and the member Ana (no action added
    them). Taking Blocked off unflags it then; adding Ben keeps Ana the assignee."""
    card = card_json(
        "2026-11-18T09:00:00.000Z",
        "Webhooks retry (copy)",
        A_TODO,
        labels=["Bug"],
        members=[ANA, BEN],
    )
    copy = copied(card, "2026-11-18T09:00:00.000Z", A_TODO, source="6a0f1b2c3d4e5f6a7b8c9d0e")
    unblock = labelled(card, "2026-11-19T10:00:00.000Z", "Blocked", add=False)
    ben = membered(card, "2026-11-19T10:05:00.000Z", BEN)

    bundle = convert_card(card, newest_first(copy, unblock, ben), context())

    assert [(c.change_id, c.field, c.from_value, c.to_value) for c in bundle.changes] == [
        (f"{unblock['id']}:flagged", ChangeField.FLAGGED, "true", "false"),
    ]
    item = bundle.item
    assert (item.flagged, item.assignee, item.item_type) == (False, ANA, "bug")


def test_assignee_is_the_first_member() -> None:
    card = card_json("2026-11-16T09:00:00.000Z", "Rate limits", A_DOING, members=[BEN])
    create = created(card, "2026-11-16T09:00:00.000Z", A_DOING)
    ana = membered(card, "2026-11-16T09:01:00.000Z", ANA)
    ben = membered(card, "2026-11-17T09:00:00.000Z", BEN)  # second: Ana stays the assignee
    off = membered(card, "2026-11-18T09:00:00.000Z", ANA, add=False, by=BEN)

    bundle = convert_card(card, newest_first(create, ana, ben, off), context())

    assert [(c.change_id, c.at, c.from_value, c.to_value, c.author) for c in bundle.changes] == [
        (f"{ana['id']}:assignee", at("2026-11-16T09:01Z"), None, ANA, ANA),
        (f"{off['id']}:assignee", at("2026-11-18T09:00Z"), ANA, BEN, BEN),
    ]
    assert bundle.item.assignee == BEN


def test_the_blocked_label_flags_and_the_bug_label_makes_a_bug() -> None:
    card = card_json(
        "2026-11-16T09:00:00.000Z", "Double charge", A_DOING, labels=["Bug", "Blocked"]
    )
    create = created(card, "2026-11-16T09:00:00.000Z", A_DOING)
    bug = labelled(card, "2026-11-16T09:00:30.000Z", "Bug")
    block = labelled(card, "2026-11-17T10:00:00.000Z", "Blocked")
    unblock = labelled(card, "2026-11-18T10:00:00.000Z", "Blocked", add=False)
    reblock = labelled(card, "2026-11-19T10:00:00.000Z", "Blocked")

    bundle = convert_card(card, newest_first(create, bug, block, unblock, reblock), context())

    assert changes_of(bundle, ChangeField.FLAGGED) == [
        (f"{block['id']}:flagged", at("2026-11-17T10:00Z"), "false", "true"),
        (f"{unblock['id']}:flagged", at("2026-11-18T10:00Z"), "true", "false"),
        (f"{reblock['id']}:flagged", at("2026-11-19T10:00Z"), "false", "true"),
    ]
    assert len(bundle.changes) == 3
    item = bundle.item
    assert (item.flagged, item.item_type, item.labels) == (True, "bug", ("Blocked", "Bug"))


def test_a_label_renamed_since_reads_by_its_current_name() -> None:
    """The label was "Blokced" when added and has been renamed "Blocked" since: the action
    names it by its old name, the card by its new one (matched by label id)."""
    card = card_json("2026-11-16T09:00:00.000Z", "Double charge", A_DOING, labels=["Blocked"])
    create = created(card, "2026-11-16T09:00:00.000Z", A_DOING)
    block = labelled(card, "2026-11-17T10:00:00.000Z", "Blocked", recorded="Blokced")

    bundle = convert_card(card, newest_first(create, block), context())

    assert changes_of(bundle, ChangeField.FLAGGED) == [
        (f"{block['id']}:flagged", at("2026-11-17T10:00Z"), "false", "true"),
    ]


# -- activity, archive, missing history ------------------------------------------------------


def test_last_activity_ignores_the_bots_comment_and_field_writes() -> None:
    card = card_json(
        "2026-11-16T09:00:00.000Z",
        "Retry budget",
        A_DOING,
        closed=True,
        last_activity="2026-11-19T06:00:01.000Z",
    )
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    start = moved(card, "2026-11-17T10:00:00.000Z", A_TODO, A_DOING, by=BEN)
    archive = archived(card, "2026-11-18T12:00:00.000Z")
    note = commented(card, "2026-11-19T06:00:00.000Z", "[pmo-sync] aging 3 days", by=BOT)
    write = field_set(card, "2026-11-19T06:00:01.000Z", A_CYCLE, "4", by=BOT)
    history = newest_first(create, start, archive, note, write)

    bundle = convert_card(card, history, context())

    item = bundle.item
    assert item.last_activity == at("2026-11-18T12:00:00Z")  # Ana archiving it
    assert item.updated == at("2026-11-19T06:00:01Z")
    assert item.archived is True
    assert [c.change_id for c in bundle.changes] == [f"{start['id']}:status"]

    unknown_bot = convert_card(card, history, context(bot=None)).item
    assert unknown_bot.last_activity == at("2026-11-19T06:00:01Z")


def test_a_card_without_actions_has_its_current_values_since_its_ids_time() -> None:
    """History older than Trello keeps: no action at all. Nothing changed as far as we know;
    the card was created when its id says, and is in its sprint since then."""
    card = card_json(
        "2025-03-03T08:00:00.000Z",
        "Legacy import",
        A_DONE,
        labels=["Blocked", "Bug"],
        members=[ANA],
        items=[number_item(A_POINTS, "5"), option_item(A_SPRINT, A_S18)],
        last_activity="2025-06-10T14:30:00.123Z",
    )
    assert card["id"].startswith("67c56180")  # 2025-03-03T08:00:00Z in Unix seconds

    bundle = convert_card(card, [], context())

    created_at = at("2025-03-03T08:00:00Z")
    assert object_id_time(card["id"]) == created_at
    assert bundle.changes == []
    assert bundle.memberships == [
        SprintMembership(card["id"], f"{ALPHA}:Sprint 18", created_at, None)
    ]
    item = bundle.item
    assert (item.status, item.stage, item.estimate, item.assignee) == (
        "Done",
        Stage.DONE,
        5.0,
        ANA,
    )
    assert (item.flagged, item.item_type, item.archived) == (True, "bug", False)
    assert item.created == item.resolved == item.last_activity == created_at
    assert item.updated == at("2025-06-10T14:30:00.123Z")


def test_a_history_that_starts_after_the_creation_takes_the_values_its_actions_replaced() -> None:
    """The creation and the first estimate are older than Trello keeps; the oldest kept
    actions still say what they replaced (`listBefore`, `old.value`)."""
    card = card_json(
        "2025-03-03T08:00:00.000Z",
        "Legacy import",
        A_REVIEW,
        items=[number_item(A_POINTS, "5")],
    )
    start = moved(card, "2026-11-17T10:00:00.000Z", A_TODO, A_DOING)
    resize = field_set(card, "2026-11-17T10:05:00.000Z", A_POINTS, "5", "3")
    review = moved(card, "2026-11-18T10:00:00.000Z", A_DOING, A_REVIEW)

    bundle = convert_card(card, newest_first(start, resize, review), context())

    assert [(c.change_id, c.from_value, c.to_value) for c in bundle.changes] == [
        (f"{start['id']}:status", "To Do", "Doing"),
        (f"{resize['id']}:estimate", "3.0", "5.0"),
        (f"{review['id']}:status", "Doing", "Review"),
    ]
    assert bundle.item.created == at("2025-03-03T08:00:00Z")


def test_other_cards_actions_and_repeated_actions_are_ignored() -> None:
    """The stream groups board logs by card and may hand an action over twice."""
    card = card_json("2026-11-16T09:00:00.000Z", "Checkout retries", A_DOING)
    other = card_json("2026-11-16T09:30:00.000Z", "Other card", A_DONE, short="Pq7zR2mn")
    create = created(card, "2026-11-16T09:00:00.000Z", A_TODO)
    start = moved(card, "2026-11-17T10:00:00.000Z", A_TODO, A_DOING)
    noise = moved(other, "2026-11-17T11:00:00.000Z", A_DOING, A_DONE)

    bundle = convert_card(card, [noise, start, start, create, create], context())

    assert [c.change_id for c in bundle.changes] == [f"{start['id']}:status"]
    assert bundle.item.updated == at("2026-11-17T10:00Z")


def test_a_card_without_id_or_board_is_refused() -> None:
    card = card_json("2026-11-16T09:00:00.000Z", "Broken", A_DOING)
    with pytest.raises(ValueError, match="idBoard"):
        convert_card({**card, "idBoard": ""}, [], context())


# -- sprints as records ----------------------------------------------------------------------

CADENCE = {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}


def _sprints(**extra: Any) -> SprintSource:
    return SprintSource.model_validate(extra)


@pytest.mark.parametrize(
    ("name", "now", "state", "start", "end"),
    [
        ("Sprint 18", "2026-11-20T12:00Z", "active", "2026-11-16T00:00Z", "2026-11-29T23:59:59Z"),
        ("Sprint 18", "2026-11-16T00:00Z", "active", "2026-11-16T00:00Z", "2026-11-29T23:59:59Z"),
        ("Sprint 18", "2026-11-15T23:59Z", "future", "2026-11-16T00:00Z", "2026-11-29T23:59:59Z"),
        ("Sprint 18", "2026-11-30T00:00Z", "closed", "2026-11-16T00:00Z", "2026-11-29T23:59:59Z"),
        ("Sprint 17", "2026-11-20T12:00Z", "closed", "2026-11-02T00:00Z", "2026-11-15T23:59:59Z"),
        ("Sprint 19", "2026-11-20T12:00Z", "future", "2026-11-30T00:00Z", "2026-12-13T23:59:59Z"),
    ],
)
def test_a_sprint_dated_by_the_cadence(
    name: str, now: str, state: str, start: str, end: str
) -> None:
    record = convert_sprint(ALPHA_INFO, name, _sprints(cadence=CADENCE), at(now))
    assert record == SprintRecord(
        external_id=f"{ALPHA}:{name}",
        name=name,
        state=state,
        board_external_id=ALPHA,
        team="Team Alpha",
        start=at(start),
        end=at(end),
        completed=at(end) if state == "closed" else None,
        goal=None,
    )


def test_a_sprint_dated_explicitly_by_its_name_in_any_case() -> None:
    source = _sprints(
        cadence=CADENCE, dates={"Hardening": {"start": "2026-12-01", "end": "2026-12-05"}}
    )
    record = convert_sprint(BETA_INFO, "HARDENING", source, at("2026-12-06T08:00Z"))
    assert (record.external_id, record.team, record.state) == (
        f"{BETA}:HARDENING",
        "Team Beta",
        "closed",
    )
    assert (record.start, record.end, record.completed) == (
        at("2026-12-01T00:00Z"),
        at("2026-12-05T23:59:59Z"),
        at("2026-12-05T23:59:59Z"),
    )
    active = convert_sprint(BETA_INFO, "hardening", source, at("2026-12-05T23:59:59Z"))
    assert (active.state, active.completed) == ("active", None)


def test_an_undated_sprint_is_a_future_sprint_without_dates() -> None:
    for source in (_sprints(), _sprints(cadence=CADENCE)):  # the cadence needs a number
        record = convert_sprint(ALPHA_INFO, "Spike week", source, at("2026-11-20T12:00Z"))
        assert record == SprintRecord(
            f"{ALPHA}:Spike week",
            "Spike week",
            "future",
            ALPHA,
            "Team Alpha",
            None,
            None,
            None,
            None,
        )


def test_an_attached_card_link_is_the_parent_epic_and_the_epic_label_makes_an_epic() -> None:
    """Trello has no hierarchy: the epic card's link attached to a card names its parent (by
    shortLink, the epic's own key); a link to the card itself or to anything else does not."""
    epic = card_json("2026-11-16T09:00:00.000Z", "Checkout revamp", A_TODO, labels=["Epic"],
                     short="Ep1cC4rd")  # fmt: skip
    story = card_json("2026-11-16T10:00:00.000Z", "Pay by card", A_DOING, short="St0ryC4r")
    story["attachments"] = [
        {"id": "677b1d10e4b0c1a2f3d40e01", "url": "https://example.com/spec.pdf"},
        {"id": "677b1d10e4b0c1a2f3d40e02", "url": "https://trello.com/c/St0ryC4r"},
        {"id": "677b1d10e4b0c1a2f3d40e03", "url": "https://trello.com/c/Ep1cC4rd/7-checkout"},
        {"id": "677b1d10e4b0c1a2f3d40e04", "url": "https://trello.com/c/Other123"},
    ]
    epic_item = convert_card(epic, [created(epic, "2026-11-16T09:00:00.000Z", A_TODO)],
                             context()).item  # fmt: skip
    story_item = convert_card(story, [created(story, "2026-11-16T10:00:00.000Z", A_DOING)],
                              context()).item  # fmt: skip
    assert (epic_item.item_type, epic_item.key, epic_item.parent_key) == ("epic", "Ep1cC4rd", None)
    assert (story_item.item_type, story_item.parent_key) == ("story", "Ep1cC4rd")
    assert (
        parent_of({"shortLink": "X", "attachments": [{"url": "https://trello.com/b/abc"}]}) is None
    )
    assert parent_of({"shortLink": "X"}) is None


def checklist_json(card: dict[str, Any], seconds: int, name: str, pos: float,
                   *items: tuple[str, str, float]) -> dict[str, Any]:  # fmt: skip
    """A checklist as `checklists=all` gives it on a card: its items (name, state, pos)."""
    checklist_id = f"{int(object_id_time(card['id']).timestamp()) + seconds:08x}e4b0c1a2f3d4cc00"
    return {
        "id": checklist_id,
        "name": name,
        "idBoard": card["idBoard"],
        "idCard": card["id"],
        "pos": pos,
        "checkItems": [
            {
                "id": f"{checklist_id[:20]}{n:04x}",
                "name": text,
                "nameData": {"emoji": {}},
                "pos": item_pos,
                "state": state,
                "due": None,
                "dueReminder": None,
                "idMember": None,
                "idChecklist": checklist_id,
            }
            for n, (text, state, item_pos) in enumerate(items)
        ],
    }


def test_the_description_and_the_checklists_in_board_order() -> None:
    """The description is the card's markdown as it is; the checklists' items come checklist
    by checklist and item by item by `pos` (not the answer's order), checked when
    `complete`; an item without text is left out. The parent's type is not on the card:
    None (the store's record of the epic card tells)."""
    story = card_json("2026-11-16T10:00:00.000Z", "Pay by card", A_DOING, short="St0ryC4r")
    story["desc"] = "As a shopper I want to pay by card\n\n**Acceptance criteria**\n- Visa works"
    story["checklists"] = [
        checklist_json(story, 120, "Definition of done", 32768,
                       ("Released", "incomplete", 32768), ("Reviewed", "complete", 16384)),
        checklist_json(story, 60, "Acceptance criteria", 16384,
                       ("Receipt is emailed", "complete", 16384), ("  ", "incomplete", 49152),
                       ("Refund within 5 days", "incomplete", 32768)),
    ]  # fmt: skip
    story["idChecklists"] = [c["id"] for c in story["checklists"]]
    story["attachments"] = [
        {"id": "677b1d10e4b0c1a2f3d40e03", "url": "https://trello.com/c/Ep1cC4rd"}
    ]
    item = convert_card(story, [created(story, "2026-11-16T10:00:00.000Z", A_DOING)],
                        context()).item  # fmt: skip
    assert item.description == (
        "As a shopper I want to pay by card\n\n**Acceptance criteria**\n- Visa works"
    )
    assert item.checklist == (
        CheckItem("Receipt is emailed", True),
        CheckItem("Refund within 5 days", False),
        CheckItem("Reviewed", True),
        CheckItem("Released", False),
    )
    assert (item.parent_key, item.parent_type, item.acceptance_criteria) == (
        "Ep1cC4rd", None, None,
    )  # fmt: skip
    bare = card_json("2026-11-16T11:00:00.000Z", "Fix footer", A_TODO, short="F00terXx")
    del bare["desc"]
    bare_item = convert_card(bare, [created(bare, "2026-11-16T11:00:00.000Z", A_TODO)],
                             context()).item  # fmt: skip
    assert (bare_item.description, bare_item.checklist) == (None, ())
