"""The Trello streams, in load order: cards, lists (as statuses), sprints, census.

How history is read. A board's actions (`GET /boards/{id}/actions`, newest first,
1,000 a page, paged back with `before`) are the history of every card on it;
Trello has no per-field history. So:

- **Full run**: every board's actions are read from the start and grouped by card;
  each card listed by `GET /boards/{id}/cards/all` (archived ones too) is converted
  from them. Board by board: a card whose whole history is on the board just read is
  converted at once and its actions let go; a card that moved between boards (it has
  a `moveCardToBoard`) waits until every board is read, since half its history is in
  another board's log. A card whose group holds no
  creation — it came from a board out of scope, or its creation is older than
  Trello keeps — is read on its own (`GET /cards/{id}/actions`, every board it
  was on). Calls: one per 1,000 actions, plus lists, custom fields and cards
  per board.
- **Incremental run**: each board's actions `since` the newest action seen. A
  board with none costs that one call and nothing else. On a board with some,
  the lists, custom fields and cards are read again, and each card named by a
  new action made by someone other than pmo-sync's own member is re-converted:
  from the new actions alone when they include its creation, else from its own
  full action list (one call per such card; a card with 1,349 actions: two).
  pmo-sync's write-back (custom field values, its comment) therefore costs the
  next sync nothing. A renamed list or custom field (`updateList`,
  `updateCustomField`) makes the board's history be read again in full, since
  the status names of every card on it may have changed.
- **Deletions**: a `deleteCard` of a stored card, a stored card that left the boards
  in scope, a board dropped from the config, or a full read into a store already
  holding cards makes a census owed (`context.census.owe`), saved with the boards'
  marks that moved past its cause, so a sync that fails or dies before the census
  (or a census that could not list a board) leaves it owed and the next run takes
  it. The census stream lists the card ids of every board (archived cards included:
  archived is not deleted) so the store marks the others deleted.

Bookmark (`cards`): per board the newest action id, its lists, custom fields
and the sprint names seen; the resolved boards and the token's member, re-read
every `METADATA_TTL`; a fingerprint of the config's mapping (a changed mapping
means a full read); the cards skipped because their data could not be read
(`retry`), read again by the next run (a card alone costs its `GET /cards/{id}`
and its actions).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from connectors.base import Stream, StreamContext
from connectors.errors import ConnectorError, IssueNotFoundError
from connectors.trello.client import TrelloClient
from connectors.trello.config import DEFAULT_LIST_STAGES, TrelloConfig
from connectors.trello.convert import (
    ACTION_FILTERS,
    BoardInfo,
    FieldInfo,
    ListInfo,
    TrelloContext,
    card_id_of,
    convert_card,
    convert_list,
    convert_sprint,
    has_creation,
    slim_action,
)
from pmo_sync.domain import Census, ItemBundle, SprintRecord, StatusRecord

__all__ = [
    "CardsStream",
    "CensusStream",
    "ListsStream",
    "SprintsStream",
    "TrelloRunState",
    "board_info",
    "list_stage_table",
]

log = structlog.get_logger(__name__)

METADATA_TTL = timedelta(hours=6)
STRUCTURE_ACTIONS = frozenset({"updateList", "updateCustomField"})


def list_stage_table(config: TrelloConfig, names: list[str]) -> dict[str, Any]:
    """Folded list name -> stage (None: unmapped) for the lists the boards have."""
    table: dict[str, Any] = {k: v for k, v in DEFAULT_LIST_STAGES.items()}
    for name in names:
        table[" ".join(name.split()).casefold()] = config.stage_of_list(name)
    return table


def board_info(
    board: Mapping[str, Any], lists: list[dict[str, Any]], fields: list[dict[str, Any]]
) -> BoardInfo:
    """A board's metadata from its `lists` and `customFields` answers."""
    board_id = str(board["id"])
    return BoardInfo(
        id=board_id,
        name=str(board.get("name", board_id)),
        lists={
            str(x["id"]): ListInfo(
                str(x["id"]), str(x.get("name", "")), board_id, bool(x.get("closed"))
            )
            for x in lists
        },
        fields={
            str(f["id"]): FieldInfo(
                str(f["id"]),
                str(f.get("name", "")),
                str(f.get("type", "text")),
                board_id,
                {
                    str(o["id"]): str((o.get("value") or {}).get("text", ""))
                    for o in f.get("options") or []
                },
            )
            for f in fields
        },
    )


