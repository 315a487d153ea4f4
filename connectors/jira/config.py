"""The Jira connector's configuration file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.jira.portfolio import DEFAULT_LINK_TYPES
from connectors.secrets import SecretRef, resolve_secret_files
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import Stage

__all__ = ["JiraConfig", "JiraLinkType"]


class JiraLinkType(BaseModel):
    """An issue link type that is a dependency, and which end of it waits.

    Jira names a link type's two phrases, not which issue waits: for "Blocks" (outward
    "blocks") the outward issue blocks its target; for a type like "Dependency" (outward
    "depends on", `outward: depends_on`) the outward issue is the one waiting. The store's
    `outward` always means "blocks" (`pmo_sync.domain.LinkDirection`), so the connector
    stores a `depends_on` type's links with their direction reversed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    outward: Literal["blocks", "depends_on"] = "blocks"


class JiraConfig(ConnectorConfig):
    """`kind: jira` — Jira Cloud, or Jira Server/Data Center with `deployment: server`.

    Authentication is the account's email and an API token (Cloud) or a
    personal access token with no email (Server/Data Center).
    """

    kind: Literal["jira"] = "jira"
    url: HttpUrl
    email: str | None = None
    token: SecretRef
    jql: str = Field(min_length=1)
    deployment: Literal["cloud", "server"] = "cloud"
    boards: list[int] | None = None
    story_points_field: str | None = Field(
        default=None, description="field id (customfield_10016) or name (Story Points)"
    )
    acceptance_criteria_field: str | None = Field(
        default=None,
        description="a paragraph field holding acceptance criteria: id (customfield_10050) or "
        "name (Acceptance Criteria); Jira has no standard one",
    )
    checklist_field: str | None = Field(
        default=None,
        description="a field holding a checklist, id or name: a checklist app's field (a list "
        "of {name, checked}) or text, one item a line (- [x] done, - [ ] to do)",
    )
    start_date_field: str | None = Field(
        default=None, description="a date field holding the planned start: id or name"
    )
    target_start_field: str | None = Field(
        default=None,
        description='Advanced Roadmaps\' "Target start" (or any date field): id or name',
    )
    target_end_field: str | None = Field(
        default=None, description='Advanced Roadmaps\' "Target end": id or name'
    )
    dependency_link_types: list[JiraLinkType] = Field(
        default_factory=lambda: [JiraLinkType(name=name) for name in DEFAULT_LINK_TYPES],
        description="issue link types whose links are dependencies (both directions): a name "
        "(its outward side blocks) or {name: Dependency, outward: depends_on} for a type whose "
        "outward side waits",
    )
    status_map: dict[str, Stage] = Field(default_factory=dict)
    team_by: Literal["board", "project"] = "board"
    page_size: int = Field(default=100, ge=1, le=5000)
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    metadata_ttl_hours: float = Field(default=24.0, ge=0)
    sprint_refresh_minutes: int = Field(default=60, ge=0)
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        return resolve_secret_files(data, ("token",))

    @field_validator("dependency_link_types", mode="before")
    @classmethod
    def _names_alone(cls, value: Any) -> Any:
        """`[Blocks]` is short for `[{name: Blocks}]`, as in portfolio.yaml."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _email_for_cloud(self) -> JiraConfig:
        if self.deployment == "cloud" and not self.email:
            raise ValueError("email is required for Jira Cloud (the API token's account)")
        return self
