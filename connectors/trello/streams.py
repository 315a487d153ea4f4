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
  full action list (one call per such card; a card with 1,410 actions: two).
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
and its actions). It is a frozen type (`CardsBookmark`, a `BoardMark` per board)
stored as versioned JSON (`connectors/bookmarks.py`): one stored before versions
loads as version 1; one that cannot be understood means a full read.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import structlog

from connectors.base import Stream, StreamContext
from connectors.bookmarks import (
    BookmarkUnreadable,
    RetrySet,
    ids_from_json,
    load_bookmark,
    readable,
    with_version,
)
from connectors.errors import ConnectorError, IssueNotFoundError
from connectors.trello.client import TrelloClient
from connectors.trello.config import DEFAULT_LIST_STAGES, TrelloConfig
from connectors.trello.conventions import card_releases, release_external_id, release_record
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
from pmo_sync.domain import (
    Census,
    ItemBundle,
    LinkDirection,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    TeamRecord,
)

__all__ = [
    "BoardMark",
    "CardsBookmark",
    "CardsStream",
    "CensusStream",
    "ListsStream",
    "ReleasesStream",
    "SprintsStream",
    "TrelloRunState",
    "board_info",
    "list_stage_table",
    "team_records",
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
                str(x["id"]),
                str(x.get("name", "")),
                board_id,
                bool(x.get("closed")),
                _list_pos(x.get("pos")),
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


def _list_pos(value: Any) -> float | None:
    """A list's `pos` (a number; anything else: unknown, and its cards unranked)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _board_to_json(board: BoardInfo) -> dict[str, Any]:
    return {
        "name": board.name,
        "lists": [
            [x.id, x.name, x.closed, *([] if x.pos is None else [x.pos])]
            for x in board.lists.values()
        ],
        "fields": [[f.id, f.name, f.type, dict(f.options)] for f in board.fields.values()],
    }


def _board_from_json(board_id: str, data: Mapping[str, Any]) -> BoardInfo:
    return BoardInfo(
        id=board_id,
        name=str(data["name"]),
        lists={
            x[0]: ListInfo(x[0], x[1], board_id, bool(x[2]), _list_pos(x[3]) if x[3:] else None)
            for x in data["lists"]
        },
        fields={f[0]: FieldInfo(f[0], f[1], f[2], board_id, dict(f[3])) for f in data["fields"]},
    )


@dataclass(frozen=True, slots=True)
class BoardMark:
    """One board in the cards bookmark: its lists and custom fields, the newest action
    read (the next run reads the actions since), the sprint names its cards were in."""

    info: BoardInfo
    last_action: str | None
    sprints: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            **_board_to_json(self.info),
            "last_action": self.last_action,
            "sprints": list(self.sprints),
        }

    @classmethod
    def from_json(cls, board_id: str, data: Mapping[str, Any]) -> BoardMark:
        last = data.get("last_action")
        return cls(
            info=_board_from_json(board_id, data),
            last_action=None if last is None else str(last),
            sprints=tuple(str(s) for s in data.get("sprints") or ()),
        )


@dataclass(frozen=True, slots=True)
class CardsBookmark:
    """Where the cards stream goes on from (version 1, also stored without `version`).

    `scope`: a fingerprint of the config's mapping (another means a full read).
    `resolved_at`, `bot`, `order`: the boards in scope, in config order, and the token's
    member, resolved at `resolved_at` and re-resolved every `METADATA_TTL`. `boards`:
    each board's mark. `retry`: the cards skipped because their data could not be read
    (absent before that was kept: none).
    """

    VERSION: ClassVar[int] = 1
    scope: str
    resolved_at: datetime | None
    """None: resolve the boards again now."""
    bot: str | None
    order: tuple[str, ...]
    boards: Mapping[str, BoardMark]
    retry: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "scope": self.scope,
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "bot": self.bot,
                "order": list(self.order),
                "retry": list(self.retry),
                "boards": {board_id: mark.to_json() for board_id, mark in self.boards.items()},
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CardsBookmark:
        body = readable(data, cls.VERSION)
        at, bot = body.get("resolved_at"), body.get("bot")
        boards = {
            str(board_id): BoardMark.from_json(str(board_id), mark)
            for board_id, mark in (body.get("boards") or {}).items()
        }
        order = tuple(str(b) for b in body.get("order") or ())
        if unmarked := set(order) - set(boards):
            raise BookmarkUnreadable(f"boards in `order` without a mark: {sorted(unmarked)}")
        return cls(
            scope=str(body["scope"]),
            resolved_at=datetime.fromisoformat(at) if at else None,
            bot=None if bot is None else str(bot),
            order=order,
            boards=boards,
            retry=ids_from_json(body.get("retry"), lambda card_id: str(card_id)),
        )


@dataclass(slots=True)
class _CardsRun:
    """One run of the cards stream: the boards it reads, what it gathered from their
    actions and card lists, and the makings of the next bookmark."""

    known: Mapping[str, BoardMark]
    """The stored bookmark's boards (none on a full read)."""
    boards: list[dict[str, Any]]
    bot: str | None
    resolved_at: datetime
    ignored: str | None
    """pmo-sync's own member: its actions are write-back, not changes to read."""
    retry: RetrySet[str]
    wanted: set[str] = field(default_factory=set)
    """Cards to convert: named by a new action (not pmo-sync's), all on a full read of
    their board, and those a run before had to skip."""
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions_by_card: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    newest: dict[str, str | None] = field(default_factory=dict)
    """Each board's newest action read: its next mark."""
    changed: bool = False
    """A board had actions of someone else than pmo-sync: its lists and cards were read."""


@dataclass(slots=True)
class TrelloRunState:
    """What the streams of one run share; filled by the cards stream."""

    boards: dict[str, BoardInfo] = field(default_factory=dict)  # in config order
    sprint_names: dict[str, set[str]] = field(default_factory=dict)  # board id -> names
    release_names: dict[str, str] = field(default_factory=dict)
    """Release external id -> name, of the releases the cards converted this run are in."""
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
            portfolio=config.portfolio,
        )


