"""The sandbox Jira's data model: plain records the generator fills and the API renders.

Kept apart from both so the generator never thinks in JSON and the renderer never
thinks in random numbers. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from pmo_sync.sandbox.jira.adf import body_text

__all__ = [
    "FIELD_FLAGGED",
    "FIELD_POINTS",
    "FIELD_RANK",
    "FIELD_SPRINT",
    "HIERARCHY_TYPES",
    "ISSUE_TYPES",
    "LINK_TYPES",
    "PRIORITIES",
    "RESOLUTIONS",
    "STATUSES",
    "AssigneeChange",
    "Board",
    "ChangeItem",
    "Comment",
    "CustomField",
    "DateChange",
    "EstimateChange",
    "FlagChange",
    "History",
    "Issue",
    "IssueLink",
    "IssueLinkType",
    "IssueType",
    "Project",
    "Sprint",
    "SprintStay",
    "Status",
    "StatusCategory",
    "StatusTransition",
    "User",
    "Version",
    "status_by_name",
]

FIELD_SPRINT = "customfield_10020"
FIELD_POINTS = "customfield_10016"
FIELD_FLAGGED = "customfield_10021"
FIELD_RANK = "customfield_10019"


@dataclass(frozen=True, slots=True)
class StatusCategory:
    id: int
    key: str  # new | indeterminate | done
    name: str
    color_name: str


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    name: str
    category: StatusCategory

    @property
    def is_done(self) -> bool:
        """Whether the status closes the issue (Jira sets a resolution on entering it)."""
        return self.category.key == "done"


_NEW = StatusCategory(2, "new", "To Do", "blue-gray")
_INDETERMINATE = StatusCategory(4, "indeterminate", "In Progress", "yellow")
_DONE = StatusCategory(3, "done", "Done", "green")

STATUSES: tuple[Status, ...] = (
    Status("10000", "To Do", _NEW),
    Status("3", "In Progress", _INDETERMINATE),
    Status("10001", "In Review", _INDETERMINATE),
    Status("10002", "Done", _DONE),
    Status("10003", "Won't Do", _DONE),
)
_STATUS_BY_NAME = {s.name: s for s in STATUSES}


def status_by_name(name: str) -> Status:
    """Look a status up by its exact name (raises KeyError for an unknown one)."""
    return _STATUS_BY_NAME[name]


@dataclass(frozen=True, slots=True)
class IssueType:
    id: str
    name: str
    subtask: bool
    hierarchy_level: int


ISSUE_TYPES: dict[str, IssueType] = {
    t.name: t
    for t in (
        IssueType("10000", "Epic", False, 1),
        IssueType("10001", "Story", False, 0),
        IssueType("10002", "Task", False, 0),
        IssueType("10003", "Bug", False, 0),
        IssueType("10004", "Sub-task", True, -1),
    )
}

HIERARCHY_TYPES: dict[str, IssueType] = {
    t.name: t for t in (IssueType("10005", "Initiative", False, 2),)
}
"""The levels Jira Premium's Advanced Roadmaps adds above Epic (Settings → Issue type
hierarchy): on no site until an admin adds one (`JiraDataset.add_hierarchy_level`)."""

# Resolution set when an issue enters a done-category status, keyed by that status.
RESOLUTIONS: dict[str, tuple[str, str]] = {
    "Done": ("10000", "Done"),
    "Won't Do": ("10001", "Won't Do"),
}


@dataclass(frozen=True, slots=True)
class User:
    account_id: str
    display_name: str
    email: str


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    key: str
    name: str
    team: str | None
    lead: User | None = None


@dataclass(frozen=True, slots=True)
class CustomField:
    """A custom field created on the site (beyond Sprint, Story point estimate and Flagged).

    `kind` is the sandbox's short name of its type: "number" (float), "date"
    (datepicker) or "string" (single-line textfield).
    """

    id: str
    name: str
    kind: str
    type_key: str  # com.atlassian.jira.plugin.system.customfieldtypes:float, ...
    searcher_key: str
    description: str = ""

    @property
    def number(self) -> int:
        """The numeric id (10030 for customfield_10030), as in cf[10030]."""
        return int(self.id.rsplit("_", 1)[1])


@dataclass(slots=True)
class Comment:
    """A comment on an issue; `body` is kept exactly as written (v2 text or a v3 ADF doc)."""

    id: str
    issue_id: str
    author: User
    body: str | dict[str, Any]
    created: datetime
    updated: datetime
    update_author: User
    properties: dict[str, Any] = field(default_factory=dict)
    visibility: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """The body as plain text, whichever format it was written in."""
        return body_text(self.body)

    @property
    def author_id(self) -> str:
        return self.author.account_id


@dataclass(frozen=True, slots=True)
class Board:
    id: int
    name: str
    type: str  # scrum | kanban
    project_key: str


@dataclass(slots=True)
class Sprint:
    """A sprint; mutable because `start_sprint`/`close_sprint` change its state and dates."""

    id: int
    name: str
    board_id: int
    state: str  # closed | active | future
    start: datetime | None
    end: datetime | None
    complete: datetime | None
    goal: str


class ChangeItem(NamedTuple):
    """One item of a changelog history, in Jira's own vocabulary."""

    field: str
    fieldtype: str
    field_id: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