def _board_to_json(board: BoardInfo) -> dict[str, Any]:
    return {
        "name": board.name,
        "lists": [[x.id, x.name, x.closed] for x in board.lists.values()],
        "fields": [[f.id, f.name, f.type, dict(f.options)] for f in board.fields.values()],
    }


def _board_from_json(board_id: str, data: Mapping[str, Any]) -> BoardInfo:
    return BoardInfo(
        id=board_id,
        name=str(data["name"]),
        lists={x[0]: ListInfo(x[0], x[1], board_id, bool(x[2])) for x in data["lists"]},
        fields={f[0]: FieldInfo(f[0], f[1], f[2], board_id, dict(f[3])) for f in data["fields"]},
    )


@dataclass(slots=True)
class TrelloRunState:
    """What the streams of one run share; filled by the cards stream."""

    boards: dict[str, BoardInfo] = field(default_factory=dict)  # in config order
    sprint_names: dict[str, set[str]] = field(default_factory=dict)  # board id -> names
    listed: dict[str, set[str]] = field(default_factory=dict)  # board id -> card ids read
    bot: str | None = None

    def context(self, config: TrelloConfig) -> TrelloContext:
        names = [x.name for b in self.boards.values() for x in b.lists.values()]
        return TrelloContext(
            boards=self.boards,
            list_stages=list_stage_table(config, names),
            estimate=config.estimate,
            sprints=config.sprints,
            bot=config.writeback.ignored_account(self.bot),
        )


