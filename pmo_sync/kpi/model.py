"""The plain data every KPI function takes: item histories, sprints, workflows and options.

No database, no tracker: the store (or a test) builds these, the metric
functions read them and return plain values. Timestamps are aware UTC; the
reporting zone in `KpiOptions` decides which calendar day a moment falls on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pmo_sync.domain import Stage

__all__ = [
    "DayCounting",
    "EstimateChange",
    "FlagChange",
    "ItemHistory",
    "KpiOptions",
    "SprintInfo",
    "SprintStay",
    "StatusChange",
    "Workflow",
    "WorkflowStage",
]

DayCounting = Literal["inclusive", "exclusive", "fractional"]
"""How a span becomes days.

- `inclusive`: calendar days + 1 (Vacanti, ActionableAgile): done the day it started = 1.
- `exclusive`: whole calendar days between the dates (jira-agile-metrics): same day = 0.
- `fractional`: elapsed hours / 24 (Azure DevOps Analytics).
"""


@dataclass(frozen=True, slots=True)
class StatusChange:
    at: datetime
    from_status: str | None
    to_status: str


@dataclass(frozen=True, slots=True)
class FlagChange:
    at: datetime
    flagged: bool


@dataclass(frozen=True, slots=True)
class EstimateChange:
    at: datetime
    from_points: float | None
    to_points: float | None


@dataclass(frozen=True, slots=True)
class SprintStay:
    sprint_id: str
    added_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemHistory:
    """One work item and everything that happened to it, oldest first.

    `initial_status` is the status at creation (Jira does not log it; the
    connector rebuilt it from the first change). `estimate` is the current
    estimate; the estimate at any earlier moment is rebuilt from
    `estimate_changes` backwards.
    """

    key: str
    source: str
    team: str
    item_type: str  # story | bug | task | subtask | epic | other
    created: datetime
    initial_status: str
    status_changes: tuple[StatusChange, ...] = ()
    flag_changes: tuple[FlagChange, ...] = ()
    estimate: float | None = None
    estimate_changes: tuple[EstimateChange, ...] = ()
    sprint_stays: tuple[SprintStay, ...] = ()
    parent_key: str | None = None
    status: str | None = None  # current; defaults to the last change's `to_status`

    @property
    def current_status(self) -> str:
        if self.status is not None:
            return self.status
        return self.status_changes[-1].to_status if self.status_changes else self.initial_status


@dataclass(frozen=True, slots=True)
class SprintInfo:
    """A sprint as the tracker reports it; `end` is planned, `completed` actual."""

    id: str
    name: str
    team: str
    state: Literal["future", "active", "closed"]
    start: datetime | None
    end: datetime | None
    completed: datetime | None = None


@dataclass(frozen=True, slots=True)
class WorkflowStage:
    """One column of a team's board: a name, the statuses in it, and its coarse category."""

    name: str
    statuses: frozenset[str]
    category: Stage


@dataclass(frozen=True, slots=True)
class Workflow:
    """A team's ordered stages, and where commitment and done are.

    The commitment point is the first stage at or after which an item counts
    as started (default: the first in-progress stage); the done point the
    first stage at or after which it counts as finished (default: the first
    done stage). Stages in `wait_stages` are waiting, not working, for flow
    efficiency; `blocked_stages` count as blocked time as a flag would.
    """

    stages: tuple[WorkflowStage, ...]
    commitment_stage: str
    done_stage: str
    wait_stages: frozenset[str] = frozenset()
    blocked_stages: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names repeat: {names}")
        for point in (self.commitment_stage, self.done_stage):
            if point not in names:
                raise ValueError(f"{point!r} is not one of the stages {names}")
        if names.index(self.commitment_stage) > names.index(self.done_stage):
            raise ValueError("the commitment point must come before the done point")

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def index_of_status(self, status: str, fallback: Stage | None = None) -> int:
        """The stage index a status belongs to; an unknown status goes by `fallback` category."""
        for index, stage in enumerate(self.stages):
            if status in stage.statuses:
                return index
        category = fallback or Stage.IN_PROGRESS
        return next(
            (i for i, s in enumerate(self.stages) if s.category is category),
            self.commitment_index,
        )

    @property
    def commitment_index(self) -> int:
        return self.stage_names.index(self.commitment_stage)

    @property
    def done_index(self) -> int:
        return self.stage_names.index(self.done_stage)

    @classmethod
    def from_categories(cls, status_categories: Mapping[str, Stage]) -> Workflow:
        """The default: three stages named after the categories, holding each status."""
        by_category: dict[Stage, set[str]] = {stage: set() for stage in Stage}
        for status, stage in status_categories.items():
            by_category[stage].add(status)
        stages = (
            WorkflowStage("To Do", frozenset(by_category[Stage.TODO]), Stage.TODO),
            WorkflowStage(
                "In Progress", frozenset(by_category[Stage.IN_PROGRESS]), Stage.IN_PROGRESS
            ),
            WorkflowStage("Done", frozenset(by_category[Stage.DONE]), Stage.DONE),
        )
        return cls(stages=stages, commitment_stage="In Progress", done_stage="Done")


@dataclass(frozen=True, slots=True)
class KpiOptions:
    """How metrics are counted; the defaults follow Vacanti and Jira's sprint reports."""

    day_counting: DayCounting = "inclusive"
    restart_on_backward_move: bool = True  # False keeps the first commitment (Azure DevOps)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    percentiles: tuple[int, ...] = (50, 70, 85, 95)
    velocity_window: int = 3
    forecast_trials: int = 10_000
    forecast_seed: int = 0
    forecast_history_days: int = 90
