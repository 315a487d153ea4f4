"""Audit a store against a sandbox tracker's ground truth: what was lost, what was doubled.

After faults, kills or a long soak, four questions tell whether pmo-sync lost or
duplicated anything, for one connector (one source) and its sandbox:

1. **Items**: the store's live items of the source are the tracker's live items in the
   connector's scope. An item live in the tracker but not in the store is a
   `LOST_ITEM`; one live in the store but deleted in the tracker (or out of scope)
   is a `LOST_DELETION`.
2. **States**: per item live in both, the stored status (and stage) is the tracker's
   current one (`STALE_STATUS`, `STALE_STAGE`).
3. **Comments**: no item anywhere in the tracker carries two or more comments by the
   bot holding the write-back marker (`DUPLICATE_COMMENT`), the test the writers'
   own `find_bot_comments` applies (the bot's author id, the marker in the text).
4. **Ledger**: each write the write-back ledger records is in the tracker: a field's
   recorded value is the value the tracker holds now (`LEDGER_FIELD`), a recorded
   comment id exists on its item (`LEDGER_COMMENT`): a row for something the tracker
   does not have is a write recorded but not made. And each bot comment is one the
   ledger knows (`UNTRACKED_COMMENT`): a comment it does not know is never updated or
   removed again. Ledger rows of items gone from the tracker are not checked (their
   writes went with the item).

The audit is split so the tracker and the store may live in different processes (the
soak runs its sandboxes in a process of their own):

- `jira_truth`, `ado_truth`, `trello_truth` read a running sandbox into a
  `TrackerTruth`, a plain snapshot (`to_json` / `from_json`);
- `read_store` reads one source's items and ledger rows into a `StoredState`;
- `audit(stored, truth)` compares the two, pure; `audit_store(engine, truth)` does all
  three. Each `Discrepancy` prints as one readable line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from pmo_sync.common.writeback_config import DEFAULT_MARKER
from pmo_sync.store.models import SourceRow, WorkItemRow, WritebackLedgerRow
from pmo_sync.writeback.plan import COMMENT_TARGET

if TYPE_CHECKING:
    from pmo_sync.sandbox.ado import AdoSandbox
    from pmo_sync.sandbox.jira.server import JiraSandbox
    from pmo_sync.sandbox.trello import TrelloSandbox

__all__ = [
    "DUPLICATE_COMMENT",
    "KINDS",
    "LEDGER_COMMENT",
    "LEDGER_FIELD",
    "LOST_DELETION",
    "LOST_ITEM",
    "STALE_STAGE",
    "STALE_STATUS",
    "UNTRACKED_COMMENT",
    "Discrepancy",
    "LedgerRow",
    "StoredItem",
    "StoredState",
    "TrackerTruth",
    "TruthItem",
    "ado_truth",
    "audit",
    "audit_store",
    "jira_truth",
    "read_store",
    "trello_truth",
]

LOST_ITEM = "lost item"
LOST_DELETION = "lost deletion"
STALE_STATUS = "stale status"
STALE_STAGE = "stale stage"
DUPLICATE_COMMENT = "duplicate comment"
LEDGER_FIELD = "ledger field not in tracker"
LEDGER_COMMENT = "ledger comment not in tracker"
UNTRACKED_COMMENT = "untracked comment"
KINDS = (
    LOST_ITEM,
    LOST_DELETION,
    STALE_STATUS,
    STALE_STAGE,
    DUPLICATE_COMMENT,
    LEDGER_FIELD,
    LEDGER_COMMENT,
    UNTRACKED_COMMENT,
)
"""Every kind of discrepancy, in the order `audit` reports them."""

FieldValue = float | str | None


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing the store (or the ledger) and the tracker disagree on."""

    source: str
    kind: str
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}: {self.key}: {self.detail}"


# -- the tracker's side -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TruthItem:
    """A live item of the tracker in the connector's scope, as the store should hold it."""

    external_id: str
    key: str
    status: str
    stage: str | None  # None: not checked


