"""Trello cards and their actions → normalised records. Pure functions, no I/O.

Trello keeps no field history of its own: a card's history is the actions that
name it (`createCard`, `updateCard` with `old.idList`, `moveCardToBoard`,
`updateCustomFieldItem`, label and member actions...). `convert_card` replays
them oldest first on a small state (list, board, custom field values by field
name, labels, members, title) and, after each action, compares what the
metrics read — the list (status), the sprint, the estimate, the assignee, the
Blocked label — with the state before it: each difference is one change at the
action's date, with id ``<action id>:<field>``.

Where the history is silent, the card as it is now decides: a field no action
ever set (a copy's values, a value set before the history starts) is taken to
have had its current value since the card was created, so the replay never
invents a change; a field some action set starts at the value the first such
action replaced (its `old`), and the labels and members start as the card's
current ones with the actions' adds and removes undone (a copy brings its
labels along without an action). Label actions read by the label's current
name, as list moves do. Custom field values are kept by field *name*, because a card
moved to another board keeps a value only when that board has a field of the
same name and type (and, for a dropdown, an option of the same text); Trello
drops the others without an action.

Sprints are per board (a board is a team): "Sprint 14" on Team Alpha's board
and on Team Beta's are two sprints, ``<board id>:Sprint 14``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from connectors.richtext import text_or_none
from connectors.trello.config import EstimateSource, SprintSource
from connectors.trello.conventions import (
    PortfolioConventions,
    card_day,
    card_level,
    card_link_key,
    card_links,
    card_priority,
    card_rank,
    card_releases,
    dependency_attachment,
)
from pmo_sync.domain import (
    ChangeField,
    CheckItem,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
    WorkItemRecord,
)

__all__ = [
    "ACTION_FILTERS",
    "CREATION_TYPES",
    "BoardInfo",
    "FieldInfo",
    "ListInfo",
    "TrelloContext",
    "card_checklist",
    "card_id_of",
    "convert_card",
    "convert_list",
    "convert_sprint",
    "has_creation",
    "object_id_time",
    "parent_of",
    "parse_trello_datetime",
    "slim_action",
    "sprint_external_id",
]

CREATION_TYPES = frozenset({"createCard", "copyCard", "convertToCardFromCheckItem", "emailCard"})
ACTION_FILTERS = (
    "createCard", "copyCard", "convertToCardFromCheckItem", "emailCard", "updateCard",
    "moveCardFromBoard", "moveCardToBoard", "deleteCard", "updateCustomFieldItem",
    "addLabelToCard", "removeLabelFromCard", "addMemberToCard", "removeMemberFromCard",
    "commentCard", "updateList", "updateCustomField",
    "addChecklistToCard", "removeChecklistFromCard", "createCheckItem", "updateCheckItem",
    "deleteCheckItem", "updateCheckItemStateOnCard",
    "addAttachmentToCard", "deleteAttachmentFromCard",
)  # fmt: skip
"""Every action type the conversion reads; `updateList` and `updateCustomField` (renames) are
not about one card and make the stream re-read the board. The checklist and attachment
actions change nothing the history replays, but they are a person's activity on the card,
and they make an incremental run read the card again (its checklists and attachments come
with the card listing): a card link attached is a new parent or dependency."""
BLOCKED_LABEL = "blocked"
BUG_LABEL = "bug"
EPIC_LABEL = "epic"
UNMAPPED = "unmapped"
"""The status category of a list no stage is configured for (counted as in progress)."""


def parse_trello_datetime(value: Any) -> datetime | None:
    """Trello writes ISO 8601 with milliseconds and a Z (Python 3.11's `fromisoformat` reads
    the Z itself)."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value if isinstance(value, str) else str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def object_id_time(object_id: str) -> datetime:
    """When a Trello object was created: its id's first 4 bytes are Unix seconds."""
    return datetime.fromtimestamp(int(object_id[:8], 16), tz=UTC)


def sprint_external_id(board_id: str, sprint_name: str) -> str:
    return f"{board_id}:{sprint_name}"


def card_id_of(action: Mapping[str, Any]) -> str | None:
    card = (action.get("data") or {}).get("card")
    return str(card["id"]) if isinstance(card, Mapping) and card.get("id") else None


