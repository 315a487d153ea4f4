"""How a team works one Azure DevOps item: the timed changes of its life, planned first.

Real Scrum teams plan a sprint at its start: the items they commit to join the
iteration at or shortly before its first day, are worked during it, and most are
closed before it ends; the rest carry over into the next sprint at its start.
Now and then urgent work joins a sprint under way, or an item is taken out of it.
`plan_life` draws that, deterministic in its random generator, as a list of
`(epoch ms, field changes)` in time order, which the generator applies as revisions.
Say/do per sprint then lands mostly between 60 % and 110 %, with carry-over.

The mess real histories have stays: unestimated items (some estimated at planning),
re-estimates, reassignments, edited titles, review bounces (Resolved back to
Active), reopened items, skipped states (New straight to Closed), removals, and
items that leave a sprint for the backlog.

Pure: no dataset, no clock; times are epoch milliseconds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DONE_IN_SPRINT", "POINTS", "POINT_VALUES", "ItemPlan", "SprintWindow", "in_order", "plan_life",
]  # fmt: skip

# The share of the items a team commits to that it closes within the sprint, by team
# position (Phoenix, Atlas, Orion by default): one steady team, one average, one that
# over-commits. The rest carry over.
DONE_IN_SPRINT = (0.85, 0.78, 0.7)
_PLANNED = 0.8  # stories, bugs and tasks a sprint planning picks up; the rest stay in the backlog
_URGENT = 0.1  # created during a sprint and added to it at once (scope added mid-sprint)
_DESCOPED = 0.04  # taken out of the sprint mid-way, back to the backlog
_MAX_CARRIES = 3  # after three carry-overs the team gives the item up (backlog or Removed)
_ESTIMATED_AT_PLANNING = 0.7  # an unestimated item gets its points in the planning meeting
_MS_MINUTE = 60_000
_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
POINT_VALUES = (1, 2, 3, 5, 8, 13)
POINTS = "Microsoft.VSTS.Scheduling.StoryPoints"


@dataclass(frozen=True, slots=True)
class SprintWindow:
    """One iteration as the plan needs it: its path, first moment and close (epoch ms)."""

    path: str
    start_ms: int
    close_ms: int  # the end of the iteration's last day


@dataclass(frozen=True, slots=True)
class ItemPlan:
    """What the plan needs to know of an item and its team."""

    work_item_type: str
    states: tuple[str, ...]
    created_ms: int
    now_ms: int
    backlog_path: str  # the project root: no sprint
    sprints: Sequence[SprintWindow]  # the team's, in order
    done_in_sprint: float
    estimated: bool
    title: str
    people: tuple[str, ...]  # the team's members as System.AssignedTo holds them
    join_index: int | None = None
    """A request's child: the sprint its team planned it into (`teamwork.py`); None: not yet."""
    child: bool = False
    """A request's child: planned by the team in rank order (`join_index`), never taken out
    of its sprint, and given up (Removed) rather than left in the backlog after three
    carry-overs, so its request is not left open by an item nobody will work."""


Change = tuple[int, dict[str, Any]]


def plan_life(rng: random.Random, plan: ItemPlan) -> list[Change]:
    """The item's changes after its creation, in time order, none at or after `now_ms - 1 min`."""
    work = _feature if plan.work_item_type == "Feature" else _sprint_work
    changes = work(rng, plan)
    changes.extend(_noise(rng, plan, changes))
    return _ordered(changes, plan)


def _feature(rng: random.Random, plan: ItemPlan) -> list[Change]:
    """Features live longer than a sprint and in none: started, later resolved and closed."""
    t = plan.created_ms + int(rng.expovariate(1 / (20 * _MS_DAY)))
    changes: list[Change] = [(t, {"System.State": "Active"})]
    t += int(rng.expovariate(1 / (45 * _MS_DAY)))
    changes.append((t, {"System.State": "Resolved"}))
    changes.append((t + int(rng.uniform(1, 5) * _MS_DAY), {"System.State": "Closed"}))
    return changes


