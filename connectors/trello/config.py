"""The Trello connector's configuration file.

The smallest valid file::

    name: acme-trello
    kind: trello
    api_key: ${TRELLO_API_KEY}
    token: ${TRELLO_TOKEN}
    boards: [Team Alpha, Team Beta]

Everything else has a default; see `TrelloConfig`, `EstimateSource` and
`SprintSource` for the optional keys.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef, resolve_secret_files
from connectors.trello.conventions import PortfolioConventions
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import Stage

__all__ = [
    "DEFAULT_LIST_STAGES",
    "DEFAULT_URL",
    "EstimateSource",
    "SprintCadence",
    "SprintDates",
    "SprintSource",
    "TrelloConfig",
]

DEFAULT_URL = "https://api.trello.com"
API_VERSION_PATH = "/1"

DEFAULT_LIST_STAGES: dict[str, Stage] = {
    "backlog": Stage.TODO,
    "to do": Stage.TODO,
    "doing": Stage.IN_PROGRESS,
    "in progress": Stage.IN_PROGRESS,
    "review": Stage.IN_PROGRESS,
    "done": Stage.DONE,
}
"""Stages of the usual list names, by lower-cased name; `list_stages` adds and overrides."""

DEFAULT_ESTIMATE_FIELD = "Story Points"
DEFAULT_ESTIMATE_LABEL_PATTERN = r"^(\d+(?:\.\d+)?)\s*(?:sp|pts?|points?)?$"
DEFAULT_ESTIMATE_TITLE_PATTERN = r"\((\d+(?:\.\d+)?)\)"
DEFAULT_SPRINT_FIELD = "Sprint"
DEFAULT_SPRINT_LABEL_PREFIX = "Sprint "
DEFAULT_SPRINT_LIST_PATTERN = r"^Sprint "
_SPRINT_KEYS = {"custom_field": "name", "label": "prefix", "list": "pattern"}
"""The one key each sprint source takes."""


def _key_form(name: str) -> str:
    """How list names are compared: case-insensitive, surrounding spaces ignored."""
    return " ".join(name.split()).casefold()


def _compile(pattern: str, *, groups: int | None) -> str | None:
    """An error message for a bad regex (None when it is fine)."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    if groups is not None and compiled.groups != groups:
        return (
            f"must have exactly {groups} capturing group (the number), "
            f"found {compiled.groups}; use (?:...) for other groups"
        )
    return None


def _source(data: Any, default: str) -> Any:
    """The `from:` of a source block, as given (by alias or name), or the default."""
    if not isinstance(data, dict):
        return default
    return data.get("from", data.get("source", default))


def _with_source_default(data: Any, defaults: dict[str, tuple[str, str]]) -> Any:
    """A source block with the one key its `from:` needs filled in when left out."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    source = _source(data, "custom_field")
    default = defaults.get(source) if isinstance(source, str) else None  # else: pydantic says
    if default is not None:
        data.setdefault(*default)
    return data


class EstimateSource(BaseModel):
    """`estimate:` — where a card's estimate (story points) is read from.

    - `{from: custom_field, name: "Story Points"}` (the default): a number
      custom field of that name (Custom Fields power-up). A dropdown (list)
      field works too when its option texts are numbers.
    - `{from: label, pattern: ...}`: the first label whose name matches the
      regular expression (case-insensitive); its one capturing group is the
      number. Default pattern: ``^(\\d+(?:\\.\\d+)?)\\s*(?:sp|pts?|points?)?$``
      (labels like ``3``, ``5 pts``, ``8 SP``).
    - `{from: title, pattern: ...}`: the card title, searched with the regular
      expression; its one capturing group is the number. Default:
      ``\\((\\d+(?:\\.\\d+)?)\\)`` (the "(3) Fix login" convention).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: Literal["custom_field", "label", "title"] = Field(default="custom_field", alias="from")
    name: str | None = None
    """The custom field's name (`from: custom_field` only)."""
    pattern: str | None = None
    """The regular expression (`from: label` or `from: title` only)."""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _with_source_default(
            data,
            {
                "custom_field": ("name", DEFAULT_ESTIMATE_FIELD),
                "label": ("pattern", DEFAULT_ESTIMATE_LABEL_PATTERN),
                "title": ("pattern", DEFAULT_ESTIMATE_TITLE_PATTERN),
            },
        )

    @model_validator(mode="after")
    def _fits_source(self) -> EstimateSource:
        if self.source == "custom_field":
            if self.pattern is not None:
                raise ValueError("pattern: only used with from: label or from: title")
            if not (self.name or "").strip():
                raise ValueError("name: must name the custom field holding the estimate")
        else:
            if self.name is not None:
                raise ValueError("name: only used with from: custom_field")
            problem = _compile(self.pattern or "", groups=1)
            if problem:
                raise ValueError(f"pattern: {problem}")
        return self

    def regex(self) -> re.Pattern[str]:
        """The compiled `pattern` (case-insensitive); ValueError for `from: custom_field`."""
        if self.pattern is None:
            raise ValueError("a custom_field estimate has no pattern")
        return re.compile(self.pattern, re.IGNORECASE)


