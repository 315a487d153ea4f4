"""`<config dir>/portfolio.yaml`: themes, requests and their funnel, dependencies, releases.

The file is optional: without it there are no themes (every item is unaligned),
the requests are epics and features, the funnel follows the status categories,
Jira's "Blocks" and Azure DevOps' Dependency links are the dependencies, and
Trello's are card links named "Depends on".

Like kpis.yaml, every problem is reported at once at its key path
(`themes[1].match.lables`): pydantic checks the shape of the whole file, and the
checks that need more than one value (theme names, the sum of the target
shares, a status in two funnel stages, a connector that does not exist) run over
every part whose shape is right, so one typo never hides the next error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pmo_sync.common.configfiles import (
    ConfigError,
    read_yaml_mapping,
    translate_validation_error,
)
from pmo_sync.config import configured_connectors
from pmo_sync.domain import Stage

__all__ = [
    "DEFAULT_REQUEST_LEVELS",
    "FUNNEL_STAGES",
    "LEVELS",
    "PORTFOLIO_FILE",
    "FunnelConfig",
    "FunnelStage",
    "FunnelStageConfig",
    "PortfolioConfig",
    "ReleasePattern",
    "ThemeConfig",
    "ThemeMatch",
    "load_portfolio_config",
    "parse_portfolio_config",
]

PORTFOLIO_FILE = "portfolio.yaml"

LEVELS = ("initiative", "epic", "feature", "story", "task", "subtask")
"""The normalised levels of the hierarchy, top down; a tracker's own level above epic
(Jira Advanced Roadmaps' "Theme", an Azure DevOps portfolio backlog) keeps its name."""
DEFAULT_REQUEST_LEVELS = ("epic", "feature")
FunnelStage = Literal["intake", "approved", "in_progress", "done"]
FUNNEL_STAGES: tuple[FunnelStage, ...] = ("intake", "approved", "in_progress", "done")
AZURE_DEVOPS_LINK_TYPES = {
    "dependency": "System.LinkTypes.Dependency",
    "related": "System.LinkTypes.Related",
}

NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- themes -------------------------------------------------------------------------------------


class ThemeMatch(_Model):
    """What belongs to a theme; an item matches when any one of these does.

    Every comparison ignores case. `keys` may be `source:KEY` to name one connector's
    item; an area path matches itself and the paths below it.
    """

    keys: list[NonEmpty] = Field(default_factory=list)
    labels: list[NonEmpty] = Field(default_factory=list)
    components: list[NonEmpty] = Field(default_factory=list)
    area_paths: list[NonEmpty] = Field(default_factory=list)
    boards: list[NonEmpty] = Field(default_factory=list)
    trello_labels: list[NonEmpty] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in type(self).model_fields)