class History(NamedTuple):
    id: str
    author: User
    created: datetime
    items: tuple[ChangeItem, ...]


class StatusTransition(NamedTuple):
    history_id: str
    at: datetime
    from_status: str
    to_status: str


class SprintStay(NamedTuple):
    """A stay in a sprint as the Sprint field shows it.

    A closed sprint stays in the field after it closes (Jira keeps it there), so
    a carried-over item has an open-ended stay in the closed sprint and a new one
    in the next sprint; `removed_at` is set only when the sprint left the field.
    """

    sprint_id: int
    added_at: datetime
    removed_at: datetime | None


class EstimateChange(NamedTuple):
    history_id: str
    at: datetime
    from_points: float | None
    to_points: float | None


class AssigneeChange(NamedTuple):
    history_id: str
    at: datetime
    from_account: str | None
    to_account: str | None


class DateChange(NamedTuple):
    """A change of the due date (ground truth of the date history)."""

    history_id: str
    at: datetime
    from_day: date | None
    to_day: date | None


class IssueLinkType(NamedTuple):
    id: str
    name: str
    inward: str
    outward: str


LINK_TYPES: dict[str, IssueLinkType] = {
    t.name: t
    for t in (
        IssueLinkType("10000", "Blocks", "is blocked by", "blocks"),
        IssueLinkType("10001", "Cloners", "is cloned by", "clones"),
        IssueLinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
        IssueLinkType("10003", "Relates", "relates to", "relates to"),
    )
}
"""The link types of a new Jira Cloud site."""

PRIORITIES: dict[str, str] = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
"""A new site's priority scheme: name -> id."""


class IssueLink(NamedTuple):
    """One end of a link as the issue holding it sees it: `direction` "outward" when this
    issue is the link's outward end (Jira then names the other as `outwardIssue`)."""

    id: str
    type_name: str
    direction: str  # outward | inward
    other_id: str
    other_key: str


@dataclass(frozen=True, slots=True)
class Version:
    """A project version (a fix version, a release)."""

    id: str
    name: str
    project_key: str
    start_date: date | None = None
    release_date: date | None = None
    released: bool = False
    archived: bool = False


class FlagChange(NamedTuple):
    history_id: str
    at: datetime
    flagged: bool


@dataclass(slots=True)
class Issue:
    """One issue: its current fields, its changelog and the ground truth behind it.

    The ground-truth lists are appended by the same code that writes each history
    (see `editor.IssueEditor`), never derived from the rendered changelog, so
    tests can check a connector's parsing against them.
    """

    id: str
    key: str
    project_key: str
    issue_type: IssueType
    summary: str
    description: str
    status: Status
    assignee: User | None
    reporter: User
    labels: list[str]
    parent_id: str | None
    parent_key: str | None
    points: float | None
    sprint_ids: list[int]
    flagged: bool
    created: datetime
    updated: datetime
    resolution: tuple[str, str] | None = None
    resolution_date: datetime | None = None
    histories: list[History] = field(default_factory=list)
    status_transitions: list[StatusTransition] = field(default_factory=list)
    sprint_stays: list[SprintStay] = field(default_factory=list)
    estimate_changes: list[EstimateChange] = field(default_factory=list)
    assignee_changes: list[AssigneeChange] = field(default_factory=list)
    flag_changes: list[FlagChange] = field(default_factory=list)
    custom_values: dict[str, Any] = field(default_factory=dict)  # created custom fields only
    comments: list[Comment] = field(default_factory=list)
    # The portfolio fields: unset on every generated issue, set only by the dataset's
    # mutations (so the generated dataset and every count tests take from it stay as they are).
    due_date: date | None = None
    priority: str | None = None
    rank: str | None = None
    fix_version_ids: list[str] = field(default_factory=list)
    links: list[IssueLink] = field(default_factory=list)
    due_date_changes: list[DateChange] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    """Component names (the generated epics carry their theme as one); no changelog: set
    when the issue is made."""

    @property
    def has_acceptance_criteria(self) -> bool:
        """Whether the description carries an "Acceptance criteria" section."""
        return "Acceptance criteria" in self.description
