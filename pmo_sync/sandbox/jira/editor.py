"""Applies edits to an issue exactly as Jira records them: one history per edit.

Both the generator (replaying a simulated life) and the dataset's mutations go
through `IssueEditor.record`, so the changelog, the current fields and the
ground-truth lists can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pmo_sync.sandbox.jira.fields import change_value
from pmo_sync.sandbox.jira.model import (
    FIELD_FLAGGED,
    FIELD_POINTS,
    FIELD_SPRINT,
    RESOLUTIONS,
    AssigneeChange,
    ChangeItem,
    CustomField,
    EstimateChange,
    FlagChange,
    History,
    Issue,
    Project,
    Sprint,
    SprintStay,
    StatusTransition,
    User,
    Version,
    status_by_name,
)
from pmo_sync.sandbox.jira.planning import PlanningOp, apply_planning
from pmo_sync.sandbox.jira.timeline import from_epoch, to_epoch

__all__ = [
    "HISTORY_SLOTS",
    "AddSprint",
    "CarryOver",
    "IssueEditor",
    "MoveProject",
    "MoveToSprint",
    "Op",
    "RemoveOpenSprints",
    "RemoveSprint",
    "SetAssignee",
    "SetCustomField",
    "SetDescription",
    "SetFlag",
    "SetLabels",
    "SetPoints",
    "SetStatus",
    "SetSummary",
    "points_string",
]

# History ids are (seconds since the dataset's id epoch) * HISTORY_SLOTS + issue slot:
# unique, increasing in time across the whole site, and computable per issue alone.
HISTORY_SLOTS = 1_000_000


@dataclass(frozen=True, slots=True)
class SetStatus:
    name: str


@dataclass(frozen=True, slots=True)
class AddSprint:
    sprint_id: int


@dataclass(frozen=True, slots=True)
class RemoveSprint:
    sprint_id: int


@dataclass(frozen=True, slots=True)
class RemoveOpenSprints:
    """Send the issue back to the backlog: drop every sprint that is not closed."""


@dataclass(frozen=True, slots=True)
class MoveToSprint:
    """Put the issue in `sprint_id`, out of any other open sprint, in one Sprint item."""

    sprint_id: int


@dataclass(frozen=True, slots=True)
class CarryOver:
    """At a sprint's close, move the issue to `to_sprint` if it is in `from_sprint` and not done."""

    from_sprint: int
    to_sprint: int


@dataclass(frozen=True, slots=True)
class SetPoints:
    points: float | None


@dataclass(frozen=True, slots=True)
class SetAssignee:
    user: User | None


@dataclass(frozen=True, slots=True)
class SetFlag:
    flagged: bool


@dataclass(frozen=True, slots=True)
class SetLabels:
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetSummary:
    summary: str


@dataclass(frozen=True, slots=True)
class SetDescription:
    description: str


@dataclass(frozen=True, slots=True)
class SetCustomField:
    """Set a created custom field to an already-coerced value (None clears it)."""

    field: CustomField
    value: Any


@dataclass(frozen=True, slots=True)
class MoveProject:
    to_project: Project
    from_project: Project
    new_key: str


Op = (
    SetStatus
    | AddSprint
    | RemoveSprint
    | RemoveOpenSprints
    | MoveToSprint
    | CarryOver
    | SetPoints
    | SetAssignee
    | SetFlag
    | SetLabels
    | SetSummary
    | SetDescription
    | SetCustomField
    | MoveProject
    | PlanningOp
)


def points_string(points: float | None) -> str | None:
    """Story points as Jira writes them in a changelog ("3", "0.5"), None when unset."""
    return None if points is None else f"{points:g}"