class ThemeConfig(_Model):
    """A strategic theme: its name, the share of capacity it should get, what belongs to it."""

    name: NonEmpty
    target_share: float | None = None
    """Percent of capacity; None when the theme has no target."""
    match: ThemeMatch
    sources: list[NonEmpty] = Field(default_factory=list)
    """Connector names the theme is restricted to; empty: every connector."""

    @field_validator("target_share")
    @classmethod
    def _percent(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError(f"{value:g} is not a percentage from 0 to 100")
        return value


# --- requests and their funnel ------------------------------------------------------------------


class FunnelStageConfig(_Model):
    """The statuses (names, any case) and status categories that put a request in a stage."""

    statuses: list[NonEmpty] = Field(default_factory=list)
    categories: list[Stage] = Field(default_factory=list)


def _default_funnel() -> dict[str, FunnelStageConfig]:
    return {
        "intake": FunnelStageConfig(categories=[Stage.TODO]),
        "approved": FunnelStageConfig(),
        "in_progress": FunnelStageConfig(categories=[Stage.IN_PROGRESS]),
        "done": FunnelStageConfig(categories=[Stage.DONE]),
    }


class FunnelConfig(_Model):
    """The four funnel stages; a stage not written keeps its default.

    A status named under a stage puts a request there before any category does, so
    `approved: {statuses: [Approved]}` takes the Approved requests out of intake.
    """

    intake: FunnelStageConfig = Field(default_factory=lambda: _default_funnel()["intake"])
    approved: FunnelStageConfig = Field(default_factory=FunnelStageConfig)
    in_progress: FunnelStageConfig = Field(default_factory=lambda: _default_funnel()["in_progress"])
    done: FunnelStageConfig = Field(default_factory=lambda: _default_funnel()["done"])

    def stages(self) -> list[tuple[FunnelStage, FunnelStageConfig]]:
        return [(name, getattr(self, name)) for name in FUNNEL_STAGES]


class RequestsConfig(_Model):
    """Which items are the requests stakeholders ask about.

    With neither `levels` nor `types` the requests are epics and features; with
    `types` alone, only items of those types.
    """

    levels: list[NonEmpty] | None = None
    types: list[NonEmpty] = Field(default_factory=list)
    funnel: FunnelConfig = Field(default_factory=FunnelConfig)

    @field_validator("levels")
    @classmethod
    def _lower_levels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [level.casefold() for level in value]

    @property
    def request_types(self) -> tuple[str, ...]:
        """`types`, casefolded: a tracker's own type names compared ignoring case."""
        return tuple(dict.fromkeys(t.casefold() for t in self.types))

    @property
    def request_levels(self) -> tuple[str, ...]:
        """The levels the answers take as requests: `levels` (default: epic and feature, unless
        `types` alone is given), then each of `types`. The store-to-answers edge
        (`evaluation.portfolio_inputs`) gives an item of a request type its type's name as its
        level, so every answer, which reads levels, takes it as a request."""
        if self.levels is not None:
            base = tuple(self.levels)
        else:
            base = () if self.types else DEFAULT_REQUEST_LEVELS
        return base + tuple(t for t in self.request_types if t not in base)


# --- dependencies -------------------------------------------------------------------------------


class JiraLinkType(_Model):
    """A Jira issue link type that is a dependency, and which way its outward side points.

    For "Blocks" (outward "blocks", inward "is blocked by") the outward issue is the
    one waiting; for a type like "Dependency" (outward "depends on") it is the other way.
    """

    name: NonEmpty
    outward: Literal["blocks", "depends_on"] = "blocks"


class TrelloDependencies(_Model):
    """Trello has no links: a card link attached under a name starting with the prefix
    ("Depends on: …"), or each card link in a checklist of this name, is a dependency."""

    attachment_prefix: NonEmpty | None = "Depends on"
    checklist: NonEmpty | None = None


class DependenciesConfig(_Model):
    jira_link_types: list[JiraLinkType] = Field(
        default_factory=lambda: [JiraLinkType(name="Blocks")]
    )
    azure_devops: list[NonEmpty] = Field(
        default_factory=lambda: [AZURE_DEVOPS_LINK_TYPES["dependency"]]
    )
    trello: TrelloDependencies = Field(default_factory=TrelloDependencies)

    @field_validator("jira_link_types", mode="before")
    @classmethod
    def _names_alone(cls, value: Any) -> Any:
        """`[Blocks]` is short for `[{name: Blocks}]`."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("azure_devops")
    @classmethod
    def _reference_names(cls, value: list[str]) -> list[str]:
        """`Related` and `Dependency` are short for their reference names."""
        return [AZURE_DEVOPS_LINK_TYPES.get(v.casefold(), v) for v in value]


# --- releases -----------------------------------------------------------------------------------

_PLACEHOLDER = "{name}"


class ReleasePattern(str):
    """A text with one `{name}` where the release's name stands, e.g. `Release {name}`."""

    def regex(self) -> re.Pattern[str]:
        before, after = self.split(_PLACEHOLDER)
        return re.compile(f"{re.escape(before)}(.+?){re.escape(after)}", re.IGNORECASE)

    def name_in(self, text: str) -> str | None:
        """The release's name when `text` is written by this pattern, else None."""
        found = self.regex().fullmatch(text.strip())
        return found.group(1).strip() if found else None

    def name_in_path(self, path: str) -> str | None:
        """The release an iteration path is in: the deepest level this pattern names
        (`Fabrikam\\Release 2027.1\\Sprint 3` is in release 2027.1)."""
        for level in reversed([part for part in path.split("\\") if part]):
            name = self.name_in(level)
            if name is not None:
                return name
        return None


def _pattern(value: str) -> ReleasePattern:
    if value.count(_PLACEHOLDER) != 1:
        raise ValueError("a release pattern holds {name} once, e.g. 'Release {name}'")
    if value.replace(_PLACEHOLDER, "").strip(" \\") == "":
        raise ValueError("a release pattern needs text around {name}, e.g. 'Release {name}'")
    return ReleasePattern(value)


class AzureDevOpsReleases(_Model):
    """A release is named by an iteration (matched against each level of the iteration
    path, the deepest first) or by a tag; give one."""

    iteration: str | None = None
    tag: str | None = None

    @field_validator("iteration", "tag")
    @classmethod
    def _one_name(cls, value: str | None) -> ReleasePattern | None:
        return None if value is None else _pattern(value)


class TrelloReleases(_Model):
    """A release is named by the card's list or by one of its labels; give one."""

    list: str | None = None
    label: str | None = None

    @field_validator("list", "label")
    @classmethod
    def _one_name(cls, value: str | None) -> ReleasePattern | None:
        return None if value is None else _pattern(value)


class ReleaseDates(_Model):
    planned: date
    released: date | None = None


class ReleasesConfig(_Model):
    azure_devops: AzureDevOpsReleases = Field(default_factory=AzureDevOpsReleases)
    trello: TrelloReleases = Field(default_factory=TrelloReleases)
    dates: dict[str, ReleaseDates] = Field(default_factory=dict)
    """Release name (any case) to its dates, for trackers that hold none."""

    def dates_of(self, release: str) -> ReleaseDates | None:
        wanted = release.casefold()
        return next((d for n, d in self.dates.items() if n.casefold() == wanted), None)


# --- the file -----------------------------------------------------------------------------------

DeliveryMethod = Literal["scrum", "kanban", "traditional"]


class DatesConfig(_Model):
    """Jira has only `duedate`; target start and end are fields a site adds (name or id)."""

    jira_target_start: NonEmpty | None = None
    jira_target_end: NonEmpty | None = None


class PortfolioConfig(_Model):
    """The whole `portfolio.yaml` (a `themes:` mapping is read as a list, its keys the names)."""

    themes: list[ThemeConfig] = Field(default_factory=list)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    dependencies: DependenciesConfig = Field(default_factory=DependenciesConfig)
    releases: ReleasesConfig = Field(default_factory=ReleasesConfig)
    delivery: dict[str, DeliveryMethod] = Field(default_factory=dict)
    """Team name to its delivery method, over what its board says."""
    dates: DatesConfig = Field(default_factory=DatesConfig)


def load_portfolio_config(
    config_dir: Path | str, connectors: Collection[str] | None = None
) -> tuple[PortfolioConfig, list[ConfigError]]:
    """The config (defaults when the file is absent) and every error, named by file and key.

    Connector names (`sources:`, `source:KEY`) must be among `connectors`, by default
    the names the files in `<config dir>/connectors/` give.
    """
    path = Path(config_dir) / PORTFOLIO_FILE
    if not path.exists():
        return PortfolioConfig(), []
    data = read_yaml_mapping(path)
    if isinstance(data, ConfigError):
        return PortfolioConfig(), [data]
    if connectors is None:
        connectors = configured_connectors(Path(config_dir))
    return parse_portfolio_config(path, data, connectors)


def parse_portfolio_config(
    path: Path, data: Mapping[str, Any], connectors: Collection[str] | None = None
) -> tuple[PortfolioConfig, list[ConfigError]]:
    """Check the whole file at once: its shape, then the parts that need each other."""
    shaped, theme_keys, problems = _themes_as_list(data)
    config: PortfolioConfig | None = None
    errors: list[ConfigError] = []
    try:
        config = PortfolioConfig.model_validate(shaped)
    except ValidationError as exc:
        errors = translate_validation_error(path, exc, PortfolioConfig)
    problems += _theme_problems(shaped.get("themes"), connectors)
    problems += _request_problems(shaped.get("requests"))
    problems += _release_problems(shaped.get("releases"))
    errors += [ConfigError(path, field, message) for field, message in problems]
    errors = [
        ConfigError(e.file, _theme_named(e.field, theme_keys), _theme_named(e.message, theme_keys))
        for e in errors
    ]
    order = {str(key): i for i, key in enumerate(data)}
    errors.sort(key=lambda e: order.get(re.split(r"[.\[]", e.field, maxsplit=1)[0], len(order)))
    if errors or config is None:
        return PortfolioConfig(), errors
    return config, []


def _themes_as_list(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str] | None, list[tuple[str, str]]]:
    """`themes:` as a mapping (name: theme) read as the list it stands for, with its keys
    so each error names the theme as the file does (`themes.Growth.target_share`)."""
    shaped = dict(data)
    themes = data.get("themes")
    if not isinstance(themes, dict):
        return shaped, None, []
    problems: list[tuple[str, str]] = []
    listed: list[Any] = []
    for name, body in themes.items():
        if isinstance(body, dict) and "name" in body:
            problems.append((f"themes.{name}.name", "unknown key (the theme's name is its key)"))
            body = {k: v for k, v in body.items() if k != "name"}
        listed.append({"name": str(name), **body} if isinstance(body, dict) else body)
    shaped["themes"] = listed
    return shaped, [str(name) for name in themes], problems


