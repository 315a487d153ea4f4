"""The Trello sandbox's ground truth: seeded boards, cards and every card's action history.

`TrelloDataset.generate(seed=7, cards_per_board=150)` always builds the same
workspace: one board per team ("Team Alpha", "Team Beta"), each with the lists
Backlog / To Do / Doing / Review / Done, an unusual "Blocked by vendor" list (the
"unknown list" a status mapping has to cope with) and an archived "Ideas (old)"
list; six labels (with the portfolio, "Epic", "Initiative", the three themes and the
board's release labels too); a "Story Points" number custom field and a "Sprint" dropdown
(list) custom field whose options are two-week sprints ("Sprint 5" ... "Sprint
20"). Over a 180-day window cards move forwards and backwards between lists,
detour through "Blocked by vendor", are estimated and re-estimated, are carried
over from sprint to sprint, get comments and members, are copied (copyCard),
moved to the other board (moveCardFromBoard + moveCardToBoard), archived and
unarchived (updateCard with data.old.closed), and a few are deleted (deleteCard).
Card number 1 is the heavy card: well over 1,000 actions, so even one card's
history needs more than one 1000-action page.

The ground truth connector tests compare against is recorded by the simulation,
not derived from the actions: `card.list_moves` (at, from list, to list; a
creation or copy comes from None), `card.sprint_changes`, `card.estimate_changes`,
`card.closed`, `card.deleted`.

Ids are 24-hex Mongo ObjectIds whose first 4 bytes are the Unix seconds of the
creation, as Trello's are. The sandbox puts the milliseconds in the next 2 bytes,
so id order is exactly time order (Trello's `before`/`since` compare ids) and a
date converts to a boundary id; the last 6 bytes name the card and the action's
place in its history, so an action is found from its id without a table.

The portfolio (`portfolio=True`, the default; docs/sandbox-trello.md): each board's cards are
requests ("Epic" label, a theme label, a due date), initiatives above some of them, their
children (the request's link attached) and unplanned work, decided from the head table alone
(`_plan_portfolio`). The team breaks down one request at a time with two more planned, so it
works them in rank (= creation) order; a request's card goes to Doing when its first child
starts and to Done after its last is done (`_RequestLife`, from the children as generated).
A few cards wait on another board's ("Depends on: <url>" attached), and done work gets the
board's next release label ("Release Alpha 1.3"; the dates are the connector file's,
`trello.portfolio.generated_portfolio_block`). Ground truth: `role`, `parent_number`,
`children_numbers`, `theme_of`, `dependencies`, `releases`, `started_ms`, `finished_ms`.

Like the other sandboxes, cards are simulated one at a time from (seed, number)
behind an LRU: only a small head table (board, creation time, idShort, copy
source) is built up front, and the per-board action log that `before`/`since`
bisect (sorted ids and their kinds) is built on first use. Mutated and created
cards live in an overlay. Every read and write holds `lock` (an RLock): the
server reads while tests mutate. Writes happen at `clock.now`, at least 1 ms
after the previous write, so they stay in the order they were made.

Simplifications (where the real service is undocumented or the detail does not
matter to a sync): a card keeps its idShort when it moves to another board;
copies start without custom field values; a deleted card's actions stay in the
boards' logs; a generated copy's source is not checked for still existing.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import math
import random
import re
import threading
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pmo_sync.sandbox.clock import Clock

__all__ = [
    "ACTION_TYPES",
    "BACKLOG",
    "BOARD_NAMES",
    "DEFAULT_NOW",
    "DEPENDS_ON",
    "DOING",
    "DONE",
    "EPIC_LABEL",
    "FIELD_POINTS",
    "FIELD_SPRINT",
    "HEAVY_CARD",
    "INITIATIVE_LABEL",
    "RELEASE_LABEL",
    "REVIEW",
    "ROLE_CHILD",
    "ROLE_INITIATIVE",
    "ROLE_PLAIN",
    "ROLE_REQUEST",
    "THEMES",
    "TODO",
    "VENDOR_LIST",
    "Action",
    "Board",
    "Card",
    "Checklist",
    "ChecklistItem",
    "Clock",
    "CustomField",
    "FieldChange",
    "FieldItem",
    "Label",
    "ListMove",
    "Member",
    "Option",
    "PlannedRelease",
    "Sprint",
    "TrelloDataset",
    "TrelloError",
    "TrelloList",
    "boundary_id",
    "format_date",
    "id_ms",
    "is_object_id",
    "parse_date",
]

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW_DAYS = 180
SPRINT_DAYS = 14
PAST_SPRINTS = 13  # sprints before the current one: the first covers the window's start
FUTURE_SPRINTS = 2
CURRENT_SPRINT_NUMBER = 18
BOARD_NAMES = ("Team Alpha", "Team Beta")
BACKLOG, TODO, DOING, REVIEW, DONE = "Backlog", "To Do", "Doing", "Review", "Done"
VENDOR_LIST = "Blocked by vendor"
ARCHIVED_LIST = "Ideas (old)"
FIELD_POINTS = "Story Points"
FIELD_SPRINT = "Sprint"
FIELD_TYPES = ("number", "date", "text", "list", "checkbox")
POINT_VALUES = (1, 2, 3, 5, 8, 13)
HEAVY_CARD = 1
NOT_FOUND = "The requested resource was not found."

# Trello's action types (https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/):
# a `filter` naming anything else is refused, as the real API does.
ACTION_TYPES = frozenset({
    "acceptEnterpriseJoinRequest", "addAttachmentToCard", "addChecklistToCard",
    "addLabelToCard", "addMemberToBoard", "addMemberToCard", "addMemberToOrganization",
    "addToOrganizationBoard", "commentCard", "convertToCardFromCheckItem", "copyBoard",
    "copyCard", "copyCommentCard", "createBoard", "createCard", "createCheckItem",
    "createCustomField", "createLabel", "createList", "createOrganization",
    "deleteAttachmentFromCard", "deleteBoardInvitation", "deleteCard", "deleteCheckItem",
    "deleteCustomField", "deleteLabel", "deleteOrganizationInvitation", "disablePlugin",
    "disablePowerUp", "emailCard", "enablePlugin", "enablePowerUp", "makeAdminOfBoard",
    "makeNormalMemberOfBoard", "makeNormalMemberOfOrganization", "makeObserverOfBoard",
    "memberJoinedTrello", "moveCardFromBoard", "moveCardToBoard", "moveListFromBoard",
    "moveListToBoard", "removeChecklistFromCard", "removeFromOrganizationBoard",
    "removeLabelFromCard", "removeMemberFromBoard", "removeMemberFromCard",
    "removeMemberFromOrganization", "unconfirmedBoardInvitation",
    "unconfirmedOrganizationInvitation", "updateBoard", "updateCard", "updateCheckItem",
    "updateCheckItemStateOnCard", "updateChecklist", "updateComment", "updateCustomField",
    "updateCustomFieldItem", "updateLabel", "updateList", "updateMember",
    "updateOrganization", "voteOnCard",
})  # fmt: skip

_MS_SECOND = 1000
_MS_MINUTE = 60_000
_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
_LRU_SIZE = 2048
_ENTITY = 0xF00000  # card numbers stay below; boards, lists, ... use _ENTITY + kind
_ITEM_SEQ = 0x800000  # custom field item ids: the setting action's seq with this bit
_CHECK_SEQ = 0x400000  # checklist and check item ids: the creating action's seq with this bit
_K_BOARD, _K_LIST, _K_LABEL, _K_FIELD, _K_OPTION, _K_MEMBER, _K_ORG, _K_ATTACH = range(1, 9)
_HEX24 = re.compile(r"^[0-9a-fA-F]{24}$")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_COPY_SHARE = 0.05
_BOARD_MOVE_SHARE = 0.06
_DELETE_SHARE = 0.03

_PEOPLE = (
    "Ava Thornton", "Bruno Okafor", "Chen Wei", "Dana Kowalski", "Elif Demir",
    "Farah Haddad", "Gus Lindgren", "Hana Sato", "Ivan Petrov", "Jade Moreau",
)  # fmt: skip
_LABELS = (
    ("green", "Feature"), ("yellow", "Chore"), ("orange", "Tech debt"),
    ("red", "Bug"), ("purple", "Customer"), ("blue", ""),
)  # fmt: skip
_VERBS = ("Add", "Fix", "Refactor", "Migrate", "Document", "Harden", "Speed up", "Remove")
_NOUNS = (
    "login flow", "invoice export", "search index", "audit log", "billing page",
    "mobile sync", "report builder", "API throttling", "user settings", "nightly job",
    "onboarding email", "webhook retries",
)  # fmt: skip
_COMMENTS = (
    "Looks good to me.", "Can we split this one?", "Waiting on the vendor's answer.",
    "Pairing on this tomorrow.", "Deployed to staging.", "Needs a design review first.",
    "Found an edge case with empty carts.", "Moved back: the tests fail on CI.",
)  # fmt: skip
_CRITERIA = (
    "Works on mobile and desktop", "Covered by automated tests", "Errors are shown to the user",
    "Product owner signed off", "Documented in the changelog", "No regression in the nightly run",
    "Meets the performance budget", "Usable with the keyboard alone",
)  # fmt: skip
_DONE_ITEMS = ("Code reviewed", "Tests green on CI", "Deployed to staging")
_CRITERIA_SHARE = 0.35  # cards (not bugs) written with an "Acceptance criteria" checklist
_DONE_SHARE = 0.2  # cards with the team's "Definition of done" checklist
_CHECKLIST_POS = 16384.0  # Trello's positions: the first at 16384, each next one 16384 further
_BOT_COMMENTS = (
    "CI: build failed on main.",
    "CI: build green again.",
    "Vendor ticket updated.",
    "Nightly check: still waiting on the vendor sandbox.",
)
# List paths after creation, by variant; "idle" cards never leave their first list.
_PATHS: dict[str, tuple[str, ...]] = {
    "normal": (TODO, DOING, REVIEW, DONE),
    "backward": (TODO, DOING, REVIEW, DOING, REVIEW, DONE),
    "skip_review": (TODO, DOING, DONE),
    "straight": (TODO, DONE),
    "vendor": (TODO, DOING, VENDOR_LIST, DOING, REVIEW, DONE),
    "backlog": (TODO, BACKLOG, TODO, DOING, REVIEW, DONE),
    "stuck": (TODO, DOING, VENDOR_LIST),
    "idle": (),
}
_PATH_WEIGHTS = (40, 14, 12, 6, 10, 8, 4, 10)
# A request's children: planned work is never left idle in the backlog nor stuck for good.
_CHILD_PATH_WEIGHTS = (45, 15, 13, 6, 12, 9, 0, 0)

# -- the generated portfolio (module docstring, "The portfolio") -----------------------------
EPIC_LABEL = "Epic"
INITIATIVE_LABEL = "Initiative"
THEMES = ("Growth", "Reliability", "Compliance")
_THEME_BAG = (8, 6, 3, 3)  # of every 20 requests (a shuffled bag per board): Growth 8,
# Reliability 6, Compliance 3 (47/35/18% of the themed ones) and 3 with none (15%)
_THEME_COLORS = {"Growth": "lime", "Reliability": "sky", "Compliance": "black"}
DEPENDS_ON = "Depends on"
RELEASE_LABEL = "Release {name}"
ROLE_PLAIN, ROLE_REQUEST, ROLE_CHILD, ROLE_INITIATIVE = 0, 1, 2, 3
_UNPLANNED_SHARE = 0.14  # work with no request
_GROWTH_SHARE = 0.07  # a card added to a request already under way (scope growth)
_AHEAD_SHARE = 0.1  # a child of the second request in the queue (worked out of rank)
_QUEUE_AHEAD = 2  # requests waiting, planned, besides the one being filled
_DEPENDENCY_SHARE = 0.035  # cards that wait on a card of another board
_RELEASED_SHARE = 0.9  # done work put in the team's next release
_INITIATIVE_EVERY = 4  # about one initiative per this many requests
_ATTACH_SEQ = 0x200000  # generated attachments' ids: the action's seq with this bit
_LINK_MS = 40  # a generated link or release label: this many ms after what it follows, past
# the checklists' actions (1 ms apart, 9 at most), so they move no date of the card's
_EPIC_NAMES = {
    "Growth": (
        "Self-serve onboarding", "Referral programme", "Annual plans checkout",
        "Marketplace listing", "Usage-based pricing", "Partner API",
    ),
    "Reliability": (
        "Zero-downtime deploys", "Database failover", "Search index rebuild",
        "Alerting overhaul", "Queue back-pressure", "Capacity for peak season",
    ),
    "Compliance": (
        "SOC 2 evidence", "GDPR data export", "Audit trail retention",
        "Access reviews", "Encryption at rest",
    ),
    "": ("Design system refresh", "Mobile offline mode", "Reporting v2", "Localisation"),
}  # fmt: skip
_INITIATIVE_NAMES = ("Win the mid-market", "Five nines", "Certified by Q2", "Platform 2027")


class TrelloError(Exception):
    """A refused request: `status` is the HTTP status, `message` Trello's (plain-text) body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_KEEP = object()