@dataclass(slots=True)
class TrackerTruth:
    """A snapshot of what one tracker holds now, for one connector (`source`).

    `items`: the live items in the connector's scope, by external id. The other three
    cover every live item of the tracker, in scope or not, by item key (what the
    ledger is keyed by): `bot_comments` the ids of the bot's comments holding the
    marker, oldest first (items with none are absent); `comment_ids` the ids of
    every live comment; `fields` the value each configured tracker field holds
    (absent: empty). `live_keys` are the keys of every live item.
    """

    source: str
    items: dict[str, TruthItem] = field(default_factory=dict)
    live_keys: set[str] = field(default_factory=set)
    bot_comments: dict[str, list[str]] = field(default_factory=dict)
    comment_ids: dict[str, set[str]] = field(default_factory=dict)
    fields: dict[tuple[str, str], FieldValue] = field(default_factory=dict)
    field_names: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "items": [[i.external_id, i.key, i.status, i.stage] for i in self.items.values()],
                "live_keys": sorted(self.live_keys),
                "bot_comments": self.bot_comments,
                "comment_ids": {k: sorted(v) for k, v in self.comment_ids.items()},
                "fields": [[k, f, v] for (k, f), v in self.fields.items()],
                "field_names": list(self.field_names),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TrackerTruth:
        data = json.loads(text)
        return cls(
            source=data["source"],
            items={row[0]: TruthItem(*row) for row in data["items"]},
            live_keys=set(data["live_keys"]),
            bot_comments={k: list(v) for k, v in data["bot_comments"].items()},
            comment_ids={k: set(v) for k, v in data["comment_ids"].items()},
            fields={(k, f): v for k, f, v in data["fields"]},
            field_names=tuple(data["field_names"]),
        )


def _add_comments(
    truth: TrackerTruth, key: str, comments: Iterable[tuple[str, bool, str]], marker: str
) -> None:
    """(id, by the bot, text) of one item's live comments, oldest first."""
    ids: set[str] = set()
    mine: list[str] = []
    for comment_id, by_bot, text in comments:
        ids.add(comment_id)
        if by_bot and marker in text:
            mine.append(comment_id)
    if ids:
        truth.comment_ids[key] = ids
    if mine:
        truth.bot_comments[key] = mine


def jira_truth(
    sandbox: JiraSandbox,
    source: str,
    *,
    projects: Collection[str] | None = None,
    fields: Collection[str] = (),
    marker: str = DEFAULT_MARKER,
    stage_of: Callable[[str, str], str | None] | None = None,
) -> TrackerTruth:
    """The sandbox Jira's truth for connector `source`, whose JQL covers `projects` (None:
    every project). `fields`: the write-back's tracker field names (custom field names).
    `stage_of(status name, status category key)`: the stage the connector gives a status;
    by default the connector's default, by status category."""
    from connectors.jira.convert import stage_for_category

    def default_stage(name: str, category: str) -> str:
        return stage_for_category(category).value

    stage = stage_of or default_stage
    data = sandbox.dataset
    bot = sandbox.account_id
    truth = TrackerTruth(source, field_names=tuple(fields))
    with data.lock:
        ids_by_name: dict[str, str] = {}
        for custom in data.custom_fields:
            ids_by_name.setdefault(custom.name, custom.id)
        for issue in data.issues:
            truth.live_keys.add(issue.key)
            if projects is None or issue.project_key in projects:
                truth.items[issue.id] = TruthItem(
                    issue.id,
                    issue.key,
                    issue.status.name,
                    stage(issue.status.name, issue.status.category.key),
                )
            _add_comments(
                truth,
                issue.key,
                ((c.id, c.author_id == bot, c.text) for c in issue.comments),
                marker,
            )
            for name in fields:
                field_id = ids_by_name.get(name)
                value = issue.custom_values.get(field_id) if field_id else None
                if value is not None:
                    truth.fields[(issue.key, name)] = value
    return truth


def ado_truth(
    sandbox: AdoSandbox,
    source: str,
    *,
    fields: Collection[str] = (),
    marker: str = DEFAULT_MARKER,
    stage_of: Callable[[str, str], str | None] | None = None,
) -> TrackerTruth:
    """The sandbox Azure DevOps's truth for connector `source` (its one project: every
    work item is in scope). `fields`: reference names. `stage_of(state, state category)`:
    by default the connector's default, by state category."""
    from connectors.azure_devops.convert import CATEGORY_STAGE
    from pmo_sync.domain import Stage
    from pmo_sync.sandbox.ado.generator import STATE_CATEGORY

    def default_stage(state: str, category: str) -> str:
        return CATEGORY_STAGE.get(category, Stage.IN_PROGRESS).value

    stage = stage_of or default_stage
    data = sandbox.dataset
    me = sandbox.identity.unique_name
    truth = TrackerTruth(source, field_names=tuple(fields))
    with data.lock:
        for item in data.items():
            key = str(item.id)
            truth.live_keys.add(key)
            truth.items[key] = TruthItem(
                key, key, item.state, stage(item.state, STATE_CATEGORY.get(item.state, ""))
            )
            _add_comments(
                truth,
                key,
                (
                    (str(c.id), c.created_by.unique_name == me, c.text)
                    for c in item.comments
                    if not c.deleted
                ),
                marker,
            )
            for name in fields:
                value = item.fields.get(name)
                if value is not None:
                    truth.fields[(key, name)] = value
    return truth