_THEME_INDEX = re.compile(r"\bthemes\[(\d+)\]")


def _theme_named(text: str, theme_keys: list[str] | None) -> str:
    """`themes[1]`, in a key path or a message, as `themes.<its key>` when `themes:` is a
    mapping, so each error names the theme as the file does."""
    if theme_keys is None:
        return text
    return _THEME_INDEX.sub(lambda m: f"themes.{theme_keys[int(m.group(1))]}", text)


def _theme_problems(themes: Any, connectors: Collection[str] | None) -> Iterator[tuple[str, str]]:
    """Names given twice, shares over 100 %, a theme matching nothing, unknown connectors."""
    if not isinstance(themes, list):
        return
    known = sorted(connectors) if connectors is not None else None
    first: dict[str, int] = {}
    total = 0.0
    for i, raw in enumerate(themes):
        if not isinstance(raw, Mapping):
            continue
        name = raw.get("name")
        if isinstance(name, str) and name:
            if name.casefold() in first:
                yield (
                    f"themes[{i}].name",
                    f"{name!r} is also the name of themes[{first[name.casefold()]}]",
                )
            first.setdefault(name.casefold(), i)
        share = raw.get("target_share")
        if isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 100:
            total += share
        match = raw.get("match")
        if (
            isinstance(match, Mapping)
            and set(match) <= set(ThemeMatch.model_fields)  # else the unknown key says it
            and not any(match.get(key) for key in ThemeMatch.model_fields)
        ):
            yield (
                f"themes[{i}].match",
                (
                    "matches nothing: give keys, labels, components, area_paths, boards "
                    "or trello_labels"
                ),
            )
        if known is None:
            continue
        for j, source in enumerate(_list(raw.get("sources"))):
            if isinstance(source, str) and source and source not in known:
                yield f"themes[{i}].sources[{j}]", _no_connector(source, known)
        keys = _list(match.get("keys")) if isinstance(match, Mapping) else []
        for j, key in enumerate(keys):
            if isinstance(key, str) and ":" in key:
                source, _, bare = key.partition(":")
                if not source or not bare:
                    yield f"themes[{i}].match.keys[{j}]", "write KEY or source:KEY"
                elif source not in known:
                    yield f"themes[{i}].match.keys[{j}]", _no_connector(source, known)
    if total > 100:
        yield "themes", f"the target shares add up to {total:g}%: at most 100"


