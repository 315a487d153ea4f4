"""Simulates one issue's life from (seed, project, number) alone.

Every issue is generated independently — its own `random.Random` seeded with
"seed:project:number" — against the precomputed sprint calendars, so a dataset
of 100k issues can be served by regenerating any issue on demand instead of
holding them all in memory.

The life of a work item is written as *intents* (time, author, ops) and then
replayed in time order through `IssueEditor`, which turns each into a Jira
history. Sprint carry-over is a conditional intent evaluated at replay time, so
an item is carried over exactly when it is still in the closing sprint and not
done — whatever the rest of its life did.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pmo_sync.sandbox.jira.backlog import Backlog, RequestPlan
from pmo_sync.sandbox.jira.editor import (
    AddSprint,
    CarryOver,
    IssueEditor,
    Op,
    RemoveSprint,
    SetAssignee,
    SetDescription,
    SetFlag,
    SetLabels,
    SetPoints,
    SetStatus,
    SetSummary,
)
from pmo_sync.sandbox.jira.model import (
    ISSUE_TYPES,
    Issue,
    IssueLink,
    Project,
    Sprint,
    SprintStay,
    User,
    Version,
)
from pmo_sync.sandbox.jira.model import status_by_name as _status
from pmo_sync.sandbox.jira.planning import AddLink, SetDueDate, SetFixVersions, SetRank
from pmo_sync.sandbox.jira.site import SprintSlot
from pmo_sync.sandbox.jira.text import (
    LABELS,
    description_for,
    edited_description,
    edited_summary,
    summary_for,
)
from pmo_sync.sandbox.jira.timeline import (
    DAY,
    HOUR,
    from_epoch,
    late_evening,
    to_epoch,
    work_time,
)

__all__ = ["HEAVY_NOISE", "IssueSimulator", "ProjectPlan"]

POINTS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0)
HEAVY_NOISE = 125  # noise edits alone push these issues past 120 histories

TODO, IN_PROGRESS, IN_REVIEW = "To Do", "In Progress", "In Review"
DONE, WONT_DO = "Done", "Won't Do"

# Status paths after "To Do", by variant; the alternatives are picked at random.
_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "normal": ((IN_PROGRESS, IN_REVIEW, DONE), (IN_PROGRESS, DONE)),
    "backward": (
        (IN_PROGRESS, IN_REVIEW, IN_PROGRESS, IN_REVIEW, DONE),
        (IN_PROGRESS, IN_REVIEW, IN_PROGRESS, IN_REVIEW, IN_PROGRESS, IN_REVIEW, DONE),
    ),
    "reopen": (
        (IN_PROGRESS, IN_REVIEW, DONE, IN_PROGRESS, DONE),
        (IN_PROGRESS, DONE, IN_PROGRESS, IN_REVIEW, DONE),
    ),
    "skip_done": ((DONE,),),
    "skip_review": ((IN_REVIEW, DONE),),
    "wontdo": ((WONT_DO,), (IN_PROGRESS, WONT_DO)),
}
# Hours between two statuses, (low, high).
_GAPS: dict[tuple[str, str], tuple[float, float]] = {
    (IN_PROGRESS, IN_REVIEW): (4, 96),
    (IN_PROGRESS, DONE): (4, 120),
    (IN_REVIEW, DONE): (2, 48),
    (IN_REVIEW, IN_PROGRESS): (3, 40),
    (DONE, IN_PROGRESS): (12, 96),
    (IN_PROGRESS, WONT_DO): (8, 96),
}
_VARIANTS = (
    (0.12, "never"),
    (0.17, "wontdo"),
    (0.32, "backward"),
    (0.42, "reopen"),
    (0.47, "skip_done"),
    (0.54, "skip_review"),
    (1.01, "normal"),
)
# Share of items with points from the start, and with points added later.
_ESTIMATED = {"Story": (0.75, 0.87), "Bug": (0.4, 0.5), "Task": (0.3, 0.4)}


@dataclass(frozen=True)
class ProjectPlan:
    """What the simulation needs to know about one project."""

    index: int
    project: Project
    issue_count: int
    members: tuple[User, ...]
    calendar: tuple[SprintSlot, ...]
    has_kanban: bool


class _Intent(NamedTuple):
    """Something that happens to the issue; sorted by (at, order, seq)."""

    at: int
    order: int
    seq: int
    author: User
    ops: tuple[Op, ...]


class IssueSimulator:
    """Generates issue `number` (0-based `j`) of project `p`, deterministically."""

    def __init__(
        self,
        seed: object,
        plans: Sequence[ProjectPlan],
        sprints: Mapping[int, Sprint],
        window_start: int,
        now: int,
        id_epoch: int,
        backlog: Backlog,
    ) -> None:
        self.seed = seed
        self.backlog = backlog
        self.plans = plans
        self.sprints = sprints
        self.window_start = window_start
        self.now = now
        self.id_epoch = id_epoch
        # Sprint states as generated: replay must not see later close/start mutations.
        self._open_at_generation = {sid for sid, s in sprints.items() if s.state != "closed"}
        self.versions: dict[str, Version] = {
            r.version.id: r.version for releases in backlog.releases for r in releases
        }
        # An epic's life follows its children's: (first start, last done if all are done),
        # read from their simulation once and kept (a few numbers per epic).
        self._request_facts: dict[tuple[int, int], tuple[int | None, int | None]] = {}
        # Children simulated for their epic during generation, handed to the generation
        # loop when their own row comes (`take_prepared`) so none is simulated twice.
        self.preparing = False
        self._prepared: dict[tuple[int, int], Issue] = {}

    def row(self, p: int, j: int) -> int:
        """Row (and id - 10001) of an issue: ids interleave projects in creation order."""
        return j * len(self.plans) + p

    def issue_type(self, p: int, j: int) -> tuple[str, int | None]:
        """(type name, parent's 0-based number or None) of issue j of project p."""
        slot = self.backlog.slot(p, j)
        return slot.kind, slot.parent

    def take_prepared(self, p: int, j: int) -> Issue | None:
        """The issue simulated ahead for its epic, if it was (once: it is then forgotten)."""
        return self._prepared.pop((p, j), None)

    def request_facts(self, p: int, j: int) -> tuple[int | None, int | None]:
        """(first child's start, last child's done when every child is done) of epic j."""
        facts = self._request_facts.get((p, j))
        if facts is None:
            request = self.backlog.requests[p, j]
            starts: list[int] = []
            dones: list[int] = []
            for c in request.children:
                child = self._prepared.get((p, c))
                if child is None:
                    child = self.simulate(p, c)
                    if self.preparing:
                        self._prepared[p, c] = child
                if child.status_transitions:
                    starts.append(to_epoch(child.status_transitions[0].at))
                if child.status.is_done and child.resolution_date is not None:
                    dones.append(to_epoch(child.resolution_date))
            all_done = len(dones) == len(request.children)
            facts = (min(starts) if starts else None, max(dones) if all_done else None)
            self._request_facts[p, j] = facts
        return facts

    # -- the simulation ------------------------------------------------------------

    def simulate(self, p: int, j: int) -> Issue:
        """The issue as it stands at the generation time, with its whole changelog."""
        plan = self.plans[p]
        key = plan.project.key
        rng = random.Random(f"{self.seed}:{key}:{j}")
        slot = self.backlog.slot(p, j)
        type_name, parent_j = slot.kind, slot.parent
        created = slot.created
        summary = summary_for(rng, type_name)
        parent_row = self.row(p, parent_j) if parent_j is not None else None
        issue = Issue(
            id=str(10001 + self.row(p, j)),
            key=f"{key}-{j + 1}",
            project_key=key,
            issue_type=ISSUE_TYPES[type_name],
            summary=summary,
            description=description_for(rng, type_name, summary),
            status=_status(TODO),
            assignee=None,
            reporter=rng.choice(plan.members),
            labels=sorted(rng.sample(LABELS, k=rng.choice((0, 0, 1, 1, 2)))),
            parent_id=str(10001 + parent_row) if parent_row is not None else None,
            parent_key=f"{key}-{parent_j + 1}" if parent_j is not None else None,
            points=None,
            sprint_ids=[],
            flagged=False,
            created=from_epoch(created),
            updated=from_epoch(created),
        )
        # A few chatty issues (two per project, then one in 500) whose changelog
        # overflows every page size the API has.
        heavy = ((j % 50 == 7 and j < 100) or j % 500 == 257) and created < self.now - 30 * DAY
        life = _Life(self, plan, rng, issue, created)
        request = self.backlog.requests.get((p, j))
        if request is not None:
            life.epic(request, *self.request_facts(p, j))
        elif type_name == "Sub-task":
            parent_role = self.backlog.slot(p, parent_j).role if parent_j is not None else ""
            life.subtask(slot.start, planned=parent_role == "child")
        else:
            life.work_item(heavy, slot.role == "child", slot.start)
        for end in self.backlog.links.get((p, j), ()):
            op_, oj = end.other
            other_key = f"{self.plans[op_].project.key}-{oj + 1}"
            other_id = str(10001 + self.row(op_, oj))
            link = IssueLink(end.link_id, "Blocks", end.direction, other_id, other_key)
            life.add(end.at, [AddLink(link)], plan.members[0])
        life.noise(HEAVY_NOISE if heavy else rng.choice((0, 0, 1, 1, 2, 3)), heavy)
        life.replay(
            IssueEditor(
                issue,
                self.sprints,
                self.row(p, j),
                self.id_epoch,
                is_open_sprint=self._open_at_generation.__contains__,
                versions=self.versions,
            )
        )
        return issue


class _Life:
    """Collects one issue's intents, then replays them through the editor."""

    def __init__(
        self, sim: IssueSimulator, plan: ProjectPlan, rng: random.Random, issue: Issue, created: int
    ) -> None:
        self.sim = sim
        self.plan = plan
        self.rng = rng
        self.issue = issue
        self.created = created
        self.now = sim.now
        self.intents: list[_Intent] = []
        self.last_activity = created

    # helpers

    def add(self, at: int, ops: Sequence[Op], author: User | None = None, order: int = 2) -> None:
        author = author or self.rng.choice(self.plan.members)
        self.intents.append(_Intent(at, order, len(self.intents), author, tuple(ops)))
        if at < self.now:
            self.last_activity = max(self.last_activity, at)

    def after(self, t: int, lo_hours: float, hi_hours: float) -> int:
        """A time some hours after `t`, usually pushed into office hours."""
        return work_time(t + int(self.rng.uniform(lo_hours, hi_hours) * HOUR), self.rng)

    def _sprint_index_at(self, t: int) -> int:
        cal = self.plan.calendar
        for k in range(len(cal) - 1, -1, -1):
            if cal[k].start <= t and not cal[k].future:
                return k
        return -1

    def _planning_time(self, k: int, after: int) -> int | None:
        """When the item is put into sprint k: shortly before it starts, after `after`."""
        cal = self.plan.calendar
        if k < 0 or k >= len(cal):
            return None
        slot = cal[k]
        if slot.future:
            lo = max(after + 600, self.now - 5 * DAY)
            return None if lo >= self.now - 60 else self.rng.randint(lo, self.now - 60)
        t = work_time(slot.start - int(self.rng.uniform(2, 72) * HOUR), self.rng)
        if t <= after:
            t = self.after(after, 0.2, 6)
        return t if t < self.now else None

    # the kinds of issue

    def epic(self, request: RequestPlan, first_start: int | None, last_done: int | None) -> None:
        """An epic as its team works it: its theme, rank and due date from when it is made, in
        progress when its first child starts, done its lag after its last child is done."""
        rng, issue, lead = self.rng, self.issue, self.plan.members[0]
        if rng.random() < 0.6:
            issue.assignee = rng.choice(self.plan.members)
        if self.sim.backlog.facts:
            issue.components = [request.theme] if request.theme else []
            issue.rank = request.first_rank
            issue.due_date = request.due
            if request.jumped_at is not None:
                self.add(request.jumped_at, [SetRank(request.rank)], lead)
            for at, day in request.due_moves:
                self.add(at, [SetDueDate(day)], lead)
        if first_start is not None:
            self.add(first_start + rng.randint(60, 2 * HOUR), [SetStatus(IN_PROGRESS)])
        if last_done is not None:
            done = last_done + 60 if request.lag == 0 else last_done + request.lag * HOUR
            self.add(max(done, last_done + 60), [SetStatus(DONE)])

    def subtask(self, start: int | None, *, planned: bool) -> None:
        """A sub-task of an epic's child starts when the plan says (after its story); one of
        unplanned work lives as it always did, some hours after it is made."""
        rng = self.rng
        if planned and start is None:
            return
        if start is not None or rng.random() < 0.85:
            worker = rng.choice(self.plan.members)
            t = start if start is not None else self.after(self.created, 2, 48)
            self.add(t, [SetAssignee(worker), SetStatus(IN_PROGRESS)], worker)
            if rng.random() < 0.85:
                self.add(self.after(t, 4, 72), [SetStatus(DONE)], worker)

    def work_item(self, heavy: bool, child: bool, planned_start: int | None) -> None:
        """A story, task or bug. An epic's child starts when the team's plan takes it up
        (`planned_start`; None: still waiting at the end), in the sprint that holds that
        moment; unplanned work is planned and started by its own dice, as it always was.
        Either way the path after the start is messy (backward moves, reopenings, ...)."""
        rng, plan, issue = self.rng, self.plan, self.issue
        cal = plan.calendar
        members = plan.members
        planner = members[0]
        flow = not cal or (not heavy and plan.has_kanban and rng.random() < 0.4)
        r = rng.random()
        variant = "heavy" if heavy else next(v for limit, v in _VARIANTS if r < limit)
        if child:
            if planned_start is None:
                variant = "never"
            elif variant == "never":
                variant = "normal"
        # Most never-started items sit in the backlog; a few linger in sprint after sprint.
        backlog_only = variant == "never" and rng.random() < 0.75

        first_share, late_share = _ESTIMATED.get(issue.issue_type.name, (0.3, 0.4))
        r = rng.random()
        late_points = None
        if r < first_share:
            issue.points = rng.choice(POINTS)
        elif r < late_share:
            late_points = rng.choice(POINTS)
        if rng.random() < 0.4:
            issue.assignee = rng.choice(members)

        # -- into a sprint (or not) --
        entry: tuple[int, int] | None = None
        first_k: int | None = None
        if child and planned_start is not None and not flow:
            entry = self._plan_child(planned_start, heavy)
            flow = entry is None
            first_k = None if entry is None else entry[0]
        elif not flow and not backlog_only:
            k0 = self._sprint_index_at(self.created)
            u = 0.5 if heavy else rng.random()
            if k0 >= 0 and self.created < cal[k0].end and u < 0.2:
                sid = cal[k0].sprint_id  # created straight into the running sprint: no history
                issue.sprint_ids = [sid]
                issue.sprint_stays.append(SprintStay(sid, issue.created, None))
                entry = (k0, self.created)
            else:
                k = k0 + 1
                if u < 0.35 and k0 >= 0:
                    t = self.after(self.created, 1, 72)
                    if t < cal[k0].end and t < self.now:
                        entry = (k0, t)  # added after the sprint started
                elif u >= 0.85:
                    k = k0 + 1 + rng.randint(1, 3)
                if entry is None:
                    t_plan = self._planning_time(k, self.created)
                    if t_plan is not None:
                        entry = (k, t_plan)
                if entry is not None:
                    self.add(entry[1], [AddSprint(cal[entry[0]].sprint_id)], planner, order=1)
            if entry is not None:
                first_k = entry[0]

        # -- sometimes taken out of the sprint again, back to the backlog --
        if entry is not None and not heavy and not child and rng.random() < 0.08:
            k, added = entry
            slot = cal[k]
            if not slot.future:
                removed = self.after(max(added, slot.start), 4, 96)
                if removed < slot.end and removed < self.now:
                    self.add(removed, [RemoveSprint(slot.sprint_id)], planner, order=1)
                    entry = None
                    if rng.random() < 0.5:
                        k2 = k + rng.randint(1, 2)
                        t2 = self._planning_time(k2, removed + HOUR)
                        if t2 is not None:
                            entry = (k2, t2)
                            self.add(t2, [AddSprint(cal[k2].sprint_id)], planner, order=1)
                    if entry is None:
                        variant = "never"

        # -- estimates added late or changed before the sprint --
        if late_points is not None:
            at = self.after(self.created, 1, 48)
            if entry is not None and entry[1] > self.created + 2:
                at = min(at, entry[1] - 1)  # estimated before it is planned in
            self.add(at, [SetPoints(late_points)], planner)
        elif (
            issue.points is not None
            and entry is not None
            and rng.random() < 0.1
            and entry[1] - self.created > 2 * HOUR
        ):
            at = rng.randint(self.created + HOUR, entry[1] - HOUR)
            self.add(at, [SetPoints(_neighbour(rng, issue.points))], planner)

        # -- work --
        start: int | None = None
        if child:
            start = planned_start
        elif variant != "never":
            if flow:
                start = self.after(self.created, 2, 24 * 15)
            elif entry is not None and not cal[entry[0]].future:
                start = self.after(max(entry[1], cal[entry[0]].start), 1, 24 * 6)
        if start is not None and start < self.now:
            final, finished = self._work(variant, start, late_points)
            release = self.sim.backlog.release_after(self.plan.index, finished)
            if final == DONE and release is not None and finished < self.now:
                assert release.released_at is not None
                self.add(release.released_at, [SetFixVersions((release.version,))], planner)

        # -- carry-over at each sprint close, if still in it and not done --
        if first_k is not None:
            for k in range(first_k, len(cal) - 1):
                complete = cal[k].complete
                if complete is None:
                    break
                self.add(
                    complete,
                    [CarryOver(cal[k].sprint_id, cal[k + 1].sprint_id)],
                    planner,
                    order=0,
                )

    def _plan_child(self, start: int, heavy: bool) -> tuple[int, int] | None:
        """Put a child into the sprint that holds its start: planned before that sprint
        began, or (made during it) added to it, or made straight into it. Now and then it
        was planned a sprint earlier and taken out again. None: before the first sprint."""
        rng, cal, planner = self.rng, self.plan.calendar, self.plan.members[0]
        k = self._sprint_index_at(start)
        if k < 0:
            return None
        slot = cal[k]
        if self.created >= slot.start:
            if rng.random() < 0.3 and not heavy:
                self.issue.sprint_ids = [slot.sprint_id]  # made in the sprint: no history
                self.issue.sprint_stays.append(SprintStay(slot.sprint_id, self.issue.created, None))
                return (k, self.created)
            added = self.created + rng.randint(60, max(61, (start - self.created) // 2))
            self.add(added, [AddSprint(slot.sprint_id)], planner, order=1)
            return (k, added)
        if k > 0 and rng.random() < 0.08 and self.created < cal[k - 1].start - 3 * HOUR:
            early = self._planning_time(k - 1, self.created)
            if early is not None:
                removed = self.after(max(early, cal[k - 1].start), 4, 96)
                if removed < cal[k - 1].end and removed < min(start, self.now):
                    sid = cal[k - 1].sprint_id
                    self.add(early, [AddSprint(sid)], planner, order=1)
                    self.add(removed, [RemoveSprint(sid)], planner, order=1)
        planned = self._planning_time(k, self.created)
        if planned is None or planned >= start:
            planned = self.created + max(60, (start - self.created) // 2)
        self.add(planned, [AddSprint(slot.sprint_id)], planner, order=1)
        return (k, planned)

    def _work(self, variant: str, start: int, late_points: float | None) -> tuple[str, int]:
        """Play the item's path from `start`; (its final status, when it was reached)."""
        rng, issue, members = self.rng, self.issue, self.plan.members
        if variant == "heavy":
            path: tuple[str, ...] = (
                (IN_PROGRESS,) + (IN_REVIEW, IN_PROGRESS) * rng.randint(10, 16) + (IN_REVIEW, DONE)
            )
        else:
            path = rng.choice(_PATHS[variant])
        worker = issue.assignee if issue.assignee and rng.random() < 0.7 else rng.choice(members)
        t = start
        self.add(t, [SetAssignee(worker), SetStatus(path[0])], worker)
        prev = path[0]
        for target in path[1:]:
            lo, hi = _GAPS.get((prev, target), (4, 72))
            t = self.after(t, lo, hi)
            self.add(t, [SetStatus(target)], worker)
            prev = target
        points = issue.points if issue.points is not None else late_points
        if points is not None and rng.random() < 0.2:  # re-estimated mid-sprint
            self.add(self.after(start, 2, 72), [SetPoints(_neighbour(rng, points))], worker)
        flags = rng.randint(3, 5) if variant == "heavy" else (1 if rng.random() < 0.1 else 0)
        t_flag = start
        for _ in range(flags):
            t_flag = self.after(t_flag, 4, 72)
            self.add(t_flag, [SetFlag(True)], worker)
            if rng.random() < 0.8:
                t_flag = self.after(t_flag, 8, 96)
                self.add(t_flag, [SetFlag(False)], worker)
        reassignments = rng.randint(4, 6) if variant == "heavy" else int(rng.random() < 0.12)
        t_assign = start
        for _ in range(reassignments):
            t_assign = self.after(t_assign, 6, 100)
            other = rng.choice([m for m in members if m != worker])
            self.add(t_assign, [SetAssignee(other)], other)
            worker = other
        return prev, t

    def noise(self, count: int, heavy: bool) -> None:
        """Edits that change nothing a metric cares about: labels, summary, description."""
        if count <= 0:
            return
        rng = self.rng
        lo = self.created + 600
        hi = min(self.now - HOUR, max(self.created + 30 * DAY, self.last_activity + 5 * DAY))
        if hi <= lo:
            return
        times = []
        for n in range(count):
            t = rng.randint(lo, hi)
            evening = late_evening(t)  # some people edit at 23:30, New York time
            odd = ((heavy and n == 0) or rng.random() < 0.03) and evening < self.now
            times.append(evening if odd else t)
        times.sort()  # values below chain from one edit to the next, so apply them in order
        labels = list(self.issue.labels)
        summary, description = self.issue.summary, self.issue.description
        for n, at in enumerate(times):
            kind = rng.random()
            if kind < 0.45:
                label = rng.choice(LABELS)
                labels = sorted(set(labels) ^ {label})
                op: Op = SetLabels(tuple(labels))
            elif kind < 0.75:
                description = edited_description(rng, description, n + 1)
                op = SetDescription(description)
            else:
                summary = edited_summary(summary)
                op = SetSummary(summary)
            self.add(at, [op])

    def replay(self, editor: IssueEditor) -> None:
        """Apply the intents in time order; anything at or after `now` has not happened yet."""
        for intent in sorted(self.intents):
            if intent.at >= self.now or editor.next_time(intent.at) >= self.now:
                continue
            editor.record(intent.at, intent.author, intent.ops)


def _neighbour(rng: random.Random, points: float) -> float:
    """A re-estimate: one step up or down the Fibonacci-ish scale."""
    i = POINTS.index(points) if points in POINTS else 2
    if i == 0:
        return POINTS[1]
    if i == len(POINTS) - 1:
        return POINTS[-2]
    return POINTS[i + (1 if rng.random() < 0.6 else -1)]