_KEPT_DATA = ("card", "list", "listBefore", "listAfter", "board", "old", "customField",
              "customFieldItem", "label", "idMember", "member")  # fmt: skip
_KEPT_REFS = ("id", "name", "idList", "type", "due", "start")
"""A card's `due` and `start` are the new values of an `updateCard` that changed them."""


def slim_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an action the conversion reads, and nothing else.

    A full sync groups every action of every board by card before converting, so what is
    held is what the sync's memory grows with: an action as Trello sends it carries its
    creator's profile, limits, the app, a comment's text; kept slim it is a third of that.
    """
    data = action.get("data") or {}
    kept: dict[str, Any] = {}
    for key in _KEPT_DATA:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, Mapping) and key not in ("old", "customFieldItem"):
            value = {k: value[k] for k in _KEPT_REFS if k in value}
        kept[key] = value
    if action.get("type") in ("addLabelToCard", "removeLabelFromCard") and "text" in data:
        kept["text"] = data["text"]
    return {
        "id": action.get("id"),
        "type": action.get("type"),
        "date": action.get("date"),
        "idMemberCreator": action.get("idMemberCreator"),
        "data": kept,
    }


def has_creation(actions: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a card's actions start at its creation (else older ones are missing)."""
    return any(a.get("type") in CREATION_TYPES for a in actions)


@dataclass(frozen=True, slots=True)
class ListInfo:
    id: str
    name: str
    board_id: str
    closed: bool = False
    pos: float | None = None
    """The list's place on its board (the first half of its cards' rank)."""


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """A board's custom field definition; `options` maps a dropdown's option ids to texts."""

    id: str
    name: str
    type: str
    board_id: str
    options: Mapping[str, str] = field(default_factory=dict)

    def value_of(self, item: Mapping[str, Any] | None) -> str | None:
        """A custom field item's value as text (a dropdown's option text); None when unset."""
        if not item:
            return None
        if self.type == "list":
            chosen = item.get("idValue")
            return self.options.get(str(chosen)) if chosen else None
        value = item.get("value")
        if not isinstance(value, Mapping) or not value:
            return None
        for kind in ("number", "text", "date", "checked"):
            if value.get(kind) not in (None, ""):
                return str(value[kind])
        return None


@dataclass(frozen=True, slots=True)
class BoardInfo:
    id: str
    name: str
    lists: Mapping[str, ListInfo]
    fields: Mapping[str, FieldInfo]

    def field_named(self, name: str) -> FieldInfo | None:
        folded = name.casefold()
        return next((f for f in self.fields.values() if f.name.casefold() == folded), None)


@dataclass(frozen=True, slots=True)
class TrelloContext:
    """What converting a card needs beyond its own JSON and actions."""

    boards: Mapping[str, BoardInfo]
    list_stages: Mapping[str, Stage | None]  # folded list name -> stage (None: unmapped)
    estimate: EstimateSource
    sprints: SprintSource
    bot: str | None = None  # the token's member: its actions are pmo-sync's own
    site_url: str = "https://trello.com"
    portfolio: PortfolioConventions = field(default_factory=PortfolioConventions)

    def list_info(self, list_id: str | None) -> ListInfo | None:
        if not list_id:
            return None
        for board in self.boards.values():
            found = board.lists.get(list_id)
            if found is not None:
                return found
        return None

    def field_info(self, field_id: str | None) -> FieldInfo | None:
        if not field_id:
            return None
        for board in self.boards.values():
            found = board.fields.get(field_id)
            if found is not None:
                return found
        return None

    def stage(self, list_name: str | None) -> tuple[str, Stage]:
        """(category, stage) of a list by name; an unmapped list counts as in progress."""
        stage = self.list_stages.get(" ".join((list_name or "").split()).casefold())
        if stage is None:
            return UNMAPPED, Stage.IN_PROGRESS
        return stage.value, stage