def _no_connector(source: str, known: list[str]) -> str:
    return f"no connector named {source!r} (connectors: {', '.join(known) or 'none'})"


def _request_problems(requests: Any) -> Iterator[tuple[str, str]]:
    """A level that looks like a misspelt one, a status or category in two funnel stages."""
    if not isinstance(requests, Mapping):
        return
    for i, level in enumerate(_list(requests.get("levels"))):
        if not isinstance(level, str) or level.casefold() in LEVELS:
            continue
        close = difflib.get_close_matches(level.casefold(), LEVELS, n=1, cutoff=0.8)
        if close:
            yield f"requests.levels[{i}]", f"unknown level {level!r} (did you mean {close[0]!r}?)"
    funnel = requests.get("funnel")
    if isinstance(funnel, Mapping):
        yield from _funnel_problems(funnel)


def _funnel_problems(funnel: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each status (any case) and each category in one stage only, defaults included."""
    defaults = _default_funnel()
    holder: dict[tuple[str, str], str] = {}
    for stage in FUNNEL_STAGES:
        raw = funnel.get(stage) if stage in funnel else defaults[stage].model_dump(mode="json")
        if not isinstance(raw, Mapping):
            continue
        given = stage in funnel
        for kind, word in (("statuses", "status"), ("categories", "category")):
            for j, value in enumerate(_list(raw.get(kind))):
                if not isinstance(value, str):
                    continue
                slot = (kind, value.casefold())
                if slot not in holder:
                    holder[slot] = stage if given else f"{stage} (by default)"
                    continue
                if given:
                    yield (
                        f"requests.funnel.{stage}.{kind}[{j}]",
                        f"{word} {value!r} is already in stage {holder[slot]}",
                    )
                else:  # a default clashes with a stage written earlier: name that one
                    yield (
                        f"requests.funnel.{holder[slot]}",
                        f"{word} {value!r} is in stage {stage} by default: "
                        f"give {stage} its own statuses or categories",
                    )


def _release_problems(releases: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(releases, Mapping):
        return
    for tracker, pair in (("azure_devops", ("iteration", "tag")), ("trello", ("list", "label"))):
        raw = releases.get(tracker)
        if isinstance(raw, Mapping) and all(raw.get(key) is not None for key in pair):
            yield f"releases.{tracker}", f"give {pair[0]} or {pair[1]}, not both"
    dates = releases.get("dates")
    if isinstance(dates, Mapping):
        seen: dict[str, str] = {}
        for name in dates:
            folded = str(name).casefold()
            if folded in seen:
                yield f"releases.dates.{name}", f"the same release as {seen[folded]!r}"
            seen.setdefault(folded, str(name))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
