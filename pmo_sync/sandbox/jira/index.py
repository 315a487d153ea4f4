"""A compact, columnar index of every issue: what JQL filters and sorts on.

Issues themselves are regenerated on demand; this index is all the dataset keeps
per issue (about 30 bytes), which is what lets the sandbox serve 100k issues.
Row r is the issue with id ``10001 + r``.
"""

from __future__ import annotations

from array import array

from pmo_sync.sandbox.jira.model import HIERARCHY_TYPES, ISSUE_TYPES, STATUSES, Issue
from pmo_sync.sandbox.jira.timeline import to_epoch

__all__ = ["TYPE_ORDER", "IssueIndex"]

TYPE_ORDER = (*ISSUE_TYPES, *HIERARCHY_TYPES)  # the levels above Epic last: positions stay
_STATUS_POS = {s.id: n for n, s in enumerate(STATUSES)}
_TYPE_POS = {name: n for n, name in enumerate(TYPE_ORDER)}


class IssueIndex:
    """Parallel arrays, one entry per row; rows are never reused (a deleted row is dead)."""

    def __init__(self) -> None:
        self.project = array("H")
        self.number = array("L")
        self.created = array("q")
        self.updated = array("q")
        self.status = array("B")
        self.itype = array("B")
        self.open_sprint = array("l")
        self.alive = bytearray()

    def __len__(self) -> int:
        return len(self.alive)

    def append(self, project: int, number: int, issue: Issue, open_sprint: int) -> int:
        """Add a row for `issue` (already simulated or created) and return it."""
        self.project.append(project)
        self.number.append(number)
        self.created.append(to_epoch(issue.created))
        self.updated.append(to_epoch(issue.updated))
        self.status.append(_STATUS_POS[issue.status.id])
        self.itype.append(_TYPE_POS[issue.issue_type.name])
        self.open_sprint.append(open_sprint)
        self.alive.append(1)
        return len(self.alive) - 1

    def refresh(self, row: int, project: int, number: int, issue: Issue, open_sprint: int) -> None:
        """Bring a row up to date after a mutation of its issue."""
        self.project[row] = project
        self.number[row] = number
        self.updated[row] = to_epoch(issue.updated)
        self.status[row] = _STATUS_POS[issue.status.id]
        self.itype[row] = _TYPE_POS[issue.issue_type.name]
        self.open_sprint[row] = open_sprint

    def live_rows(self) -> list[int]:
        """Every row whose issue still exists, in id order."""
        alive = self.alive
        return [r for r in range(len(alive)) if alive[r]]
