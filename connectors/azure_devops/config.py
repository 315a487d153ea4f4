"""The Azure DevOps connector's configuration file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from connectors.azure_devops.links import link_type_reference
from connectors.azure_devops.releases import AdoReleases
from connectors.base import ConnectorConfig
from connectors.secrets import SecretRef, resolve_secret_files
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import Stage

__all__ = ["DEFAULT_LINK_TYPES", "DEFAULT_WORK_ITEM_TYPES", "AzureDevOpsConfig"]

DEFAULT_ESTIMATE_FIELDS = (
    "Microsoft.VSTS.Scheduling.StoryPoints",
    "Microsoft.VSTS.Scheduling.Effort",
    "Microsoft.VSTS.Scheduling.Size",
)

DEFAULT_WORK_ITEM_TYPES = ("User Story", "Product Backlog Item", "Bug", "Task", "Feature", "Epic")
"""The types synced unless `work_item_types` says: the requirement level of Agile (User Story)
and Scrum (Product Backlog Item), Bug, Task, and the portfolio levels (Feature, Epic). The
metadata asks each type's states once per refresh (a type the process lacks answers 404 and
is skipped), so each type here costs a full sync one call, a no-change sync none."""
DEFAULT_LINK_TYPES = ("System.LinkTypes.Dependency",)
"""The links read unless `link_types` says: Dependency, as `portfolio.yaml`'s default
dependency type. Reading links costs ⌈items read / 200⌉ `workitemsbatch` calls (the reporting
stream carries no relations): a full sync pays for every item, an incremental one for the
items it read, a no-change sync nothing."""


class AzureDevOpsConfig(ConnectorConfig):
    """`kind: azure_devops` — one project of an Azure DevOps organisation, read with a PAT.

    `teams` limits the sync to those teams' area paths (default: every team of
    the project); `area_paths` names them directly instead. The estimate comes
    from `estimate_field` (default: Story Points, else Effort, else Size, the
    first that the work item has). Acceptance criteria are read from
    `Microsoft.VSTS.Common.AcceptanceCriteria`; a checklist from `checklist_field`
    (Azure DevOps has no checklist field of its own). `levels` names the portfolio level of a
    work item type the standard backlog levels do not cover; `releases` the convention that
    names an item's release (`connectors.azure_devops.releases`); `link_types` the links read
    (`connectors.azure_devops.links`).

    The defaults sync the portfolio (issue 16): `work_item_types` holds the standard processes'
    portfolio backlog levels (Epic and Feature; Basic has Epic alone) above the requirement
    level and Task, and `link_types` the Dependency links (successor / predecessor), the
    portfolio's default dependency type. `link_types: []` reads no links; either default costs
    a no-change sync nothing (`DEFAULT_WORK_ITEM_TYPES`, `DEFAULT_LINK_TYPES`).
    """

    kind: Literal["azure_devops"] = "azure_devops"
    organization_url: HttpUrl
    token: SecretRef
    project: str = Field(min_length=1)
    teams: list[str] | None = None
    area_paths: list[str] | None = None
    work_item_types: list[str] = Field(default_factory=lambda: list(DEFAULT_WORK_ITEM_TYPES))
    estimate_field: str | None = None
    checklist_field: str | None = Field(
        default=None,
        description="a field's reference name (Custom.Checklist) holding a checklist: text or "
        "HTML, one item a line or list item ([x] done, [ ] to do)",
    )
    state_map: dict[str, Stage] = Field(default_factory=dict)
    link_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LINK_TYPES),
        description="the link types read as item links (`Dependency`, `Related` or a reference "
        "name; default `[Dependency]`, `[]` for none); each costs nothing by itself, but "
        "reading any costs a workitemsbatch call per 200 items read (none when nothing "
        "changed)",
    )
    releases: AdoReleases | None = Field(
        default=None,
        description="how the team names a release: `iteration: Release {name}` (a level of the "
        "iteration path) or `tag: release-{name}`, and `dates: {<name>: {planned, released}}`",
    )
    levels: dict[str, str] = Field(
        default_factory=dict,
        description="work item type to portfolio level (epic, feature, story, task, or a name "
        "of your own), for a custom type or a process whose backlog levels differ; the "
        "standard processes' types need none",
    )
    wiql_cap: int = Field(default=20_000, ge=100, le=20_000)
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        return resolve_secret_files(data, ("token",))

    @field_validator("link_types")
    @classmethod
    def _reference_names(cls, value: list[str]) -> list[str]:
        return [link_type_reference(v) for v in value]

    @model_validator(mode="after")
    def _one_scope(self) -> AzureDevOpsConfig:
        if self.teams and self.area_paths:
            raise ValueError("give teams or area_paths, not both")
        return self