_LAST_SECOND = timedelta(seconds=1)
_NUMBER = re.compile(r"\d+")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class SprintDates(BaseModel):
    """One sprint's first and last day (both inclusive, UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> SprintDates:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class SprintCadence(BaseModel):
    """Fixed-length sprints numbered in order: one known sprint dates all the others.

    `{sprint: "Sprint 18", starts: 2026-11-16, days: 14}`: Sprint 18 runs from
    16 November for 14 days, so Sprint 19 starts on 30 November and Sprint 17 on
    2 November. A sprint's number is the first number in its name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sprint: str
    starts: date
    days: int = Field(default=14, ge=1, le=365)

    @field_validator("sprint")
    @classmethod
    def _numbered(cls, sprint: str) -> str:
        if not _NUMBER.search(sprint):
            raise ValueError(f"{sprint!r} has no number to count sprints from")
        return sprint

    def dates_of(self, name: str) -> SprintDates | None:
        """The dates of a numbered sprint; None for a name without a number."""
        found = _NUMBER.search(name)
        anchor = _NUMBER.search(self.sprint)
        if found is None or anchor is None:
            return None
        start = self.starts + timedelta(days=(int(found.group()) - int(anchor.group())) * self.days)
        return SprintDates(start=start, end=start + timedelta(days=self.days - 1))


class SprintSource(BaseModel):
    """`sprints:` — how a card's sprint is recognised (Trello has no sprints of its own).

    - `{from: custom_field, name: "Sprint"}` (the default): a dropdown (list)
      or text custom field of that name; its value is the sprint's name.
    - `{from: label, prefix: "Sprint "}`: the card's label whose name starts
      with the prefix (case-insensitive) is its sprint.
    - `{from: list, pattern: "^Sprint "}`: lists whose name matches the
      regular expression (case-insensitive) are sprints; a card on such a list
      is in that sprint.

    Trello knows no sprint dates, so they come from the config:

    - `cadence: {sprint: "Sprint 18", starts: 2026-11-16, days: 14}` dates
      every numbered sprint from one known sprint (`SprintCadence`);
    - `dates: {"Hardening": {start: 2026-12-01, end: 2026-12-05}}` dates
      sprints by name, before the cadence (for a sprint off the cadence or
      without a number).

    Days are UTC days; a sprint ends at the last second of its last day. A
    sprint neither dates is stored without dates (a future sprint): its cards
    still count for flow metrics, and `connectors check` names it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: Literal["custom_field", "label", "list"] = Field(default="custom_field", alias="from")
    name: str | None = None
    """The custom field's name (`from: custom_field` only)."""
    prefix: str | None = None
    """The label name prefix (`from: label` only)."""
    pattern: str | None = None
    """The list name regular expression (`from: list` only)."""
    cadence: SprintCadence | None = None
    dates: dict[str, SprintDates] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _with_source_default(
            data,
            {
                "custom_field": ("name", DEFAULT_SPRINT_FIELD),
                "label": ("prefix", DEFAULT_SPRINT_LABEL_PREFIX),
                "list": ("pattern", DEFAULT_SPRINT_LIST_PATTERN),
            },
        )

    @model_validator(mode="after")
    def _fits_source(self) -> SprintSource:
        given = {"name": self.name, "prefix": self.prefix, "pattern": self.pattern}
        wanted = _SPRINT_KEYS[self.source]
        for key, value in given.items():
            if key != wanted and value is not None:
                owner = next(s for s, k in _SPRINT_KEYS.items() if k == key)
                raise ValueError(f"{key}: only used with from: {owner}")
        value = given[wanted] or ""
        if not value.strip():
            raise ValueError(f"{wanted}: must not be empty")
        if wanted == "pattern":
            problem = _compile(value, groups=None)
            if problem:
                raise ValueError(f"pattern: {problem}")
        return self

    def window(self, sprint_name: str) -> tuple[datetime, datetime] | None:
        """(start, end) of a sprint by name: `dates` first, then the cadence; None if neither
        dates it. The end is the last second of the last day."""
        dates = self.dates.get(sprint_name)
        if dates is None:
            folded = sprint_name.casefold()
            dates = next((d for n, d in self.dates.items() if n.casefold() == folded), None)
        if dates is None and self.cadence is not None:
            dates = self.cadence.dates_of(sprint_name)
        if dates is None:
            return None
        return _midnight(dates.start), _midnight(dates.end + timedelta(days=1)) - _LAST_SECOND

    def regex(self) -> re.Pattern[str]:
        """The compiled list `pattern` (case-insensitive); ValueError for other sources."""
        if self.pattern is None:
            raise ValueError(f"a {self.source} sprint source has no pattern")
        return re.compile(self.pattern, re.IGNORECASE)


