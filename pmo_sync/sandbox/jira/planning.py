"""The sandbox's portfolio edits (due date, priority, rank, fix versions, links), written to
the changelog as Jira writes them.

Kept beside `editor.IssueEditor`, which applies them through `apply_planning`: each op
changes the issue's field and returns the changelog items of that change (none when the
value is already the one asked for), and a due-date change is also kept as ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from pmo_sync.sandbox.jira.model import (
    FIELD_RANK,
    LINK_TYPES,
    PRIORITIES,
    ChangeItem,
    DateChange,
    Issue,
    IssueLink,
    Version,
)

__all__ = [
    "AddLink",
    "PlanningOp",
    "SetDueDate",
    "SetFixVersions",
    "SetPriority",
    "SetRank",
    "apply_planning",
]


@dataclass(frozen=True, slots=True)
class SetDueDate:
    day: date | None


@dataclass(frozen=True, slots=True)
class SetPriority:
    name: str


@dataclass(frozen=True, slots=True)
class SetRank:
    """A LexoRank string; Jira's changelog says only "Ranked higher" or "Ranked lower"."""

    rank: str


@dataclass(frozen=True, slots=True)
class SetFixVersions:
    versions: tuple[Version, ...]


@dataclass(frozen=True, slots=True)
class AddLink:
    link: IssueLink


PlanningOp = SetDueDate | SetPriority | SetRank | SetFixVersions | AddLink


def _day_string(day: date | None) -> str | None:
    """A due date in a changelog: `2026-04-30` as the value, with a time in the string."""
    return None if day is None else f"{day.isoformat()} 00:00:00.0"


def apply_planning(
    issue: Issue, op: PlanningOp, hid: str, when: datetime, versions: Mapping[str, Version]
) -> list[ChangeItem]:
    """Apply one op to `issue`; the changelog items it writes (none for a no-op)."""
    match op:
        case SetDueDate(day):
            if day == issue.due_date:
                return []
            old, issue.due_date = issue.due_date, day
            issue.due_date_changes.append(DateChange(hid, when, old, day))
            return [
                ChangeItem(
                    "duedate",
                    "jira",
                    "duedate",
                    None if old is None else old.isoformat(),
                    _day_string(old),
                    None if day is None else day.isoformat(),
                    _day_string(day),
                )
            ]
        case SetPriority(name):
            if name == issue.priority:
                return []
            old_name, issue.priority = issue.priority, name
            return [
                ChangeItem(
                    "priority",
                    "jira",
                    "priority",
                    PRIORITIES.get(old_name or ""),
                    old_name,
                    PRIORITIES[name],
                    name,
                )
            ]
        case SetRank(rank):
            if rank == issue.rank:
                return []
            old_rank, issue.rank = issue.rank, rank
            moved = "Ranked higher" if old_rank is None or rank < old_rank else "Ranked lower"
            return [ChangeItem("Rank", "custom", FIELD_RANK, "", "", "", moved)]
        case SetFixVersions(chosen):
            ids = [v.id for v in chosen]
            if ids == issue.fix_version_ids:
                return []
            old_ids, issue.fix_version_ids = issue.fix_version_ids, ids
            items = [
                ChangeItem("Fix Version", "jira", "fixVersions", v, versions[v].name, None, None)
                for v in old_ids
                if v not in ids
            ]
            items += [
                ChangeItem("Fix Version", "jira", "fixVersions", None, None, v.id, v.name)
                for v in chosen
                if v.id not in old_ids
            ]
            return items
        case AddLink(link):
            if any(existing.id == link.id for existing in issue.links):
                return []
            issue.links.append(link)
            link_type = LINK_TYPES[link.type_name]
            phrase = link_type.outward if link.direction == "outward" else link_type.inward
            return [
                ChangeItem(
                    "Link",
                    "jira",
                    "issuelinks",
                    None,
                    None,
                    link.other_key,
                    f"This issue {phrase} {link.other_key}",
                )
            ]
    raise TypeError(f"unknown op {op!r}")