class IssueEditor:
    """Records edits on one issue; each `record` call is one changelog history."""

    def __init__(
        self,
        issue: Issue,
        sprints: Mapping[int, Sprint],
        slot: int,
        id_epoch: int,
        is_open_sprint: Callable[[int], bool] | None = None,
        versions: Mapping[str, Version] | None = None,
    ) -> None:
        if not 0 <= slot < HISTORY_SLOTS:
            raise ValueError(f"issue slot {slot} does not fit in a history id")
        self.issue = issue
        self._sprints = sprints
        self._slot = slot
        self._id_epoch = id_epoch
        self._is_open = is_open_sprint or (lambda sid: sprints[sid].state != "closed")
        self._versions: Mapping[str, Version] = versions or {}
        last = issue.histories[-1].created if issue.histories else issue.created
        self.last = to_epoch(last)

    def next_time(self, at: int) -> int:
        """The earliest time >= `at` that keeps this issue's histories strictly increasing."""
        return at if at > self.last else self.last + 1

    def record(self, at: int, author: User, ops: Sequence[Op]) -> History | None:
        """Apply `ops` at epoch second `at` (bumped to stay strictly increasing).

        Returns the history written, or None when every op was a no-op (Jira
        writes nothing for an edit that changes nothing).
        """
        at = self.next_time(at)
        hid = str((at - self._id_epoch) * HISTORY_SLOTS + self._slot)
        when = from_epoch(at)
        items: list[ChangeItem] = []
        for op in ops:
            items.extend(self._apply(op, hid, when))
        if not items:
            return None
        history = History(hid, author, when, tuple(items))
        self.issue.histories.append(history)
        self.issue.updated = when
        self.last = at
        return history

    # -- one method per kind of op ------------------------------------------------

    def _apply(self, op: Op, hid: str, when: datetime) -> list[ChangeItem]:
        issue = self.issue
        match op:
            case SetStatus(name):
                return self._status(name, hid, when)
            case AddSprint(sid):
                if sid in issue.sprint_ids:
                    return []
                return self._sprints_to([*issue.sprint_ids, sid], when)
            case RemoveSprint(sid):
                if sid not in issue.sprint_ids:
                    return []
                return self._sprints_to([s for s in issue.sprint_ids if s != sid], when)
            case RemoveOpenSprints():
                kept = [s for s in issue.sprint_ids if not self._is_open(s)]
                return self._sprints_to(kept, when) if kept != issue.sprint_ids else []
            case MoveToSprint(sid):
                kept = [s for s in issue.sprint_ids if not self._is_open(s) and s != sid]
                target = [*kept, sid]
                return self._sprints_to(target, when) if target != issue.sprint_ids else []
            case CarryOver(src, dst):
                if src not in issue.sprint_ids or issue.status.is_done:
                    return []
                if dst in issue.sprint_ids:
                    return []
                return self._sprints_to([*issue.sprint_ids, dst], when)
            case SetPoints(points):
                if points == issue.points:
                    return []
                old, issue.points = issue.points, points
                issue.estimate_changes.append(EstimateChange(hid, when, old, points))
                return [
                    ChangeItem(
                        "Story point estimate",
                        "custom",
                        FIELD_POINTS,
                        None,
                        points_string(old),
                        None,
                        points_string(points),
                    )
                ]
            case SetAssignee(user):
                old_user = issue.assignee
                if (old_user and old_user.account_id) == (user and user.account_id):
                    return []
                issue.assignee = user
                issue.assignee_changes.append(
                    AssigneeChange(
                        hid,
                        when,
                        old_user.account_id if old_user else None,
                        user.account_id if user else None,
                    )
                )
                return [
                    ChangeItem(
                        "assignee",
                        "jira",
                        "assignee",
                        old_user.account_id if old_user else None,
                        old_user.display_name if old_user else None,
                        user.account_id if user else None,
                        user.display_name if user else None,
                    )
                ]
            case SetFlag(flagged):
                if flagged == issue.flagged:
                    return []
                issue.flagged = flagged
                issue.flag_changes.append(FlagChange(hid, when, flagged))
                return [
                    ChangeItem(
                        "Flagged",
                        "custom",
                        FIELD_FLAGGED,
                        None,
                        None if flagged else "Impediment",
                        None,
                        "Impediment" if flagged else None,
                    )
                ]
            case SetLabels(labels):
                if list(labels) == issue.labels:
                    return []
                old_labels, issue.labels = issue.labels, list(labels)
                return [
                    ChangeItem(
                        "labels",
                        "jira",
                        "labels",
                        None,
                        " ".join(old_labels),
                        None,
                        " ".join(labels),
                    )
                ]
            case SetSummary(summary):
                if summary == issue.summary:
                    return []
                old_text, issue.summary = issue.summary, summary
                return [ChangeItem("summary", "jira", "summary", None, old_text, None, summary)]
            case SetDescription(text):
                if text == issue.description:
                    return []
                old_text, issue.description = issue.description, text
                return [
                    ChangeItem("description", "jira", "description", None, old_text, None, text)
                ]
            case SetCustomField(cf, value):
                old = issue.custom_values.get(cf.id)
                if old == value:
                    return []
                if value is None:
                    issue.custom_values.pop(cf.id, None)
                else:
                    issue.custom_values[cf.id] = value
                from_value, from_string = change_value(cf, old)
                to_value, to_string = change_value(cf, value)
                return [
                    ChangeItem(
                        cf.name, "custom", cf.id, from_value, from_string, to_value, to_string
                    )
                ]
            case MoveProject(to_project, from_project, new_key):
                old_key = issue.key
                issue.key, issue.project_key = new_key, to_project.key
                return [
                    ChangeItem(
                        "project",
                        "jira",
                        "project",
                        from_project.id,
                        from_project.name,
                        to_project.id,
                        to_project.name,
                    ),
                    ChangeItem("Key", "jira", "issuekey", None, old_key, None, new_key),
                ]
            case _:
                return apply_planning(issue, op, hid, when, self._versions)

    def _status(self, name: str, hid: str, when: datetime) -> list[ChangeItem]:
        issue = self.issue
        new = status_by_name(name)
        old = issue.status
        if new.id == old.id:
            return []
        items: list[ChangeItem] = []
        old_res = issue.resolution
        new_res = RESOLUTIONS[new.name] if new.is_done else None
        if old_res != new_res:
            items.append(
                ChangeItem(
                    "resolution",
                    "jira",
                    "resolution",
                    old_res[0] if old_res else None,
                    old_res[1] if old_res else None,
                    new_res[0] if new_res else None,
                    new_res[1] if new_res else None,
                )
            )
            issue.resolution = new_res
            issue.resolution_date = when if new_res else None
        items.append(ChangeItem("status", "jira", "status", old.id, old.name, new.id, new.name))
        issue.status = new
        issue.status_transitions.append(StatusTransition(hid, when, old.name, new.name))
        return items

    def _sprints_to(self, new_ids: list[int], when: datetime) -> list[ChangeItem]:
        issue = self.issue
        old_ids = issue.sprint_ids
        for sid in new_ids:
            if sid not in old_ids:
                issue.sprint_stays.append(SprintStay(sid, when, None))
        for sid in old_ids:
            if sid not in new_ids:
                for i in range(len(issue.sprint_stays) - 1, -1, -1):
                    stay = issue.sprint_stays[i]
                    if stay.sprint_id == sid and stay.removed_at is None:
                        issue.sprint_stays[i] = stay._replace(removed_at=when)
                        break
        issue.sprint_ids = list(new_ids)
        return [
            ChangeItem(
                "Sprint",
                "custom",
                FIELD_SPRINT,
                ", ".join(str(s) for s in old_ids),
                ", ".join(self._sprints[s].name for s in old_ids),
                ", ".join(str(s) for s in new_ids),
                ", ".join(self._sprints[s].name for s in new_ids),
            )
        ]
