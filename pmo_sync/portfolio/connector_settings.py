"""portfolio.yaml's tracker settings, applied to the connector configs the sync runs with.

`portfolio.yaml` says which links are dependencies, how releases are named and dated, and
which Jira fields hold target dates; the connectors read their own settings (Jira's
`dependency_link_types`, `target_start_field`, `target_end_field`; Azure DevOps'
`link_types` and `releases`; Trello's `portfolio:` block), since they sit below this
module's layer. So that one setting never has two places that disagree in silence, the
sync, the service and `connectors check` run each connector with `apply_portfolio`'s
config: a setting portfolio.yaml writes fills the connector's where its file does not set
that setting itself; **the connector file wins** where it does. A setting portfolio.yaml
leaves out changes nothing (the connectors keep their own defaults: Azure DevOps reads the
Dependency links unless a file says `link_types: []`).

"Set" is pydantic's `model_fields_set`: written in the file, even to the default value.
A release convention is one setting (`iteration` or `tag`; `list` or `label`): a
connector file naming either keeps its own, so a file never ends up with both.

Pure: configs in, configs out (`model_copy`, the input untouched).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.releases import AdoReleaseDates, AdoReleases
from connectors.base import ConnectorConfig
from connectors.jira.config import JiraConfig, JiraLinkType
from connectors.trello.config import TrelloConfig
from connectors.trello.conventions import ReleaseDates as TrelloReleaseDates
from pmo_sync.common.configfiles import ConfigError
from pmo_sync.portfolio.config import PortfolioConfig, load_portfolio_config

__all__ = ["apply_portfolio", "with_portfolio"]

_M = TypeVar("_M", bound=BaseModel)


def apply_portfolio(config: ConnectorConfig, portfolio: PortfolioConfig) -> ConnectorConfig:
    """`config` with portfolio.yaml's settings where its own file sets none; another kind
    (a plug-in) as it is."""
    if isinstance(config, JiraConfig):
        return _jira(config, portfolio)
    if isinstance(config, AzureDevOpsConfig):
        return _azure_devops(config, portfolio)
    if isinstance(config, TrelloConfig):
        return _trello(config, portfolio)
    return config


def with_portfolio(
    config_dir: Path, configs: Iterable[ConnectorConfig]
) -> tuple[list[ConnectorConfig], list[ConfigError]]:
    """Each config with `<config_dir>/portfolio.yaml` applied (none: as they are), and the
    file's errors: with any, the configs as they are, so the caller stops, as it does for an
    error in kpis.yaml, rather than sync with half of what the admin wrote."""
    portfolio, errors = load_portfolio_config(config_dir)
    if errors:
        return list(configs), errors
    return [apply_portfolio(config, portfolio) for config in configs], []


def _written(model: BaseModel, name: str) -> bool:
    return name in model.model_fields_set


def _filled(model: _M, update: dict[str, Any]) -> _M:
    """`model` with `update` where its file set nothing; unchanged when nothing is left."""
    update = {k: v for k, v in update.items() if not _written(model, k)}
    return model.model_copy(update=update) if update else model


def _jira(config: JiraConfig, portfolio: PortfolioConfig) -> JiraConfig:
    update: dict[str, Any] = {}
    dependencies, dates = portfolio.dependencies, portfolio.dates
    if _written(dependencies, "jira_link_types"):
        update["dependency_link_types"] = [
            JiraLinkType(name=t.name, outward=t.outward) for t in dependencies.jira_link_types
        ]
    if dates.jira_target_start is not None:
        update["target_start_field"] = dates.jira_target_start
    if dates.jira_target_end is not None:
        update["target_end_field"] = dates.jira_target_end
    return _filled(config, update)


def _azure_devops(config: AzureDevOpsConfig, portfolio: PortfolioConfig) -> AzureDevOpsConfig:
    update: dict[str, Any] = {}
    if _written(portfolio.dependencies, "azure_devops"):
        update["link_types"] = list(portfolio.dependencies.azure_devops)
    config = _filled(config, update)
    convention, dates = portfolio.releases.azure_devops, _ado_dates(portfolio)
    own = config.releases
    if own is None and (convention.iteration is not None or convention.tag is not None):
        releases = AdoReleases(
            iteration=_text(convention.iteration), tag=_text(convention.tag), dates=dates
        )
    elif own is not None and dates and not _written(own, "dates"):
        releases = own.model_copy(update={"dates": dates})  # its convention, dated
    else:
        return config
    return config.model_copy(update={"releases": releases})


def _ado_dates(portfolio: PortfolioConfig) -> dict[str, AdoReleaseDates]:
    return {
        name: AdoReleaseDates(planned=d.planned, released=d.released)
        for name, d in portfolio.releases.dates.items()
    }


def _trello(config: TrelloConfig, portfolio: PortfolioConfig) -> TrelloConfig:
    conventions = config.portfolio
    wanted = portfolio.dependencies.trello
    dependencies = _filled(
        conventions.dependencies,
        {name: getattr(wanted, name) for name in wanted.model_fields_set},
    )
    releases = conventions.releases
    pattern = portfolio.releases.trello
    update: dict[str, Any] = {}
    if not (_written(releases, "list") or _written(releases, "label")):
        update.update(list=_text(pattern.list), label=_text(pattern.label))
        update = {k: v for k, v in update.items() if v is not None}
    if portfolio.releases.dates:
        update["dates"] = {
            name: TrelloReleaseDates(planned=d.planned, released=d.released)
            for name, d in portfolio.releases.dates.items()
        }
    releases = _filled(releases, update)
    if dependencies is conventions.dependencies and releases is conventions.releases:
        return config
    return config.model_copy(
        update={
            "portfolio": conventions.model_copy(
                update={"dependencies": dependencies, "releases": releases}
            )
        }
    )


def _text(pattern: str | None) -> str | None:
    """A portfolio `ReleasePattern` as the plain text the connectors' own models hold."""
    return None if pattern is None else str(pattern)