"""`set_dates`' default: leave that date as it is."""

# -- dates and ids -------------------------------------------------------------------------------


def format_date(ms: int) -> str:
    """Trello's dates: UTC, always three fraction digits, and a Z."""
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_date(text: str) -> int:
    """ISO 8601 (a bare date, any fraction, Z or an offset) → epoch ms; ValueError otherwise."""
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def to_ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def is_object_id(text: str) -> bool:
    return bool(_HEX24.match(text))


def object_id(ms: int, model: int, seq: int, salt: int) -> str:
    """4 bytes Unix seconds (Trello's), 2 bytes ms, 3 bytes model (card number ^ salt), 3 seq."""
    return f"{ms // 1000:08x}{ms % 1000:04x}{(model ^ salt) & 0xFFFFFF:06x}{seq & 0xFFFFFF:06x}"


def id_ms(oid: str) -> int:
    """When a sandbox id was created, in epoch ms (a foreign ObjectId: to the second only)."""
    seconds = int(oid[:8], 16) * 1000
    extra = int(oid[8:12], 16)
    return seconds + (extra if extra < 1000 else 0)


def boundary_id(ms: int) -> str:
    """The smallest id at `ms`: ids below were created before it, ids above at or after it."""
    return f"{ms // 1000:08x}{ms % 1000:04x}" + "0" * 12