@dataclass(slots=True)
class _State:
    """A card as the replay has it after some action."""

    board_id: str
    list_id: str | None
    list_name: str | None
    title: str
    values: dict[str, tuple[str, str | None]]  # folded field name -> (field type, text)
    labels: list[str]  # names, in the order they were added
    members: list[str]  # member ids, in the order they were added
    dates: dict[str, str | None] = field(default_factory=dict)
    """`start` and `due` as ISO days (None: unset or unreadable)."""


_DATE_KEYS = {"start": ChangeField.START_DATE, "due": ChangeField.DUE_DATE}
"""A card's date fields (as `updateCard` names them in `old`) and their change fields."""


def _day(iso: str | None) -> date | None:
    return None if iso is None else date.fromisoformat(iso)


def _iso_day(value: Any, card_id: str, what: str) -> str | None:
    day = card_day(value, card=card_id, what=what)
    return None if day is None else day.isoformat()


@dataclass(frozen=True, slots=True)
class _Reading:
    """What the metrics read of a state."""

    list_id: str | None
    status: str | None
    sprint: str | None  # the sprint's external id
    sprint_name: str | None
    estimate: float | None
    assignee: str | None
    flagged: bool
    dates: tuple[str | None, str | None] = (None, None)  # (start, due) as ISO days


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _first_match(pattern: re.Pattern[str], texts: Iterable[str]) -> float | None:
    for text in texts:
        found = pattern.search(text)
        if found is not None:
            return _number(found.group(1))
    return None


def _read(state: _State, ctx: TrelloContext) -> _Reading:
    estimate_source, sprint_source = ctx.estimate, ctx.sprints
    if estimate_source.source == "custom_field":
        estimate = _number(state.values.get((estimate_source.name or "").casefold(), ("", None))[1])
    elif estimate_source.source == "label":
        estimate = _first_match(estimate_source.regex(), state.labels)
    else:
        estimate = _first_match(estimate_source.regex(), [state.title])
    sprint_name: str | None
    if sprint_source.source == "custom_field":
        sprint_name = state.values.get((sprint_source.name or "").casefold(), ("", None))[1]
    elif sprint_source.source == "label":
        prefix = (sprint_source.prefix or "").casefold()
        named = [label for label in state.labels if label.casefold().startswith(prefix)]
        sprint_name = named[-1] if named else None
    else:
        name = state.list_name or ""
        sprint_name = name if sprint_source.regex().search(name) else None
    return _Reading(
        list_id=state.list_id,
        status=state.list_name,
        sprint=sprint_external_id(state.board_id, sprint_name) if sprint_name else None,
        sprint_name=sprint_name,
        estimate=estimate,
        assignee=state.members[0] if state.members else None,
        flagged=any(label.casefold() == BLOCKED_LABEL for label in state.labels),
        dates=(state.dates.get("start"), state.dates.get("due")),
    )


def _current_state(card: Mapping[str, Any], ctx: TrelloContext) -> _State:
    board_id = str(card.get("idBoard", ""))
    list_id = str(card.get("idList", "")) or None
    listed = ctx.list_info(list_id)
    values: dict[str, tuple[str, str | None]] = {}
    for item in card.get("customFieldItems") or []:
        info = ctx.field_info(str(item.get("idCustomField", "")))
        if info is not None:
            values[info.name.casefold()] = (info.type, info.value_of(item))
    return _State(
        board_id=board_id,
        list_id=list_id,
        list_name=listed.name if listed else None,
        title=str(card.get("name", "")),
        values=values,
        labels=[str(lb.get("name", "")) for lb in card.get("labels") or [] if lb.get("name")],
        members=[str(m) for m in card.get("idMembers") or []],
        dates={k: _iso_day(card.get(k), str(card.get("id")), k) for k in _DATE_KEYS},
    )


