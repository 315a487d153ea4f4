"""Policy files: `<config dir>/policies/*.yaml|*.yml`, each a list of rules.

```yaml
rules:
  - id: wip-limits                 # unique across every policy file
    rule: wip_limit                # one of pmo_sync.governance.rules.RULES
    description: Our working agreement   # optional, shown with the findings
    severity: warning              # info | warning | critical (default warning)
    mode: advisory                 # advisory | enforced | off (default advisory)
    teams: [Team Alpha, Team Beta] # default: every team
    sources: [acme-jira]           # default: every source
    params:                        # checked by the rule's own parameters model
      limits: {In Progress: 5, In Review: 3}
    overrides:                     # per-team tuning of this same rule
      Team Alpha:
        params: {limits: {In Progress: 3}}
        mode: enforced
```

**Per-team tuning is `overrides`**: a team's entry may change `severity`,
`mode` and any `params` key; each key it gives replaces the rule's value
whole (a `limits` mapping is replaced, not merged stage by stage), the keys
it leaves out keep the rule's. `mode: off` in an override opts that team
out; a rule with `mode: off` and an override `mode: advisory` for a few
teams is opt-in for those teams only. Why not a second rule with another id
and a narrower `teams` list? The general rule would still fire for the
stricter team (twice the findings) unless every other team were listed, and
a finding's identity follows the rule id, so moving a team between copies
would resolve its open findings and open new ones. A second rule of the
same kind is still fine for a *different* policy.

**Portfolio rules** (`RuleSpec.kind`): a `portfolio` rule is tuned per
team like the others. `theme_off_target` is about the whole portfolio:
its `overrides` are keyed by theme (``Growth: {params: {max_points: 5}}``)
and it takes no `teams`; it and `unaligned_work` read theme shares over
every source and take no `sources`.

**Modes**: `advisory` findings are listed and may be written back as a
comment; `enforced` findings are the same but marked required
(`Finding.required`) and are at least `warning` (an `info` severity is
raised); `off` is not evaluated.

**Loading** never stops at the first problem. Each problem is a
`ConfigError` (`file: field: message`, e.g.
``policies/flow.yaml: rules[2].params.days: Input should be greater than or
equal to 1``). A file that is not a mapping with a `rules` list is skipped
whole; otherwise each invalid rule is skipped alone and the file's other
rules still apply. A rule id used before (in file-name order) makes the
later rule an error naming both places. No `policies/` folder means no rules.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from pmo_sync.common.configfiles import (
    MODEL_FIELD,
    ConfigError,
    read_yaml_documents,
    translate_validation_error,
)
from pmo_sync.governance.model import Mode, Severity
from pmo_sync.governance.rules import RULES, Params

__all__ = [
    "POLICIES_DIR",
    "PolicyFile",
    "RuleConfig",
    "RuleSettings",
    "TeamOverride",
    "load_policies",
]

POLICIES_DIR = "policies"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """A rule as it applies to one team: overrides applied, enforced raised to warning."""

    severity: Severity
    mode: Mode
    params: Params


def _yaml_off(value: Any) -> Any:
    """YAML 1.1 reads an unquoted `off` as false: take it as the mode it was meant to be."""
    return "off" if value is False else value


class TeamOverride(BaseModel):
    """One team's changes to a rule. After validation `params` is the merged params model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity | None = None
    mode: Mode | None = None
    params: Any = None

    _mode_off = field_validator("mode", mode="before")(_yaml_off)