def _short_link(seed: object, kind: str, n: int) -> str:
    digest = int.from_bytes(hashlib.sha256(f"{seed}:{kind}:{n}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        digest, r = divmod(digest, 62)
        chars.append(_B62[r])
    return "".join(chars)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# -- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    username: str
    full_name: str
    initials: str
    avatar_hash: str | None


@dataclass(slots=True)
class TrelloList:
    id: str
    name: str
    board_id: str
    pos: float
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    board_id: str
    name: str
    color: str | None


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    field_id: str
    text: str
    color: str
    pos: float


@dataclass(slots=True)
class CustomField:
    id: str
    board_id: str
    name: str
    type: str
    pos: float
    field_group: str
    options: tuple[Option, ...] = ()

    def option(self, ref: str) -> Option | None:
        """By id or by its text."""
        return next((o for o in self.options if ref in (o.id, o.text)), None)


@dataclass(slots=True)
class Board:
    id: str
    name: str
    short_link: str
    index: int
    created_ms: int
    lists: list[TrelloList]
    labels: list[Label]
    custom_fields: list[CustomField]
    members: list[Member]  # the team first, then the bot
    team: tuple[Member, ...]  # who works the board's cards

    def list_named(self, ref: str) -> TrelloList | None:
        """By id or by name."""
        return next((x for x in self.lists if ref in (x.id, x.name)), None)

    def field_named(self, ref: str) -> CustomField | None:
        """By id or by name."""
        return next((f for f in self.custom_fields if ref in (f.id, f.name)), None)


@dataclass(frozen=True, slots=True)
class Sprint:
    number: int
    name: str
    start_ms: int
    end_ms: int  # exclusive

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)


@dataclass(frozen=True, slots=True)
class PlannedRelease:
    """One of a board's releases: its label is `RELEASE_LABEL` with the name; Trello keeps no
    dates, so the connector file's `portfolio.releases.dates` carries them
    (`generated_portfolio_block`). `released_ms` is None while it is not out."""

    name: str
    board_id: str
    planned_ms: int
    released_ms: int | None

    @property
    def label(self) -> str:
        return RELEASE_LABEL.replace("{name}", self.name)

    @property
    def cut_ms(self) -> int:
        """Work done before this instant ships in it (or in an earlier release)."""
        return self.released_ms if self.released_ms is not None else self.planned_ms


@dataclass(slots=True)
class Action:
    id: str
    type: str
    ms: int
    creator: Member
    board_id: str  # whose action log holds it
    data: dict[str, Any]
    member: Member | None = None  # addMemberToCard's subject
    deleted: bool = False

    @property
    def sub(self) -> str | None:
        """What an update changed (data.old's key): "idList" for `updateCard:idList`."""
        old = self.data.get("old")
        return next(iter(old)) if isinstance(old, dict) and old else None

    @property
    def date(self) -> datetime:
        return from_ms(self.ms)


@dataclass(slots=True)
class FieldItem:
    id: str
    field_id: str
    value: dict[str, str] | None = None  # number/date/text/checkbox: {"number": "3"}
    id_value: str | None = None  # list: the option's id


@dataclass(slots=True)
class ChecklistItem:
    """One item of a card's checklist; its id is the createCheckItem action's seq marked
    (`_CHECK_SEQ`), so a re-simulated card gets the same ids."""

    id: str
    name: str
    pos: float
    complete: bool = False


@dataclass(slots=True)
class Checklist:
    id: str
    name: str
    pos: float
    items: list[ChecklistItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListMove:
    """A card entering a list; its creation (or copy) comes from None."""

    at: datetime
    from_list: str | None
    to_list: str
    action_id: str


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A custom field's value set (or cleared: None) on a card, by field name.

    Values: a float for numbers, the option's text for lists, a datetime for dates,
    a str for text and a bool for checkboxes."""

    at: datetime
    field: str
    value: Any
    action_id: str


@dataclass(slots=True)
class Card:
    n: int
    id: str
    short_link: str
    id_short: int
    name: str
    board_id: str
    list_id: str
    pos: float
    created_ms: int
    desc: str = ""
    closed: bool = False
    deleted_ms: int | None = None
    source_id: str | None = None  # the card it was copied from
    label_ids: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)  # link attachments
    member_ids: list[str] = field(default_factory=list)
    items: dict[str, FieldItem] = field(default_factory=dict)  # by idCustomField
    checklists: list[Checklist] = field(default_factory=list)  # in the order they were added
    actions: list[Action] = field(default_factory=list)  # seq - 1 → action, deleted ones too
    list_moves: list[ListMove] = field(default_factory=list)
    field_changes: list[FieldChange] = field(default_factory=list)
    last_ms: int = 0
    start: str | None = None  # as Trello writes it (ISO 8601, ms, Z); set only by `set_dates`
    due: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_ms is not None

    @property
    def created(self) -> datetime:
        return from_ms(self.created_ms)

    def _changes(self, name: str) -> list[tuple[datetime, Any]]:
        return [(c.at, c.value) for c in self.field_changes if c.field == name]

    @property
    def estimate_changes(self) -> list[tuple[datetime, float | None]]:
        """Story Points over time: (at, points or None when cleared)."""
        return self._changes(FIELD_POINTS)

    @property
    def sprint_changes(self) -> list[tuple[datetime, str | None]]:
        """The Sprint dropdown over time: (at, "Sprint 14" or None when cleared)."""
        return self._changes(FIELD_SPRINT)

    @property
    def estimate(self) -> float | None:
        changes = self.estimate_changes
        return changes[-1][1] if changes else None

    @property
    def sprint(self) -> str | None:
        changes = self.sprint_changes
        return changes[-1][1] if changes else None

    @property
    def live_actions(self) -> list[Action]:
        return [a for a in self.actions if not a.deleted]

    @property
    def comments(self) -> list[Action]:
        return [a for a in self.actions if a.type == "commentCard" and not a.deleted]


@dataclass
class _BoardLog:
    """A board's actions in id (= time) order: ids to bisect, kinds to filter without
    materialising the cards."""

    ids: list[str] = field(default_factory=list)
    kinds: bytearray = field(default_factory=bytearray)


_KINDS: list[tuple[str, str | None]] = []
_KIND_CODES: dict[tuple[str, str | None], int] = {}
_KIND_LOCK = threading.Lock()


def kind_code(action_type: str, sub: str | None) -> int:
    """A small code per (type, sub) pair, shared by every dataset (only a handful exist)."""
    key = (action_type, sub)
    code = _KIND_CODES.get(key)
    if code is None:
        with _KIND_LOCK:
            code = _KIND_CODES.get(key)
            if code is None:
                if len(_KINDS) >= 255:
                    raise ValueError("too many action kinds")
                code = len(_KINDS)
                _KINDS.append(key)
                _KIND_CODES[key] = code
    return code


def kind_of(code: int) -> tuple[str, str | None]:
    return _KINDS[code]


def kinds_matching(types: frozenset[str], pairs: frozenset[tuple[str, str]]) -> frozenset[int]:
    """The kind codes a filter selects: every kind of a type in `types`, plus exact
    (type, sub) pairs ("updateCard:idList")."""
    with _KIND_LOCK:
        known = list(enumerate(_KINDS))
    return frozenset(c for c, (t, sub) in known if t in types or (sub and (t, sub) in pairs))


# -- the dataset ---------------------------------------------------------------------------------


class TrelloDataset:
    """A generated Trello workspace. Thread-safe: the server reads while tests mutate."""

    def __init__(
        self,
        *,
        seed: object,
        cards_per_board: int,
        now: datetime,
        board_names: tuple[str, ...],
        portfolio: bool = True,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not board_names:
            raise ValueError("at least one board")
        self.seed = seed
        self.cards_per_board = cards_per_board
        self.generated_at = now
        self.clock = Clock(now)
        self.lock = threading.RLock()
        self._salt = int(hashlib.sha256(f"{seed}:salt".encode()).hexdigest()[:6], 16)
        self._now_ms = to_ms(now)
        self._window_start = self._now_ms - WINDOW_DAYS * _MS_DAY
        self._entity_counts: dict[int, int] = {}
        self.organization_id = self._entity(_K_ORG, self._window_start - 400 * _MS_DAY)
        self.people = tuple(self._member(name, 300 + k) for k, name in enumerate(_PEOPLE))
        self.bot = self._member("PMO Bot", 200, username="pmobot")
        self._replaying = False
        self.sprints = self._sprint_calendar()
        per_team = max(1, len(self.people) // len(board_names))
        self._with_portfolio = portfolio
        self._releases: dict[str, tuple[PlannedRelease, ...]] = {}
        self.boards = tuple(self._board(b, name, per_team) for b, name in enumerate(board_names))
        self._boards_by_id = {b.id: b for b in self.boards}
        self._members_by_id = {m.id: m for m in (*self.people, self.bot)}
        self._generated = cards_per_board * len(self.boards)
        self._heads()
        self.portfolio = portfolio
        self._role = array("b", bytes(self._generated))
        self._parent = array("l", [0]) * self._generated
        self._children: dict[int, list[int]] = {}
        self._theme: dict[int, str] = {}
        self._due_plan: dict[int, int] = {}
        self._waiting: dict[int, bool] = {}  # card → whether its blocker is still open at the end
        self._blockers: dict[int, int] = {}  # card → the card it waits on, once simulated
        if portfolio:
            self._plan_portfolio()
        self._cache: OrderedDict[int, Card] = OrderedDict()
        self._overlay: dict[int, Card] = {}
        self._next_n = self._generated + 1
        self._indexed = False
        self._logs: dict[str, _BoardLog] = {}
        self._card_board = array("h")  # n - 1 → board index, -1 once deleted
        self._short_links: dict[str, int] = {}
        self._last_write_ms = 0

    @classmethod
    def generate(
        cls,
        seed: object = 7,
        cards_per_board: int = 150,
        now: datetime = DEFAULT_NOW,
        boards: tuple[str, ...] = BOARD_NAMES,
        portfolio: bool = True,
    ) -> TrelloDataset:
        """The same arguments give the same workspace. Cards are simulated lazily.
        `portfolio=False` leaves out the requests, themes, dependencies and releases (every
        card is plain work, as before they were generated)."""
        return cls(
            seed=seed,
            cards_per_board=cards_per_board,
            now=now,
            board_names=tuple(boards),
            portfolio=portfolio,
        )

    # -- construction ------------------------------------------------------------------------

    def _entity(self, kind: int, ms: int) -> str:
        k = self._entity_counts.get(kind, 0)
        self._entity_counts[kind] = k + 1
        return object_id(ms, _ENTITY + kind, k, self._salt)

    def _member(self, full_name: str, days_ago: int, username: str | None = None) -> Member:
        parts = full_name.split()
        handle = username or "".join(p.lower() for p in parts)
        avatar = hashlib.md5(f"{self.seed}:{handle}".encode(), usedforsecurity=False).hexdigest()
        return Member(
            id=self._entity(_K_MEMBER, self._window_start - days_ago * _MS_DAY),
            username=handle,
            full_name=full_name,
            initials="".join(p[0] for p in parts).upper(),
            avatar_hash=avatar if username is None else None,
        )

    def _sprint_calendar(self) -> tuple[Sprint, ...]:
        day = self._now_ms - self._now_ms % _MS_DAY
        current_start = day - 4 * _MS_DAY
        sprints = []
        for i in range(-PAST_SPRINTS, FUTURE_SPRINTS + 1):
            start = current_start + i * SPRINT_DAYS * _MS_DAY
            number = CURRENT_SPRINT_NUMBER + i
            sprints.append(Sprint(number, f"Sprint {number}", start, start + SPRINT_DAYS * _MS_DAY))
        return tuple(sprints)

    def _board(self, index: int, name: str, per_team: int) -> Board:
        ms = self._window_start - (40 - index) * _MS_DAY
        board_id = self._entity(_K_BOARD, ms)
        names = (BACKLOG, TODO, DOING, VENDOR_LIST, REVIEW, DONE, ARCHIVED_LIST)
        lists = [
            TrelloList(
                self._entity(_K_LIST, ms + (k + 1) * _MS_SECOND),
                list_name,
                board_id,
                float(16384 * (k + 1)),
                closed=list_name == ARCHIVED_LIST,
            )
            for k, list_name in enumerate(names)
        ]
        labels = [
            Label(self._entity(_K_LABEL, ms + (k + 20) * _MS_SECOND), board_id, text, color)
            for k, (color, text) in enumerate(_LABELS)
        ]
        releases: tuple[PlannedRelease, ...] = ()
        if self._with_portfolio:
            extra: list[tuple[str | None, str]] = [(None, EPIC_LABEL), (None, INITIATIVE_LABEL)]
            extra += [(_THEME_COLORS[t], t) for t in THEMES]
            releases = self._release_calendar(index, board_id, name)
            extra += [("pink", r.label) for r in releases]
            at = ms + (len(labels) + 20) * _MS_SECOND
            labels += [
                Label(self._entity(_K_LABEL, at + k * _MS_SECOND), board_id, text, color)
                for k, (color, text) in enumerate(extra)
            ]
        self._releases[board_id] = releases
        fields_ms = ms + _MS_DAY
        points = CustomField(
            id=self._entity(_K_FIELD, fields_ms),
            board_id=board_id,
            name=FIELD_POINTS,
            type="number",
            pos=16384.0,
            field_group=self._field_group(board_id, FIELD_POINTS),
        )
        sprint_id = self._entity(_K_FIELD, fields_ms + _MS_SECOND)
        colors = ("none", "green", "yellow", "orange", "red", "purple", "blue", "sky")
        options = tuple(
            Option(
                self._entity(_K_OPTION, fields_ms + (k + 2) * _MS_SECOND),
                sprint_id,
                s.name,
                colors[k % len(colors)],
                float(16384 * (k + 1)),
            )
            for k, s in enumerate(self.sprints)
        )
        sprint = CustomField(
            id=sprint_id,
            board_id=board_id,
            name=FIELD_SPRINT,
            type="list",
            pos=32768.0,
            field_group=self._field_group(board_id, FIELD_SPRINT),
            options=options,
        )
        start = (index * per_team) % len(self.people)
        team = tuple(self.people[(start + k) % len(self.people)] for k in range(per_team))
        return Board(
            id=board_id,
            name=name,
            short_link=_short_link(self.seed, "board", index),
            index=index,
            created_ms=ms,
            lists=lists,
            labels=labels,
            custom_fields=[points, sprint],
            members=[*team, self.bot],
            team=team,
        )

    def _field_group(self, board_id: str, name: str) -> str:
        return hashlib.sha256(f"{self.seed}:{board_id}:{name}".encode()).hexdigest()

    def _heads(self) -> None:
        """Per card number: home board, creation time (rising with the number), idShort and
        the card it copies (0: none). Cheap enough for 100k cards; everything else is lazy."""
        count = self._generated
        self._head_board = array("h")
        self._head_created = array("q")
        self._head_short = array("l")
        self._head_copy = array("l")
        shorts = [0] * len(self.boards)
        by_board: list[list[int]] = [[] for _ in self.boards]
        start = self._window_start + 2 * _MS_HOUR
        span = self._now_ms - 2 * _MS_DAY - start
        for n in range(1, count + 1):
            rng = random.Random(f"{self.seed}:head:{n}")
            b = 0 if n == HEAVY_CARD else rng.randrange(len(self.boards))
            created = start + int((n - 1 + rng.random()) * span / count)
            source = 0
            earlier = by_board[b]
            if n != HEAVY_CARD and len(earlier) > 5 and rng.random() < _COPY_SHARE:
                source = rng.choice(earlier)
            shorts[b] += 1
            earlier.append(n)
            self._head_board.append(b)
            self._head_created.append(created)
            self._head_short.append(shorts[b])
            self._head_copy.append(source)
        self._next_short = shorts

    def _head_ref(self, n: int) -> dict[str, Any]:
        """A generated card's reference as it was when made (a copy's data.cardSource)."""
        return {
            "id": object_id(self._head_created[n - 1], n, 0, self._salt),
            "name": self._card_name(n),
            "idShort": self._head_short[n - 1],
            "shortLink": _short_link(self.seed, "card", n),
        }

    def _release_calendar(self, index: int, board_id: str, name: str) -> tuple[PlannedRelease, ...]:
        """A release every two to four weeks from the window's third week on, up to the
        first one planned after now; about one in three shipped a few days late."""
        rng = random.Random(f"{self.seed}:releases:{index}")
        tail = name.split()[-1] if name.split() else f"Board{index}"
        day0 = self._window_start - self._window_start % _MS_DAY
        planned = day0 + rng.randint(12, 24) * _MS_DAY + 15 * _MS_HOUR
        found: list[PlannedRelease] = []
        while True:
            late = 0 if rng.random() < 0.67 else rng.randint(1, 6) * _MS_DAY
            released = planned + late if planned + late <= self._now_ms - _MS_HOUR else None
            found.append(PlannedRelease(f"{tail} 1.{len(found)}", board_id, planned, released))
            if planned > self._now_ms:
                return tuple(found)
            planned += rng.randint(14, 28) * _MS_DAY

    def _plan_portfolio(self) -> None:
        """Who is what, decided from the head table alone (no card is simulated): per board,
        in creation order, the team keeps `_QUEUE_AHEAD` requests planned beyond the one it
        fills; new cards are children of the request being filled (some of the next one's:
        worked out of rank; some of one already under way: scope growth) or unplanned work.
        Now and then a new request comes with an initiative above it. The dates each request
        is done by are its children's, found when it is simulated (`_Portfolio`)."""
        sources = set(self._head_copy) - {0}
        span_days = max(1.0, (self._now_ms - self._window_start) / _MS_DAY - 2)
        by_board: list[list[int]] = [[] for _ in self.boards]
        for n, b in enumerate(self._head_board, start=1):
            by_board[b].append(n)
        for b, numbers in enumerate(by_board):
            rng = random.Random(f"{self.seed}:portfolio:{b}")
            rate = max(0.05, len(numbers) / span_days * (1 - _UNPLANNED_SHARE - 0.14))
            queue: list[list[int]] = []  # [request, planned children, assigned], in rank order
            filled: deque[tuple[int, int]] = deque()  # (request, when its planned scope was full)
            initiative: list[int] | None = None  # [number, epics wanted, epics so far]
            waiting: list[int] = []
            bag: list[str] = []
            for n in numbers:
                if n == HEAVY_CARD:
                    continue
                created = self._head_created[n - 1]
                if self._head_copy[n - 1] == 0 and n not in sources and len(queue) <= _QUEUE_AHEAD:
                    if initiative is None and rng.random() < 1 / _INITIATIVE_EVERY:
                        initiative = [n, rng.randint(2, 3), 0]
                        self._role[n - 1] = ROLE_INITIATIVE
                        self._theme[n] = self._pick_theme(rng, bag)
                        self._children[n] = []
                        continue
                    self._role[n - 1] = ROLE_REQUEST
                    self._children[n] = []
                    planned = rng.randint(3, 12)
                    ahead = sum(max(0, q[1] - q[2]) for q in queue) + planned
                    days = ahead / rate + rng.uniform(5, 12)
                    due_day = created + int(days * _MS_DAY)
                    self._due_plan[n] = due_day - due_day % _MS_DAY + 17 * _MS_HOUR
                    self._theme[n] = self._pick_theme(rng, bag)
                    if initiative is not None:
                        self._parent[n - 1] = initiative[0]
                        self._children[initiative[0]].append(n)
                        initiative[2] += 1
                        if initiative[2] >= initiative[1]:
                            initiative = None
                    queue.append([n, planned, 0])
                    continue
                roll = rng.random()
                while filled and created - filled[0][1] >= 14 * _MS_DAY:
                    filled.popleft()
                target = 0
                if roll < _UNPLANNED_SHARE:
                    pass
                elif roll < _UNPLANNED_SHARE + _GROWTH_SHARE and filled:
                    target = rng.choice(filled)[0]
                elif queue:
                    entry = queue[1] if len(queue) > 1 and rng.random() < _AHEAD_SHARE else queue[0]
                    target = entry[0]
                    entry[2] += 1
                    if entry[2] >= entry[1]:
                        queue.remove(entry)
                        filled.append((target, created))
                if target:
                    self._role[n - 1] = ROLE_CHILD
                    self._parent[n - 1] = target
                    self._children[target].append(n)
                if (
                    len(self.boards) > 1
                    and created - self._window_start > 20 * _MS_DAY
                    and rng.random() < _DEPENDENCY_SHARE
                ):
                    waiting.append(n)
            for n in waiting:  # the last month's wait on cards still open at the end
                self._waiting[n] = self._now_ms - self._head_created[n - 1] < 30 * _MS_DAY

    @staticmethod
    def _pick_theme(rng: random.Random, bag: list[str]) -> str:
        """The next theme from the board's bag ("" for none), refilled and shuffled when
        empty: the mix holds over every 20 requests, not only on average."""
        if not bag:
            bag.extend(t for t, k in zip((*THEMES, ""), _THEME_BAG, strict=True) for _ in range(k))
            rng.shuffle(bag)
        return bag.pop()

    def _card_name(self, n: int) -> str:
        if self._role[n - 1] in (ROLE_REQUEST, ROLE_INITIATIVE):
            rng = random.Random(f"{self.seed}:name:{n}")
            if self._role[n - 1] == ROLE_INITIATIVE:
                return rng.choice(_INITIATIVE_NAMES)
            return rng.choice(_EPIC_NAMES[self._theme[n]])
        while self._head_copy[n - 1]:
            n = self._head_copy[n - 1]  # a copy starts with its source's name
        rng = random.Random(f"{self.seed}:name:{n}")
        return f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)}"

    # -- the generated portfolio's ground truth ----------------------------------------------

    @property
    def releases(self) -> tuple[PlannedRelease, ...]:
        """Every board's releases, board by board, in date order."""
        return tuple(r for b in self.boards for r in self._releases[b.id])

    def role(self, n: int) -> int:
        """Card `n`'s part in the portfolio: ROLE_PLAIN (no request above it: unplanned
        work, or every card of a dataset without the portfolio), ROLE_REQUEST (an epic),
        ROLE_CHILD (work under a request) or ROLE_INITIATIVE."""
        return self._role[n - 1] if 1 <= n <= self._generated else ROLE_PLAIN

    def parent_number(self, n: int) -> int | None:
        """The generated card `n` was made under (its request; a request's initiative)."""
        found = self._parent[n - 1] if 1 <= n <= self._generated else 0
        return found or None

    def children_numbers(self, n: int) -> tuple[int, ...]:
        """The generated cards made under request (or initiative) `n`, in creation order."""
        return tuple(self._children.get(n, ()))

    def request_numbers(self, *, initiatives: bool = False) -> tuple[int, ...]:
        """Every generated request (with `initiatives`, the initiatives too), by number."""
        roles = {ROLE_REQUEST, ROLE_INITIATIVE} if initiatives else {ROLE_REQUEST}
        return tuple(n for n in range(1, self._generated + 1) if self._role[n - 1] in roles)

    def theme_of(self, n: int) -> str | None:
        """A generated request's or initiative's theme label (None: it has none)."""
        return self._theme.get(n) or None

    def dependencies(self) -> list[tuple[int, int]]:
        """(waiting card, blocker card) for every generated "Depends on" link, by number."""
        return [(n, self._blocker_of(n)) for n in sorted(self._waiting) if self._blocker_of(n)]

    def started_ms(self, card: Card) -> int | None:
        """When a card's work started (first move past "To Do"), None if it did not."""
        return _started_ms(self, card)

    def finished_ms(self, card: Card) -> int | None:
        """When a card was first moved to "Done" (or deleted, when never done); None while
        neither happened."""
        return _finished_ms(self, card)

    # -- look-ups ------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return to_ms(self.clock.now)

    def board(self, ref: str | Board) -> Board:
        """By id, name or shortLink; TrelloError 404 when none."""
        if isinstance(ref, Board):
            return ref
        found = self._boards_by_id.get(ref.lower()) or next(
            (b for b in self.boards if ref in (b.name, b.short_link)), None
        )
        if found is None:
            raise TrelloError(404, NOT_FOUND)
        return found

    def member(self, ref: Member | str | None) -> Member:
        """By id or username (None: the bot, the default token's member)."""
        if ref is None:
            return self.bot
        if isinstance(ref, Member):
            return ref
        found = self._members_by_id.get(ref.lower()) or next(
            (m for m in self._members_by_id.values() if m.username == ref), None
        )
        if found is None:
            raise TrelloError(404, "model not found")
        return found

    @property
    def members(self) -> tuple[Member, ...]:
        return (*self.people, self.bot)

    def trello_list(self, list_id: str) -> TrelloList | None:
        return next((x for b in self.boards for x in b.lists if x.id == list_id), None)

    def custom_field(self, field_id: str) -> CustomField | None:
        return next((f for b in self.boards for f in b.custom_fields if f.id == field_id), None)

    def sprint_named(self, name: str | None) -> Sprint | None:
        return next((s for s in self.sprints if s.name == name), None)

    def sprint_at(self, when: datetime | int) -> Sprint | None:
        ms = when if isinstance(when, int) else to_ms(when)
        return next((s for s in self.sprints if s.start_ms <= ms < s.end_ms), None)

    def card_count(self) -> int:
        """Cards ever made (generated and created; deleted ones included)."""
        with self.lock:
            return self._next_n - 1

    def card_at(self, n: int) -> Card | None:
        """Card number `n` (1-based, in creation order; deleted ones too), or None."""
        with self.lock:
            return self._card(n)

    def find_card(self, ref: str) -> Card | None:
        """By id or shortLink, deleted ones too (check `.deleted`); None when unknown."""
        with self.lock:
            n = self._card_number(ref)
            return self._card(n) if n else None

    def card(self, ref: str) -> Card:
        found = self.find_card(ref)
        if found is None:
            raise KeyError(ref)
        return found

    @property
    def heavy_card(self) -> Card:
        """The card with over 1,000 actions."""
        with self.lock:
            card = self._card(HEAVY_CARD)
            assert card is not None
            return card

    def cards(
        self, board: str | Board | None = None, *, include_deleted: bool = False
    ) -> Iterator[Card]:
        """Cards by number, materialised one at a time (on `board` now, when given)."""
        self._ensure_index()
        wanted = None if board is None else self.board(board).index
        for n in range(1, self.card_count() + 1):
            with self.lock:
                at = self._card_board[n - 1]
                if (at < 0 and not include_deleted) or (wanted is not None and at != wanted):
                    continue
                card = self._card(n)
            if card is not None:
                yield card

    def find_action(self, action_id: str) -> Action | None:
        """An action by id (a deleted comment too: check `.deleted`), from the id alone."""
        if not is_object_id(action_id):
            return None
        action_id = action_id.lower()
        n = int(action_id[12:18], 16) ^ self._salt
        seq = int(action_id[18:24], 16)
        if n >= _ENTITY or not 1 <= seq < _ITEM_SEQ:
            return None
        with self.lock:
            card = self._card(n)
            if card is None or seq > len(card.actions):
                return None
            action = card.actions[seq - 1]
            return action if action.id == action_id else None

    def action_card(self, action: Action) -> Card:
        with self.lock:
            card = self._card(int(action.id[12:18], 16) ^ self._salt)
            assert card is not None
            return card

    def board_actions(
        self,
        board: str | Board,
        *,
        before: str | None = None,
        since: str | None = None,
        kinds: frozenset[int] | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> list[Action]:
        """Newest first: the board's actions with since < id < before (ids, or boundaries
        from `boundary_id`), of the given kind codes (None: all), after skipping `skip`."""
        the_board = self.board(board)
        self._ensure_index()
        with self.lock:
            log = self._logs[the_board.id]
            hi = bisect.bisect_left(log.ids, before.lower()) if before else len(log.ids)
            lo = bisect.bisect_right(log.ids, since.lower()) if since else 0
            picked: list[str] = []
            for i in range(hi - 1, lo - 1, -1):
                if len(picked) >= skip + limit:
                    break
                if kinds is None or log.kinds[i] in kinds:
                    picked.append(log.ids[i])
            found = (self.find_action(i) for i in picked[skip:])
            return [a for a in found if a is not None]

    def board_last_activity_ms(self, board: str | Board) -> int:
        the_board = self.board(board)
        self._ensure_index()
        with self.lock:
            ids = self._logs[the_board.id].ids
            return id_ms(ids[-1]) if ids else the_board.created_ms

    # -- mutations -----------------------------------------------------------------------------

    def create_card(
        self,
        board: str | Board,
        list_ref: str,
        name: str,
        *,
        by: Member | str | None = None,
        desc: str = "",
    ) -> Card:
        """A new card at the bottom of a list: one createCard action."""
        with self.lock:
            self._ensure_index()
            the_board = self.board(board)
            target = self._open_list(the_board, list_ref)
            author = self.member(by)
            card = self._new_runtime_card(the_board, target, name)
            card.desc = desc
            self._do_create(card, target, card.created_ms, author)
            return card

    def copy_card(
        self,
        source_ref: str,
        list_ref: str,
        *,
        board: str | Board | None = None,
        name: str | None = None,
        by: Member | str | None = None,
    ) -> Card:
        """A copy (copyCard with data.cardSource); labels come along, custom fields do not."""
        with self.lock:
            self._ensure_index()
            source = self._live(source_ref)
            the_board = self.board(board) if board is not None else self.board(source.board_id)
            target = self._open_list(the_board, list_ref)
            card = self._new_runtime_card(the_board, target, name or source.name)
            card.desc = source.desc
            kept = self.board(source.board_id).labels
            labels = {(x.name, x.color) for x in kept if x.id in source.label_ids}
            card.label_ids = [x.id for x in the_board.labels if (x.name, x.color) in labels]
            card.source_id = source.id
            self._do_copy(card, _card_ref(source), target, card.created_ms, self.member(by))
            return card

    def move_card(
        self,
        card_ref: str,
        list_ref: str,
        *,
        board: str | Board | None = None,
        by: Member | str | None = None,
    ) -> Card:
        """To another list (updateCard with listBefore/listAfter and old.idList) or, with
        `board`, to a list of another board (moveCardFromBoard + moveCardToBoard)."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            author = self.member(by)
            the_board = self.board(board) if board is not None else self.board(card.board_id)
            target = self._open_list(the_board, list_ref)
            if the_board.id != card.board_id:
                self._do_move_board(card, the_board, target, self._write_ms(card), author)
            elif target.id != card.list_id:
                self._do_move(card, target, self._write_ms(card), author)
            return card

    def set_position(
        self, card_ref: str, pos: float | str, *, by: Member | str | None = None
    ) -> Action | None:
        """Place a card within its list, as dragging it does (`PUT /cards/{id}?pos=`): `pos`
        a positive number, "top" (half the lowest position of the list's other cards, as
        Trello places a card above the first) or "bottom" (65536 below the last). One
        updateCard whose `old` holds the previous `pos` and whose `card` the new one (the
        action Trello logs for a card moved within its list); None when the card stays."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            if pos in ("top", "bottom"):
                others = [
                    c.pos
                    for c in self.cards(card.board_id)
                    if c.list_id == card.list_id and c.id != card.id and not c.closed
                ]
                if not others:
                    return None
                at = min(others) / 2 if pos == "top" else max(others) + 65536
            else:
                try:
                    at = float(pos)
                except (TypeError, ValueError):
                    raise TrelloError(400, "invalid value for pos") from None
                if not math.isfinite(at) or at <= 0:
                    raise TrelloError(400, "invalid value for pos")
            if at == card.pos:
                return None
            old = card.pos
            card.pos = at
            data = self._refs(card, pos=at)
            data["old"] = {"pos": old}
            return self._append(card, "updateCard", self._write_ms(card), self.member(by), data)

    def archive_card(self, card_ref: str, *, by: Member | str | None = None) -> Card:
        return self.set_closed(card_ref, True, by=by)

    def unarchive_card(self, card_ref: str, *, by: Member | str | None = None) -> Card:
        return self.set_closed(card_ref, False, by=by)

    def set_closed(self, card_ref: str, closed: bool, *, by: Member | str | None = None) -> Card:
        """Archive or unarchive: updateCard with data.old.closed (nothing when unchanged)."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            if card.closed != closed:
                self._do_close(card, closed, self._write_ms(card), self.member(by))
            return card

    def rename_card(self, card_ref: str, name: str, *, by: Member | str | None = None) -> Card:
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            if name and name != card.name:
                self._do_rename(card, name, self._write_ms(card), self.member(by))
            return card

    def delete_card(self, card_ref: str, *, by: Member | str | None = None) -> Card:
        """Gone for good (404 from then on); its actions stay in the boards' logs, with a
        final deleteCard."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            self._do_delete(card, self._write_ms(card), self.member(by))
            return card

    def add_member(
        self, card_ref: str, member: Member | str, *, by: Member | str | None = None
    ) -> Action | None:
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            who = self.member(member)
            if who.id in card.member_ids:
                return None
            return self._do_add_member(card, who, self._write_ms(card), self.member(by))

    def remove_member(
        self, card_ref: str, member: Member | str, *, by: Member | str | None = None
    ) -> Action | None:
        """Take a member off a card: one removeMemberFromCard, None if not on it."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            who = self.member(member)
            if who.id not in card.member_ids:
                return None
            card.member_ids.remove(who.id)
            data = {
                "card": _card_ref(card),
                "board": _board_ref(self._boards_by_id[card.board_id]),
                "idMember": who.id,
                "member": {"id": who.id, "name": who.full_name},
            }
            ms = self._write_ms(card)
            return self._append(card, "removeMemberFromCard", ms, self.member(by), data, member=who)

    def create_label(self, board: str | Board, name: str, color: str | None = None) -> Label:
        """A new board label (no action: labels are board settings here)."""
        with self.lock:
            the_board = self.board(board)
            label = Label(self._entity(_K_LABEL, self.now_ms), the_board.id, name, color)
            the_board.labels.append(label)
            return label

    def add_label(
        self, card_ref: str, label_ref: str, *, by: Member | str | None = None
    ) -> Action | None:
        """Put a board label (by id or name) on a card: one addLabelToCard, None if on it."""
        return self._set_label(card_ref, label_ref, True, by)

    def remove_label(
        self, card_ref: str, label_ref: str, *, by: Member | str | None = None
    ) -> Action | None:
        """Take a label off a card: one removeLabelFromCard, None if it was not on it."""
        return self._set_label(card_ref, label_ref, False, by)

    def _set_label(
        self, card_ref: str, label_ref: str, on: bool, by: Member | str | None
    ) -> Action | None:
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            board = self._boards_by_id[card.board_id]
            label = next((x for x in board.labels if label_ref in (x.id, x.name)), None)
            if label is None:
                raise TrelloError(400, "invalid value for idLabel")
            if (label.id in card.label_ids) == on:
                return None
            return self._do_label(card, label, on, self._write_ms(card), self.member(by))

    def attach_card(
        self,
        card_ref: str,
        target_ref: str,
        *,
        by: Member | str | None = None,
        name: str | None = None,
    ) -> Action:
        """Attach another card's link to a card (Trello shows it as a card link): one
        addAttachmentToCard action. The attachment is named by its URL, as Trello names a
        link attached without a name, or by `name` ("Depends on: ...")."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            target = self._live(target_ref)
            ms = self._write_ms(card)
            url = f"https://trello.com/c/{target.short_link}"
            attachment = {
                "id": self._entity(_K_ATTACH, ms),
                "name": name or url,
                "url": url,
                "date": format_date(ms),
                "idMember": self.member(by).id,
            }
            card.attachments.append(attachment)
            data = {
                "card": _card_ref(card),
                "board": _board_ref(self._boards_by_id[card.board_id]),
                "attachment": {k: attachment[k] for k in ("id", "name", "url")},
            }
            return self._append(card, "addAttachmentToCard", ms, self.member(by), data)

    def set_dates(
        self,
        card_ref: str,
        *,
        start: object = _KEEP,
        due: object = _KEEP,
        by: Member | str | None = None,
    ) -> Action | None:
        """Set a card's start and/or due date (None clears it) as Trello does: one
        updateCard whose `old` holds each date that changed and whose `card` the new value;
        None when neither changes. A card never given one has neither (the generated
        dataset sets only its requests' due dates)."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            new: dict[str, str | None] = {}
            for key, value in (("start", start), ("due", due)):
                if value is _KEEP:
                    continue
                if value is not None and not isinstance(value, datetime):
                    raise TypeError(f"{key}: a datetime or None, not {value!r}")
                text = None if value is None else format_date(to_ms(value))
                if text != getattr(card, key):
                    new[key] = text
            if not new:
                return None
            return self._do_dates(card, new, self._write_ms(card), self.member(by))

    def add_checklist(
        self,
        card_ref: str,
        name: str,
        items: tuple[str | tuple[str, bool], ...] | list[str | tuple[str, bool]] = (),
        *,
        by: Member | str | None = None,
    ) -> Checklist:
        """A checklist at the bottom of the card, with its items (a name, or (name, checked)):
        one addChecklistToCard, then one createCheckItem per item."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            if not name:
                raise TrelloError(400, "invalid value for name")
            author = self.member(by)
            wanted = [(i, False) if isinstance(i, str) else (i[0], bool(i[1])) for i in items]
            checklist = self._do_add_checklist(card, name, self._write_ms(card), author)
            for text, checked in wanted:
                self._do_add_check_item(
                    card, checklist, text, checked, self._write_ms(card), author
                )
            return copy.deepcopy(checklist)

    def set_check_item(
        self, card_ref: str, item_ref: str, complete: bool, *, by: Member | str | None = None
    ) -> Action | None:
        """Check or uncheck an item (by id or name): one updateCheckItemStateOnCard, None when
        it already is."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            found = next(
                (
                    (checklist, item)
                    for checklist in card.checklists
                    for item in checklist.items
                    if item_ref in (item.id, item.name)
                ),
                None,
            )
            if found is None:
                raise TrelloError(404, NOT_FOUND)
            checklist, item = found
            if item.complete == complete:
                return None
            return self._do_check(card, checklist, item, complete, self._write_ms(card), by)

    def remove_checklist(
        self, card_ref: str, checklist_ref: str, *, by: Member | str | None = None
    ) -> Action:
        """Delete a checklist (by id or name) from a card: one removeChecklistFromCard."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            checklist = next((c for c in card.checklists if checklist_ref in (c.id, c.name)), None)
            if checklist is None:
                raise TrelloError(404, NOT_FOUND)
            card.checklists.remove(checklist)
            data = {
                "card": _card_ref(card),
                "board": _board_ref(self._boards_by_id[card.board_id]),
                "checklist": {"id": checklist.id, "name": checklist.name},
            }
            ms = self._write_ms(card)
            return self._append(card, "removeChecklistFromCard", ms, self.member(by), data)

    def set_custom_field(
        self,
        card_ref: str,
        field_ref: str,
        value: Any,
        *,
        by: Member | str | None = None,
    ) -> Action | None:
        """Set or clear (None, "") a custom field: one updateCustomFieldItem action, None when
        the value does not change. Numbers take int/float/numeric str; lists an option's id
        or text; dates a datetime or ISO string; checkboxes a bool (False clears)."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            the_field = self.board(card.board_id).field_named(field_ref)
            if the_field is None:
                raise TrelloError(404, NOT_FOUND)
            new = self._item_value(the_field, value)
            if new == self._current_item(card, the_field):
                return None
            return self._do_set_field(card, the_field, new, self._write_ms(card), self.member(by))

    def set_custom_fields(
        self,
        card_ref: str,
        values: list[tuple[str, Any]],
        *,
        by: Member | str | None = None,
    ) -> list[Action]:
        """Several `set_custom_field`s at once, all or nothing: every (field, value) is
        checked before any is set (TrelloError 404 for a field not on the card's board,
        400 for a bad value); then one updateCustomFieldItem per value that changes."""
        with self.lock:
            self._ensure_index()
            card = self._editable(card_ref)
            board = self.board(card.board_id)
            checked: list[tuple[CustomField, Any]] = []
            for field_ref, value in values:
                the_field = board.field_named(field_ref)
                if the_field is None:
                    raise TrelloError(404, NOT_FOUND)
                checked.append((the_field, self._item_value(the_field, value)))
            author = self.member(by)
            done = []
            for the_field, new in checked:
                if new == self._current_item(card, the_field):
                    continue
                ms = self._write_ms(card)
                done.append(self._do_set_field(card, the_field, new, ms, author))
            return done

    def add_comment(self, card_ref: str, text: str, *, by: Member | str | None = None) -> Action:
        """A commentCard action authored by `by` (the bot by default)."""
        with self.lock:
            self._ensure_index()
            if not text:
                raise TrelloError(400, "invalid value for text")
            card = self._editable(card_ref)
            return self._do_comment(card, text, self._write_ms(card), self.member(by))

    def edit_comment(self, action_id: str, text: str, *, by: Member | str | None = None) -> Action:
        """Only the author may edit: the action's data.text changes, data.dateLastEdited
        appears; no new action."""
        with self.lock:
            self._ensure_index()
            if not text:
                raise TrelloError(400, "invalid value for text")
            action = self._own_comment(action_id, self.member(by))
            action.data["text"] = text
            action.data["dateLastEdited"] = format_date(max(self.now_ms, action.ms + 1))
            return action

    def delete_comment(self, action_id: str, *, by: Member | str | None = None) -> None:
        """Only the author may delete: the action leaves the card's and the board's history."""
        with self.lock:
            self._ensure_index()
            action = self._own_comment(action_id, self.member(by))
            action.deleted = True
            log = self._logs[action.board_id]
            i = bisect.bisect_left(log.ids, action.id)
            if i < len(log.ids) and log.ids[i] == action.id:
                del log.ids[i]
                del log.kinds[i]

    def create_custom_field(
        self,
        board: str | Board,
        name: str,
        field_type: str,
        *,
        options: tuple[str, ...] = (),
        pos: float | str | None = None,
    ) -> CustomField:
        """A new custom field definition on a board (list fields take option texts)."""
        with self.lock:
            the_board = self.board(board)
            if field_type not in FIELD_TYPES:
                raise TrelloError(400, "invalid value for type")
            if not name:
                raise TrelloError(400, "invalid value for name")
            ms = max(self.now_ms, the_board.created_ms)
            field_id = self._entity(_K_FIELD, ms)
            positions = [f.pos for f in the_board.custom_fields]
            if pos in (None, "bottom"):
                at = max(positions, default=0.0) + 16384
            elif pos == "top":
                at = min(positions, default=32768.0) / 2
            else:
                try:
                    at = float(pos)
                except (TypeError, ValueError):
                    raise TrelloError(400, "invalid value for pos") from None
            opts = tuple(
                Option(self._entity(_K_OPTION, ms), field_id, text, "none", float(16384 * (k + 1)))
                for k, text in enumerate(options if field_type == "list" else ())
            )
            created = CustomField(
                id=field_id,
                board_id=the_board.id,
                name=name,
                type=field_type,
                pos=at,
                field_group=self._field_group(the_board.id, f"{name}:{field_id}"),
                options=opts,
            )
            the_board.custom_fields.append(created)
            return created

    # -- internals: lookups ---------------------------------------------------------------------

    def _card_number(self, ref: str) -> int | None:
        if is_object_id(ref):
            ref = ref.lower()
            n = int(ref[12:18], 16) ^ self._salt
            if n >= _ENTITY or int(ref[18:24], 16) != 0:
                return None
            card = self._card(n)
            return n if card is not None and card.id == ref else None
        self._ensure_index()
        return self._short_links.get(ref)

    def _card(self, n: int) -> Card | None:
        if n in self._overlay:
            return self._overlay[n]
        if not 1 <= n <= self._generated:
            return None
        cached = self._cache.get(n)
        if cached is not None:
            self._cache.move_to_end(n)
            return cached
        card = self._simulate(n)
        self._cache[n] = card
        if len(self._cache) > _LRU_SIZE:
            self._cache.popitem(last=False)
        return card

    def _live(self, ref: str) -> Card:
        card = self.find_card(ref)
        if card is None or card.deleted:
            raise TrelloError(404, NOT_FOUND)
        return card

    def _editable(self, ref: str) -> Card:
        card = self._live(ref)
        if card.n not in self._overlay:
            card = copy.deepcopy(card)
            self._overlay[card.n] = card
            self._cache.pop(card.n, None)
        return card

    def _open_list(self, board: Board, ref: str) -> TrelloList:
        found = board.list_named(ref)
        if found is None:
            raise TrelloError(400, "invalid value for idList")
        return found

    def _write_ms(self, card: Card | None = None) -> int:
        """When a write happens: the clock's now, but always after the card's last action
        and after the previous write, so writes are ordered as they were made even when
        the clock does not move between them."""
        ms = max(self.now_ms, self._last_write_ms + 1, card.last_ms + 1 if card else 0)
        self._last_write_ms = ms
        return ms

    def _own_comment(self, action_id: str, by: Member) -> Action:
        action = self.find_action(action_id)
        if action is None or action.deleted:
            raise TrelloError(404, NOT_FOUND)
        if action.type != "commentCard":
            raise TrelloError(400, "Action is not a comment")
        card = self.action_card(action)
        if card.deleted:
            raise TrelloError(404, NOT_FOUND)
        if action.creator.id != by.id:
            raise TrelloError(401, "unauthorized comment permission requested")
        editable = self._editable(card.id)
        return editable.actions[int(action.id[18:24], 16) - 1]

    def _new_runtime_card(self, board: Board, target: TrelloList, name: str) -> Card:
        if not name:
            raise TrelloError(400, "invalid value for name")
        n = self._next_n
        self._next_n += 1
        self._next_short[board.index] += 1
        created = self._write_ms()
        card = Card(
            n=n,
            id=object_id(created, n, 0, self._salt),
            short_link=_short_link(self.seed, "card", n),
            id_short=self._next_short[board.index],
            name=name,
            board_id=board.id,
            list_id=target.id,
            pos=float(65536 + 1024 * n),
            created_ms=created,
            last_ms=created - 1,
        )
        self._overlay[n] = card
        self._card_board.append(board.index)
        self._short_links[card.short_link] = n
        return card

    # -- internals: the operations every write (generated or not) goes through ------------------

    def _append(
        self,
        card: Card,
        action_type: str,
        ms: int,
        by: Member,
        data: dict[str, Any],
        *,
        board: Board | None = None,
        member: Member | None = None,
    ) -> Action:
        if ms <= card.last_ms:
            raise ValueError(f"card {card.n}: actions must move forward in time")
        seq = len(card.actions) + 1
        where = board or self._boards_by_id[card.board_id]
        action = Action(
            object_id(ms, card.n, seq, self._salt), action_type, ms, by, where.id, data, member
        )
        card.actions.append(action)
        card.last_ms = ms
        if self._indexed and not self._replaying:  # a replayed card's actions are logged
            log = self._logs[where.id]
            i = bisect.bisect_left(log.ids, action.id)
            log.ids.insert(i, action.id)
            log.kinds.insert(i, kind_code(action.type, action.sub))
        return action

    def _refs(self, card: Card, **extra: Any) -> dict[str, Any]:
        board = self._boards_by_id[card.board_id]
        lst = self._list_of(card)
        return {
            "card": _card_ref(card, **extra),
            "board": _board_ref(board),
            "list": _list_ref(lst),
        }

    def _list_of(self, card: Card) -> TrelloList:
        found = self._boards_by_id[card.board_id].list_named(card.list_id)
        assert found is not None
        return found

    def _do_create(self, card: Card, target: TrelloList, ms: int, by: Member) -> Action:
        action = self._append(card, "createCard", ms, by, self._refs(card))
        card.list_moves.append(ListMove(from_ms(ms), None, target.id, action.id))
        return action

    def _do_copy(
        self, card: Card, source: dict[str, Any], target: TrelloList, ms: int, by: Member
    ) -> Action:
        data = {"cardSource": source, **self._refs(card)}
        action = self._append(card, "copyCard", ms, by, data)
        card.list_moves.append(ListMove(from_ms(ms), None, target.id, action.id))
        return action

    def _do_move(self, card: Card, target: TrelloList, ms: int, by: Member) -> Action:
        before = self._list_of(card)
        card.list_id = target.id
        data = {
            "card": _card_ref(card, idList=target.id),
            "old": {"idList": before.id},
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "listBefore": _list_ref(before),
            "listAfter": _list_ref(target),
        }
        action = self._append(card, "updateCard", ms, by, data)
        card.list_moves.append(ListMove(from_ms(ms), before.id, target.id, action.id))
        return action

    def _do_move_board(
        self, card: Card, board: Board, target: TrelloList, ms: int, by: Member
    ) -> Action:
        """moveCardFromBoard on the old board, then moveCardToBoard on the new one (1 ms
        later). Custom field values and labels follow to fields and labels of the same name
        (and type, and option text); those without a match are dropped."""
        source_board = self._boards_by_id[card.board_id]
        before = self._list_of(card)
        data = {**self._refs(card), "boardTarget": {"id": board.id}}
        self._append(card, "moveCardFromBoard", ms, by, data)
        card.board_id = board.id
        card.list_id = target.id
        labels = {(x.name, x.color) for x in source_board.labels if x.id in card.label_ids}
        card.label_ids = [x.id for x in board.labels if (x.name, x.color) in labels]
        items: dict[str, FieldItem] = {}
        for item in card.items.values():
            old_field = next(f for f in source_board.custom_fields if f.id == item.field_id)
            same = (old_field.name, old_field.type)
            new_field = next((f for f in board.custom_fields if (f.name, f.type) == same), None)
            id_value = None
            if new_field is not None and item.id_value is not None:
                option = old_field.option(item.id_value)
                matched = new_field.option(option.text) if option else None
                id_value = matched.id if matched else None
                if matched is None:
                    new_field = None
            if new_field is None:
                card.field_changes.append(FieldChange(from_ms(ms + 1), old_field.name, None, ""))
                continue
            items[new_field.id] = FieldItem(item.id, new_field.id, item.value, id_value)
        card.items = items
        data = {**self._refs(card), "boardSource": {"id": source_board.id}}
        self._last_write_ms = max(self._last_write_ms, ms + 1)
        action = self._append(card, "moveCardToBoard", ms + 1, by, data, board=board)
        card.list_moves.append(ListMove(from_ms(ms + 1), before.id, target.id, action.id))
        if self._indexed:
            self._card_board[card.n - 1] = board.index
        return action

    def _do_close(self, card: Card, closed: bool, ms: int, by: Member) -> Action:
        card.closed = closed
        data = self._refs(card, closed=closed)
        data["old"] = {"closed": not closed}
        return self._append(card, "updateCard", ms, by, data)

    def _do_rename(self, card: Card, name: str, ms: int, by: Member) -> Action:
        old = card.name
        card.name = name
        data = self._refs(card)
        data["old"] = {"name": old}
        return self._append(card, "updateCard", ms, by, data)

    def _do_comment(self, card: Card, text: str, ms: int, by: Member) -> Action:
        return self._append(card, "commentCard", ms, by, {"text": text, **self._refs(card)})

    def _do_add_member(self, card: Card, who: Member, ms: int, by: Member) -> Action:
        card.member_ids.append(who.id)
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "idMember": who.id,
            "member": {"id": who.id, "name": who.full_name},
        }
        return self._append(card, "addMemberToCard", ms, by, data, member=who)

    def _do_delete(self, card: Card, ms: int, by: Member) -> Action:
        data = {
            "card": {"id": card.id, "idShort": card.id_short},
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "list": _list_ref(self._list_of(card)),
        }
        action = self._append(card, "deleteCard", ms, by, data)
        card.deleted_ms = ms
        if self._indexed:
            self._card_board[card.n - 1] = -1
        return action

    def _do_add_checklist(self, card: Card, name: str, ms: int, by: Member) -> Checklist:
        seq = len(card.actions) + 1
        checklist = Checklist(
            object_id(ms, card.n, _CHECK_SEQ | seq, self._salt),
            name,
            _CHECKLIST_POS * (len(card.checklists) + 1),
        )
        card.checklists.append(checklist)
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "checklist": {"id": checklist.id, "name": name},
        }
        self._append(card, "addChecklistToCard", ms, by, data)
        return checklist

    def _do_add_check_item(
        self, card: Card, checklist: Checklist, name: str, complete: bool, ms: int, by: Member
    ) -> Action:
        if not name:
            raise TrelloError(400, "invalid value for name")
        seq = len(card.actions) + 1
        item = ChecklistItem(
            object_id(ms, card.n, _CHECK_SEQ | seq, self._salt),
            name,
            _CHECKLIST_POS * (len(checklist.items) + 1),
            complete,
        )
        checklist.items.append(item)
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "checklist": {"id": checklist.id, "name": checklist.name},
            "checkItem": _check_item_ref(item),
        }
        return self._append(card, "createCheckItem", ms, by, data)

    def _do_check(
        self,
        card: Card,
        checklist: Checklist,
        item: ChecklistItem,
        complete: bool,
        ms: int,
        by: Member | str | None,
    ) -> Action:
        item.complete = complete
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "checklist": {"id": checklist.id, "name": checklist.name},
            "checkItem": _check_item_ref(item),
        }
        return self._append(card, "updateCheckItemStateOnCard", ms, self.member(by), data)

    def _current_item(self, card: Card, the_field: CustomField) -> Any:
        item = card.items.get(the_field.id)
        if item is None:
            return None
        return item.id_value if the_field.type == "list" else item.value

    def _item_value(self, the_field: CustomField, value: Any) -> Any:
        """The stored form: an option id for lists, {"number": "3"}-style dicts otherwise."""
        bad = TrelloError(400, "Invalid custom field item value.")
        if value is None or value == "":
            return None
        kind = the_field.type
        if kind == "list":
            option = the_field.option(str(value))
            if option is None:
                raise bad
            return option.id
        if kind == "number":
            if isinstance(value, bool):
                raise bad
            integral = isinstance(value, float) and value.is_integer()
            text = str(int(value)) if integral else str(value)
            try:
                finite = math.isfinite(float(text))
            except ValueError:
                raise bad from None
            if not finite:
                raise bad
            return {"number": text}
        if kind == "date":
            try:
                ms = to_ms(value) if isinstance(value, datetime) else parse_date(str(value))
            except ValueError:
                raise bad from None
            return {"date": format_date(ms)}
        if kind == "checkbox":
            if value in (True, "true"):
                return {"checked": "true"}
            if value in (False, "false"):
                return None
            raise bad
        return {"text": str(value)}

    def _plain_value(self, the_field: CustomField, stored: Any) -> Any:
        """The ground truth's form of a stored value."""
        if stored is None:
            return None
        if the_field.type == "list":
            option = the_field.option(stored)
            return option.text if option else None
        if the_field.type == "number":
            return float(stored["number"])
        if the_field.type == "date":
            return from_ms(parse_date(stored["date"]))
        if the_field.type == "checkbox":
            return True
        return stored["text"]

    def _do_set_field(
        self, card: Card, the_field: CustomField, new: Any, ms: int, by: Member
    ) -> Action:
        old_item = card.items.get(the_field.id)
        seq = len(card.actions) + 1
        if old_item is not None:
            item_id = old_item.id  # a changed value keeps its item; a cleared one loses it
        else:
            item_id = object_id(ms, card.n, _ITEM_SEQ | seq, self._salt)
        is_list = the_field.type == "list"
        item: dict[str, Any] = {"id": item_id}
        old: dict[str, Any] = {}
        if is_list:
            item["idValue"] = new
            old["idValue"] = old_item.id_value if old_item else None
        else:
            item["value"] = new
            old["value"] = old_item.value if old_item else None
        item.update({"idCustomField": the_field.id, "idModel": card.id, "modelType": "card"})
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "customField": {"id": the_field.id, "name": the_field.name, "type": the_field.type},
            "customFieldItem": item,
            "old": old,
        }
        if new is None:
            card.items.pop(the_field.id, None)
        elif is_list:
            card.items[the_field.id] = FieldItem(item_id, the_field.id, id_value=new)
        else:
            card.items[the_field.id] = FieldItem(item_id, the_field.id, value=dict(new))
        action = self._append(card, "updateCustomFieldItem", ms, by, data)
        plain = self._plain_value(the_field, new)
        card.field_changes.append(FieldChange(from_ms(ms), the_field.name, plain, action.id))
        return action

    # -- internals: the index and the simulation ------------------------------------------------

    def _ensure_index(self) -> None:
        """Simulate every generated card once: each board's action log in id order, each
        card's current board, the shortLinks."""
        if self._indexed:
            return
        with self.lock:
            if self._indexed:
                return
            entries: dict[str, list[tuple[str, int]]] = {b.id: [] for b in self.boards}
            card_board = array("h")
            for n in range(1, self._next_n):
                card = self._card(n)
                assert card is not None
                for a in card.actions:
                    if not a.deleted:
                        entries[a.board_id].append((a.id, kind_code(a.type, a.sub)))
                card_board.append(-1 if card.deleted else self._boards_by_id[card.board_id].index)
                self._short_links[card.short_link] = n
            for board_id, rows in entries.items():
                rows.sort()
                self._logs[board_id] = _BoardLog(
                    [r[0] for r in rows], bytearray(r[1] for r in rows)
                )
            self._card_board = card_board
            self._indexed = True

    def _simulate(self, n: int) -> Card:
        board = self.boards[self._head_board[n - 1]]
        created = self._head_created[n - 1]
        rng = random.Random(f"{self.seed}:card:{n}")
        first = board.list_named(TODO if rng.random() < 0.3 else BACKLOG)
        assert first is not None
        card = Card(
            n=n,
            id=object_id(created, n, 0, self._salt),
            short_link=_short_link(self.seed, "card", n),
            id_short=self._head_short[n - 1],
            name=self._card_name(n),
            board_id=board.id,
            list_id=first.id,
            pos=float(65536 + 1024 * n),
            created_ms=created,
            last_ms=created - 1,
        )
        role = self._role[n - 1]
        if role in (ROLE_REQUEST, ROLE_INITIATIVE):
            names = (EPIC_LABEL if role == ROLE_REQUEST else INITIATIVE_LABEL, self._theme[n])
            card.label_ids = [x.id for x in board.labels if x.name in names and x.name]
            card.list_id = self._open_list(board, TODO).id
        else:
            k = rng.choice((0, 0, 1, 1, 2))
            card.label_ids = [x.id for x in rng.sample(board.labels[: len(_LABELS)], k)]
        # A card dropped from the LRU is simulated again: its actions are in the boards'
        # logs already (only the index build and new writes add to them). A request's
        # simulation simulates its children first (nested), so the flag is restored.
        saved, self._replaying = self._replaying, self._indexed
        try:
            if role in (ROLE_REQUEST, ROLE_INITIATIVE):
                _RequestLife(self, card).run()
            else:
                _Life(self, card, rng).run(self._head_copy[n - 1])
        finally:
            self._replaying = saved
        return card

    # -- internals: the generated portfolio ------------------------------------------------------

    def _generated_card(self, n: int) -> Card:
        """Card `n` as generated (never the overlay's edited copy): what a request's dates
        and a dependency's choice are made from, so edits never change them."""
        cached = self._cache.get(n)
        if cached is not None:
            return cached
        card = self._simulate(n)
        self._cache[n] = card
        if len(self._cache) > _LRU_SIZE:
            self._cache.popitem(last=False)
        return card

    def _generated_ref(self, n: int) -> dict[str, Any]:
        return {"id": self._head_ref(n)["id"], "shortLink": _short_link(self.seed, "card", n)}

    def _blocker_of(self, n: int) -> int:
        """The card waiting card `n` depends on (0: none found): a card of another board made
        2 to 25 days before it, done within a day of its creation (so usually before it
        starts), or, for a card made in the last 30 days, one still open at the end."""
        if n in self._blockers:
            return self._blockers[n]
        created, board = self._head_created[n - 1], self._head_board[n - 1]
        still_open = self._waiting[n]
        candidates: list[int] = []
        for m in range(n - 1, 0, -1):
            at = self._head_created[m - 1]
            if at < created - 25 * _MS_DAY or len(candidates) >= 30:
                break
            if (
                at <= created - 2 * _MS_DAY
                and m != HEAVY_CARD
                and self._head_board[m - 1] != board
                and self._role[m - 1] in (ROLE_PLAIN, ROLE_CHILD)
            ):
                candidates.append(m)
        random.Random(f"{self.seed}:blocker:{n}").shuffle(candidates)
        found = 0
        for m in candidates:
            other = self._generated_card(m)
            if other.deleted or self._boards_by_id[other.board_id].index == board:
                continue
            done = _finished_ms(self, other)
            if (done is None) if still_open else (done is not None and done < created + _MS_DAY):
                found = m
                break
        self._blockers[n] = found
        return found

    def _release_at(self, board_id: str, ms: int) -> PlannedRelease | None:
        """The board's release that work done at `ms` ships in: the first not out by then."""
        return next((r for r in self._releases.get(board_id, ()) if r.cut_ms >= ms), None)

    def _do_attach(
        self, card: Card, target: dict[str, Any], name: str | None, ms: int, by: Member
    ) -> Action:
        """A card link attached (addAttachmentToCard); a generated card's attachment id is
        made from the action's place, so a re-simulated card gets the same one."""
        url = f"https://trello.com/c/{target['shortLink']}"
        seq = len(card.actions) + 1
        attachment = {
            "id": object_id(ms, card.n, _ATTACH_SEQ | seq, self._salt),
            "name": name or url,
            "url": url,
            "date": format_date(ms),
            "idMember": by.id,
        }
        card.attachments.append(attachment)
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "attachment": {k: attachment[k] for k in ("id", "name", "url")},
        }
        return self._append(card, "addAttachmentToCard", ms, by, data)

    def _do_label(self, card: Card, label: Label, on: bool, ms: int, by: Member) -> Action:
        if on:
            card.label_ids.append(label.id)
        else:
            card.label_ids.remove(label.id)
        data = {
            "card": _card_ref(card),
            "board": _board_ref(self._boards_by_id[card.board_id]),
            "label": {"id": label.id, "name": label.name, "color": label.color},
            "text": label.name,
        }
        kind = "addLabelToCard" if on else "removeLabelFromCard"
        return self._append(card, kind, ms, by, data)

    def _do_dates(self, card: Card, new: dict[str, str | None], ms: int, by: Member) -> Action:
        """One updateCard for the dates in `new` (each one that changes)."""
        old = {}
        for key, text in new.items():
            old[key] = getattr(card, key)
            setattr(card, key, text)
        data = self._refs(card)
        data["card"] = {**data["card"], **{k: getattr(card, k) for k in old}}
        data["old"] = old
        return self._append(card, "updateCard", ms, by, data)