def _ordered(actions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Oldest first, each action once (ids are unique; the date breaks no tie ids would)."""
    unique = {str(a["id"]): a for a in actions if a.get("id")}
    return sorted(unique.values(), key=lambda a: (str(a.get("date", "")), str(a["id"])))


class _Replay:
    """Replays one card's actions; see the module docstring for the rules."""

    def __init__(self, card: Mapping[str, Any], ctx: TrelloContext) -> None:
        self.ctx = ctx
        self.now = _current_state(card, ctx)
        self.card_id = str(card["id"])
        self.label_names = {
            str(lb["id"]): str(lb["name"])
            for lb in card.get("labels") or []
            if lb.get("id") and lb.get("name")
        }

    def initial_state(self, actions: list[Mapping[str, Any]]) -> _State:
        """The card at creation: the creation's list and board; every field no action touched
        at its current value, a field some action set at the value its first such action
        replaced (`old`: empty on a card created in the history); the labels and members of
        now with the actions' adds and removes undone.

        Labels and members are undone rather than started empty because a copy brings its
        labels (and members) along without an action, and an action-less value set before
        the history starts is there too: starting empty lost them (a copy's Blocked label
        taken off gave no FLAGGED change, adding a second member to a copy made that member
        the assignee). Likewise `old` keeps a value set before the history starts from
        reading as empty until its first kept change."""
        touched_fields: set[str] = set()
        replaced: dict[str, tuple[str, str | None]] = {}
        board_id, list_id, list_name = self.now.board_id, self.now.list_id, self.now.list_name
        first_move_seen = False
        for action in actions:
            kind, data = action.get("type"), action.get("data") or {}
            if kind in CREATION_TYPES or (kind == "updateCard" and not first_move_seen):
                where = data.get("list") if kind in CREATION_TYPES else data.get("listBefore")
                if isinstance(where, Mapping) and where.get("id"):
                    list_id, list_name = self._list(where)
                    board_id = str((data.get("board") or {}).get("id", board_id))
                    first_move_seen = True
            if kind == "moveCardFromBoard" and not first_move_seen:
                where = data.get("list") or {}
                if where.get("id"):
                    list_id, list_name = self._list(where)
                board_id = str((data.get("board") or {}).get("id", board_id))
                first_move_seen = True
            if kind == "updateCustomFieldItem":
                name = self._field_name(data)
                if name and name.casefold() not in touched_fields:
                    touched_fields.add(name.casefold())
                    before = self._field_value(data, data.get("old"))
                    if before[1] is not None:
                        replaced[name.casefold()] = before
        labels, members = list(self.now.labels), list(self.now.members)
        for action in reversed(actions):
            kind, data = action.get("type"), action.get("data") or {}
            if kind in ("addLabelToCard", "removeLabelFromCard"):
                _undo(labels, self._label(data), added=kind == "addLabelToCard")
            elif kind in ("addMemberToCard", "removeMemberFromCard"):
                _undo(members, self._member(data), added=kind == "addMemberToCard")
        dates = dict(self.now.dates)
        for key in _DATE_KEYS:
            for action in actions:
                old = (action.get("data") or {}).get("old") or {}
                if action.get("type") == "updateCard" and key in old:
                    dates[key] = _iso_day(old[key], self.card_id, key)
                    break
        title = self.now.title
        for action in actions:
            old = (action.get("data") or {}).get("old") or {}
            if action.get("type") == "updateCard" and "name" in old:
                title = str(old["name"])
                break
        return _State(
            board_id=board_id,
            list_id=list_id,
            list_name=list_name,
            title=title,
            values={
                **{k: v for k, v in self.now.values.items() if k not in touched_fields},
                **replaced,
            },
            labels=labels,
            members=members,
            dates=dates,
        )

    def _list(self, ref: Mapping[str, Any]) -> tuple[str, str]:
        """A list's id and its *current* name (what stages are mapped by)."""
        list_id = str(ref["id"])
        info = self.ctx.list_info(list_id)
        return list_id, info.name if info else str(ref.get("name", ""))

    def _field_name(self, data: Mapping[str, Any]) -> str | None:
        ref = data.get("customField") or {}
        info = self.ctx.field_info(str(ref.get("id", "")))
        return info.name if info else ref.get("name")

    def _field_value(self, data: Mapping[str, Any], item: Any) -> tuple[str, str | None]:
        """(field type, value as text) of an `updateCustomFieldItem`'s field for `item` (its
        `customFieldItem`, or its `old`, which has the same `value` / `idValue` keys)."""
        ref = data.get("customField") or {}
        info = self.ctx.field_info(str(ref.get("id", "")))
        if info is None:
            info = FieldInfo("", str(ref.get("name", "")), str(ref.get("type", "text")), "")
        return info.type, info.value_of(item if isinstance(item, Mapping) else None)

    def _label(self, data: Mapping[str, Any]) -> str:
        """A label action's label by its name on the card now (the action keeps the name it
        had then; a label renamed since would otherwise never match the card's)."""
        ref = data.get("label") or {}
        now = self.label_names.get(str(ref.get("id") or ""))
        return now or str(ref.get("name") or data.get("text") or "")

    @staticmethod
    def _member(data: Mapping[str, Any]) -> str:
        return str(data.get("idMember") or (data.get("member") or {}).get("id") or "")

    def apply(self, state: _State, action: Mapping[str, Any]) -> None:
        kind, data = action.get("type"), action.get("data") or {}
        old = data.get("old") or {}
        if kind == "updateCard":
            for key in _DATE_KEYS.keys() & old.keys():
                new = (data.get("card") or {}).get(key)
                state.dates[key] = _iso_day(new, self.card_id, key)
        if kind == "updateCard" and "idList" in old:
            after = data.get("listAfter") or {"id": (data.get("card") or {}).get("idList")}
            if after.get("id"):
                state.list_id, state.list_name = self._list(after)
        elif kind == "updateCard" and "name" in old:
            state.title = str((data.get("card") or {}).get("name", state.title))
        elif kind == "moveCardToBoard":
            self._move_board(state, data)
        elif kind == "updateCustomFieldItem":
            name = self._field_name(data)
            if name:
                kind_of_field, text = self._field_value(data, data.get("customFieldItem"))
                if text is None:
                    state.values.pop(name.casefold(), None)
                else:
                    state.values[name.casefold()] = (kind_of_field, text)
        elif kind in ("addLabelToCard", "removeLabelFromCard"):
            label = self._label(data)
            if label:
                if label in state.labels:
                    state.labels.remove(label)
                if kind == "addLabelToCard":
                    state.labels.append(label)
        elif kind in ("addMemberToCard", "removeMemberFromCard"):
            member = self._member(data)
            if member:
                if member in state.members:
                    state.members.remove(member)
                if kind == "addMemberToCard":
                    state.members.append(member)

    def _move_board(self, state: _State, data: Mapping[str, Any]) -> None:
        """Into another board: its list; values kept only where that board has a field of
        the same name and type (and the dropdown option of the same text)."""
        board_id = str((data.get("board") or {}).get("id", state.board_id))
        target = data.get("list") or {}
        if target.get("id"):
            state.list_id, state.list_name = self._list(target)
        board = self.ctx.boards.get(board_id)
        kept: dict[str, tuple[str, str | None]] = {}
        for name, (kind, text) in state.values.items():
            there = board.field_named(name) if board else None
            if there is None or there.type != kind:
                continue
            if kind == "list" and text not in there.options.values():
                continue
            kept[name] = (kind, text)
        state.values = kept
        state.board_id = board_id


def _undo(values: list[str], value: str, *, added: bool) -> None:
    """Undo an add (the value was not there before it) or a remove (it was: put it first,
    as added before every value still there) on a card's labels or members."""
    if not value:
        return
    if added:
        if value in values:
            values.remove(value)
    elif value not in values:
        values.insert(0, value)


def _item_type(labels: Iterable[str]) -> str:
    """Trello has no issue types: the team's "Epic" and "Bug" labels say; else a story."""
    folded = {label.casefold() for label in labels}
    if EPIC_LABEL in folded:
        return "epic"
    return "bug" if BUG_LABEL in folded else "story"


def parent_of(
    card: Mapping[str, Any], conventions: PortfolioConventions | None = None
) -> str | None:
    """The card's parent: the shortLink of the first card link attached to it that is not a
    dependency (`conventions.dependencies.attachment_prefix`).

    Trello has no hierarchy; teams attach the parent card's link to each of its cards
    (Trello shows it as a card link): a story to its epic, an epic to its initiative, at any
    depth. The parent key is that card's shortLink, which is the parent's own key in the
    store, so the epic's remaining work, the portfolio-alignment rule and the parent chain
    see it. The attachment's `url` is what Trello links to. A cycle (two cards linked to each
    other) is kept as Trello has it: the store's chain reading stops at a repeat.
    """
    conventions = conventions or PortfolioConventions()
    for attachment in card.get("attachments") or []:
        if dependency_attachment(attachment, conventions):
            continue
        key = card_link_key(str(attachment.get("url") or ""))
        if key is not None and key != card.get("shortLink"):
            return key
    return None


def _pos(value: Mapping[str, Any]) -> float:
    try:
        return float(value.get("pos") or 0)
    except (TypeError, ValueError):
        return 0.0


def card_checklist(card: Mapping[str, Any]) -> tuple[CheckItem, ...]:
    """The items of the card's checklists (`checklists=all` on the card listing), checklist by
    checklist and item by item in their board order (`pos`); an item is checked when its
    `state` is `complete`."""
    items: list[CheckItem] = []
    checklists = [c for c in card.get("checklists") or [] if isinstance(c, Mapping)]
    for checklist in sorted(checklists, key=_pos):
        check_items = [i for i in checklist.get("checkItems") or [] if isinstance(i, Mapping)]
        for item in sorted(check_items, key=_pos):
            text = str(item.get("name") or "").strip()
            if text:
                items.append(CheckItem(text, item.get("state") == "complete"))
    return tuple(items)


def _num(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def convert_card(
    card: Mapping[str, Any], actions: Iterable[Mapping[str, Any]], ctx: TrelloContext
) -> ItemBundle:
    """A card (`GET /boards/{id}/cards/all` with `customFieldItems`, `attachments` and
    `checklists`) and its actions → its record and whole history. Raises ValueError for a
    card without id or board, or an action without the id, type, date or card every Trello
    action has (converting without it would replace the card's stored history with a
    shorter one)."""
    if not card.get("id") or not card.get("idBoard"):
        raise ValueError("a card without id or idBoard")
    actions = list(actions)
    for action in actions:
        lacking = [k for k in ("id", "type", "date") if not action.get(k)]
        lacking += ["data.card"] if card_id_of(action) is None else []
        if lacking:
            raise ValueError(
                f"an action ({action.get('id') or 'no id'}) without {', '.join(lacking)}"
            )
    card_id = str(card["id"])
    ordered = _ordered(a for a in actions if card_id_of(a) == card_id)
    replay = _Replay(card, ctx)
    state = replay.initial_state(ordered)
    creations = [a for a in ordered if a.get("type") in CREATION_TYPES]
    created = parse_trello_datetime(creations[0].get("date")) if creations else None
    created = created or object_id_time(card_id)
    before = _read(state, ctx)
    changes: list[ItemChange] = []
    stays: list[SprintMembership] = []
    open_since: datetime | None = created if before.sprint else None
    last_activity = created
    resolved = created if ctx.stage(before.status)[1] is Stage.DONE else None
    for action in ordered:
        at = parse_trello_datetime(action.get("date")) or created
        author = str(action.get("idMemberCreator") or "") or None
        if ctx.bot is None or author != ctx.bot:
            last_activity = max(last_activity, at)
        replay.apply(state, action)
        after = _read(state, ctx)
        action_id = str(action["id"])
        pairs: list[tuple[ChangeField, str | None, str | None, str | None, str | None]] = []
        if after.list_id != before.list_id and after.status is not None:
            pairs.append((ChangeField.STATUS, before.status, after.status, None, None))
        if after.sprint != before.sprint:
            pairs.append(
                (
                    ChangeField.SPRINT,
                    before.sprint,
                    after.sprint,
                    before.sprint_name,
                    after.sprint_name,
                )
            )
            if open_since is not None and before.sprint is not None:
                stays.append(SprintMembership(card_id, before.sprint, open_since, at))
            open_since = at if after.sprint is not None else None
        if after.estimate != before.estimate:
            pairs.append(
                (ChangeField.ESTIMATE, _num(before.estimate), _num(after.estimate), None, None)
            )
        if after.assignee != before.assignee:
            pairs.append((ChangeField.ASSIGNEE, before.assignee, after.assignee, None, None))
        if after.flagged != before.flagged:
            flags = str(before.flagged).lower(), str(after.flagged).lower()
            pairs.append((ChangeField.FLAGGED, *flags, None, None))
        dated = zip(_DATE_KEYS.values(), before.dates, after.dates, strict=True)
        for date_field, was, now in dated:
            if was != now:
                pairs.append((date_field, was, now, None, None))
        for kind, frm, to, frm_d, to_d in pairs:
            changes.append(
                ItemChange(
                    card_id, f"{action_id}:{kind.value}", kind, at, frm, to, frm_d, to_d, author
                )
            )
        if after.status != before.status:
            now_done = ctx.stage(after.status)[1] is Stage.DONE
            was_done = ctx.stage(before.status)[1] is Stage.DONE
            if now_done and not was_done:
                resolved = at
            elif not now_done:
                resolved = None
        before = after

    current = _read(replay.now, ctx)
    if open_since is not None and before.sprint is not None:
        stays.append(SprintMembership(card_id, before.sprint, open_since, None))
    board = ctx.boards.get(replay.now.board_id)
    category, stage = ctx.stage(current.status)
    last_dates = [parse_trello_datetime(card.get("dateLastActivity"))]
    last_dates += [parse_trello_datetime(a.get("date")) for a in ordered[-1:]]
    updated = max([d for d in last_dates if d is not None] or [created])
    labels = tuple(sorted(replay.now.labels))
    short_link = str(card.get("shortLink") or card_id)
    item = WorkItemRecord(
        external_id=card_id,
        key=short_link,
        url=str(card.get("shortUrl") or f"{ctx.site_url}/c/{short_link}"),
        title=replay.now.title,
        item_type=_item_type(labels),
        raw_type="card",
        status=current.status or "",
        status_category=category,
        stage=stage,
        project=board.name if board else replay.now.board_id,
        team=board.name if board else None,
        assignee=current.assignee,
        estimate=current.estimate,
        parent_key=parent_of(card, ctx.portfolio),
        labels=labels,
        flagged=current.flagged,
        created=created,
        updated=max(updated, created),
        resolved=(resolved or created) if stage is Stage.DONE else None,
        last_activity=last_activity,
        archived=bool(card.get("closed")),
        description=text_or_none(card.get("desc")),
        checklist=card_checklist(card),
        level=card_level(labels, ctx.portfolio),
        start_date=_day(replay.now.dates.get("start")),
        due_date=_day(replay.now.dates.get("due")),
        priority=card_priority(
            labels, {k: text for k, (_, text) in replay.now.values.items()}, ctx.portfolio
        ),
        rank=card_rank(card, listed.pos if (listed := ctx.list_info(replay.now.list_id)) else None),
        release_ids=tuple(sorted(card_releases(current.status, labels, ctx.portfolio))),
    )
    # the store's raw shape, {"id", "fields"} as for the other trackers
    keep = ("idShort", "shortLink", "idBoard", "idList", "closed", "desc", "idMembers")
    raw = {"id": card_id, "fields": {k: card.get(k) for k in keep}}
    return ItemBundle(
        item=item,
        changes=changes,
        memberships=stays,
        raw=raw,
        links=card_links(card, ctx.portfolio),
    )


def convert_list(raw: ListInfo, ctx: TrelloContext) -> StatusRecord:
    """A list as a status: its stage from the mapping (an unmapped list: in progress)."""
    category, stage = ctx.stage(raw.name)
    return StatusRecord(external_id=raw.id, name=raw.name, category=category, stage=stage)


def convert_sprint(
    board: BoardInfo, sprint_name: str, sprints: SprintSource, now: datetime
) -> SprintRecord:
    """A sprint of a board, dated by the config's calendar (undated: a future sprint)."""
    window = sprints.window(sprint_name)
    start, end = window if window else (None, None)
    if end is not None and end < now:
        state = "closed"
    elif start is not None and start <= now:
        state = "active"
    else:
        state = "future"
    return SprintRecord(
        external_id=sprint_external_id(board.id, sprint_name),
        name=sprint_name,
        state=state,
        board_external_id=board.id,
        team=board.name,
        start=start,
        end=end,
        completed=end if state == "closed" else None,
        goal=None,
    )