def _custom(error_type: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(error_type, "{message}", {"message": message})


def _nested(exc: ValidationError, *prefix: str | int) -> list[InitErrorDetails]:
    """`exc`'s errors again, located under `prefix` (their type and message kept)."""
    return [
        InitErrorDetails(
            type=_custom(e["type"], e["msg"]),
            loc=(*prefix, *e["loc"]),
            input=None,
        )
        for e in exc.errors(include_url=False, include_input=False)
    ]


class RuleConfig(BaseModel):
    """One policy rule (see the module docstring). After validation `params` is the
    rule's params model, and each override's `params` the merged one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    rule: str
    description: str | None = None
    severity: Severity = "warning"
    mode: Mode = "advisory"
    teams: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    params: Any = Field(default=None, validate_default=True)
    overrides: dict[str, TeamOverride] = Field(default_factory=dict)

    _mode_off = field_validator("mode", mode="before")(_yaml_off)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                "must be lower-case letters, digits, '-' and '_', starting with a letter "
                "or digit, at most 63 characters"
            )
        return value

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value in RULES:
            return value
        close = difflib.get_close_matches(value, list(RULES), n=1, cutoff=0.6)
        if close:
            raise ValueError(f"unknown rule {value!r} (did you mean {close[0]!r}?)")
        raise ValueError(f"unknown rule {value!r} (known: {', '.join(sorted(RULES))})")

    @field_validator("teams", "sources")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...] | None, info: ValidationInfo) -> Any:
        if value is not None and not value:
            raise ValueError(f"list at least one, or leave {info.field_name} out for all")
        spec = RULES.get(info.data.get("rule", ""))
        if value is not None and spec is not None:
            if info.field_name == "teams" and spec.kind == "theme":
                raise ValueError(
                    f"{spec.name} is about the whole portfolio's themes, not a team's: "
                    "leave teams out (overrides are per theme)"
                )
            if info.field_name == "sources" and not spec.by_source:
                raise ValueError(
                    f"{spec.name} reads theme shares over every source: leave sources out"
                )
        return value

    @field_validator("params")
    @classmethod
    def _rule_params(cls, value: Any, info: ValidationInfo) -> Any:
        spec = RULES.get(info.data.get("rule", ""))
        if spec is None:
            return value  # the unknown rule is reported
        if value is None:
            value = {}
        if not isinstance(value, Mapping | BaseModel):
            raise ValueError("must be a mapping of parameter names to values")
        return spec.params.model_validate(value)  # its errors land under `params`

    @field_validator("overrides")
    @classmethod
    def _team_overrides(
        cls, value: dict[str, TeamOverride], info: ValidationInfo
    ) -> dict[str, TeamOverride]:
        spec = RULES.get(info.data.get("rule", ""))
        base = info.data.get("params")
        teams = info.data.get("teams")
        errors: list[InitErrorDetails] = []
        merged: dict[str, TeamOverride] = {}
        for team, override in value.items():
            if teams is not None and team not in teams:
                message = "this team is not in the rule's teams"
                errors.append(
                    InitErrorDetails(type=_custom("value_error", message), loc=(team,), input=None)
                )
            if override.params is None or spec is None or not isinstance(base, Params):
                merged[team] = override
                continue
            if not isinstance(override.params, Mapping | BaseModel):
                message = "must be a mapping of parameter names to values"
                errors.append(
                    InitErrorDetails(
                        type=_custom("value_error", message), loc=(team, "params"), input=None
                    )
                )
                continue
            given = (
                override.params.model_dump(exclude_unset=True)
                if isinstance(override.params, BaseModel)
                else dict(override.params)
            )
            try:
                params = spec.params.model_validate(
                    {**base.model_dump(exclude_unset=True), **given}
                )
            except ValidationError as exc:
                errors.extend(_nested(exc, team, "params"))
                continue
            merged[team] = override.model_copy(update={"params": params})
        if errors:
            raise ValidationError.from_exception_data("overrides", errors)
        return merged

    def settings_for(self, team: str) -> RuleSettings | None:
        """The rule for `team`, or None when its `teams` leave the team out."""
        if self.teams is not None and team not in self.teams:
            return None
        override = self.overrides.get(team)
        severity = self.severity if override is None else override.severity or self.severity
        mode = self.mode if override is None else override.mode or self.mode
        params = self.params if override is None or override.params is None else override.params
        if mode == "enforced" and severity == "info":
            severity = "warning"
        return RuleSettings(severity, mode, params)

    def applies_to_source(self, source: str) -> bool:
        return self.sources is None or source in self.sources


class PolicyFile(BaseModel):
    """A policy file's top level; each rule is validated on its own (`load_policies`)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Any]


@cache
def _error_root(rule: str) -> type[BaseModel]:
    """A model shaped like `RuleConfig` with `rule`'s params model in place of `Any`.

    Never validated: it only tells `translate_validation_error` which keys a
    `params` mapping may have, for its "did you mean" hints.
    """
    spec = RULES.get(rule)
    if spec is None:
        return RuleConfig
    optional_params: Any = spec.params | None  # built at run time: a value, not a static type
    override: Any = create_model(
        f"{spec.params.__name__}Override",
        __base__=TeamOverride,
        params=(optional_params, None),
    )
    root: type[BaseModel] = create_model(
        f"{spec.params.__name__}Rule",
        __base__=RuleConfig,
        params=(spec.params, None),
        overrides=(dict[str, override], {}),
    )
    return root


def _under(errors: list[ConfigError], prefix: str) -> list[ConfigError]:
    return [
        ConfigError(e.file, prefix if e.field == MODEL_FIELD else f"{prefix}.{e.field}", e.message)
        for e in errors
    ]


def load_policies(config_dir: Path | str) -> tuple[list[RuleConfig], list[ConfigError]]:
    """Every valid rule of `<config_dir>/policies/*.yaml|*.yml` (file-name order), and
    every problem found (see the module docstring)."""
    rules: list[RuleConfig] = []
    errors: list[ConfigError] = []
    first: dict[str, tuple[Path, int]] = {}
    for path, data in read_yaml_documents(Path(config_dir) / POLICIES_DIR):
        if isinstance(data, ConfigError):
            errors.append(data)
            continue
        try:
            document = PolicyFile.model_validate(data)
        except ValidationError as exc:
            errors.extend(translate_validation_error(path, exc, PolicyFile))
            continue
        for index, raw in enumerate(document.rules):
            where = f"rules[{index}]"
            if not isinstance(raw, dict):
                errors.append(ConfigError(path, where, "must be a mapping of keys to values"))
                continue
            try:
                rule = RuleConfig.model_validate(raw)
            except ValidationError as exc:
                name = raw.get("rule")
                root = _error_root(name) if isinstance(name, str) else RuleConfig
                errors.extend(_under(translate_validation_error(path, exc, root), where))
                continue
            earlier = first.get(rule.id)
            if earlier is not None:
                message = (
                    f"duplicate rule id {rule.id!r} (also in {earlier[0]}, rules[{earlier[1]}])"
                )
                errors.append(ConfigError(path, f"{where}.id", message))
                continue
            first[rule.id] = (path, index)
            rules.append(rule)
    return rules, errors