class CardsStream(Stream):
    """Every card of the boards with its whole history, from the boards' actions."""

    name = "cards"
    record_type = ItemBundle
    primary_keys = ("external_id",)
    replication_key = "last_action"

    def __init__(self, client: TrelloClient, config: TrelloConfig, state: TrelloRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: CardsBookmark | None = None
        self._retry: RetrySet[str] = RetrySet.of(())
        """Cards a run before could not read, and those this run cannot: the next bookmark's
        `retry`, read again even if nobody touches them (a partial run moves the marks)."""

    def _scope_key(self) -> str:
        mapping = {
            "boards": [b.casefold() for b in self.config.boards],
            "list_stages": {k.casefold(): v.value for k, v in self.config.list_stages.items()},
            "estimate": self.config.estimate.model_dump(mode="json"),
            "sprints": self.config.sprints.model_dump(mode="json", exclude={"cadence", "dates"}),
            "portfolio": self.config.portfolio.model_dump(
                mode="json", exclude={"releases": {"dates"}}
            ),
            # A dependency was once stored outward from the waiting card: a bookmark from then
            # reads the boards in full once, so every card's links are stored the right way.
            "dependency_direction": LinkDirection.INWARD.value,
        }
        return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:16]

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        """Read the bookmark → each board's new actions, the cards whose whole history is
        on the board converted at once → the cards left (moved between boards, skipped by a
        run before, history not on the board) → the next bookmark."""
        scope = self._scope_key()
        previous = self._previous(scope, context)
        run = self._start(previous, context)
        for board in run.boards:
            yield from self._read_board(board, run, context)
        yield from self._remaining_cards(run, context)
        self._add_option_sprints()
        self._bookmark = self._next_bookmark(scope, previous, run)

    def _previous(self, scope: str, context: StreamContext) -> CardsBookmark | None:
        """The stored bookmark, unless the run is full or the mapping changed since (then
        every card reads differently and is read again, and whatever that read does not
        find is gone: a census is owed)."""
        previous = None
        if not context.full:
            previous = load_bookmark(CardsBookmark.from_json, context.bookmark, self.name)
        if previous is not None and previous.scope != scope:
            previous = None  # the mapping changed: every card reads differently
        if previous is None:  # a full read: whatever it does not find is gone
            context.census.owe("a full read of the boards")
        return previous

    def _start(self, previous: CardsBookmark | None, context: StreamContext) -> _CardsRun:
        """The boards in scope and the token's member (cached, or read again every TTL);
        a board no longer in the config owes a census, its cards being gone from scope."""
        boards, bot, resolved_at = self._boards(previous, context)
        self.state.bot = bot
        known = previous.boards if previous else {}
        if previous and set(known) - {b["id"] for b in boards}:
            context.census.owe("a board left the config")
        self._retry = RetrySet.of(previous.retry if previous else ())
        return _CardsRun(
            known=known,
            boards=boards,
            bot=bot,
            resolved_at=resolved_at,
            ignored=self.config.writeback.ignored_account(bot),
            retry=self._retry,
            wanted=set(self._retry.before),
        )

    def _read_board(
        self, board: dict[str, Any], run: _CardsRun, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """One board's actions since its mark (all of them on a first or full read, or
        after a list or custom field was renamed: every card's status names may differ).
        None, or only pmo-sync's own: the mark moves past them and nothing else is read.
        Else its lists, custom fields and cards are read again, and the cards whose whole
        history is on it are converted now."""
        board_id = str(board["id"])
        cached = run.known.get(board_id)
        since = cached.last_action if cached else None
        actions = self._slim_actions(board_id, since)
        if since and any(a.get("type") in STRUCTURE_ACTIONS for a in actions):
            log.info("trello_board_reread", board=board.get("name"), reason="renamed list")
            since = None
            actions = self._slim_actions(board_id, None)
        run.newest[board_id] = str(actions[0]["id"]) if actions else since
        own = since and all(str(a.get("idMemberCreator")) == run.ignored for a in actions)
        if own and cached:  # nothing new, or only pmo-sync's own write-back
            self.state.boards[board_id] = cached.info
            self.state.sprint_names[board_id] = set(cached.sprints)
            return
        run.changed = True
        info = board_info(board, self.client.lists(board_id), self.client.custom_fields(board_id))
        self.state.boards[board_id] = info
        self.state.sprint_names[board_id] = set(cached.sprints if cached else ())
        listing = self.client.cards(board_id)
        self.state.listed[board_id] = {str(c["id"]) for c in listing}
        for card in listing:
            run.cards[str(card["id"])] = card
        del listing
        self._file_actions(actions, since, run, context)
        del actions
        if since is None:
            run.wanted.update(self.state.listed[board_id])
        yield from self._single_board_cards(board_id, run, context)

    def _file_actions(
        self,
        actions: list[dict[str, Any]],
        since: str | None,
        run: _CardsRun,
        context: StreamContext,
    ) -> None:
        """Group a board's actions by card; a card named by an action not pmo-sync's (any,
        on a full read of the board) is wanted; a `deleteCard` may owe a census."""
        for action in actions:
            card_id = card_id_of(action)
            if card_id is None:
                continue
            run.actions_by_card[card_id].append(action)
            if action.get("type") == "deleteCard":
                _gone(card_id, "deleted", context)
            if since is None or str(action.get("idMemberCreator")) != run.ignored:
                run.wanted.add(card_id)

    def _single_board_cards(
        self, board_id: str, run: _CardsRun, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """The wanted cards whose whole history is on this board, built now and let go: a
        full sync holds one board's actions, not every board's, plus the cards that moved
        between boards (they wait for the other boards' halves)."""
        ctx = self.state.context(self.config)
        for card_id in sorted(run.wanted & self.state.listed[board_id]):
            history = run.actions_by_card.get(card_id, [])
            if not has_creation(history) or any(
                a.get("type") == "moveCardToBoard" for a in history
            ):
                continue
            run.wanted.discard(card_id)
            bundle = self._bundle(
                run.cards.pop(card_id), run.actions_by_card.pop(card_id), ctx, context
            )
            if bundle is not None:
                yield bundle

    def _remaining_cards(self, run: _CardsRun, context: StreamContext) -> Iterator[ItemBundle]:
        """The wanted cards not built board by board: those that moved between boards (from
        every board's actions), those whose creation is not in the actions read (from their
        own action list), and those a run before had to skip whose board had nothing new
        (the card read alone). One no longer found, or off the boards, may owe a census."""
        ctx = self.state.context(self.config)
        for card_id in sorted(run.wanted):
            card = run.cards.get(card_id)
            if card is None and card_id in run.retry:  # its board had nothing new: read it alone
                card = self._card_alone(card_id)
            if card is None:
                _gone(card_id, "deleted or off the boards", context)
                continue
            history = run.actions_by_card.pop(card_id, [])
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

    def _card_alone(self, card_id: str) -> dict[str, Any] | None:
        """A card read on its own (`GET /cards/{id}`); None when gone or off the boards."""
        try:
            card = self.client.card(card_id)
        except IssueNotFoundError:
            return None
        if card is not None and str(card.get("idBoard")) not in self.state.boards:
            return None
        return card

    def _next_bookmark(
        self, scope: str, previous: CardsBookmark | None, run: _CardsRun
    ) -> CardsBookmark | None:
        """The boards' new marks; None keeps the stored bookmark when no board had anything
        new, no mark moved, `retry` did not change and the boards were not resolved again.
        (After only pmo-sync's own actions the mark moves past them: nothing is re-read.)"""
        moved = any(
            newest != (mark.last_action if (mark := run.known.get(board_id)) else None)
            for board_id, newest in run.newest.items()
        )
        moved = moved or not run.retry.unchanged
        if previous and not (run.changed or moved) and run.resolved_at == previous.resolved_at:
            return None  # nothing new: keep the stored bookmark
        return CardsBookmark(
            scope=scope,
            resolved_at=run.resolved_at,
            bot=run.bot,
            order=tuple(self.state.boards),
            retry=run.retry.next_retry(),
            boards={
                board_id: BoardMark(
                    info=info,
                    last_action=run.newest.get(board_id),
                    sprints=tuple(sorted(self.state.sprint_names.get(board_id, ()))),
                )
                for board_id, info in self.state.boards.items()
            },
        )

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
                self._retry.skip(str(card["id"]))
            return None
        for stay in bundle.memberships:
            board_id, _, sprint = stay.sprint_external_id.partition(":")
            self.state.sprint_names.setdefault(board_id, set()).add(sprint)
        item = bundle.item
        named = card_releases(item.status, item.labels, self.config.portfolio)
        for release_id, name in named.items():
            self.state.release_names.setdefault(release_id, name)
        return bundle

    def _slim_actions(self, board_id: str, since: str | None) -> list[dict[str, Any]]:
        """The board's actions (newest first), each kept to what conversion reads, page by
        page: a full read holds every action of every board until the cards are built."""
        return [
            slim_action(a) for a in self.client.board_actions(board_id, ACTION_FILTERS, since=since)
        ]

    def _boards(
        self, previous: CardsBookmark | None, context: StreamContext
    ) -> tuple[list[dict[str, Any]], str | None, datetime]:
        """The boards in scope and the token's member: cached, or two calls every TTL."""
        at = previous.resolved_at if previous else None
        if previous and at and context.started_at - at < METADATA_TTL and previous.order:
            boards = [{"id": b, "name": previous.boards[b].info.name} for b in previous.order]
            return boards, previous.bot, at
        bot = str(self.client.me().get("id") or "") or None
        boards = self.client.resolve_boards(self.config.boards)
        return boards, bot, context.started_at

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
        return self._bookmark.to_json() if self._bookmark else None


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


def team_records(
    boards: Mapping[str, BoardInfo], sprint_names: Mapping[str, set[str]], config: TrelloConfig
) -> list[TeamRecord]:
    """Each board (a board is a team) and its delivery method: scrum when the connector file
    configures a sprint convention (`sprints:`) or the board's cards name a sprint by the
    default one (a "Sprint" custom field), else kanban."""
    configured = "sprints" in config.model_fields_set
    return [
        TeamRecord(board.name, "scrum" if configured or sprint_names.get(board_id) else "kanban")
        for board_id, board in boards.items()
    ]


class SprintsStream(Stream):
    """Each board's sprints, dated by the config's calendar (state as of the run), and each
    board as a team with its delivery method (`team_records`)."""

    name = "sprints"
    record_type = SprintRecord
    primary_keys = ("external_id",)
    side_records = (TeamRecord,)

    def __init__(self, config: TrelloConfig, state: TrelloRunState) -> None:
        self.config, self.state = config, state

    def records(self, context: StreamContext) -> Iterator[SprintRecord | TeamRecord]:
        yield from team_records(self.state.boards, self.state.sprint_names, self.config)
        for board_id, board in self.state.boards.items():
            for name in sorted(self.state.sprint_names.get(board_id, ())):
                yield convert_sprint(board, name, self.config.sprints, context.started_at)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class ReleasesStream(Stream):
    """The releases the cards converted this run are in, and those the config dates (an
    unchanged release costs nothing: releases are upserted by content, never deleted)."""

    name = "releases"
    record_type = ReleaseRecord
    primary_keys = ("external_id",)

    def __init__(self, config: TrelloConfig, state: TrelloRunState) -> None:
        self.config, self.state = config, state

    def records(self, context: StreamContext) -> Iterator[ReleaseRecord]:
        names = dict(self.state.release_names)
        for name in self.config.portfolio.releases.dates:
            names.setdefault(release_external_id(name), name)
        today = context.started_at.date()
        for release_id in sorted(names):
            yield release_record(names[release_id], self.config.portfolio, today)

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
