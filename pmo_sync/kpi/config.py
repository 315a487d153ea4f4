"""`<config dir>/kpis.yaml`: how metrics are counted, which teams are one, and each team's board.

The file is optional: without it every team gets the defaults (Vacanti's
inclusive day counting in UTC, a restart on a backward move, three stages
from the tracker's status categories), and a team is one source's team
(`pmo_sync.kpi.teams`). `teams:` makes one team of several sources' teams (or
renames one); `workflows:` gives a team its own stages, commitment point, done
point, and wait and blocked stages.

Every problem of the file is reported at once, each at its key path
(`workflows.ABC board.stages[2].statuses[0]`): pydantic checks the shapes of
the whole file in one pass, and the checks that need a whole entry (a status in
two stages, a source that is no connector) run over every entry whose shape is
right, so one typo never hides the next error.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pmo_sync.common.configfiles import (
    ConfigError,
    read_yaml_mapping,
    translate_validation_error,
)
from pmo_sync.config import configured_connectors
from pmo_sync.domain import Stage
from pmo_sync.kpi.model import DayCounting, KpiOptions, Workflow, WorkflowStage

__all__ = [
    "KPI_FILE",
    "KpiConfig",
    "TeamSourceConfig",
    "TeamWorkflowConfig",
    "load_kpi_config",
    "parse_kpi_config",
]

KPI_FILE = "kpis.yaml"

_WORKFLOW_KEYS = frozenset({"stages", "commitment", "done", "wait_stages", "blocked_stages"})


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    statuses: list[str] = Field(min_length=1)
    category: Stage


class TeamWorkflowConfig(BaseModel):
    """A team's board, left to right, and where work is committed and done.

    The shape is checked by pydantic; `workflow_problems` checks that the parts
    agree (and `load_kpi_config` refuses a file where they do not), so
    `workflow()` of a loaded config always succeeds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: list[StageConfig] = Field(min_length=2)
    commitment: str | None = None  # default: the first in-progress stage
    done: str | None = None  # default: the first done stage
    wait_stages: list[str] = Field(default_factory=list)
    blocked_stages: list[str] = Field(default_factory=list)

    def workflow(self) -> Workflow:
        commitment = self.commitment or _first(self.stages, Stage.IN_PROGRESS)
        done = self.done or _first(self.stages, Stage.DONE)
        if commitment is None or done is None:
            problems = list(workflow_problems(self.model_dump(mode="json")))
            raise ValueError(f"inconsistent workflow: {problems}")
        return Workflow(
            stages=tuple(
                WorkflowStage(s.name, frozenset(s.statuses), s.category) for s in self.stages
            ),
            commitment_stage=commitment,
            done_stage=done,
            wait_stages=frozenset(self.wait_stages),
            blocked_stages=frozenset(self.blocked_stages),
        )


def _first(stages: list[StageConfig], category: Stage) -> str | None:
    return next((stage.name for stage in stages if stage.category is category), None)


