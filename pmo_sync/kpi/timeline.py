"""An item's history as a sequence of workflow stages, and where it committed and finished.

Everything else (cycle and lead time, time in stage, WIP, CFD) is read off the
stage timeline built here in one pass over the item's status changes.

Definitions (Vacanti, *Actionable Agile Metrics for Predictability*:
an item has one start point and one finish point on the board; ActionableAgile
takes one start and one end date per item):

- *committed*: the moment the item entered a stage at or after the workflow's
  commitment point. An item created in such a stage is committed at creation.
  A stage skipped on the way (To Do → In Review, past In Progress) still
  crosses the commitment point.
- a move back *behind* the commitment point un-commits the item; by default
  the next crossing restarts the clock (Vacanti, jira-agile-metrics' handling
  of backward moves). With ``restart_on_backward_move=False`` the item keeps
  its *first* commitment once it is past the point again (Azure DevOps
  Analytics: cycle time from the first entry into *In Progress*). In both
  modes an item that currently sits behind the commitment point is not
  committed: it is not work in progress.
- *done*: the moment the item last entered the done region (a stage at or
  after the done point) if it is still there; an item reopened and not yet
  done again is not done. To Do → Done directly is committed and done at the
  same moment.

Assumptions, stated because trackers disagree: status changes are trusted as
the history (``from_status`` is not checked against the previous
``to_status``); when ``ItemHistory.status`` (the current status) is in
another stage than the last change led to, the log missed a move and the item
is taken to have moved there at its last change (creation if none) — the same
guess the sprint metrics make; a change stamped earlier than the one before
it (or than creation) is taken at the earlier moment, so no interval is
negative; consecutive changes within one stage (In Dev → Code Review, both in
"In Progress") make one interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from pmo_sync.domain import Stage
from pmo_sync.kpi.model import ItemHistory, Workflow, WorkflowStage

__all__ = [
    "StageInterval",
    "commitment_and_done",
    "commitment_and_done_from_timeline",
    "stage_index_of",
    "stage_timeline",
    "with_status_categories",
]


class StageInterval(NamedTuple):
    """The item sat in stage number `stage` (index into `Workflow.stages`) from `start`
    until `end`; `end` is None for the stage it is in now."""

    stage: int
    start: datetime
    end: datetime | None


_INDEX_CACHE: dict[int, tuple[Workflow, dict[str, int], int]] = {}


def _status_indices(workflow: Workflow) -> tuple[dict[str, int], int]:
    """status → stage index, and the index for a status no stage lists.

    Cached per workflow object (by identity: hashing a `Workflow` hashes every
    stage, which would cost more than the lookup saves on a 10-change item).
    The entry holds the workflow, so its id cannot be reused while cached.
    """
    cached = _INDEX_CACHE.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        return cached[1], cached[2]
    indices: dict[str, int] = {}
    for index, stage in enumerate(workflow.stages):
        for status in stage.statuses:
            indices.setdefault(status, index)
    fallback = next(
        (i for i, s in enumerate(workflow.stages) if s.category is Stage.IN_PROGRESS),
        workflow.commitment_index,
    )
    if len(_INDEX_CACHE) >= 256:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(workflow)] = (workflow, indices, fallback)
    return indices, fallback


def stage_index_of(status: str, workflow: Workflow) -> int:
    """The stage a status is in; an unknown status goes to the first in-progress stage.

    That is `Workflow.index_of_status`'s default. To send an unknown status to
    *its own* category's first stage, build the workflow with
    `with_status_categories` so every known status is listed.
    """
    indices, fallback = _status_indices(workflow)
    return indices.get(status, fallback)


def with_status_categories(workflow: Workflow, categories: Mapping[str, Stage]) -> Workflow:
    """The workflow with every status of `categories` no stage lists added to the first
    stage of its category (the spec's "unknown status → its category's first stage").

    Board columns rarely list every status a tracker has ever had; the tracker
    still knows each status's category (Jira's new / indeterminate / done).
    A category with no stage in the workflow leaves its statuses unknown.
    """
    listed = {status for stage in workflow.stages for status in stage.statuses}
    extra: dict[int, set[str]] = {}
    for status, category in categories.items():
        if status in listed:
            continue
        index = next((i for i, s in enumerate(workflow.stages) if s.category is category), None)
        if index is not None:
            extra.setdefault(index, set()).add(status)
    if not extra:
        return workflow
    stages: list[WorkflowStage] = [
        replace(stage, statuses=stage.statuses | extra[i]) if i in extra else stage
        for i, stage in enumerate(workflow.stages)
    ]
    return replace(workflow, stages=tuple(stages))


def _stage_runs(item: ItemHistory, workflow: Workflow) -> tuple[list[int], list[datetime]]:
    """The timeline as two parallel lists, (stage of each run, start of each run).

    What `stage_timeline` returns minus the interval objects: the batch path
    (`team.flow_report`) reads these directly.
    """
    indices, fallback = _status_indices(workflow)
    get = indices.get
    current = get(item.initial_status, fallback)
    previous = item.created
    stages: list[int] = [current]
    starts: list[datetime] = [previous]
    for change in item.status_changes:
        stage = get(change.to_status, fallback)
        at = change.at
        if at < previous:
            at = previous
        previous = at
        if stage != current:
            stages.append(stage)
            starts.append(at)
            current = stage
    if item.status is not None:
        stage = get(item.status, fallback)
        if stage != current:  # the log misses the last move: take it at the last change
            stages.append(stage)
            starts.append(previous)
    return stages, starts


def stage_timeline(item: ItemHistory, workflow: Workflow) -> tuple[StageInterval, ...]:
    """The stages the item went through, from creation (in `initial_status`'s stage) on.

    One pass over the status changes; consecutive intervals share their
    boundary (``intervals[i].end == intervals[i + 1].start``), the first starts
    at `item.created` and the last is open (``end is None``). Zero-length
    intervals (two changes in the same second) are kept: the item did cross
    those stages, which matters for the commitment point.
    """
    stages, starts = _stage_runs(item, workflow)
    ends: list[datetime | None] = [*starts[1:], None]
    return tuple(map(StageInterval, stages, starts, ends))


def _commitment_and_done_runs(
    stages: Sequence[int], commitment_index: int, done_index: int, restart: bool
) -> tuple[int | None, int | None]:
    """The run numbers where the item committed and finished (None: not there now)."""
    committed: int | None = None
    first_committed: int | None = None
    done: int | None = None
    for run, stage in enumerate(stages):
        if stage >= commitment_index:
            if committed is None:
                committed = run
                if first_committed is None:
                    first_committed = run
        else:
            committed = None
        if stage >= done_index:
            if done is None:
                done = run
        else:
            done = None
    if stages[-1] < commitment_index:
        return None, None
    return (committed if restart else first_committed), done


def commitment_and_done_from_timeline(
    timeline: Sequence[StageInterval],
    commitment_index: int,
    done_index: int,
    restart_on_backward_move: bool = True,
) -> tuple[datetime | None, datetime | None]:
    """(committed at, done at) read off a stage timeline; see the module docstring."""
    if not timeline:
        return None, None
    committed, done = _commitment_and_done_runs(
        [interval.stage for interval in timeline],
        commitment_index,
        done_index,
        restart_on_backward_move,
    )
    return (
        None if committed is None else timeline[committed].start,
        None if done is None else timeline[done].start,
    )


def commitment_and_done(
    item: ItemHistory, workflow: Workflow, restart_on_backward_move: bool = True
) -> tuple[datetime | None, datetime | None]:
    """(committed at, done at) of an item — either None when it has not got there (now).

    Read off the timeline's runs without building its intervals: the portfolio's inputs ask
    this of every stored item."""
    stages, starts = _stage_runs(item, workflow)
    committed, done = _commitment_and_done_runs(
        stages, workflow.commitment_index, workflow.done_index, restart_on_backward_move
    )
    return (
        None if committed is None else starts[committed],
        None if done is None else starts[done],
    )
