"""The normalised records every connector emits and the store keeps.

These are the *domain* layer of the raw → tool → domain pipeline: plain, frozen
dataclasses with no I/O, so converters can be tested as "this raw JSON gives
these records" and KPI code can run on them without a database.

Timestamps are always timezone-aware UTC. Ids are the tracker's own ids as
strings; the pair (source, external_id) is the natural key everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "DATE_FIELDS",
    "Census",
    "ChangeField",
    "CheckItem",
    "ItemBundle",
    "ItemChange",
    "ItemLink",
    "LinkDirection",
    "ReleaseRecord",
    "SprintMembership",
    "SprintRecord",
    "Stage",
    "StatusRecord",
    "TeamRecord",
    "WorkItemRecord",
]


class Stage(StrEnum):
    """The coarse workflow stage every tracker status maps to."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class ChangeField(StrEnum):
    """The fields whose history the flow and sprint metrics need."""

    STATUS = "status"
    SPRINT = "sprint"
    ESTIMATE = "estimate"
    ASSIGNEE = "assignee"
    FLAGGED = "flagged"
    START_DATE = "start_date"
    """The four date fields of `WorkItemRecord`: values are ISO dates (``2026-12-07``) or
    None when unset; every change of a date is a change (a slip is measured from them)."""
    DUE_DATE = "due_date"
    TARGET_START = "target_start"
    TARGET_END = "target_end"


DATE_FIELDS: tuple[ChangeField, ...] = (
    ChangeField.START_DATE,
    ChangeField.DUE_DATE,
    ChangeField.TARGET_START,
    ChangeField.TARGET_END,
)
"""The change fields that hold a date's history, named as the item's date columns."""


class CheckItem(NamedTuple):
    """One item of an item's checklist: its text and whether it is checked off."""

    text: str
    checked: bool


@dataclass(frozen=True, slots=True)
class WorkItemRecord:
    """One work item as it stands now (its history lives in `ItemChange`)."""

    external_id: str
    key: str
    url: str
    title: str
    item_type: str  # story | bug | task | subtask | epic | other
    raw_type: str
    status: str
    status_category: str  # the tracker's own category, e.g. Jira's new/indeterminate/done
    stage: Stage
    project: str
    team: str | None
    assignee: str | None
    estimate: float | None
    parent_key: str | None
    labels: tuple[str, ...]
    flagged: bool
    created: datetime
    updated: datetime
    resolved: datetime | None
    last_activity: datetime | None = None
    """The latest change a person made (the tracker's `updated` moves for pmo-sync's own
    write-back too, which must not make a stale item look fresh); None when unknown."""
    revision: int | None = None
    """The tracker's version number of the item as synced (Azure DevOps `rev`), so a
    write-back can refuse to land on an item that changed since (`test /rev`); None
    where the tracker has no such number."""
    archived: bool = False
    """Taken off the board without being deleted (a Trello card archived). It stays in the
    store and its history keeps counting; an archived item that never finished is no longer
    work in progress."""
    description: str | None = None
    """The description as plain text, each connector flattening its tracker's markup (Jira's
    ADF document or wiki text, Azure DevOps HTML, Trello markdown) into lines: a heading as
    ``h<level>. text``, a list item as ``* text``; None when the tracker has no description."""
    acceptance_criteria: str | None = None
    """The tracker's acceptance-criteria field as plain text, where it has one (Azure DevOps
    `Microsoft.VSTS.Common.AcceptanceCriteria`, a Jira field named in the connector's
    config); None when it has none or it is not set."""
    parent_type: str | None = None
    """The parent's normalised type (as `item_type`) when the tracker says it with the item
    (Jira's `parent.fields.issuetype`); None otherwise, and the store's record of the parent
    tells (`pmo_sync.governance.facts.link_parents`)."""
    checklist: tuple[CheckItem, ...] = ()
    """The item's checklist items in the tracker's order: a Trello card's checklists one after
    the other, a Jira or Azure DevOps checklist field named in the connector's config."""
    level: str | None = None
    """Where the item sits in the portfolio hierarchy: ``initiative``, ``epic``, ``feature``,
    ``story``, ``task`` or ``subtask``, or the tracker's own name for a level above epics
    (a Jira Advanced Roadmaps level such as ``theme``), lower-cased; None when unknown."""
    start_date: date | None = None
    """When work on the item is planned to start: Jira's start-date field where configured,
    Azure DevOps `Microsoft.VSTS.Scheduling.StartDate`, Trello's card `start`."""
    due_date: date | None = None
    """When the item is due: Jira `duedate`, Azure DevOps `Microsoft.VSTS.Scheduling.TargetDate`
    (the date an Epic or Feature is promised for: the same promise as Jira's due date, so
    the trackers' slips compare; `FinishDate`, Microsoft Project's, for an item without
    one), Trello's card `due`."""
    target_start: date | None = None
    """The portfolio plan's start: Jira's "Target start" (Advanced Roadmaps, a field named in
    the connector's config); Azure DevOps and Trello have no such field (None)."""
    target_end: date | None = None
    """The portfolio plan's end: Jira's "Target end" (as `target_start`), Azure DevOps
    `Microsoft.VSTS.Scheduling.TargetDate` (what Delivery Plans draw); None for Trello."""
    priority: str | None = None
    """The tracker's priority as it names it: Jira's priority name ("High"), Azure DevOps
    `Microsoft.VSTS.Common.Priority` as text ("2"); None where the tracker has none."""
    rank: str | None = None
    """The item's place in its team's backlog as a string that sorts in backlog order (by code
    point): Jira's LexoRank as is; a number (Azure DevOps Stack Rank or Backlog Priority, a
    Trello card's `pos`) through `pmo_sync.common.rank.sortable_rank`. Ranks compare only
    within one team's backlog of one tracker; None when unranked."""
    release_ids: tuple[str, ...] = ()
    """The external ids of the releases the item is planned for (Jira fix versions, the
    releases an Azure DevOps or Trello convention names), as `ReleaseRecord.external_id`."""
    components: tuple[str, ...] = ()
    """Jira's components by name, sorted: what a strategic theme in portfolio.yaml may name
    (`match.components`), so the store keeps them as it keeps labels. Azure DevOps and Trello
    have none."""
    area_path: str | None = None
    """The Azure DevOps area path as the tracker writes it (`Fabrikam\\Phoenix\\Web`): the
    team is read from it, but a theme names the path itself (`match.area_paths`, a path and
    everything below it), and a team mapping may fold several paths into one team. None for
    Jira and Trello (a Trello board is the item's `project` and team already)."""


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One field change from the tracker's history.

    `change_id` is unique per item: for Jira it is ``<history id>:<field>`` so a
    history entry that changes two fields gives two changes.
    """

    item_external_id: str
    change_id: str
    field: ChangeField
    at: datetime
    from_value: str | None
    to_value: str | None
    from_display: str | None = None
    to_display: str | None = None
    author: str | None = None


class LinkDirection(StrEnum):
    """Which end of a typed link the item is: `outward` (it blocks) or `inward` (it is blocked)."""

    OUTWARD = "outward"
    INWARD = "inward"


@dataclass(frozen=True, slots=True)
class ItemLink:
    """One typed link from an item to another (a dependency, a relation), as the item sees it.

    `link_type` is the tracker's phrase for the link read from this item's side, lower-cased
    where the tracker capitalises it: Jira's outward or inward phrase of the link type
    (``blocks`` / ``is blocked by`` for type "Blocks"), Azure DevOps' end name (``successor`` /
    ``predecessor`` of `System.LinkTypes.Dependency`), a Trello convention's phrase
    (``depends on``). `direction` says which end the item is, so "what blocks X" is the inward
    links of X plus the outward links pointing at X. A target outside the synced scope is kept
    with its key. `target_external_id` is the target's id where the link names it (Jira always
    does, in scope or not; Azure DevOps for a target it has read; Trello's card links carry no
    id: None): whether the target is synced is the store's join on (source, external id) or
    key, never this field's presence.
    """

    item_external_id: str
    link_type: str
    direction: LinkDirection
    target_key: str
    target_external_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """A release (Jira fix version; a release an Azure DevOps or Trello convention names).

    Loaded per source like sprints, from a stream's records; never deleted, since items
    and history refer to them. Dates are days (trackers keep no time for them).
    """

    external_id: str
    name: str
    project: str | None
    start_date: date | None
    release_date: date | None
    """The one date the tracker shows: the planned day, or the ship day once released
    where the team moves it (Jira); the config's released day, else planned, elsewhere."""
    released: bool
    archived: bool
    planned_date: date | None = None
    """The day the release was planned for, kept apart from `release_date` so "released on
    time, slip in days" can be answered after it shipped: the config's `planned` day (Azure
    DevOps, Trello); for Jira, which keeps one date, the release date last seen while the
    version was not released. None: unknown (a Jira version first seen already released)."""


