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

Write-back support: custom fields can be created (`create_custom_field`) and,
as a separate admin step like on a real site, put on projects' edit screens
(`add_field_to_screen`); issues carry their values and comments, and
`update_fields`/`set_field` write values through the same editor as every
other mutation, so each real change is one changelog history.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload

from pmo_sync.sandbox.clock import Clock
from pmo_sync.sandbox.jira.backlog import Backlog, RequestPlan, plan_backlog
from pmo_sync.sandbox.jira.editor import (
    CarryOver,
    IssueEditor,
    MoveProject,
    MoveToSprint,
    Op,
    RemoveOpenSprints,
    SetAssignee,
    SetCustomField,
    SetDescription,
    SetFlag,
    SetLabels,
    SetPoints,
    SetStatus,
    SetSummary,
)
from pmo_sync.sandbox.jira.fields import FieldValueError, coerce, type_for
from pmo_sync.sandbox.jira.index import IssueIndex
from pmo_sync.sandbox.jira.model import (
    FIELD_POINTS,
    HIERARCHY_TYPES,
    ISSUE_TYPES,
    LINK_TYPES,
    STATUSES,
    Board,
    Comment,
    CustomField,
    History,
    Issue,
    IssueLink,
    IssueType,
    Project,
    Sprint,
    SprintStay,
    Status,
    User,
    Version,
    status_by_name,
)
from pmo_sync.sandbox.jira.planning import (
    AddLink,
    SetDueDate,
    SetFixVersions,
    SetPriority,
    SetRank,
)
from pmo_sync.sandbox.jira.simulate import IssueSimulator, ProjectPlan
from pmo_sync.sandbox.jira.site import build_site
from pmo_sync.sandbox.jira.timeline import DAY, from_epoch, to_epoch

__all__ = [
    "DEFAULT_NOW",
    "FIRST_CUSTOM_FIELD",
    "SYSTEM_EDIT_FIELDS",
    "GeneratedLink",
    "GeneratedRequest",
    "IssueSequence",
    "JiraDataset",
]

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW_DAYS = 180
_LRU_SIZE = 1024
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")
FIRST_CUSTOM_FIELD = 10030  # created custom fields are customfield_10030, _10031, ...
FIRST_COMMENT_ID = 10000
FIRST_VERSION_ID = 10100
FIRST_LINK_ID = 20000
# Fields on every project's edit screen (and writable through PUT /issue).
SYSTEM_EDIT_FIELDS = ("summary", "description", "labels", "assignee", FIELD_POINTS)


@dataclasses.dataclass(frozen=True, slots=True)
class GeneratedRequest:
    """Ground truth of one generated epic: what its team's plan made of it."""

    key: str
    children: tuple[str, ...]
    """Its children's keys, oldest first."""
    grown: int
    """How many children were added after its first child started (scope growth)."""
    theme: str | None
    """Its component (Growth, Reliability, Compliance) or None."""
    rank: str
    jumped: bool
    """Whether it was ranked to the top after it was made (an urgent epic)."""
    due: date | None
    """The due date it was made with."""
    due_moves: tuple[date, ...]
    """Each later due date it was moved to, oldest first."""
    lag_hours: int
    """Hours from its last child done to it done (0: within the minute)."""


