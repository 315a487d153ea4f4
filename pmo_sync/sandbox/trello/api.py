"""`TrelloApi`: the sandbox Trello REST routes (`/1/...`), transport-free.

`handle(method, path, params, me)` answers one request the server has already
authenticated; `me` is the token's member, the author of every write, and
`params` are the query string merged with the body (JSON or form), which is how
Trello reads its parameters. Routes:

    GET    /1/members/me | /1/members/{id|username}      fields
    GET    /1/members/me/boards                          filter, fields
    GET    /1/boards/{id}                                fields
    GET    /1/boards/{id}/lists[/{filter}]               filter=all|open|closed, cards, fields
    GET    /1/boards/{id}/cards[/{filter}]               filter=all|open|closed|visible,
                                                         fields, customFieldItems=true,
                                                         attachments, checklists=all|none,
                                                         checklist_fields
    GET    /1/boards/{id}/customFields | labels | members
    GET    /1/boards/{id}/boardPlugins                   the enabled power-ups (Custom Fields)
    GET    /1/boards/{id}/actions                        filter, limit, before, since, page,
                                                         fields, memberCreator, member
    GET    /1/lists/{id}
    POST   /1/cards                                      idList, name, desc, idCardSource
    GET    /1/cards/{id}                                 fields, customFieldItems,
                                                         attachments, checklists, checklist_fields
    GET    /1/cards/{id}/checklists                      checkItems=all|none, checkItem_fields,
                                                         filter=all|none, fields
    PUT    /1/cards/{id}                                 idList, idBoard, closed, name,
                                                         pos=top|bottom|a positive number
    DELETE /1/cards/{id}
    GET    /1/cards/{id}/actions                         as the board's; filter defaults to
                                                         commentCard,updateCard:idList
    GET    /1/cards/{id}/customFieldItems
    PUT    /1/cards/{id}/customField/{idCustomField}/item   {"value": {"number": "3"}},
                                                         {"idValue": id}, {"value": ""} clears
    PUT    /1/cards/{id}/customFields                    {"customFieldItems": [{"idCustomField":
                                                         id, "value": ...} | {..., "idValue"}]}
    POST   /1/cards/{id}/actions/comments                text
    PUT    /1/cards/{id}/actions/{idAction}/comments     text
    DELETE /1/cards/{id}/actions/{idAction}/comments
    GET    /1/actions/{id};  PUT /1/actions/{id} (text);  PUT /1/actions/{id}/text (value)
    DELETE /1/actions/{id}
    POST   /1/customFields                               idModel, modelType=board, name,
                                                         type, pos, options
    GET    /1/customFields/{id}

Action lists come newest first, `limit` defaults to 50 (the trap: a client that
forgets it sees 50 actions and no sign of more) and may not exceed 1000;
`before`/`since` take an action id (excluded) or a date (before that millisecond /
from it on), and with `since` alone the answer is still the *newest* `limit`
actions after it, so catching up on more than a page means paging back with
`before` down to `since`. Sandbox choices where Trello's behaviour is not
documented: a cleared custom field item answers with its ids and no value; an
unchanged value makes no action; a PUT changing several things makes one action
per change; the bulk `PUT /cards/{id}/customFields` (documented answer: "200 Success",
nothing more) checks every item before setting any, makes one updateCustomFieldItem per
changed value, refuses a field not on the card's board with 404 like the single-item route,
and answers the card's custom field items; unknown routes answer 404 `Cannot GET /1/...`.
Errors are Trello's plain-text bodies ("invalid id", "invalid value for limit",
"The requested resource was not found.").

A card's checklists come as Trello nests them (`checklists=all`): each with `id`, `name`,
`idBoard`, `idCard`, `pos` and its `checkItems` (`id`, `name`, `nameData`, `pos`, `state`
complete|incomplete, `due`, `dueReminder`, `idMember`, `idChecklist`), in `pos` order; the
card's `idChecklists` and its badges' `checkItems` / `checkItemsChecked` count them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pmo_sync.sandbox.trello.generator import (
    ACTION_TYPES,
    NOT_FOUND,
    Action,
    Board,
    Card,
    Checklist,
    ChecklistItem,
    CustomField,
    FieldItem,
    Member,
    TrelloDataset,
    TrelloError,
    TrelloList,
    boundary_id,
    format_date,
    is_object_id,
    kinds_matching,
    parse_date,
)

__all__ = ["JSON_CONTENT_TYPE", "MAX_LIMIT", "TEXT_CONTENT_TYPE", "ApiResponse", "TrelloApi"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
CARD_ACTIONS_DEFAULT_FILTER = "commentCard,updateCard:idList"
_SHORT_LINK = re.compile(r"^[0-9A-Za-z]{8}$")
_LABEL_COLORS = (
    "green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black",
)  # fmt: skip
_ITEM_KEYS = {"number": "number", "date": "date", "text": "text", "checkbox": "checked"}


@dataclass
class ApiResponse:
    """A status and a body: str bodies go out as text/plain (Trello's errors), the rest as
    JSON, unless `content_type` says otherwise."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def __post_init__(self) -> None:
        if self.content_type is None:
            self.content_type = (
                TEXT_CONTENT_TYPE if isinstance(self.body, str) else JSON_CONTENT_TYPE
            )


Params = Mapping[str, Any]
_ROUTES: list[tuple[str, re.Pattern[str], str]] = []


def _route(method: str, pattern: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        _ROUTES.append((method, re.compile(f"^/1{pattern}/?$"), fn.__name__))
        return fn

    return register


def _text(params: Params, name: str, default: str | None = None) -> str | None:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flag(params: Params, name: str, default: bool) -> bool:
    value = _text(params, name)
    if value is None:
        return default
    return value.lower() == "true"


def _int(params: Params, name: str, default: int, lo: int, hi: int | None) -> int:
    raw = _text(params, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TrelloError(400, f"invalid value for {name}") from None
    if value < lo or (hi is not None and value > hi):
        raise TrelloError(400, f"invalid value for {name}")
    return value


def _fields(params: Params, name: str = "fields") -> set[str] | None:
    """None for "all" (the default); otherwise the named fields (id is always kept)."""
    raw = _text(params, name, "all") or "all"
    wanted = {f.strip() for f in raw.split(",") if f.strip()}
    return None if "all" in wanted else wanted | {"id"}


def _all_or_none(params: Params, name: str, default: str) -> bool:
    """A nested resource's switch: `all` (True) or `none` (False); anything else is a 400."""
    value = _text(params, name, default) or default
    if value not in ("all", "none"):
        raise TrelloError(400, f"invalid value for {name}")
    return value == "all"


def _pick(obj: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
    return obj if wanted is None else {k: v for k, v in obj.items() if k in wanted}


def _id_or_date(params: Params, name: str) -> str | None:
    """`before`/`since`: an action id, or a date (→ the boundary id at that millisecond)."""
    raw = _text(params, name)
    if raw is None or raw == "" or raw == "null":
        return None
    if is_object_id(raw):
        return raw.lower()
    try:
        return boundary_id(parse_date(raw))
    except ValueError:
        raise TrelloError(400, f"invalid value for {name}") from None


@dataclass(frozen=True)
class _ActionQuery:
    types: frozenset[str] | None  # None: every type
    pairs: frozenset[tuple[str, str]]
    before: str | None
    since: str | None
    skip: int
    limit: int
    fields: set[str] | None
    member_creator: bool
    member: bool

    def matches(self, action: Action) -> bool:
        if self.types is None:
            return True
        sub = action.sub
        return action.type in self.types or (sub is not None and (action.type, sub) in self.pairs)


CUSTOM_FIELDS_POWER_UP = "56d5e249a98895a9797bebb9"
"""The Custom Fields power-up's plugin id, as Trello lists it in a board's boardPlugins."""


class TrelloApi:
    """The sandbox Trello's endpoints over a `TrelloDataset`."""

    def __init__(self, dataset: TrelloDataset) -> None:
        self.ds = dataset
        self.custom_fields_off: set[str] = set()
        """Ids of the boards whose Custom Fields power-up is off (an admin turned it off):
        `GET /boards/{id}/boardPlugins` leaves it out. Every other board has it on."""

    def handle(self, method: str, path: str, params: Params, me: Member) -> ApiResponse:
        """Answer one request; a client's mistake is a 4xx, never an exception."""
        for verb, pattern, name in _ROUTES:
            m = pattern.match(path)
            if m is None or verb != method:
                continue
            try:
                with self.ds.lock:
                    return getattr(self, name)(params, me, **m.groupdict())
            except TrelloError as exc:
                return ApiResponse(exc.status, exc.message)
        return ApiResponse(404, f"Cannot {method} {path}")

    # -- look-ups --------------------------------------------------------------------------

    def _board(self, ref: str) -> Board:
        if not (is_object_id(ref) or _SHORT_LINK.match(ref)):
            raise TrelloError(400, "invalid id")
        found = next(
            (b for b in self.ds.boards if ref.lower() == b.id or ref == b.short_link), None
        )
        if found is None:
            raise TrelloError(404, NOT_FOUND)
        return found

    def _card(self, ref: str) -> Card:
        if not (is_object_id(ref) or _SHORT_LINK.match(ref)):
            raise TrelloError(400, "invalid id")
        card = self.ds.find_card(ref)
        if card is None or card.deleted:
            raise TrelloError(404, NOT_FOUND)
        return card

    def _action(self, ref: str) -> Action:
        if not is_object_id(ref):
            raise TrelloError(400, "invalid id")
        action = self.ds.find_action(ref)
        if action is None or action.deleted:
            raise TrelloError(404, NOT_FOUND)
        return action

    def _list(self, ref: str) -> TrelloList:
        if not is_object_id(ref):
            raise TrelloError(400, "invalid value for idList")
        found = self.ds.trello_list(ref.lower())
        if found is None:
            raise TrelloError(404, NOT_FOUND)
        return found

    def _member(self, ref: str, me: Member) -> Member:
        if ref == "me":
            return me
        try:
            return self.ds.member(ref)
        except TrelloError:
            raise TrelloError(404, NOT_FOUND) from None

    # -- JSON ------------------------------------------------------------------------------

    @staticmethod
    def _member_json(m: Member) -> dict[str, Any]:
        """The member as actions embed it (memberCreator, member)."""
        avatar = f"https://trello-members.s3.amazonaws.com/{m.id}/{m.avatar_hash}"
        return {
            "id": m.id,
            "activityBlocked": False,
            "avatarHash": m.avatar_hash,
            "avatarUrl": avatar if m.avatar_hash else None,
            "fullName": m.full_name,
            "idMemberReferrer": None,
            "initials": m.initials,
            "nonPublic": {},
            "nonPublicAvailable": True,
            "username": m.username,
        }

    def _board_json(self, b: Board) -> dict[str, Any]:
        slug = re.sub(r"[^a-z0-9]+", "-", b.name.lower()).strip("-")
        return {
            "id": b.id,
            "name": b.name,
            "desc": "",
            "descData": None,
            "closed": False,
            "idOrganization": self.ds.organization_id,
            "idEnterprise": None,
            "pinned": False,
            "url": f"https://trello.com/b/{b.short_link}/{slug}",
            "shortUrl": f"https://trello.com/b/{b.short_link}",
            "shortLink": b.short_link,
            "prefs": {
                "permissionLevel": "org",
                "hideVotes": False,
                "voting": "disabled",
                "comments": "members",
                "invitations": "members",
                "selfJoin": True,
                "cardCovers": True,
                "isTemplate": False,
                "cardAging": "regular",
                "calendarFeedEnabled": False,
                "background": "blue",
                "backgroundImage": None,
                "backgroundTile": False,
                "backgroundBrightness": "dark",
                "backgroundColor": "#0079BF",
                "canBePublic": True,
                "canBeEnterprise": True,
                "canBeOrg": True,
                "canBePrivate": True,
                "canInvite": True,
            },
            "labelNames": {
                color: next((x.name for x in b.labels if x.color == color), "")
                for color in _LABEL_COLORS
            },
            "dateLastActivity": format_date(self.ds.board_last_activity_ms(b)),
            "dateLastView": None,
            "idTags": [],
        }

    @staticmethod
    def _list_json(x: TrelloList) -> dict[str, Any]:
        return {
            "id": x.id,
            "name": x.name,
            "closed": x.closed,
            "idBoard": x.board_id,
            "pos": x.pos,
            "subscribed": False,
            "softLimit": None,
        }

    @staticmethod
    def _label_json(label: Any, uses: int | None = None) -> dict[str, Any]:
        out = {"id": label.id, "idBoard": label.board_id, "name": label.name, "color": label.color}
        if uses is not None:
            out["uses"] = uses
        return out

    @staticmethod
    def _field_json(f: CustomField) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": f.id,
            "idModel": f.board_id,
            "modelType": "board",
            "fieldGroup": f.field_group,
            "display": {"cardFront": True},
            "name": f.name,
            "pos": f.pos,
            "type": f.type,
            "isSuggestedField": False,
        }
        if f.type == "list":
            out["options"] = [
                {
                    "id": o.id,
                    "idCustomField": o.field_id,
                    "value": {"text": o.text},
                    "color": o.color,
                    "pos": o.pos,
                }
                for o in f.options
            ]
        return out

    @staticmethod
    def _item_json(card: Card, item: FieldItem) -> dict[str, Any]:
        out: dict[str, Any] = {"id": item.id}
        if item.id_value is not None:
            out["idValue"] = item.id_value
        else:
            out["value"] = dict(item.value or {})
        out.update({"idCustomField": item.field_id, "idModel": card.id, "modelType": "card"})
        return out

    @staticmethod
    def _check_item_json(checklist: Checklist, item: ChecklistItem) -> dict[str, Any]:
        return {
            "id": item.id,
            "name": item.name,
            "nameData": {"emoji": {}},
            "pos": item.pos,
            "state": "complete" if item.complete else "incomplete",
            "due": None,
            "dueReminder": None,
            "idMember": None,
            "idChecklist": checklist.id,
        }

    def _checklist_json(
        self,
        card: Card,
        checklist: Checklist,
        fields: set[str] | None,
        items: bool = True,
        item_fields: set[str] | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": checklist.id,
            "name": checklist.name,
            "idBoard": card.board_id,
            "idCard": card.id,
            "pos": checklist.pos,
        }
        out = _pick(out, fields)
        if items:
            ordered = sorted(checklist.items, key=lambda i: i.pos)
            out["checkItems"] = [
                _pick(self._check_item_json(checklist, i), item_fields) for i in ordered
            ]
        return out

    def _card_json(self, card: Card, params: Params) -> dict[str, Any]:
        board = self.ds.board(card.board_id)
        comments = len(card.comments)
        check_items = [i for c in card.checklists for i in c.items]
        slug = re.sub(r"[^a-z0-9]+", "-", card.name.lower()).strip("-")
        out: dict[str, Any] = {
            "id": card.id,
            "badges": {
                "attachmentsByType": {"trello": {"board": 0, "card": 0}},
                "location": False,
                "votes": 0,
                "viewingMemberVoted": False,
                "subscribed": False,
                "fogbugz": "",
                "checkItems": len(check_items),
                "checkItemsChecked": sum(1 for i in check_items if i.complete),
                "checkItemsEarliestDue": None,
                "comments": comments,
                "attachments": len(card.attachments),
                "description": bool(card.desc),
                "due": card.due,
                "dueComplete": False,
                "start": card.start,
            },
            "checkItemStates": [],
            "closed": card.closed,
            "dueComplete": False,
            "dateLastActivity": format_date(card.last_ms),
            "desc": card.desc,
            "descData": {"emoji": {}},
            "due": card.due,
            "dueReminder": None,
            "email": None,
            "idBoard": card.board_id,
            "idChecklists": [c.id for c in card.checklists],
            "idList": card.list_id,
            "idMembers": list(card.member_ids),
            "idMembersVoted": [],
            "idShort": card.id_short,
            "idAttachmentCover": None,
            "idLabels": list(card.label_ids),
            "labels": [self._label_json(x) for x in board.labels if x.id in card.label_ids],
            "manualCoverAttachment": False,
            "name": card.name,
            "pos": card.pos,
            "shortLink": card.short_link,
            "shortUrl": f"https://trello.com/c/{card.short_link}",
            "start": card.start,
            "subscribed": False,
            "url": f"https://trello.com/c/{card.short_link}/{card.id_short}-{slug}",
            "cover": {
                "idAttachment": None,
                "color": None,
                "idUploadedBackground": None,
                "size": "normal",
                "brightness": "dark",
                "isTemplate": False,
            },
            "isTemplate": False,
            "cardRole": None,
        }
        out = _pick(out, _fields(params))
        if _flag(params, "attachments", False):
            keep = _fields(params, "attachment_fields")
            out["attachments"] = [_pick(dict(a), keep) for a in card.attachments]
        if _flag(params, "customFieldItems", False):
            out["customFieldItems"] = [self._item_json(card, i) for i in card.items.values()]
        if _all_or_none(params, "checklists", "none"):
            wanted = _fields(params, "checklist_fields")
            ordered = sorted(card.checklists, key=lambda c: c.pos)
            out["checklists"] = [self._checklist_json(card, c, wanted) for c in ordered]
        return out

    def _action_json(self, a: Action, q: _ActionQuery | None = None) -> dict[str, Any]:
        limits: dict[str, Any] = {}
        if a.type == "commentCard":
            limits = {
                "reactions": {
                    "perAction": {"status": "ok", "disableAt": 900, "warnAt": 720},
                    "uniquePerAction": {"status": "ok", "disableAt": 17, "warnAt": 14},
                }
            }
        out: dict[str, Any] = {
            "id": a.id,
            "idMemberCreator": a.creator.id,
            "data": copy.deepcopy(a.data),
            "appCreator": None,
            "type": a.type,
            "date": format_date(a.ms),
            "limits": limits,
        }
        out = _pick(out, q.fields if q else None)
        if q is None or q.member_creator:
            out["memberCreator"] = self._member_json(a.creator)
        if a.member is not None and (q is None or q.member):
            out["member"] = self._member_json(a.member)
        return out

    def _action_query(self, params: Params, default_filter: str) -> _ActionQuery:
        raw = _text(params, "filter", default_filter) or default_filter
        tokens = {t.strip() for t in raw.split(",") if t.strip()}
        types: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for token in tokens - {"none", "all"}:
            kind, _, sub = token.partition(":")
            if kind not in ACTION_TYPES:
                raise TrelloError(400, "invalid value for filter")
            if sub:
                pairs.add((kind, sub))
            else:
                types.add(kind)
        limit = _int(params, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        page = _int(params, "page", 0, 0, None)
        return _ActionQuery(
            types=None if "all" in tokens else frozenset(types),
            pairs=frozenset(pairs),
            before=_id_or_date(params, "before"),
            since=_id_or_date(params, "since"),
            skip=page * limit,
            limit=limit,
            fields=_fields(params),
            member_creator=_flag(params, "memberCreator", True),
            member=_flag(params, "member", True),
        )

    # -- members and boards ----------------------------------------------------------------

    @_route("GET", r"/members/(?P<ref>[^/]+)")
    def get_member(self, params: Params, me: Member, ref: str) -> ApiResponse:
        m = self._member(ref, me)
        boards = [b.id for b in self.ds.boards if any(x.id == m.id for x in b.members)]
        out = {
            **self._member_json(m),
            "bio": "",
            "confirmed": True,
            "idBoards": boards,
            "idOrganizations": [self.ds.organization_id],
            "memberType": "normal",
            "status": "disconnected",
            "url": f"https://trello.com/{m.username}",
        }
        return ApiResponse(200, _pick(out, _fields(params)))

    @_route("GET", r"/members/(?P<ref>[^/]+)/boards")
    def get_member_boards(self, params: Params, me: Member, ref: str) -> ApiResponse:
        m = self._member(ref, me)
        board_filter = _text(params, "filter", "all") or "all"
        if board_filter not in ("all", "open", "members", "organization", "closed", "starred"):
            raise TrelloError(400, "invalid value for filter")
        boards = [b for b in self.ds.boards if any(x.id == m.id for x in b.members)]
        if board_filter in ("closed", "starred"):
            boards = []  # no board is archived or starred
        wanted = _fields(params)
        return ApiResponse(200, [_pick(self._board_json(b), wanted) for b in boards])

    @_route("GET", r"/boards/(?P<ref>[^/]+)")
    def get_board(self, params: Params, me: Member, ref: str) -> ApiResponse:
        return ApiResponse(200, _pick(self._board_json(self._board(ref)), _fields(params)))

    @_route("GET", r"/boards/(?P<ref>[^/]+)/lists(?:/(?P<which>[a-z]+))?")
    def get_board_lists(
        self, params: Params, me: Member, ref: str, which: str | None
    ) -> ApiResponse:
        board = self._board(ref)
        list_filter = which or _text(params, "filter", "all") or "all"
        if list_filter not in ("all", "open", "closed", "none"):
            raise TrelloError(400, "invalid value for filter")
        if list_filter in ("all", "none"):
            lists = board.lists if list_filter == "all" else []
        else:
            lists = [x for x in board.lists if x.closed == (list_filter == "closed")]
        cards_filter = _text(params, "cards", "none") or "none"
        if cards_filter not in ("none", "all", "open", "closed", "visible"):
            raise TrelloError(400, "invalid value for cards")
        wanted = _fields(params)
        cards = self._board_cards(board, cards_filter)
        card_params = {"fields": _text(params, "card_fields", "all")}
        out = []
        for x in sorted(lists, key=lambda x: x.pos):
            item = _pick(self._list_json(x), wanted)
            if cards_filter != "none":
                on_list = [c for c in cards if c.list_id == x.id]
                item["cards"] = [self._card_json(c, card_params) for c in on_list]
            out.append(item)
        return ApiResponse(200, out)

    def _board_cards(self, board: Board, card_filter: str) -> list[Card]:
        if card_filter not in ("all", "open", "closed", "visible", "none"):
            raise TrelloError(400, "invalid value for filter")
        if card_filter == "none":
            return []
        closed_lists = {x.id for x in board.lists if x.closed}
        cards = []
        for c in self.ds.cards(board):
            if card_filter == "closed" and not c.closed:
                continue
            if card_filter in ("open", "visible") and c.closed:
                continue
            if card_filter == "visible" and c.list_id in closed_lists:
                continue
            cards.append(c)
        lists = {x.id: x.pos for x in board.lists}
        return sorted(cards, key=lambda c: (lists.get(c.list_id, 0.0), c.pos))

    @_route("GET", r"/boards/(?P<ref>[^/]+)/cards(?:/(?P<which>[a-z]+))?")
    def get_board_cards(
        self, params: Params, me: Member, ref: str, which: str | None
    ) -> ApiResponse:
        board = self._board(ref)
        card_filter = which or _text(params, "filter", "visible") or "visible"
        cards = self._board_cards(board, card_filter)
        return ApiResponse(200, [self._card_json(c, params) for c in cards])

    @_route("GET", r"/boards/(?P<ref>[^/]+)/customFields")
    def get_board_custom_fields(self, params: Params, me: Member, ref: str) -> ApiResponse:
        board = self._board(ref)
        fields = sorted(board.custom_fields, key=lambda f: f.pos)
        return ApiResponse(200, [self._field_json(f) for f in fields])

    @_route("GET", r"/boards/(?P<ref>[^/]+)/boardPlugins")
    def get_board_plugins(self, params: Params, me: Member, ref: str) -> ApiResponse:
        """The power-ups enabled on the board: Custom Fields, unless turned off."""
        board = self._board(ref)
        if board.id in self.custom_fields_off:
            return ApiResponse(200, [])
        return ApiResponse(
            200,
            [{"id": f"{board.id[:12]}{CUSTOM_FIELDS_POWER_UP[12:]}", "idBoard": board.id,
              "idPlugin": CUSTOM_FIELDS_POWER_UP}],
        )  # fmt: skip

    @_route("GET", r"/boards/(?P<ref>[^/]+)/labels")
    def get_board_labels(self, params: Params, me: Member, ref: str) -> ApiResponse:
        board = self._board(ref)
        limit = _int(params, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        uses = dict.fromkeys((x.id for x in board.labels), 0)
        for c in self.ds.cards(board):
            for label_id in c.label_ids:
                if label_id in uses:
                    uses[label_id] += 1
        wanted = _fields(params)
        labels = [_pick(self._label_json(x, uses[x.id]), wanted) for x in board.labels]
        return ApiResponse(200, labels[:limit])

    @_route("GET", r"/boards/(?P<ref>[^/]+)/members")
    def get_board_members(self, params: Params, me: Member, ref: str) -> ApiResponse:
        board = self._board(ref)
        members = [
            {"id": m.id, "fullName": m.full_name, "username": m.username} for m in board.members
        ]
        return ApiResponse(200, members)

    @_route("GET", r"/boards/(?P<ref>[^/]+)/actions")
    def get_board_actions(self, params: Params, me: Member, ref: str) -> ApiResponse:
        board = self._board(ref)
        q = self._action_query(params, "all")
        kinds = None
        if q.types is not None:
            kinds = kinds_matching(q.types, q.pairs)
        actions = self.ds.board_actions(
            board, before=q.before, since=q.since, kinds=kinds, skip=q.skip, limit=q.limit
        )
        return ApiResponse(200, [self._action_json(a, q) for a in actions])

    @_route("GET", r"/lists/(?P<ref>[^/]+)")
    def get_list(self, params: Params, me: Member, ref: str) -> ApiResponse:
        if not is_object_id(ref):
            raise TrelloError(400, "invalid id")
        return ApiResponse(200, _pick(self._list_json(self._list(ref)), _fields(params)))

    # -- cards -----------------------------------------------------------------------------

    @_route("GET", r"/cards/(?P<ref>[^/]+)")
    def get_card(self, params: Params, me: Member, ref: str) -> ApiResponse:
        return ApiResponse(200, self._card_json(self._card(ref), params))

    @_route("GET", r"/cards/(?P<ref>[^/]+)/checklists")
    def get_card_checklists(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        if not _all_or_none(params, "filter", "all"):
            return ApiResponse(200, [])
        items = _all_or_none(params, "checkItems", "all")
        fields, item_fields = _fields(params), _fields(params, "checkItem_fields")
        ordered = sorted(card.checklists, key=lambda c: c.pos)
        return ApiResponse(
            200, [self._checklist_json(card, c, fields, items, item_fields) for c in ordered]
        )

    @_route("POST", r"/cards")
    def post_card(self, params: Params, me: Member) -> ApiResponse:
        list_ref = _text(params, "idList")
        if not list_ref:
            raise TrelloError(400, "invalid value for idList")
        target = self._list(list_ref)
        board = self.ds.board(target.board_id)
        source = _text(params, "idCardSource")
        name = _text(params, "name")
        if source:
            card = self.ds.copy_card(
                self._card(source).id, target.id, board=board, name=name or None, by=me
            )
        else:
            card = self.ds.create_card(
                board, target.id, name or "", by=me, desc=_text(params, "desc", "") or ""
            )
        return ApiResponse(200, self._card_json(card, {}))

    @_route("PUT", r"/cards/(?P<ref>[^/]+)")
    def put_card(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        list_ref = _text(params, "idList")
        board_ref = _text(params, "idBoard")
        if board_ref and board_ref.lower() != card.board_id:
            board = self._board(board_ref)
            target = self._list(list_ref) if list_ref else None
            if target is None:
                target = next(x for x in sorted(board.lists, key=lambda x: x.pos) if not x.closed)
            if target.board_id != board.id:
                raise TrelloError(400, "invalid value for idList")
            self.ds.move_card(card.id, target.id, board=board, by=me)
        elif list_ref:
            target = self._list(list_ref)
            self.ds.move_card(card.id, target.id, board=self.ds.board(target.board_id), by=me)
        closed = _text(params, "closed")
        if closed is not None:
            if closed not in ("true", "false"):
                raise TrelloError(400, "invalid value for closed")
            self.ds.set_closed(card.id, closed == "true", by=me)
        name = _text(params, "name")
        if name is not None:
            if not name:
                raise TrelloError(400, "invalid value for name")
            self.ds.rename_card(card.id, name, by=me)
        pos = _text(params, "pos")
        if pos is not None:
            self.ds.set_position(card.id, pos, by=me)
        return ApiResponse(200, self._card_json(self.ds.card(card.id), {}))

    @_route("DELETE", r"/cards/(?P<ref>[^/]+)")
    def delete_card(self, params: Params, me: Member, ref: str) -> ApiResponse:
        self.ds.delete_card(self._card(ref).id, by=me)
        return ApiResponse(200, {"limits": {}})

    @_route("GET", r"/cards/(?P<ref>[^/]+)/actions")
    def get_card_actions(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        q = self._action_query(params, CARD_ACTIONS_DEFAULT_FILTER)
        picked: list[Action] = []
        for a in reversed(card.actions):
            if len(picked) >= q.skip + q.limit:
                break
            if a.deleted or (q.before and a.id >= q.before) or (q.since and a.id <= q.since):
                continue
            if q.matches(a):
                picked.append(a)
        return ApiResponse(200, [self._action_json(a, q) for a in picked[q.skip :]])

    @_route("GET", r"/cards/(?P<ref>[^/]+)/customFieldItems")
    def get_card_items(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        return ApiResponse(200, [self._item_json(card, i) for i in card.items.values()])

    @_route("PUT", r"/cards/(?P<ref>[^/]+)/customField/(?P<field_ref>[^/]+)/item")
    def put_card_item(self, params: Params, me: Member, ref: str, field_ref: str) -> ApiResponse:
        card = self._card(ref)
        if not is_object_id(field_ref):
            raise TrelloError(400, "invalid id")
        the_field = self.ds.board(card.board_id).field_named(field_ref.lower())
        if the_field is None:
            raise TrelloError(404, NOT_FOUND)
        value = self._item_request(the_field, params)
        self.ds.set_custom_field(card.id, the_field.id, value, by=me)
        card = self.ds.card(card.id)
        item = card.items.get(the_field.id)
        if item is None:  # cleared: the ids, no value
            body = {"idCustomField": the_field.id, "idModel": card.id, "modelType": "card"}
            return ApiResponse(200, body)
        return ApiResponse(200, self._item_json(card, item))

    @_route("PUT", r"/cards/(?P<ref>[^/]+)/customFields")
    def put_card_items(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        raw = params.get("customFieldItems")
        if not isinstance(raw, list) or not raw:
            raise TrelloError(400, "invalid value for customFieldItems")
        board = self.ds.board(card.board_id)
        values: list[tuple[str, Any]] = []
        for entry in raw:
            field_ref = entry.get("idCustomField") if isinstance(entry, dict) else None
            if not isinstance(field_ref, str) or not is_object_id(field_ref):
                raise TrelloError(400, "invalid value for idCustomField")
            the_field = board.field_named(field_ref.lower())
            if the_field is None:
                raise TrelloError(404, NOT_FOUND)
            values.append((the_field.id, self._item_request(the_field, entry)))
        self.ds.set_custom_fields(card.id, values, by=me)
        card = self.ds.card(card.id)
        return ApiResponse(200, [self._item_json(card, i) for i in card.items.values()])

    @staticmethod
    def _item_request(the_field: CustomField, params: Params) -> Any:
        """What the PUT body asks for, in `set_custom_field`'s terms (None: clear)."""
        bad = TrelloError(400, "Invalid custom field item value.")
        if "idValue" in params:
            id_value = params["idValue"]
            if id_value in ("", None):
                return None
            if the_field.type != "list" or not isinstance(id_value, str):
                raise bad
            if the_field.option(id_value.lower()) is None:
                raise bad
            return id_value.lower()
        if "value" not in params:
            raise bad
        value = params["value"]
        if value in ("", None) or value == {}:
            return None
        key = _ITEM_KEYS.get(the_field.type)
        if not isinstance(value, dict) or key is None or set(value) != {key}:
            raise bad
        inner = value[key]
        if the_field.type == "checkbox":
            return str(inner).lower() == "true"
        if not isinstance(inner, str | int | float) or isinstance(inner, bool):
            raise bad
        return inner

    # -- comments and actions --------------------------------------------------------------

    @_route("POST", r"/cards/(?P<ref>[^/]+)/actions/comments")
    def post_comment(self, params: Params, me: Member, ref: str) -> ApiResponse:
        card = self._card(ref)
        action = self.ds.add_comment(card.id, _text(params, "text", "") or "", by=me)
        return ApiResponse(200, self._action_json(action))

    @_route("PUT", r"/cards/(?P<ref>[^/]+)/actions/(?P<action_ref>[^/]+)/comments")
    def put_card_comment(
        self, params: Params, me: Member, ref: str, action_ref: str
    ) -> ApiResponse:
        self._comment_on(ref, action_ref)
        return self._edit(action_ref, _text(params, "text"), me)

    @_route("DELETE", r"/cards/(?P<ref>[^/]+)/actions/(?P<action_ref>[^/]+)/comments")
    def delete_card_comment(
        self, params: Params, me: Member, ref: str, action_ref: str
    ) -> ApiResponse:
        self._comment_on(ref, action_ref)
        self.ds.delete_comment(action_ref.lower(), by=me)
        return ApiResponse(200, {"_value": None})

    def _comment_on(self, card_ref: str, action_ref: str) -> None:
        card = self._card(card_ref)
        if self.ds.action_card(self._action(action_ref)).id != card.id:
            raise TrelloError(404, NOT_FOUND)

    def _edit(self, action_ref: str, text: str | None, me: Member) -> ApiResponse:
        action = self._action(action_ref)
        edited = self.ds.edit_comment(action.id, text or "", by=me)
        return ApiResponse(200, self._action_json(edited))

    @_route("GET", r"/actions/(?P<ref>[^/]+)")
    def get_action(self, params: Params, me: Member, ref: str) -> ApiResponse:
        return ApiResponse(200, self._action_json(self._action(ref)))

    @_route("PUT", r"/actions/(?P<ref>[^/]+)")
    def put_action(self, params: Params, me: Member, ref: str) -> ApiResponse:
        return self._edit(ref, _text(params, "text"), me)

    @_route("PUT", r"/actions/(?P<ref>[^/]+)/text")
    def put_action_text(self, params: Params, me: Member, ref: str) -> ApiResponse:
        return self._edit(ref, _text(params, "value"), me)

    @_route("DELETE", r"/actions/(?P<ref>[^/]+)")
    def delete_action(self, params: Params, me: Member, ref: str) -> ApiResponse:
        self.ds.delete_comment(self._action(ref).id, by=me)
        return ApiResponse(200, {"_value": None})

    # -- custom field definitions ----------------------------------------------------------

    @_route("POST", r"/customFields")
    def post_custom_field(self, params: Params, me: Member) -> ApiResponse:
        if _text(params, "modelType") != "board":
            raise TrelloError(400, "invalid value for modelType")
        board = self._board(_text(params, "idModel", "") or "")
        raw_options = params.get("options") or []
        if not isinstance(raw_options, list):
            raise TrelloError(400, "invalid value for options")
        options = []
        for option in raw_options:
            text = option.get("value", {}).get("text") if isinstance(option, dict) else option
            if not isinstance(text, str) or not text:
                raise TrelloError(400, "invalid value for options")
            options.append(text)
        created = self.ds.create_custom_field(
            board,
            _text(params, "name", "") or "",
            _text(params, "type", "") or "",
            options=tuple(options),
            pos=_text(params, "pos"),
        )
        return ApiResponse(200, self._field_json(created))

    @_route("GET", r"/customFields/(?P<ref>[^/]+)")
    def get_custom_field(self, params: Params, me: Member, ref: str) -> ApiResponse:
        if not is_object_id(ref):
            raise TrelloError(400, "invalid id")
        found = self.ds.custom_field(ref.lower())
        if found is None:
            raise TrelloError(404, NOT_FOUND)
        return ApiResponse(200, self._field_json(found))