def _card_ref(card: Card, **extra: Any) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.name,
        "idShort": card.id_short,
        "shortLink": card.short_link,
        **extra,
    }


def _check_item_ref(item: ChecklistItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "state": "complete" if item.complete else "incomplete",
        "textData": {"emoji": {}},
    }


def _board_ref(board: Board) -> dict[str, Any]:
    return {"id": board.id, "name": board.name, "shortLink": board.short_link}


def _list_ref(lst: TrelloList) -> dict[str, Any]:
    return {"id": lst.id, "name": lst.name}


class _Life:
    """One generated card's history, written through the same operations as every write."""

    def __init__(self, ds: TrelloDataset, card: Card, rng: random.Random) -> None:
        self.ds = ds
        self.card = card
        self.rng = rng
        self.t = card.created_ms
        self.end = ds._now_ms - _MS_HOUR
        # Checklists draw from a generator of their own, so every other choice, and every
        # date, is the one the card had before checklists were generated.
        self.lists_rng = random.Random(f"{ds.seed}:checklists:{card.n}")

    @property
    def board(self) -> Board:
        return self.ds._boards_by_id[self.card.board_id]

    @property
    def list_name(self) -> str:
        return self.ds._list_of(self.card).name

    def who(self) -> Member:
        return self.rng.choice(self.board.team)

    def wait(self, mean_ms: float, floor_ms: int = _MS_MINUTE) -> bool:
        """Move time on (exponential gap); False once the window is over."""
        gap = max(floor_ms, int(self.rng.expovariate(1 / mean_ms)))
        self.t = max(self.t + gap, self.card.last_ms + _MS_SECOND) + self.rng.randrange(1000)
        return self.t < self.end

    def field(self, name: str) -> CustomField:
        found = self.board.field_named(name)
        assert found is not None
        return found

    def set_points(self, points: float | None) -> None:
        the_field = self.field(FIELD_POINTS)
        stored = self.ds._item_value(the_field, points)
        if stored != self.ds._current_item(self.card, the_field):
            self.ds._do_set_field(self.card, the_field, stored, self.t, self.who())

    def set_sprint(self, sprint: Sprint | None) -> None:
        the_field = self.field(FIELD_SPRINT)
        stored = self.ds._item_value(the_field, sprint.name if sprint else None)
        if stored != self.ds._current_item(self.card, the_field):
            self.ds._do_set_field(self.card, the_field, stored, self.t, self.who())

    def move(self, name: str) -> None:
        target = self.board.list_named(name)
        assert target is not None
        if target.id != self.card.list_id:
            self.ds._do_move(self.card, target, self.t, self.who())
            if name in (REVIEW, DONE):
                self.tick(done=name == DONE)
            if name == DONE:
                self.release()

    def checklists(self) -> None:
        """Written with the card (a few ms after it): an "Acceptance criteria" checklist on
        about a third of the cards that are not bugs, the team's "Definition of done" on a
        fifth. Their actions come milliseconds apart, far less than any gap of the card's
        life (a minute at least), so no other date moves."""
        rng, card, ds = self.lists_rng, self.card, self.ds
        bug = any(x.name == "Bug" for x in self.board.labels if x.id in card.label_ids)
        wanted: list[tuple[str, tuple[str, ...]]] = []
        if not bug and rng.random() < _CRITERIA_SHARE:
            wanted.append(("Acceptance criteria", tuple(rng.sample(_CRITERIA, rng.randint(2, 4)))))
        if rng.random() < _DONE_SHARE:
            wanted.append(("Definition of done", _DONE_ITEMS))
        ms, who = self.t, self.who_of_lists()
        for name, texts in wanted:
            ms += 1
            checklist = ds._do_add_checklist(card, name, ms, who)
            for text in texts:
                ms += 1
                ds._do_add_check_item(card, checklist, text, False, ms, who)

    def links(self) -> None:
        """Written with the card, after its checklists (a few ms, no choice drawn): its
        request's link (the parent) and, for a card that waits on another board's, a
        "Depends on: <url>" link to it."""
        ds, card = self.ds, self.card
        by = self.board.team[0]
        parent = ds._parent[card.n - 1]
        if parent:
            ms = max(self.t + _LINK_MS, card.last_ms + 1)
            ds._do_attach(card, ds._generated_ref(parent), None, ms, by)
        if card.n in ds._waiting:
            blocker = ds._blocker_of(card.n)
            if blocker:
                ref = ds._generated_ref(blocker)
                name = f"{DEPENDS_ON}: https://trello.com/c/{ref['shortLink']}"
                ds._do_attach(card, ref, name, max(self.t + _LINK_MS + 1, card.last_ms + 1), by)

    def release(self) -> None:
        """Done work goes in the board's next release (most of it): its label, a few ms after
        the move to Done."""
        ds, card = self.ds, self.card
        if not ds.portfolio or card.n == HEAVY_CARD:
            return
        if random.Random(f"{ds.seed}:release:{card.n}").random() >= _RELEASED_SHARE:
            return
        found = ds._release_at(card.board_id, self.t)
        label = found and next((x for x in self.board.labels if x.name == found.label), None)
        if label and label.id not in card.label_ids:
            ms = max(self.t + _LINK_MS, card.last_ms + 1)
            ds._do_label(card, label, True, ms, self.board.team[0])

    def who_of_lists(self) -> Member:
        return self.lists_rng.choice(self.board.team)

    def tick(self, *, done: bool) -> None:
        """Items checked off as the card moves on: in review about two in three (the
        definition of done's review), all of them when it is done; a few ms after the move."""
        ms = self.card.last_ms
        for checklist in self.card.checklists:
            for item in checklist.items:
                if item.complete or not (done or self.lists_rng.random() < 0.65):
                    continue
                ms += 1
                self.ds._do_check(self.card, checklist, item, True, ms, self.who_of_lists())

    def comment(self, texts: tuple[str, ...] = _COMMENTS) -> None:
        self.ds._do_comment(self.card, self.rng.choice(texts), self.t, self.who())

    def carry(self, until: int) -> None:
        """Sprint carry-over: a card still in a sprint that ends before `until` (the next
        thing that happens to it), and not done, moves to the next sprint the moment it
        starts (a board automation's sprint rollover): carried over from the one, committed
        to the other."""
        while True:
            sprint = self.ds.sprint_named(self.card.sprint)
            if sprint is None or self.list_name == DONE or self.card.closed:
                return
            following = next((s for s in self.ds.sprints if s.start_ms == sprint.end_ms), None)
            at = max(sprint.end_ms, self.card.last_ms + 1000)
            if following is None or at >= min(until, self.end):
                return
            saved, self.t = self.t, at
            self.set_sprint(following)
            self.t = max(saved, self.card.last_ms + 1)

    def run(self, source: int) -> None:
        ds, card, rng = self.ds, self.card, self.rng
        first = ds._list_of(card)
        if source:
            src = ds._head_ref(source)
            card.source_id = src["id"]
            ds._do_copy(card, src, first, self.t, self.who())
        else:
            ds._do_create(card, first, self.t, self.who())
        if card.n == HEAVY_CARD:
            self.heavy()
            return
        self.checklists()
        self.links()
        if rng.random() < 0.75 and self.wait(8 * _MS_HOUR):
            self.set_points(rng.choice(POINT_VALUES))
        child = ds._role[card.n - 1] == ROLE_CHILD
        variant = rng.choices(list(_PATHS), _CHILD_PATH_WEIGHTS if child else _PATH_WEIGHTS)[0]
        path = list(_PATHS[variant])
        if path and path[0] == self.list_name:
            path.pop(0)
        hop = rng.randrange(len(path)) if path and rng.random() < _BOARD_MOVE_SHARE else None
        doom = rng.randrange(len(path) + 1) if rng.random() < _DELETE_SHARE else None
        for i, target in enumerate(path):
            if not self.wait(2.5 * _MS_DAY, 10 * _MS_MINUTE):
                break
            self.carry(self.t)
            if i == doom:
                ds._do_delete(card, self.t, self.who())
                return
            if i == hop and len(ds.boards) > 1:
                self.hop_board()
                if not self.wait(_MS_HOUR):
                    break
            if rng.random() < 0.3:
                self.comment()
                if not self.wait(20 * _MS_MINUTE):
                    break
            self.move(target)
            self.after_move(target)
        else:
            self.epilogue(doom == len(path))
            return
        self.carry(self.end)

    def after_move(self, target: str) -> None:
        rng, card = self.rng, self.card
        if target in (TODO, DOING) and card.sprint is None and rng.random() < 0.85:
            if self.wait(5 * _MS_MINUTE):  # To Do: planned for the next sprint; Doing: pulled in
                now = self.ds.sprint_at(self.t)
                following = next(
                    (s for s in self.ds.sprints if now and s.start_ms == now.end_ms), None
                )
                self.set_sprint(following if target == TODO and following else now)
        elif target == BACKLOG and card.sprint is not None and self.wait(5 * _MS_MINUTE):
            self.set_sprint(None)
        if target == DOING and not card.member_ids and self.wait(10 * _MS_MINUTE):
            self.ds._do_add_member(card, self.who(), self.t, self.who())
        if rng.random() < 0.08 and self.wait(_MS_HOUR):
            self.set_points(_neighbour(rng, card.estimate))
        if rng.random() < 0.04 and self.wait(_MS_HOUR):
            self.ds._do_rename(card, card.name + " (v2)", self.t, self.who())

    def epilogue(self, delete: bool) -> None:
        """After the last move: archive done cards (and sometimes bring one back), abandon
        a few backlog ones, delete the doomed."""
        rng, ds, card = self.rng, self.ds, self.card
        if self.list_name == DONE and rng.random() < 0.45 and self.wait(4 * _MS_DAY):
            ds._do_close(card, True, self.t, self.who())
            if rng.random() < 0.15 and self.wait(3 * _MS_DAY):
                ds._do_close(card, False, self.t, self.who())
                if rng.random() < 0.5 and self.wait(3 * _MS_DAY):
                    ds._do_close(card, True, self.t, self.who())
        elif self.list_name == BACKLOG and rng.random() < 0.1 and self.wait(10 * _MS_DAY):
            ds._do_close(card, True, self.t, self.who())
        self.carry(self.end)
        if delete and self.wait(5 * _MS_DAY):
            ds._do_delete(card, self.t, self.who())

    def hop_board(self) -> None:
        others = [b for b in self.ds.boards if b.id != self.card.board_id]
        target_board = self.rng.choice(others)
        target = target_board.list_named(self.list_name)
        assert target is not None
        self.ds._do_move_board(self.card, target_board, target, self.t, self.who())

    def heavy(self) -> None:
        """The heavy card: ping-pongs between Doing and Review (with vendor detours and CI
        comments) for the whole window: over a thousand list moves, never done."""
        rng = self.rng
        if self.wait(_MS_HOUR):
            self.set_points(8)
        if self.wait(_MS_HOUR):
            self.move(TODO)
        if self.wait(10 * _MS_MINUTE):
            self.set_sprint(self.ds.sprint_at(self.t))
        mean = (self.end - _MS_DAY - self.t) / 1400
        while self.wait(mean, _MS_MINUTE) and self.t < self.end - _MS_DAY:
            self.carry(self.t)
            roll = rng.random()
            if roll < 0.13:
                self.comment(_BOT_COMMENTS)
            elif roll < 0.16 and self.list_name == DOING:
                self.move(VENDOR_LIST)
            elif self.list_name == DOING:
                self.move(REVIEW)
            else:
                self.move(DOING)
        self.carry(self.end)