@dataclasses.dataclass(frozen=True, slots=True)
class GeneratedLink:
    """Ground truth of one generated "Blocks" link."""

    id: str
    blocker: str
    waiting: str
    made: datetime


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
        backlog: Backlog | None = None,
    ) -> None:
        self.seed = seed
        self.backlog = backlog
        """The plan the issues were generated from (None for a dataset built by hand)."""
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
        self._custom_fields: dict[str, CustomField] = {}
        self._versions: dict[str, Version] = {}  # id -> version, in the order made
        self._next_link = FIRST_LINK_ID
        self._screens: dict[str, list[str]] = {}  # project key -> created fields on its screen
        self._comment_rows: dict[str, int] = {}  # comment id -> row of its issue
        self._next_comment = FIRST_COMMENT_ID
        self.issue_type_scheme: dict[str, IssueType] = dict(ISSUE_TYPES)
        """The issue types the site offers: a new site's, plus the levels an admin adds."""

    # -- construction --------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: object = 7,
        projects: Sequence[str] = ("ABC", "DEF", "GHI"),
        issues_per_project: int = 100,
        now: datetime = DEFAULT_NOW,
        *,
        releases: bool = True,
        portfolio: bool = True,
    ) -> JiraDataset:
        """Build the site and index every issue; the same arguments give the same site.

        `releases=False` makes no versions (and so no fix versions): a site whose releases
        a test makes itself, e.g. one about reading versions. `portfolio=False` makes no
        portfolio at all (no epic, theme, rank, due date, link or release: unplanned work and
        its sub-tasks only): the site beside the scripted portfolio, whose answers are the
        script's alone."""
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
        backlog = plan_backlog(
            seed,
            keys,
            issues_per_project,
            window_start,
            now_s,
            releases=releases,
            portfolio=portfolio,
        )
        sim = IssueSimulator(
            seed,
            plans,
            {s.id: s for s in sprints},
            window_start,
            now_s,
            window_start - DAY,
            backlog,
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
            backlog=backlog,
        )
        dataset._versions = dict(sim.versions)
        dataset._next_link = FIRST_LINK_ID + len(backlog.link_pairs)
        sim.preparing = True
        for j in range(issues_per_project):
            for p in range(len(keys)):
                issue = sim.take_prepared(p, j) or sim.simulate(p, j)
                index.append(p, j + 1, issue, dataset._open_sprint(issue))
        sim.preparing = False
        return dataset

    # -- the generated portfolio's ground truth ---------------------------------------

    def generated_requests(self) -> list[GeneratedRequest]:
        """Every generated epic's plan, by project then number."""
        if self.backlog is None:
            return []
        return [
            self._generated_request(p, request)
            for (p, _), request in sorted(self.backlog.requests.items())
        ]

    def _generated_request(self, p: int, request: RequestPlan) -> GeneratedRequest:
        key = self.projects[p].key
        return GeneratedRequest(
            key=f"{key}-{request.number + 1}",
            children=tuple(f"{key}-{c + 1}" for c in request.children),
            grown=request.grown,
            theme=request.theme,
            rank=request.rank,
            jumped=request.jumped_at is not None,
            due=request.due,
            due_moves=tuple(day for _, day in request.due_moves),
            lag_hours=request.lag,
        )

    def generated_links(self) -> list[GeneratedLink]:
        """Every generated "Blocks" link, in id order."""
        if self.backlog is None:
            return []
        return [
            GeneratedLink(
                link_id,
                f"{self.projects[b[0]].key}-{b[1] + 1}",
                f"{self.projects[w[0]].key}-{w[1] + 1}",
                from_epoch(made),
            )
            for link_id, b, w, made in self.backlog.link_pairs
        ]

    @property
    def generated_version_ids(self) -> frozenset[str]:
        """The ids of the generated versions (releases), whatever was made since."""
        if self.backlog is None:
            return frozenset()
        return frozenset(r.version.id for rs in self.backlog.releases for r in rs)

    # -- look-ups ------------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """Everyone on a team, in team order."""
        return [u for members in self.teams.values() for u in members]

    @property
    def issue_types(self) -> list[str]:
        return list(self.issue_type_scheme)

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
                by_id = int(key_or_id) - 10001
                return by_id if 0 <= by_id < len(index) and index.alive[by_id] else None
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

    # -- the portfolio: none of it is generated; a test sets what it needs -------------

    def add_version(
        self,
        project: str,
        name: str,
        *,
        start_date: date | None = None,
        release_date: date | None = None,
        released: bool = False,
        archived: bool = False,
    ) -> Version:
        """Make a version (release) in a project; `GET /project/{key}/versions` lists it."""
        with self.lock:
            self.project(project)
            version = Version(
                str(FIRST_VERSION_ID + len(self._versions)),
                name,
                project,
                start_date,
                release_date,
                released,
                archived,
            )
            self._versions[version.id] = version
            self.version += 1
            return version

    def release_version(self, version_id: str, *, release_date: date | None = None) -> Version:
        """Release a version, as Jira's "Release" action does: `released` becomes true and
        the release date is the one given (the day it shipped), else the planned one kept.
        No issue changes: an issue's `fixVersions` show the version as it is now."""
        with self.lock:
            version = self._versions[version_id]
            released = dataclasses.replace(
                version, released=True, release_date=release_date or version.release_date
            )
            self._versions[version_id] = released
            self.version += 1
            return released

    def add_hierarchy_level(self, name: str = "Initiative") -> IssueType:
        """Add an Advanced Roadmaps level above Epic (Jira Premium: Settings → Issue type
        hierarchy), so issues of that type can be created and epics name them as `parent`.
        A new site has no level above Epic: the generated dataset never has one."""
        with self.lock:
            issue_type = HIERARCHY_TYPES[name]  # KeyError for a level the sandbox lacks
            self.issue_type_scheme[name] = issue_type
            self.version += 1
            return issue_type

    def versions(self, project: str) -> list[Version]:
        with self.lock:
            return [v for v in self._versions.values() if v.project_key == project]

    def version_by_id(self, version_id: str) -> Version:
        return self._versions[version_id]

    def set_due_date(
        self, key: str, day: date | None, *, author: User | None = None
    ) -> History | None:
        return self._edit(key, [SetDueDate(day)], author)

    def set_priority(self, key: str, name: str, *, author: User | None = None) -> History | None:
        return self._edit(key, [SetPriority(name)], author)

    def set_rank(self, key: str, rank: str, *, author: User | None = None) -> History | None:
        return self._edit(key, [SetRank(rank)], author)

    def set_fix_versions(
        self, key: str, version_ids: Sequence[str], *, author: User | None = None
    ) -> History | None:
        chosen = tuple(self._versions[v] for v in version_ids)
        return self._edit(key, [SetFixVersions(chosen)], author)

    def link(
        self,
        outward_key: str,
        inward_key: str,
        type_name: str = "Blocks",
        *,
        author: User | None = None,
    ) -> str:
        """Link two issues ("`outward_key` blocks `inward_key`"): one history on each, as
        Jira writes; the link's id."""
        LINK_TYPES[type_name]  # KeyError for a type the site does not have
        with self.lock:
            outward, inward = self.issue(outward_key), self.issue(inward_key)
            link_id = str(self._next_link)
            self._next_link += 1
            self._edit(
                outward.key,
                [AddLink(IssueLink(link_id, type_name, "outward", inward.id, inward.key))],
                author,
            )
            self._edit(
                inward.key,
                [AddLink(IssueLink(link_id, type_name, "inward", outward.id, outward.key))],
                author,
            )
            return link_id

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
        """Create an issue at the clock's time; its initial values write no history.

        A parent must sit one level up the issue type hierarchy, as Jira requires (a story's
        parent an epic, an epic's an initiative, a sub-task's a story): ValueError with
        Jira's message otherwise, before anything is made."""
        with self.lock:
            p = self._project_pos[project]
            kind = self.issue_type_scheme[issue_type]
            parent = self.issue(parent_key) if parent_key else None
            if parent is not None and parent.issue_type.hierarchy_level != kind.hierarchy_level + 1:
                raise ValueError("Given parent issue does not belong to appropriate hierarchy.")
            now = self.clock.now.replace(microsecond=0)
            number = self._next_number[project]
            self._next_number[project] = number + 1
            row = len(self.index)
            issue = Issue(
                id=str(10001 + row),
                key=f"{project}-{number}",
                project_key=project,
                issue_type=kind,
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
        """Delete an issue: it vanishes from every endpoint, leaving no trace in search.

        Its links go with it: the issues it was linked to no longer list them, and (as
        Jira does) they are not edited for it: no history, no new `updated`, so a sync that
        reads what changed does not see them change."""
        with self.lock:
            row = self._require_row(key)
            gone = self._overlay.get(row) or self._generate(row)
            self.index.alive[row] = 0
            self._overlay.pop(row, None)
            self._cache.pop(row, None)
            for other in self._overlay.values():
                other.links[:] = [link for link in other.links if link.other_id != gone.id]
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
                if (
                    target is not None
                    and not issue.status.is_done
                    and self._record(row, issue, [CarryOver(sprint_id, target)], author)
                ):
                    moved.append(issue.key)
                self._reindex(row, issue)
            self.version += 1
            return moved

    # -- custom fields and edit screens ----------------------------------------------

    @property
    def custom_fields(self) -> list[CustomField]:
        """The custom fields created on the site, oldest first (not Sprint/points/Flagged)."""
        with self.lock:
            return list(self._custom_fields.values())

    def custom_field(self, field_id: str) -> CustomField | None:
        """A created custom field by id, or None."""
        return self._custom_fields.get(field_id)

    def create_custom_field(
        self,
        name: str,
        type: str = "number",
        *,
        searcher_key: str | None = None,
        description: str = "",
    ) -> str:
        """Create a custom field and return its id (customfield_10030, then _10031, ...).

        `type` is "number", "date" or "string" (or the full Jira type key). Like
        Jira, the new field is on no edit screen: `add_field_to_screen` is a
        separate admin step, and until then PUT /issue refuses the field.
        """
        if not name or not name.strip():
            raise ValueError("a custom field needs a name")
        try:
            kind = type_for(type)
        except KeyError as exc:
            raise ValueError(f"unknown custom field type {type!r}") from exc
        with self.lock:
            number = FIRST_CUSTOM_FIELD + len(self._custom_fields)
            field_id = f"customfield_{number}"
            self._custom_fields[field_id] = CustomField(
                id=field_id,
                name=name.strip(),
                kind=kind.kind,
                type_key=kind.type_key,
                searcher_key=searcher_key or kind.default_searcher,
                description=description,
            )
            self.version += 1
            return field_id

    def add_field_to_screen(self, field_id: str, project_key: str) -> None:
        """Put a created custom field on a project's edit screen (an admin's step in Jira)."""
        with self.lock:
            if field_id not in self._custom_fields:
                raise KeyError(field_id)
            self.project(project_key)  # KeyError for an unknown project
            on_screen = self._screens.setdefault(project_key, [])
            if field_id not in on_screen:
                on_screen.append(field_id)

    def remove_field_from_screen(self, field_id: str, project_key: str) -> None:
        with self.lock:
            on_screen = self._screens.get(project_key, [])
            if field_id in on_screen:
                on_screen.remove(field_id)

    def screen_fields(self, project_key: str) -> list[str]:
        """Ids of the fields on a project's edit screen: what PUT /issue may set there."""
        with self.lock:
            return [*SYSTEM_EDIT_FIELDS, *self._screens.get(project_key, [])]

    def field_value(self, key: str, field_id: str) -> Any:
        """The current value of an editable field (custom ones as stored: float, ISO date, text)."""
        issue = self.issue(key)
        if field_id in self._custom_fields:
            return issue.custom_values.get(field_id)
        match field_id:
            case "summary":
                return issue.summary
            case "description":
                return issue.description
            case "labels":
                return list(issue.labels)
            case "assignee":
                return issue.assignee
            case _ if field_id == FIELD_POINTS:
                return issue.points
        raise KeyError(field_id)

    def update_fields(
        self, key: str, values: Mapping[str, Any], *, author: User | None = None
    ) -> History | None:
        """Set several fields in one edit: one history for what changed, None if nothing did.

        Values are Python values: text for summary/description, a list for labels,
        a `User` (or None) for assignee, a number for story points, and for created
        custom fields anything `fields.coerce` accepts. Invalid values raise
        `FieldValueError` before anything is written. The screen is not checked
        here (that is the API's job): this is how people edit through the UI.
        """
        ops: list[Op] = []
        for field_id, value in values.items():
            cf = self._custom_fields.get(field_id)
            if cf is not None:
                ops.append(SetCustomField(cf, coerce(cf, value)))
                continue
            match field_id:
                case "summary":
                    if not isinstance(value, str) or not value.strip():
                        raise FieldValueError("You must specify a summary of the issue.")
                    ops.append(SetSummary(value))
                case "description":
                    ops.append(SetDescription(value or ""))
                case "labels":
                    ops.append(SetLabels(tuple(value or ())))
                case "assignee":
                    ops.append(SetAssignee(value))
                case _ if field_id == FIELD_POINTS:
                    if value is not None and (
                        isinstance(value, bool) or not isinstance(value, int | float)
                    ):
                        raise FieldValueError("Operation value must be a number")
                    ops.append(SetPoints(None if value is None else float(value)))
                case _:
                    raise KeyError(field_id)
        return self._edit(key, ops, author)

    def set_field(
        self, key: str, field_id: str, value: Any, *, author: User | None = None
    ) -> History | None:
        """Someone (by default the project lead) sets one field, e.g. a KPI field by hand."""
        return self.update_fields(key, {field_id: value}, author=author)

    # -- comments ----------------------------------------------------------------------

    def comments(self, key: str) -> list[Comment]:
        """Copies of an issue's comments, oldest first (ground truth for tests)."""
        with self.lock:
            return [copy.deepcopy(c) for c in self.issue(key).comments]

    def comment(self, comment_id: str) -> Comment:
        """A copy of one comment of a live issue (KeyError when it or its issue is gone)."""
        with self.lock:
            return copy.deepcopy(self._comment(comment_id)[1])

    def comment_issue(self, comment_id: str) -> Issue:
        """The live issue a comment is on (KeyError when it or its issue is gone)."""
        with self.lock:
            return self._comment(comment_id)[0]

    def add_comment(
        self,
        key: str,
        body: str | dict[str, Any],
        *,
        author: User | None = None,
        properties: Mapping[str, Any] | None = None,
        visibility: Mapping[str, Any] | None = None,
    ) -> Comment:
        """Comment on an issue now; bumps `updated` but writes no changelog history."""
        with self.lock:
            row = self._require_row(key)
            issue = self._editable(row)
            now = self._comment_time()
            who = author or self._default_author(issue.project_key)
            comment = Comment(
                id=str(self._next_comment),
                issue_id=issue.id,
                author=who,
                body=copy.deepcopy(body),
                created=now,
                updated=now,
                update_author=who,
                properties=copy.deepcopy(dict(properties or {})),
                visibility=dict(visibility) if visibility else None,
            )
            self._next_comment += 1
            issue.comments.append(comment)
            self._comment_rows[comment.id] = row
            self._touch(row, issue, now)
            return copy.deepcopy(comment)

    def comment_as(self, key: str, user: User, body: str | dict[str, Any]) -> Comment:
        """Someone else comments on an issue (a human, not the API user)."""
        return self.add_comment(key, body, author=user)

    def update_comment(
        self,
        comment_id: str,
        body: str | dict[str, Any] | None = None,
        *,
        author: User | None = None,
        properties: Mapping[str, Any] | None = None,
        visibility: Mapping[str, Any] | None = None,
    ) -> Comment:
        """Edit a comment now (its `updated` and the issue's move; no history is written)."""
        with self.lock:
            issue, comment = self._comment(comment_id)
            now = self._comment_time()
            if body is not None:
                comment.body = copy.deepcopy(body)
            if visibility is not None:
                comment.visibility = dict(visibility) or None
            if properties:
                comment.properties.update(copy.deepcopy(dict(properties)))
            comment.updated = now
            comment.update_author = author or comment.author
            self._touch(self._comment_rows[comment_id], issue, now)
            return copy.deepcopy(comment)

    def delete_comment(self, comment_id: str) -> None:
        with self.lock:
            issue, comment = self._comment(comment_id)
            issue.comments.remove(comment)
            row = self._comment_rows.pop(comment_id)
            self._touch(row, issue, self._comment_time())

    def set_comment_property(self, comment_id: str, key: str, value: Any) -> bool:
        """Create or replace a comment property; True when it was created."""
        with self.lock:
            comment = self._comment(comment_id)[1]
            created = key not in comment.properties
            comment.properties[key] = copy.deepcopy(value)
            self.version += 1
            return created

    def delete_comment_property(self, comment_id: str, key: str) -> None:
        """Remove a comment property (KeyError when the comment or the property is absent)."""
        with self.lock:
            del self._comment(comment_id)[1].properties[key]
            self.version += 1

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
        editor = IssueEditor(
            issue, self._sprint_by_id, row, self._sim.id_epoch, versions=self._versions
        )
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

    def _comment(self, comment_id: str) -> tuple[Issue, Comment]:
        row = self._comment_rows.get(str(comment_id))
        issue = None if row is None or not self.index.alive[row] else self._overlay.get(row)
        if issue is not None:
            for comment in issue.comments:
                if comment.id == str(comment_id):
                    return issue, comment
        raise KeyError(comment_id)

    def _comment_time(self) -> datetime:
        now = self.clock.now
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _touch(self, row: int, issue: Issue, when: datetime) -> None:
        """A change that is not a changelog item (a comment): only `updated` moves."""
        if when > issue.updated:
            issue.updated = when
        self._reindex(row, issue)
        self.version += 1

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