def trello_truth(
    sandbox: TrelloSandbox,
    source: str,
    *,
    boards: Collection[str] | None = None,
    fields: Collection[str] = (),
    marker: str = DEFAULT_MARKER,
    list_stages: Mapping[str, str] | None = None,
) -> TrackerTruth:
    """The sandbox Trello's truth for connector `source`, which syncs `boards` (names or
    ids; None: every board). Archived cards are live (stored archived); deleted ones are
    not. `fields`: custom field names (each board has its own field of each name).
    `list_stages`: the connector's `list_stages` (list name → stage) over its defaults."""
    from connectors.trello.config import DEFAULT_LIST_STAGES
    from pmo_sync.domain import Stage

    def folded(name: str) -> str:
        return " ".join(name.split()).casefold()

    stages = {k: v.value for k, v in DEFAULT_LIST_STAGES.items()}
    stages.update({folded(k): str(v) for k, v in (list_stages or {}).items()})
    data = sandbox.dataset
    bot = sandbox.member.id
    truth = TrackerTruth(source, field_names=tuple(fields))
    with data.lock:
        wanted = {b.id for b in data.boards if boards is None or {b.id, b.name} & set(boards)}
        list_names = {x.id: x.name for b in data.boards for x in b.lists}
        by_board = {b.id: b for b in data.boards}
        for card in data.cards():
            truth.live_keys.add(card.short_link)
            if card.board_id in wanted:
                status = list_names.get(card.list_id, "")
                truth.items[card.id] = TruthItem(
                    card.id,
                    card.short_link,
                    status,
                    stages.get(folded(status), Stage.IN_PROGRESS.value),
                )
            _add_comments(
                truth,
                card.short_link,
                ((a.id, a.creator.id == bot, str(a.data.get("text") or "")) for a in card.comments),
                marker,
            )
            board = by_board.get(card.board_id)
            for name in fields:
                custom = board.field_named(name) if board is not None else None
                item = card.items.get(custom.id) if custom is not None else None
                value = _trello_value(item.value) if item is not None else None
                if value is not None:
                    truth.fields[(card.short_link, name)] = value
    return truth


def _trello_value(value: Mapping[str, str] | None) -> FieldValue:
    """A custom field item's value ({"number": "3.5"}, {"text": ...}) as the push wrote it."""
    if not value:
        return None
    if "number" in value:
        return float(value["number"])
    return next(iter(value.values()))


# -- the store's side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredItem:
    external_id: str
    key: str
    status: str
    stage: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One write-back ledger row: a field value (`value_json`) or a comment (`comment_id`)."""

    key: str
    target: str
    tracker_field: str | None
    value_json: str | None
    comment_id: str | None


@dataclass(slots=True)
class StoredState:
    """One source's items (by external id) and its write-back ledger rows."""

    source: str
    items: dict[str, StoredItem] = field(default_factory=dict)
    ledger: list[LedgerRow] = field(default_factory=list)


def read_store(engine: Engine, source: str) -> StoredState:
    """The source's items (deleted ones too) and ledger rows; empty if it was never synced."""
    stored = StoredState(source)
    items = WorkItemRow.__table__
    ledger = WritebackLedgerRow.__table__
    with engine.connect() as conn:
        source_id = conn.execute(
            select(SourceRow.__table__.c.id).where(SourceRow.__table__.c.name == source)
        ).scalar_one_or_none()
        if source_id is not None:
            rows = conn.execute(
                select(
                    items.c.external_id,
                    items.c.key,
                    items.c.status,
                    items.c.stage,
                    items.c.deleted_at,
                ).where(items.c.source_id == source_id)
            )
            for r in rows:
                stored.items[r.external_id] = StoredItem(
                    r.external_id, r.key, r.status, r.stage, r.deleted_at is not None
                )
        rows = conn.execute(
            select(
                ledger.c.item_key,
                ledger.c.target,
                ledger.c.tracker_field,
                ledger.c.value_json,
                ledger.c.comment_id,
            )
            .where(ledger.c.source == source)
            .order_by(ledger.c.item_key, ledger.c.target)
        )
        stored.ledger = [LedgerRow(*r) for r in rows]
    return stored


