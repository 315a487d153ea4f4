"""The sandbox's ground truth: a seeded, realistic Jira site and its mutations.

`JiraDataset.generate(seed=7)` always builds the same site: three teams, their
sprint calendars and a few hundred issues with six months of messy history
(backward moves, reopenings, skipped states, scope changes, carry-over,
re-estimates, flags, edit noise). Connector tests compare what they stored
against the accessors here — `issue.status_transitions`, `issue.sprint_stays`,
`issue.estimate_changes` — which come from the simulation itself.

Large sites stay small in memory: only a columnar index is kept per issue, and
issues are regenerated from (seed, project, number) on demand behind an LRU.
Mutated issues live in an overlay so later reads see the change.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

from pmo_sync.sandbox.editor import (
    CarryOver,
    IssueEditor,
    MoveProject,
    MoveToSprint,
    Op,
    RemoveOpenSprints,
    SetAssignee,
    SetDescription,
    SetFlag,
    SetLabels,
    SetPoints,
    SetStatus,
    SetSummary,
)
from pmo_sync.sandbox.index import IssueIndex
from pmo_sync.sandbox.model import (
    ISSUE_TYPES,
    STATUSES,
    Board,
    History,
    Issue,
    Project,
    Sprint,
    SprintStay,
    Status,
    User,
    status_by_name,
)
from pmo_sync.sandbox.simulate import IssueSimulator, ProjectPlan
from pmo_sync.sandbox.site import build_site
from pmo_sync.sandbox.timeline import DAY, from_epoch, to_epoch

__all__ = ["DEFAULT_NOW", "Clock", "IssueSequence", "JiraDataset"]

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW_DAYS = 180
_LRU_SIZE = 1024
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")


class Clock:
    """The sandbox's "now" for mutations and relative JQL dates; only moves forward."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    @property
    def now(self) -> datetime:
        return self._now

    def advance(
        self, *, minutes: float = 0, hours: float = 0, days: float = 0, seconds: float = 0
    ) -> datetime:
        """Move time forward and return the new now."""
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._now = self._now + delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an absolute (aware, not earlier) time."""
        if when.tzinfo is None or when < self._now:
            raise ValueError("the clock only moves forward, to an aware datetime")
        self._now = when.astimezone(UTC)
        return self._now


class IssueSequence(Sequence[Issue]):
    """Every live issue in id order, materialised one at a time."""

    def __init__(self, dataset: JiraDataset) -> None:
        self._dataset = dataset
        self._rows = dataset.index.live_rows()

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Issue: ...
    @overload
    def __getitem__(self, i: slice) -> list[Issue]: ...
    def __getitem__(self, i: int | slice) -> Issue | list[Issue]:
        if isinstance(i, slice):
            return [self._dataset.issue_at(r) for r in self._rows[i]]
        return self._dataset.issue_at(self._rows[i])

    def __iter__(self) -> Iterator[Issue]:
        for r in self._rows:
            yield self._dataset.issue_at(r)


class JiraDataset:
    """A generated Jira site. Thread-safe: the server reads while tests mutate."""

    def __init__(
        self,
        *,
        seed: object,
        now: datetime,
        projects: list[Project],
        boards: list[Board],
        sprints: list[Sprint],
        teams: dict[str, tuple[User, ...]],
        simulator: IssueSimulator,
        index: IssueIndex,
        issues_per_project: int,
    ) -> None:
        self.seed = seed
        self.generated_at = now
        self.clock = Clock(now)
        self.projects = projects
        self.boards = boards
        self.sprints = sprints
        self.statuses: tuple[Status, ...] = STATUSES
        self.teams = teams
        self.index = index
        self.issues_per_project = issues_per_project
        self.version = 0
        self.lock = threading.RLock()
        self._sim = simulator
        self._sprint_by_id = {s.id: s for s in sprints}
        self._project_pos = {p.key: n for n, p in enumerate(projects)}
        self._overlay: dict[int, Issue] = {}
        self._cache: OrderedDict[int, Issue] = OrderedDict()
        self._keys: dict[str, int] = {}  # keys of created or moved issues
        self._moved: dict[str, int] = {}  # old keys that now redirect
        self._next_number = {p.key: issues_per_project + 1 for p in projects}

    # -- construction --------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: object = 7,
        projects: Sequence[str] = ("ABC", "DEF", "GHI"),
        issues_per_project: int = 100,
        now: datetime = DEFAULT_NOW,
    ) -> JiraDataset:
        """Build the site and index every issue; the same arguments give the same site."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        keys = tuple(projects)
        site = build_site(seed, keys, now)
        now_s = to_epoch(now)
        window_start = now_s - WINDOW_DAYS * DAY
        sprints = list(site.sprints)
        plans = [
            ProjectPlan(
                index=p,
                project=project,
                issue_count=issues_per_project,
                members=site.teams[project.key],
                calendar=site.calendars[project.key],
                has_kanban=project.key in site.kanban_projects,
            )
            for p, project in enumerate(site.projects)
        ]
        sim = IssueSimulator(
            seed, plans, {s.id: s for s in sprints}, window_start, now_s, window_start - DAY
        )
        index = IssueIndex()
        dataset = cls(
            seed=seed,
            now=now,
            projects=list(site.projects),
            boards=list(site.boards),
            sprints=sprints,
            teams=dict(site.teams),
            simulator=sim,
            index=index,
            issues_per_project=issues_per_project,
        )
        for j in range(issues_per_project):
            for p in range(len(keys)):
                issue = sim.simulate(p, j)
                index.append(p, j + 1, issue, dataset._open_sprint(issue))
        return dataset

    # -- look-ups ------------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """Everyone on a team, in team order."""
        return [u for members in self.teams.values() for u in members]

    @property
    def issue_types(self) -> list[str]:
        return list(ISSUE_TYPES)

    @property
    def issues(self) -> IssueSequence:
        """Every live issue, ordered by id (creation order); materialised lazily."""
        with self.lock:
            return IssueSequence(self)

    def project(self, key: str) -> Project:
        return self.projects[self._project_pos[key]]

    def project_index(self, key: str) -> int | None:
        return self._project_pos.get(key)

    def sprint(self, sprint_id: int) -> Sprint:
        return self._sprint_by_id[sprint_id]

    def board(self, board_id: int) -> Board:
        return next(b for b in self.boards if b.id == board_id)

    def board_sprints(self, board_id: int) -> list[Sprint]:
        return [s for s in self.sprints if s.board_id == board_id]

    def row_of(self, key_or_id: str) -> int | None:
        """The live row of an issue by key (old keys of moved issues redirect) or numeric id."""
        with self.lock:
            key_or_id = str(key_or_id).strip()
            index = self.index
            if key_or_id.isdigit():
                row = int(key_or_id) - 10001
                return row if 0 <= row < len(index) and index.alive[row] else None
            m = _KEY_RE.match(key_or_id)
            if not m:
                return None
            key = f"{m.group(1).upper()}-{int(m.group(2))}"
            row = self._keys.get(key)
            if row is None:
                p = self._project_pos.get(m.group(1).upper())
                n = int(m.group(2))
                if p is not None and 1 <= n <= self.issues_per_project:
                    candidate = (n - 1) * len(self._sim.plans) + p
                    if (
                        candidate < len(index)
                        and index.project[candidate] == p
                        and index.number[candidate] == n
                    ):
                        row = candidate
            if row is None:
                row = self._moved.get(key)
            return row if row is not None and index.alive[row] else None

    def issue_at(self, row: int) -> Issue:
        """The issue of a row (treat it as read-only: mutate through the methods below)."""
        with self.lock:
            issue = self._overlay.get(row)
            if issue is not None:
                return issue
            issue = self._cache.get(row)
            if issue is not None:
                self._cache.move_to_end(row)
                return issue
            issue = self._generate(row)
            self._cache[row] = issue
            if len(self._cache) > _LRU_SIZE:
                self._cache.popitem(last=False)
            return issue

    def find(self, key_or_id: str) -> Issue | None:
        """The live issue with this key or id, or None."""
        with self.lock:
            row = self.row_of(key_or_id)
            return None if row is None else self.issue_at(row)

    def issue(self, key_or_id: str) -> Issue:
        """The live issue with this key or id (KeyError when absent or deleted)."""
        found = self.find(key_or_id)
        if found is None:
            raise KeyError(key_or_id)
        return found

    def project_of_row(self, row: int) -> Project:
        return self.projects[self.index.project[row]]

    def key_at(self, row: int) -> str:
        """The current key of a row, from the index alone (no issue is generated)."""
        return f"{self.projects[self.index.project[row]].key}-{self.index.number[row]}"

    # -- mutations -----------------------------------------------------------------

    def transition(self, key: str, to_status: str, *, author: User | None = None) -> History | None:
        """Move an issue to a status (setting or clearing its resolution like Jira)."""
        status_by_name(to_status)
        return self._edit(key, [SetStatus(to_status)], author)

    def set_estimate(
        self, key: str, points: float | None, *, author: User | None = None
    ) -> History | None:
        return self._edit(key, [SetPoints(points)], author)

    def assign(self, key: str, user: User | None, *, author: User | None = None) -> History | None:
        return self._edit(key, [SetAssignee(user)], author)

    def set_flagged(self, key: str, flagged: bool, *, author: User | None = None) -> History | None:
        return self._edit(key, [SetFlag(flagged)], author)

    def edit(
        self,
        key: str,
        *,
        summary: str | None = None,
        description: str | None = None,
        labels: Sequence[str] | None = None,
        author: User | None = None,
    ) -> History | None:
        """Edit text fields in one history (noise for the metrics, not for the sync)."""
        ops: list[Op] = []
        if summary is not None:
            ops.append(SetSummary(summary))
        if description is not None:
            ops.append(SetDescription(description))
        if labels is not None:
            ops.append(SetLabels(tuple(labels)))
        return self._edit(key, ops, author)

    def add_to_sprint(
        self, key: str, sprint_id: int, *, author: User | None = None
    ) -> History | None:
        """Put an issue into a sprint, taking it out of any other open sprint (as Jira does)."""
        sprint = self.sprint(sprint_id)
        if sprint.state == "closed":
            raise ValueError(f"sprint {sprint_id} is closed")
        return self._edit(key, [MoveToSprint(sprint_id)], author)

    def remove_from_sprint(self, key: str, *, author: User | None = None) -> History | None:
        """Send an issue back to the backlog (closed sprints stay in its Sprint field)."""
        return self._edit(key, [RemoveOpenSprints()], author)

    def create_issue(
        self,
        project: str,
        summary: str,
        *,
        issue_type: str = "Story",
        points: float | None = None,
        sprint_id: int | None = None,
        assignee: User | None = None,
        labels: Sequence[str] = (),
        description: str = "",
        parent_key: str | None = None,
    ) -> Issue:
        """Create an issue at the clock's time; its initial values write no history."""
        with self.lock:
            p = self._project_pos[project]
            now = self.clock.now.replace(microsecond=0)
            number = self._next_number[project]
            self._next_number[project] = number + 1
            row = len(self.index)
            parent = self.issue(parent_key) if parent_key else None
            issue = Issue(
                id=str(10001 + row),
                key=f"{project}-{number}",
                project_key=project,
                issue_type=ISSUE_TYPES[issue_type],
                summary=summary,
                description=description,
                status=status_by_name("To Do"),
                assignee=assignee,
                reporter=self._default_author(project),
                labels=list(labels),
                parent_id=parent.id if parent else None,
                parent_key=parent.key if parent else None,
                points=points,
                sprint_ids=[sprint_id] if sprint_id is not None else [],
                flagged=False,
                created=now,
                updated=now,
            )
            if sprint_id is not None:
                issue.sprint_stays.append(SprintStay(sprint_id, now, None))
            self.index.append(p, number, issue, self._open_sprint(issue))
            self._overlay[row] = issue
            self._keys[issue.key] = row
            self.version += 1
            return issue

    def delete_issue(self, key: str) -> None:
        """Delete an issue: it vanishes from every endpoint, leaving no trace in search."""
        with self.lock:
            row = self._require_row(key)
            self.index.alive[row] = 0
            self._overlay.pop(row, None)
            self._cache.pop(row, None)
            self.version += 1

    def move_to_project(self, key: str, project_key: str, *, author: User | None = None) -> Issue:
        """Move an issue to another project (created on the fly): new key, same id."""
        with self.lock:
            row = self._require_row(key)
            if project_key not in self._project_pos:
                self._project_pos[project_key] = len(self.projects)
                self.projects.append(
                    Project(str(10000 + len(self.projects)), project_key, project_key, None, None)
                )
                self._next_number[project_key] = 1
            target = self.project(project_key)
            issue = self._editable(row)
            old_key = issue.key
            source = self.project(issue.project_key)
            number = self._next_number[project_key]
            self._next_number[project_key] = number + 1
            new_key = f"{project_key}-{number}"
            self._record(row, issue, [MoveProject(target, source, new_key)], author)
            self._keys.pop(old_key, None)
            self._keys[new_key] = row
            self._moved[old_key] = row
            return issue

    def start_sprint(self, sprint_id: int, *, end: datetime | None = None) -> Sprint:
        """Start a future sprint now, for two weeks unless `end` is given."""
        with self.lock:
            sprint = self.sprint(sprint_id)
            if sprint.state != "future":
                raise ValueError(f"sprint {sprint_id} is {sprint.state}, not future")
            now = self.clock.now.replace(microsecond=0)
            sprint.state = "active"
            sprint.start = now
            sprint.end = end or now + timedelta(days=14)
            self.version += 1
            return sprint

    def close_sprint(
        self, sprint_id: int, *, move_to: int | str | None = "next", author: User | None = None
    ) -> list[str]:
        """Close a sprint now; incomplete issues move to `move_to`.

        "next" (the default) is the board's earliest future sprint, as Jira offers;
        None leaves them in the backlog. Returns the keys of the issues moved.
        """
        with self.lock:
            sprint = self.sprint(sprint_id)
            if sprint.state != "active":
                raise ValueError(f"sprint {sprint_id} is {sprint.state}, not active")
            if move_to == "next":
                future = [s for s in self.board_sprints(sprint.board_id) if s.state == "future"]
                target = min(future, key=lambda s: s.id).id if future else None
            else:
                target = None if move_to is None else int(move_to)
            sprint.state = "closed"
            sprint.complete = self.clock.now.replace(microsecond=0)
            index = self.index
            members = [
                r for r in range(len(index)) if index.alive[r] and index.open_sprint[r] == sprint_id
            ]
            moved: list[str] = []
            for row in members:
                issue = self._editable(row)
                carry = target is not None and not issue.status.is_done
                if carry and self._record(row, issue, [CarryOver(sprint_id, target)], author):
                    moved.append(issue.key)
                self._reindex(row, issue)
            self.version += 1
            return moved

    # -- internals -----------------------------------------------------------------

    def _generate(self, row: int) -> Issue:
        n_projects = len(self._sim.plans)
        return self._sim.simulate(row % n_projects, row // n_projects)

    def _require_row(self, key: str) -> int:
        row = self.row_of(key)
        if row is None:
            raise KeyError(key)
        return row

    def _editable(self, row: int) -> Issue:
        """The overlay copy of an issue, made from a fresh generation on first write."""
        issue = self._overlay.get(row)
        if issue is None:
            issue = self._generate(row)
            self._overlay[row] = issue
            self._cache.pop(row, None)
        return issue

    def _default_author(self, project_key: str) -> User:
        members = self.teams.get(project_key)
        return members[0] if members else self.users[0]

    def _record(
        self, row: int, issue: Issue, ops: Sequence[Op], author: User | None
    ) -> History | None:
        editor = IssueEditor(issue, self._sprint_by_id, row, self._sim.id_epoch)
        history = editor.record(
            to_epoch(self.clock.now), author or self._default_author(issue.project_key), ops
        )
        self._reindex(row, issue)
        self.version += 1
        return history

    def _edit(self, key: str, ops: Sequence[Op], author: User | None) -> History | None:
        """Apply ops at the clock's time; None (and no history) when nothing changed."""
        with self.lock:
            row = self._require_row(key)
            return self._record(row, self._editable(row), ops, author)

    def _open_sprint(self, issue: Issue) -> int:
        for sid in reversed(issue.sprint_ids):
            if self._sprint_by_id[sid].state != "closed":
                return sid
        return 0

    def _reindex(self, row: int, issue: Issue) -> None:
        p = self._project_pos[issue.project_key]
        number = int(issue.key.rsplit("-", 1)[1])
        self.index.refresh(row, p, number, issue, self._open_sprint(issue))

    def __repr__(self) -> str:
        return (
            f"JiraDataset(seed={self.seed!r}, projects={[p.key for p in self.projects]}, "
            f"issues={len(self.index)}, now={from_epoch(to_epoch(self.clock.now)).isoformat()})"
        )