class CardsStream(Stream):
    """Every card of the boards with its whole history, from the boards' actions."""

    name = "cards"
    record_type = ItemBundle
    primary_keys = ("external_id",)
    replication_key = "last_action"

    def __init__(self, client: TrelloClient, config: TrelloConfig, state: TrelloRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: dict[str, Any] | None = None
        self._skipped: set[str] = set()
        """Cards whose data could not be read this run: the bookmark's `retry`, so the next
        run reads them again even if nobody touches them (a partial run moves the marks)."""

    def _scope_key(self) -> str:
        mapping = {
            "boards": [b.casefold() for b in self.config.boards],
            "list_stages": {k.casefold(): v.value for k, v in self.config.list_stages.items()},
            "estimate": self.config.estimate.model_dump(mode="json"),
            "sprints": self.config.sprints.model_dump(mode="json", exclude={"cadence", "dates"}),
        }
        return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:16]

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        previous = None if context.full else context.bookmark
        scope = self._scope_key()
        if previous and previous.get("scope") != scope:
            previous = None  # the mapping changed: every card reads differently
        if previous is None:  # a full read: whatever it does not find is gone
            context.census.owe("a full read of the boards")
        known: dict[str, Any] = dict((previous or {}).get("boards") or {})
        boards, bot, resolved_at = self._boards(previous, context)
        self.state.bot = bot
        ignored = self.config.writeback.ignored_account(bot)  # pmo-sync's own edits
        if previous and set(known) - {b["id"] for b in boards}:
            context.census.owe("a board left the config")

        actions_by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
        cards: dict[str, dict[str, Any]] = {}
        retry = set((previous or {}).get("retry") or [])  # cards a run before had to skip
        wanted: set[str] = set(retry)
        newest: dict[str, str | None] = {}
        changed = False
        for board in boards:
            board_id = str(board["id"])
            cached = known.get(board_id)
            since = cached.get("last_action") if cached else None
            actions = self._slim_actions(board_id, since)
            if since and any(a.get("type") in STRUCTURE_ACTIONS for a in actions):
                log.info("trello_board_reread", board=board.get("name"), reason="renamed list")
                since = None
                actions = self._slim_actions(board_id, None)
            newest[board_id] = str(actions[0]["id"]) if actions else since
            own = since and all(str(a.get("idMemberCreator")) == ignored for a in actions)
            if own and cached:  # nothing new, or only pmo-sync's own write-back
                self.state.boards[board_id] = _board_from_json(board_id, cached)
                self.state.sprint_names[board_id] = set(cached.get("sprints") or [])
                continue
            changed = True
            info = board_info(
                board, self.client.lists(board_id), self.client.custom_fields(board_id)
            )
            self.state.boards[board_id] = info
            self.state.sprint_names[board_id] = set((cached or {}).get("sprints") or [])
            listing = self.client.cards(board_id)
            self.state.listed[board_id] = {str(c["id"]) for c in listing}
            for card in listing:
                cards[str(card["id"])] = card
            del listing
            for action in actions:
                card_id = card_id_of(action)
                if card_id is None:
                    continue
                actions_by_card[card_id].append(action)
                if action.get("type") == "deleteCard":
                    _gone(card_id, "deleted", context)
                if since is None or str(action.get("idMemberCreator")) != ignored:
                    wanted.add(card_id)
            del actions
            if since is None:
                wanted.update(self.state.listed[board_id])
            # Cards whose whole history is on this board are built now and let go, so a
            # full sync holds one board's actions, not every board's, plus the cards that
            # moved between boards (they wait for the other boards' halves).
            ctx = self.state.context(self.config)
            for card_id in sorted(wanted & self.state.listed[board_id]):
                history = actions_by_card.get(card_id, [])
                if not has_creation(history) or any(
                    a.get("type") == "moveCardToBoard" for a in history
                ):
                    continue
                wanted.discard(card_id)
                bundle = self._bundle(
                    cards.pop(card_id), actions_by_card.pop(card_id), ctx, context
                )
                if bundle is not None:
                    yield bundle

        ctx = self.state.context(self.config)
        for card_id in sorted(wanted):
            card = cards.get(card_id)
            if card is None and card_id in retry:  # its board had nothing new: read it alone
                try:
                    card = self.client.card(card_id)
                except IssueNotFoundError:
                    card = None
                if card is not None and str(card.get("idBoard")) not in self.state.boards:
                    card = None
            if card is None:
                _gone(card_id, "deleted or off the boards", context)
                continue
            history = actions_by_card.pop(card_id, [])
            if not has_creation(history):
                try:
                    history = [
                        slim_action(a) for a in self.client.card_actions(card_id, ACTION_FILTERS)
                    ]
                except IssueNotFoundError:
                    _gone(card_id, "deleted", context)
                    continue
            bundle = self._bundle(card, history, ctx, context)
            if bundle is not None:
                yield bundle

        self._add_option_sprints()
        moved = any(newest.get(b) != (known.get(b) or {}).get("last_action") for b in newest)
        moved = moved or self._skipped != retry
        if previous and not (changed or moved) and resolved_at == previous.get("resolved_at"):
            self._bookmark = None  # nothing new: keep the stored bookmark
            return
        # (only pmo-sync's own actions since: the mark moves past them, nothing is re-read)
        self._bookmark = {
            "scope": scope,
            "resolved_at": resolved_at,
            "bot": bot,
            "order": list(self.state.boards),
            "retry": sorted(self._skipped),
            "boards": {
                board_id: {
                    **_board_to_json(info),
                    "last_action": newest.get(board_id),
                    "sprints": sorted(self.state.sprint_names.get(board_id, ())),
                }
                for board_id, info in self.state.boards.items()
            },
        }

    def _bundle(
        self,
        card: dict[str, Any],
        history: list[dict[str, Any]],
        ctx: TrelloContext,
        context: StreamContext,
    ) -> ItemBundle | None:
        """One card converted (None, reported, when its data cannot be read); the sprints
        it was in join its board's sprint names."""
        try:
            bundle = convert_card(card, history, ctx)
        except (KeyError, ValueError, TypeError) as exc:
            card_ref = card.get("shortLink", card.get("id"))
            context.report_error(f"card {card_ref} skipped (read again next run): {exc}")
            if card.get("id"):
                self._skipped.add(str(card["id"]))
            return None
        for stay in bundle.memberships:
            board_id, _, sprint = stay.sprint_external_id.partition(":")
            self.state.sprint_names.setdefault(board_id, set()).add(sprint)
        return bundle

    def _slim_actions(self, board_id: str, since: str | None) -> list[dict[str, Any]]:
        """The board's actions (newest first), each kept to what conversion reads, page by
        page: a full read holds every action of every board until the cards are built."""
        return [
            slim_action(a) for a in self.client.board_actions(board_id, ACTION_FILTERS, since=since)
        ]

    def _boards(
        self, previous: Mapping[str, Any] | None, context: StreamContext
    ) -> tuple[list[dict[str, Any]], str | None, str]:
        """The boards in scope and the token's member: cached, or two calls every TTL."""
        if previous:
            at = previous.get("resolved_at")
            fresh = at and context.started_at - datetime.fromisoformat(at) < METADATA_TTL
            if fresh and previous.get("order"):
                boards = [
                    {"id": b, "name": previous["boards"][b]["name"]} for b in previous["order"]
                ]
                return boards, previous.get("bot"), str(at)
        bot = str(self.client.me().get("id") or "") or None
        boards = self.client.resolve_boards(self.config.boards)
        return boards, bot, context.started_at.isoformat()

    def _add_option_sprints(self) -> None:
        """A dropdown sprint field's options are the board's sprints, used or not."""
        source = self.config.sprints
        if source.source != "custom_field":
            return
        for board_id, info in self.state.boards.items():
            found = info.field_named(source.name or "")
            if found is not None and found.type == "list":
                self.state.sprint_names.setdefault(board_id, set()).update(found.options.values())

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark


def _gone(card_id: str, why: str, context: StreamContext) -> None:
    """A card deleted or off the boards: a census is owed if the store holds it live (one
    never stored, or already owed a census for, needs no look-up and no census)."""
    if not context.census.owed and context.store.live_ids_among({card_id}):
        context.census.owe(f"card {card_id} {why}")


class ListsStream(Stream):
    """Every list of every board as a status, with its stage (unmapped lists: in progress)."""

    name = "lists"
    record_type = StatusRecord
    primary_keys = ("external_id",)

    def __init__(self, config: TrelloConfig, state: TrelloRunState) -> None:
        self.config, self.state = config, state

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        ctx = self.state.context(self.config)
        for board in self.state.boards.values():
            for raw in board.lists.values():
                yield convert_list(raw, ctx)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class SprintsStream(Stream):
    """Each board's sprints, dated by the config's calendar (state as of the run)."""

    name = "sprints"
    record_type = SprintRecord
    primary_keys = ("external_id",)

    def __init__(self, config: TrelloConfig, state: TrelloRunState) -> None:
        self.config, self.state = config, state

    def records(self, context: StreamContext) -> Iterator[SprintRecord]:
        for board_id, board in self.state.boards.items():
            for name in sorted(self.state.sprint_names.get(board_id, ())):
                yield convert_sprint(board, name, self.config.sprints, context.started_at)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class CensusStream(Stream):
    """Marks deleted cards and cards that left the boards; runs only when one may have."""

    name = "census"
    record_type = Census
    primary_keys = ("external_id",)

    def __init__(self, client: TrelloClient, config: TrelloConfig, state: TrelloRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[Census]:
        if not context.census.owed:
            return
        ids: set[str] = set()
        for board_id in self.state.boards:
            listed = self.state.listed.get(board_id)
            if listed is None:
                try:
                    listed = {str(c["id"]) for c in self.client.cards(board_id, "all", False)}
                except ConnectorError as exc:
                    context.report_error(
                        f"census of board {board_id} put off to the next run: {exc}"
                    )
                    return  # a partial census would mark a whole board deleted
            ids.update(listed)
        yield Census(
            frozenset(ids), "the boards list no card (check the token's access to the boards)"
        )

    def final_bookmark(self) -> dict[str, Any] | None:
        return None