def _sprint_work(rng: random.Random, plan: ItemPlan) -> list[Change]:
    if plan.child:
        if plan.join_index is None:
            return []
        start = plan.sprints[plan.join_index].start_ms
        join = max(start - int(rng.uniform(2, 72) * _MS_HOUR), plan.created_ms + _MS_HOUR)
        return _in_sprints(rng, plan, plan.join_index, min(join, start), urgent=False)
    current = next((s for s in plan.sprints if s.start_ms <= plan.created_ms < s.close_ms), None)
    roll = rng.random()
    if current is not None and roll < _URGENT and current.close_ms - plan.created_ms > _MS_DAY:
        join = plan.created_ms + int(rng.uniform(5, 90) * _MS_MINUTE)
        return _in_sprints(rng, plan, plan.sprints.index(current), join, urgent=True)
    if roll < _URGENT + _PLANNED:
        ready = plan.created_ms + int(rng.expovariate(1 / (6 * _MS_DAY)))
        index = next((n for n, s in enumerate(plan.sprints) if s.start_ms >= ready), None)
        if index is None:
            return []
        start = plan.sprints[index].start_ms
        join = max(start - int(rng.uniform(2, 72) * _MS_HOUR), ready, plan.created_ms + _MS_HOUR)
        return _in_sprints(rng, plan, index, min(join, start), urgent=False)
    return _backlog(rng, plan)


def _backlog(rng: random.Random, plan: ItemPlan) -> list[Change]:
    """Never planned: most wait, some are removed, a few are done on the side (skipping
    states, as people do when they close what is already fixed)."""
    roll = rng.random()
    t = plan.created_ms + int(rng.expovariate(1 / (20 * _MS_DAY)))
    if roll < 0.3:
        return [(t, {"System.State": "Removed"})]
    if roll < 0.45:
        return [(t, {"System.State": "Closed"})]
    return []


def _in_sprints(
    rng: random.Random, plan: ItemPlan, index: int, join: int, *, urgent: bool
) -> list[Change]:
    """Join sprint `index` at `join`, then work it sprint by sprint until done or given up."""
    changes: list[Change] = []
    first: dict[str, Any] = {"System.IterationPath": plan.sprints[index].path}
    if not plan.estimated and _has_points(plan) and rng.random() < _ESTIMATED_AT_PLANNING:
        first[POINTS] = rng.choice(POINT_VALUES)
    changes.append((join, first))
    state = "New"
    done_share = plan.done_in_sprint - (0.15 if urgent else 0.0)
    for carries in range(_MAX_CARRIES + 1):
        sprint = plan.sprints[index]
        begin = max(join, sprint.start_ms)
        length = sprint.close_ms - begin
        if state == "New":
            t = begin + int(rng.uniform(0.02, 0.4) * length)
            changes.append((t, {"System.State": "Active"}))
            state = "Active"
        else:
            t = begin
        if not plan.child and rng.random() < _DESCOPED:
            t = t + int(rng.uniform(0.1, 0.5) * (sprint.close_ms - t))
            back: dict[str, Any] = {"System.IterationPath": plan.backlog_path}
            if rng.random() < 0.5:
                back["System.State"] = "New"  # implementation halted
            changes.append((t, back))
            return changes
        if rng.random() < done_share:
            changes.extend(_finish(rng, plan, t, sprint.close_ms))
            return changes
        if _has_points(plan) and rng.random() < 0.15:  # the carry-over is re-estimated
            changes.append((t + _MS_HOUR, {POINTS: rng.choice(POINT_VALUES)}))
        if index + 1 >= len(plan.sprints) or carries == _MAX_CARRIES:
            break
        index += 1
        following = plan.sprints[index]
        join = following.start_ms - int(rng.uniform(1, 40) * _MS_HOUR)
        moved: dict[str, Any] = {"System.IterationPath": following.path}
        if rng.random() < 0.1:
            moved["System.State"] = "New"  # not started again until the team picks it up
            state = "New"
        changes.append((max(join, sprint.close_ms + _MS_MINUTE), moved))
    if index + 1 < len(plan.sprints):  # given up after carrying over too often
        give_up = plan.sprints[index].close_ms + int(rng.uniform(1, 30) * _MS_HOUR)
        state_after = "Removed" if plan.child or rng.random() < 0.3 else "New"
        changes.append((give_up, {"System.IterationPath": plan.backlog_path,
                                  "System.State": state_after}))  # fmt: skip
    return changes