@dataclass(frozen=True, slots=True)
class SprintMembership:
    """One stay of an item in a sprint: added at, removed at (None while still in)."""

    item_external_id: str
    sprint_external_id: str
    added_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class SprintRecord:
    external_id: str
    name: str
    state: str  # future | active | closed
    board_external_id: str | None
    team: str | None
    start: datetime | None
    end: datetime | None
    completed: datetime | None
    goal: str | None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A tracker status and its category, so a stage can be derived for any past status."""

    external_id: str
    name: str
    category: str
    stage: Stage


@dataclass(frozen=True, slots=True)
class TeamRecord:
    """A team and the delivery method its tracker says it works by: `scrum` (its board runs
    sprints: a Jira scrum board, an Azure DevOps team with iterations, a Trello connector with
    a sprint convention) or `kanban` (a board without sprints).

    The tracker never says `traditional`: portfolio.yaml's `delivery:` names those teams, and
    overrides what the board says (`pmo_sync.portfolio.delivery`). Loaded per source like
    releases, by name; a team no record names has no method of its tracker's (None).
    """

    name: str
    method: str  # scrum | kanban


@dataclass(slots=True)
class ItemBundle:
    """An item with its complete history, loaded together in one transaction.

    `changes`, `memberships` and `links` are the item's *whole* history and links: the
    store replaces what it held for the item with them (as it does the item's releases,
    `WorkItemRecord.release_ids`).
    """

    item: WorkItemRecord
    changes: list[ItemChange] = field(default_factory=list)
    memberships: list[SprintMembership] = field(default_factory=list)
    raw: dict[str, Any] | None = None
    links: list[ItemLink] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Census:
    """Every external id currently in the connector's scope.

    The store marks live items missing from it as deleted; an item that comes
    back is revived when its bundle is loaded again. An empty census while items
    are stored is refused by the sync engine: every item gone at once is far
    likelier a lost permission than a mass delete.
    """

    external_ids: frozenset[str]
    nothing_found: str = "the census finds no item in scope"
    """What an empty census means for this tracker and what to check, for the refusal."""