def workflow_problems(raw: Any) -> Iterator[tuple[str, str]]:
    """Every way the parts of one `workflows:` entry disagree, as (key path inside it, message).

    Reads the entry as written, so the parts whose shape is right are checked even
    when another part's shape is wrong (pydantic reports that one): a stage whose
    category is misspelt still has its statuses compared with the other stages'.
    """
    if not isinstance(raw, Mapping):
        return
    stages = [s if isinstance(s, Mapping) else {} for s in _list(raw.get("stages"))]
    names = [s.get("name") for s in stages]
    listing = ", ".join(str(n) for n in names if isinstance(n, str))
    first_named: dict[str, int] = {}
    holder: dict[str, str] = {}
    for i, stage in enumerate(stages):
        name = names[i]
        if not isinstance(name, str):
            continue
        if name in first_named:
            yield f"stages[{i}].name", f"{name!r} is also the name of stages[{first_named[name]}]"
        first_named.setdefault(name, i)
        for j, status in enumerate(_list(stage.get("statuses"))):
            if isinstance(status, str) and status in holder:
                yield (
                    f"stages[{i}].statuses[{j}]",
                    f"status {status!r} is already in stage {holder[status]!r}",
                )
            elif isinstance(status, str):
                holder[status] = name
    for key in ("wait_stages", "blocked_stages"):
        for i, listed in enumerate(_list(raw.get(key))):
            if isinstance(listed, str) and listed not in first_named:
                yield f"{key}[{i}]", f"{listed!r} is not one of the stages ({listing})"
    categories = {s.value for s in Stage}
    if any(s.get("category") not in categories for s in stages):
        return  # the default points depend on categories pydantic refused
    points: dict[str, str] = {}
    for key, category in (("commitment", Stage.IN_PROGRESS), ("done", Stage.DONE)):
        named = raw.get(key)
        default = next((names[i] for i, s in enumerate(stages) if s["category"] == category), None)
        if isinstance(named, str) and named not in first_named:
            yield key, f"{named!r} is not one of the stages ({listing})"
        elif named is None and not isinstance(default, str):
            yield key, f"no stage has category {category.value!r}: name the {key} stage"
        else:
            point = named or default
            if isinstance(point, str):
                points[key] = point
    commitment, done = points.get("commitment"), points.get("done")
    if commitment and done and first_named[commitment] > first_named[done]:
        yield "done", f"the done stage {done!r} is left of the commitment stage {commitment!r}"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class TeamSourceConfig(BaseModel):
    """One source's team that belongs to a team of `teams:`: which connector, which team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    team: str = Field(min_length=1)


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
    teams: dict[str, list[TeamSourceConfig]] = Field(default_factory=dict)
    workflows: dict[str, TeamWorkflowConfig] = Field(default_factory=dict)
    upgrade_notices: tuple[str, ...] = Field(default=(), exclude=True)
    """What the loader read in an older form (not a key of the file: set by the loader)."""

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
        configured = self.workflows.get(team)
        if configured is not None:
            return configured.workflow()
        return Workflow.from_categories(status_stages)


def load_kpi_config(
    config_dir: Path | str, connectors: Collection[str] | None = None
) -> tuple[KpiConfig, list[ConfigError]]:
    """The config (defaults when the file is absent) and every error, named by file and key.

    Each source named under `teams:` must be one of `connectors`, by default the
    names the files in `<config dir>/connectors/` give (valid or not: a connector
    file with another problem is reported on its own, not as every team using it).
    """
    path = Path(config_dir) / KPI_FILE
    if not path.exists():
        return KpiConfig(), []
    data = read_yaml_mapping(path)
    if isinstance(data, ConfigError):
        return KpiConfig(), [data]
    if connectors is None:
        connectors = configured_connectors(Path(config_dir))
    return parse_kpi_config(path, data, connectors)


def parse_kpi_config(
    path: Path, data: dict[str, Any], connectors: Collection[str] | None = None
) -> tuple[KpiConfig, list[ConfigError]]:
    """Check the whole file at once: its shape, then each entry whose shape is right."""
    shaped, problems, upgrade_notices = _read_legacy_workflows(path, data)
    if "upgrade_notices" in shaped:  # the loader's, never the file's
        del shaped["upgrade_notices"]
        problems.append(("upgrade_notices", "unknown key"))
    config: KpiConfig | None = None
    errors: list[ConfigError] = []
    try:
        config = KpiConfig.model_validate(shaped)
    except ValidationError as exc:
        errors = translate_validation_error(path, exc, KpiConfig)
    problems += _entry_problems(shaped, connectors)
    errors += [ConfigError(path, field, message) for field, message in problems]
    order = {str(key): i for i, key in enumerate(data)}
    errors.sort(key=lambda e: order.get(re.split(r"[.\[]", e.field, maxsplit=1)[0], len(order)))
    if errors or config is None:
        return KpiConfig(), errors
    return config.model_copy(update={"upgrade_notices": tuple(upgrade_notices)}), []


def _read_legacy_workflows(
    path: Path, data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
    """A board still under `teams:` (kpis.yaml before `workflows:` existed) read as its
    workflow, with a notice saying where it goes now, so an upgrade never stops a service
    that ran yesterday; an error only when `workflows:` names the same team too."""
    shaped = dict(data)
    legacy = _legacy_workflows(data)
    if not legacy:
        return shaped, [], []
    teams = {k: v for k, v in data["teams"].items() if k not in legacy}
    workflows = data.get("workflows") if "workflows" in data else {}
    problems: list[tuple[str, str]] = []
    notices: list[str] = []
    if isinstance(workflows, dict):
        workflows = dict(workflows)
        for name in legacy:
            if name in workflows:
                problems.append((
                    f"teams.{name}",
                    f"a board's stages go under workflows:, and workflows.{name} is there "
                    "too: keep one",
                ))  # fmt: skip
                continue
            workflows[name] = data["teams"][name]
            notices.append(
                f"{path.name}: teams.{name}: a board's stages now go under workflows: (read as "
                f"workflows.{name}; move it there); teams: lists the sources' teams that make "
                "one team"
            )
        shaped["workflows"] = workflows
    shaped["teams"] = teams
    return shaped, problems, notices


def _legacy_workflows(data: Mapping[str, Any]) -> list[str]:
    """Team names under `teams:` holding a workflow, as kpis.yaml had before `workflows:`."""
    teams = data.get("teams")
    if not isinstance(teams, dict):
        return []
    return [
        str(name)
        for name, value in teams.items()
        if isinstance(value, dict) and _WORKFLOW_KEYS & set(value)
    ]


def _entry_problems(
    data: Mapping[str, Any], connectors: Collection[str] | None
) -> Iterator[tuple[str, str]]:
    """The checks that need a whole entry, on every entry whose shape is right."""
    workflows = data.get("workflows")
    if isinstance(workflows, dict):
        for name, raw in workflows.items():
            for field, message in workflow_problems(raw):
                yield f"workflows.{name}.{field}", message
    teams = data.get("teams")
    if not isinstance(teams, dict):
        return
    known = sorted(connectors) if connectors is not None else None
    first: dict[tuple[str, str], str] = {}
    for name, entries in teams.items():
        if not isinstance(entries, list):
            continue
        if not entries:
            yield f"teams.{name}", "list at least one {source: ..., team: ...}"
        for i, raw in enumerate(entries):
            try:
                entry = TeamSourceConfig.model_validate(raw)
            except ValidationError:
                continue
            where = f"teams.{name}[{i}]"
            if known is not None and entry.source not in known:
                yield (
                    f"{where}.source",
                    f"no connector named {entry.source!r} "
                    f"(connectors: {', '.join(known) or 'none'})",
                )
            pair = (entry.source, entry.team)
            if pair in first:
                yield where, f"{entry.source}'s team '{entry.team}' is already in {first[pair]}"
            else:
                first[pair] = where