def _finish(rng: random.Random, plan: ItemPlan, active_at: int, close_ms: int) -> list[Change]:
    """Resolved then Closed before the sprint closes (tasks have no Resolved); now and
    then a review sends it back once, and a closed item is reopened later."""
    latest = close_ms - 2 * _MS_HOUR
    span = max(latest - active_at, 4 * _MS_HOUR)
    done = active_at + int(rng.uniform(0.25, 0.9) * span)
    changes: list[Change] = []
    if "Resolved" in plan.states and rng.random() < 0.9:
        resolved = active_at + int(rng.uniform(0.3, 0.8) * (done - active_at))
        changes.append((resolved, {"System.State": "Resolved"}))
        if rng.random() < 0.1:  # the review sends it back
            bounce = resolved + (done - resolved) // 3
            changes.append((bounce, {"System.State": "Active"}))
            changes.append((bounce + (done - bounce) // 2, {"System.State": "Resolved"}))
    changes.append((done, {"System.State": "Closed"}))
    if rng.random() < 0.06:  # reopened after the sprint: a defect found later
        reopened = close_ms + int(rng.uniform(1, 6) * _MS_DAY)
        changes.append((reopened, {"System.State": "Active"}))
        changes.append((reopened + int(rng.uniform(1, 4) * _MS_DAY), {"System.State": "Closed"}))
    return changes


def _noise(rng: random.Random, plan: ItemPlan, changes: Sequence[Change]) -> list[Change]:
    """What people do besides the work: reassign, re-estimate, drop an estimate, edit titles."""
    last = max((t for t, _ in changes), default=plan.created_ms) + _MS_DAY
    end = min(last, plan.now_ms)
    if end <= plan.created_ms:
        return []

    def when() -> int:
        return plan.created_ms + int(rng.random() * (end - plan.created_ms))

    noise: list[Change] = [
        (when(), {"System.AssignedTo": rng.choice(plan.people)})
        for _ in range(rng.choice((0, 1, 1, 2, 3)))
    ]
    if rng.random() < 0.05:
        noise.append((when(), {"System.AssignedTo": None}))
    if _has_points(plan):
        if rng.random() < 0.1:
            noise.append((when(), {POINTS: rng.choice(POINT_VALUES)}))
        if rng.random() < 0.03:
            noise.append((when(), {POINTS: None}))
    if rng.random() < 0.07:
        noise.append((when(), {"System.Title": f"{plan.title} (edited)"}))
    return noise


def _has_points(plan: ItemPlan) -> bool:
    return plan.work_item_type in ("User Story", "Bug")


def _ordered(changes: list[Change], plan: ItemPlan) -> list[Change]:
    return in_order(changes, plan.created_ms, plan.now_ms)


def in_order(changes: Sequence[Change], created_ms: int, now_ms: int) -> list[Change]:
    """In time order (a stable sort keeps a state path's order), each at least a second
    after the one before, none at or after a minute before now."""
    out: list[Change] = []
    previous = created_ms
    for t, change in sorted(changes, key=lambda c: c[0]):
        t = max(t, previous + 1000)
        if t >= now_ms - _MS_MINUTE:
            break
        out.append((t, change))
        previous = t
    return out