class TrelloConfig(ConnectorConfig):
    """`kind: trello` — Trello boards, read with an API key and a member's token.

    - `url`: the API host (default https://api.trello.com; a trailing `/1` is
      accepted and ignored). The client calls `<url>/1/...`.
    - `api_key`, `token`: the Power-Up's API key and a token the member
      granted it, as `${ENV_VAR}` references or `api_key_file:` /
      `token_file:` paths. Both travel as query parameters, as Trello wants;
      they are masked in logs and never put in error messages.
    - `boards`: the boards to sync, by name (as the token's member sees them),
      24-hex id or short link.
    - `list_stages`: list name → `todo` | `in_progress` | `done`, compared
      case-insensitively. Lists not named here fall back to the defaults
      (Backlog, To Do → todo; Doing, In Progress, Review → in_progress;
      Done → done); any other list has no stage until mapped.
    - `estimate`: where estimates come from (`EstimateSource`).
    - `sprints`: how sprints are recognised (`SprintSource`).
    - `writeback`: the shared write-back block (`WritebackConfig`); on Trello
      its fields are custom field names.
    - `portfolio`: the conventions that give a card its level, priority,
      dependencies and releases (`PortfolioConventions`).
    - `schedule`, `timeout_seconds`, `max_retries`, `max_retry_wait_seconds`:
      as for every connector.
    """

    kind: Literal["trello"] = "trello"
    url: HttpUrl = HttpUrl(DEFAULT_URL)
    api_key: SecretRef
    token: SecretRef
    boards: list[str] = Field(min_length=1)
    list_stages: dict[str, Stage] = Field(default_factory=dict)
    estimate: EstimateSource = Field(default_factory=EstimateSource)
    sprints: SprintSource = Field(default_factory=SprintSource)
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)
    portfolio: PortfolioConventions = Field(default_factory=PortfolioConventions)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        return resolve_secret_files(data, ("api_key", "token"))

    @field_validator("url", mode="before")
    @classmethod
    def _strip_api_version(cls, url: Any) -> Any:
        if isinstance(url, str):
            url = url.strip().rstrip("/")
            if url.endswith(API_VERSION_PATH):
                url = url[: -len(API_VERSION_PATH)]
        return url

    @field_validator("url")
    @classmethod
    def _no_query(cls, url: HttpUrl) -> HttpUrl:
        if url.query or url.fragment:
            raise ValueError("must be the API host only, without ?query or #fragment")
        return url

    @field_validator("boards")
    @classmethod
    def _boards_distinct(cls, boards: list[str]) -> list[str]:
        cleaned = [b.strip() for b in boards]
        problems = [f"boards[{i}] is empty" for i, b in enumerate(cleaned) if not b]
        seen: dict[str, int] = {}
        for i, board in enumerate(cleaned):
            if board and board.casefold() in seen:
                first = seen[board.casefold()]
                problems.append(f"boards[{i}] {board!r} repeats boards[{first}]")
            seen.setdefault(board.casefold(), i)
        if problems:
            raise ValueError("; ".join(problems))
        return cleaned

    @field_validator("list_stages")
    @classmethod
    def _list_names_distinct(cls, stages: dict[str, Stage]) -> dict[str, Stage]:
        seen: dict[str, str] = {}
        problems = []
        for name in stages:
            if not name.strip():
                problems.append("a list name is empty")
                continue
            key = _key_form(name)
            if key in seen:
                problems.append(
                    f"{seen[key]!r} and {name!r} name the same list (names ignore case)"
                )
            seen.setdefault(key, name)
        if problems:
            raise ValueError("; ".join(problems))
        return stages

    @property
    def api_url(self) -> str:
        """The API base every call starts with: `<url>/1`."""
        return str(self.url).rstrip("/") + API_VERSION_PATH

    def stage_of_list(self, list_name: str) -> Stage | None:
        """The stage of a list by name: `list_stages` first, then the defaults, else None."""
        key = _key_form(list_name)
        for name, stage in self.list_stages.items():
            if _key_form(name) == key:
                return stage
        return DEFAULT_LIST_STAGES.get(key)
