"""`<config dir>/kpis.yaml`: how metrics are counted, and each team's workflow.

The file is optional: without it every team gets the defaults (Vacanti's
inclusive day counting in UTC, a restart on a backward move, three stages
from the tracker's status categories). A team that describes its board gets
its own stages, commitment point, done point, and wait and blocked stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pmo_sync.common.configfiles import ConfigError, read_yaml_mapping, translate_validation_error
from pmo_sync.domain import Stage
from pmo_sync.kpi.model import DayCounting, KpiOptions, Workflow, WorkflowStage

__all__ = ["KPI_FILE", "KpiConfig", "TeamWorkflowConfig", "load_kpi_config"]

KPI_FILE = "kpis.yaml"


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    statuses: list[str] = Field(min_length=1)
    category: Stage


class TeamWorkflowConfig(BaseModel):
    """A team's board, left to right, and where work is committed and done."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: list[StageConfig] = Field(min_length=2)
    commitment: str | None = None  # default: the first in-progress stage
    done: str | None = None  # default: the first done stage
    wait_stages: list[str] = Field(default_factory=list)
    blocked_stages: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TeamWorkflowConfig:
        self.workflow()  # raises ValueError with the reason
        return self

    def workflow(self) -> Workflow:
        names = [s.name for s in self.stages]
        for listed in (*self.wait_stages, *self.blocked_stages):
            if listed not in names:
                raise ValueError(f"{listed!r} is not one of the stages {names}")
        seen: dict[str, str] = {}
        for stage in self.stages:
            for status in stage.statuses:
                if status in seen:
                    raise ValueError(
                        f"status {status!r} is in both {seen[status]!r} and {stage.name!r}"
                    )
                seen[status] = stage.name
        commitment = self.commitment or _first(self.stages, Stage.IN_PROGRESS)
        done = self.done or _first(self.stages, Stage.DONE)
        return Workflow(
            stages=tuple(
                WorkflowStage(s.name, frozenset(s.statuses), s.category) for s in self.stages
            ),
            commitment_stage=commitment,
            done_stage=done,
            wait_stages=frozenset(self.wait_stages),
            blocked_stages=frozenset(self.blocked_stages),
        )


def _first(stages: list[StageConfig], category: Stage) -> str:
    for stage in stages:
        if stage.category is category:
            return stage.name
    raise ValueError(f"no stage has category {category.value!r}")


class ForecastConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int = Field(default=10_000, ge=100, le=1_000_000)
    seed: int = 0
    history_days: int = Field(default=90, ge=7, le=3650)


class KpiConfig(BaseModel):
    """The whole `kpis.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: str = "UTC"
    day_counting: DayCounting = "inclusive"
    restart_on_backward_move: bool = True
    velocity_window: int = Field(default=3, ge=1, le=50)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    teams: dict[str, TeamWorkflowConfig] = Field(default_factory=dict)

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    def options(self) -> KpiOptions:
        return KpiOptions(
            day_counting=self.day_counting,
            restart_on_backward_move=self.restart_on_backward_move,
            zone=ZoneInfo(self.zone),
            velocity_window=self.velocity_window,
            forecast_trials=self.forecast.trials,
            forecast_seed=self.forecast.seed,
            forecast_history_days=self.forecast.history_days,
        )

    def workflow_for(self, team: str, status_stages: Mapping[str, Stage]) -> Workflow:
        """The team's configured workflow, or three stages from the tracker's categories."""
        configured = self.teams.get(team)
        if configured is not None:
            return configured.workflow()
        return Workflow.from_categories(status_stages)


def load_kpi_config(config_dir: Path | str) -> tuple[KpiConfig, list[ConfigError]]:
    """The config (defaults when the file is absent) and any error, named by file and field."""
    path = Path(config_dir) / KPI_FILE
    if not path.exists():
        return KpiConfig(), []
    data = read_yaml_mapping(path)
    if isinstance(data, ConfigError):
        return KpiConfig(), [data]
    try:
        return KpiConfig.model_validate(data), []
    except ValidationError as exc:
        return KpiConfig(), translate_validation_error(path, exc, KpiConfig)