# -- the comparison -----------------------------------------------------------------------------


def _same(recorded: Any, held: Any) -> bool:
    if isinstance(recorded, int | float) and isinstance(held, int | float):
        return math.isclose(float(recorded), float(held), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(recorded, int | float) and isinstance(held, str):
        try:
            return math.isclose(float(recorded), float(held), rel_tol=1e-9, abs_tol=1e-9)
        except ValueError:
            return False
    return bool(recorded == held)


def _ordered(ids: Iterable[str]) -> list[str]:
    """Ids in a natural order: by length, then as text (numbers as numbers)."""
    return sorted(ids, key=lambda i: (len(i), i))


def _show(value: Any) -> str:
    return "empty" if value is None else repr(value)


def audit(stored: StoredState, truth: TrackerTruth) -> list[Discrepancy]:
    """Every discrepancy between the stored source and the tracker, by kind (`KINDS`'
    order), then by key."""
    source = truth.source
    found: list[Discrepancy] = []

    def report(kind: str, key: str, detail: str) -> None:
        found.append(Discrepancy(source, kind, key, detail))

    live_stored = {x: i for x, i in stored.items.items() if not i.deleted}
    for external_id in _ordered(set(truth.items) - set(live_stored)):
        lost = truth.items[external_id]
        where = "marked deleted in the store" if external_id in stored.items else "not stored"
        report(LOST_ITEM, lost.key, f"live in the tracker, {where} (id {external_id})")
    for external_id in _ordered(set(live_stored) - set(truth.items)):
        kept = live_stored[external_id]
        why = (
            "out of the connector's scope in the tracker"
            if kept.key in truth.live_keys
            else "deleted in the tracker"
        )
        report(LOST_DELETION, kept.key, f"live in the store, {why} (id {external_id})")
    both = _ordered(set(truth.items) & set(live_stored))
    for external_id in both:
        have, want = live_stored[external_id], truth.items[external_id]
        if have.status != want.status:
            report(STALE_STATUS, want.key, f"store {have.status!r}, tracker {want.status!r}")
    for external_id in both:
        have, want = live_stored[external_id], truth.items[external_id]
        if want.stage is not None and have.stage != want.stage:
            report(
                STALE_STAGE,
                want.key,
                f"store {have.stage!r}, tracker {want.stage!r} (status {want.status!r})",
            )
    for key, ids in sorted(truth.bot_comments.items()):
        if len(ids) > 1:
            report(DUPLICATE_COMMENT, key, f"{len(ids)} bot comments ({', '.join(ids)})")
    recorded_comments: dict[str, str | None] = {}
    for row in stored.ledger:
        if row.key not in truth.live_keys:
            continue  # gone from the tracker: its writes went with it
        if row.target == COMMENT_TARGET:
            recorded_comments[row.key] = row.comment_id
            continue
        if row.tracker_field is None or row.value_json is None:
            continue
        recorded = json.loads(row.value_json)
        if row.tracker_field not in truth.field_names:
            report(
                LEDGER_FIELD,
                row.key,
                f"{row.tracker_field}: ledger {_show(recorded)}, tracker field not read",
            )
            continue
        held = truth.fields.get((row.key, row.tracker_field))
        if recorded is None and held is None:
            continue
        if recorded is None or held is None or not _same(recorded, held):
            report(
                LEDGER_FIELD,
                row.key,
                f"{row.tracker_field}: ledger {_show(recorded)}, tracker {_show(held)}",
            )
    for key, comment_id in sorted(recorded_comments.items()):
        if comment_id is None or comment_id not in truth.comment_ids.get(key, set()):
            report(LEDGER_COMMENT, key, f"comment {comment_id} recorded, not in the tracker")
    for key, ids in sorted(truth.bot_comments.items()):
        unknown = [i for i in ids if i != recorded_comments.get(key)]
        if unknown:
            report(
                UNTRACKED_COMMENT,
                key,
                f"bot comment(s) {', '.join(unknown)} not in the ledger"
                + (f" (it records {recorded_comments[key]})" if key in recorded_comments else ""),
            )
    order = {kind: n for n, kind in enumerate(KINDS)}
    found.sort(key=lambda d: order[d.kind])  # stable: keys stay sorted within a kind
    return found


def audit_store(engine: Engine, truth: TrackerTruth) -> list[Discrepancy]:
    """`audit` of the store's rows of `truth.source` against `truth`."""
    return audit(read_store(engine, truth.source), truth)