_STARTED = frozenset({DOING, VENDOR_LIST, REVIEW, DONE})


def _started_ms(ds: TrelloDataset, card: Card) -> int | None:
    """When a card's work started: its first move into a list past "To Do"."""
    for move in card.list_moves:
        found = ds.trello_list(move.to_list)
        if found is not None and found.name in _STARTED:
            return to_ms(move.at)
    return None


def _finished_ms(ds: TrelloDataset, card: Card) -> int | None:
    """When a card stopped being work to do: its first move into "Done", or its deletion
    when it was never done; None while neither happened."""
    for move in card.list_moves:
        found = ds.trello_list(move.to_list)
        if found is not None and found.name == DONE:
            return to_ms(move.at)
    return card.deleted_ms


class _RequestLife:
    """A generated request's (or initiative's) card: made in "To Do" with its level's and
    theme's labels, its initiative's link attached, a due date; to "Doing" when its first
    child starts, to "Done" the same day to a few days after its last child is done; its due
    date moved later once or twice, now and then, when it was going to be missed."""

    def __init__(self, ds: TrelloDataset, card: Card) -> None:
        self.ds = ds
        self.card = card
        self.rng = random.Random(f"{ds.seed}:request:{card.n}")
        self.end = ds._now_ms - _MS_HOUR

    def run(self) -> None:
        ds, card, rng = self.ds, self.card, self.rng
        board = ds._boards_by_id[card.board_id]
        who = rng.choice(board.team)
        ds._do_create(card, ds._list_of(card), card.created_ms, who)
        parent = ds._parent[card.n - 1]
        if parent:
            ds._do_attach(card, ds._generated_ref(parent), None, card.last_ms + 1, who)
        due = ds._due_plan.get(card.n)
        if due is not None:
            at = card.last_ms + rng.randint(2, 30) * _MS_MINUTE
            ds._do_dates(card, {"due": format_date(due)}, at, who)
        kids = [ds._generated_card(m) for m in ds._children[card.n]]
        kids = [k for k in kids if not (k.deleted and _started_ms(ds, k) is None)]
        starts = [ms for ms in (_started_ms(ds, k) for k in kids) if ms is not None]
        finishes = [_finished_ms(ds, k) for k in kids]
        events: list[tuple[int, str, int]] = []
        done_at = None
        if kids and all(ms is not None for ms in finishes):
            last = max(ms for ms in finishes if ms is not None)
            lag = rng.randint(1, 6) * _MS_HOUR
            if rng.random() >= 0.55:
                lag += rng.randint(1, 4) * _MS_DAY
            if last + lag < self.end:
                done_at = last + lag
                events.append((done_at, DONE, 0))
        if starts:
            begin = min(starts) + rng.randint(5, 90) * _MS_MINUTE
            if done_at is not None:
                begin = min(begin, done_at - _MS_MINUTE)
            if begin < self.end:
                events.append((begin, DOING, 0))
        slips = 0
        while due is not None and due < (done_at or self.end) and slips < 2:
            if rng.random() >= 0.55:
                break
            at = due - rng.randint(1, 4) * _MS_DAY + rng.randint(0, 6) * _MS_HOUR
            if at <= card.last_ms + _MS_HOUR:
                break
            due += rng.randint(7, 14) * _MS_DAY
            events.append((at, "due", due))
            slips += 1
        events.sort(key=lambda e: (e[0], e[1] == DONE))
        for at, what, value in events:
            ms = max(at, card.last_ms + _MS_SECOND)
            by = rng.choice(board.team)
            if what == "due":
                ds._do_dates(card, {"due": format_date(value)}, ms, by)
            else:
                ds._do_move(card, ds._open_list(board, what), ms, by)


def _neighbour(rng: random.Random, points: float | None) -> float:
    if points is None or points not in POINT_VALUES:
        return float(rng.choice(POINT_VALUES))
    k = POINT_VALUES.index(int(points)) + rng.choice((-1, 1))
    return float(POINT_VALUES[min(max(k, 0), len(POINT_VALUES) - 1)])
