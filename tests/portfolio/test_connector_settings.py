"""portfolio.yaml applied to the connector files: the exact configs the sync runs with.

Each case writes a real config directory (connector files and portfolio.yaml), loads it as
the sync does, and compares the settings that come out: portfolio.yaml fills what a file
leaves unset, the file's own setting wins, and a section portfolio.yaml leaves out changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.releases import AdoReleaseDates, AdoReleases
from connectors.base import ConnectorConfig
from connectors.jira.config import JiraConfig, JiraLinkType
from connectors.trello.config import TrelloConfig
from connectors.trello.conventions import ReleaseConvention, ReleaseDates, TrelloDependencies
from pmo_sync.common.redaction import clear_secrets
from pmo_sync.config import load_connector_configs
from pmo_sync.portfolio.config import PortfolioConfig
from pmo_sync.portfolio.connector_settings import apply_portfolio, with_portfolio

JIRA = """\
name: acme-jira
kind: jira
url: https://acme.atlassian.net
email: bot@acme.example
token: ${TOKEN}
jql: project = PAY
"""
ADO = """\
name: contoso-ado
kind: azure_devops
organization_url: https://dev.azure.com/contoso
token: ${TOKEN}
project: Phoenix
"""
TRELLO = """\
name: team-trello
kind: trello
api_key: ${TOKEN}
token: ${TOKEN}
boards: [Team Beta]
"""
PORTFOLIO = """\
dependencies:
  jira_link_types: [Blocks, {name: Dependency, outward: depends_on}]
  azure_devops: [Dependency, Related]
  trello: {attachment_prefix: Needs, checklist: Dependencies}
releases:
  azure_devops: {iteration: "Release {name}"}
  trello: {label: "v{name}"}
  dates:
    "2027.1": {planned: 2027-01-29, released: 2027-02-03}
dates:
  jira_target_start: Target start
  jira_target_end: Target end
"""
DATES = {"2027.1": (date(2027, 1, 29), date(2027, 2, 3))}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TOKEN", "t0ken")
    yield
    clear_secrets()


def applied(tmp_path: Path, portfolio: str | None, **files: str) -> dict[str, ConnectorConfig]:
    """The configs of `files` (connector name → file text) as the sync runs them."""
    (tmp_path / "connectors").mkdir()
    for name, text in files.items():
        (tmp_path / "connectors" / f"{name}.yaml").write_text(text, encoding="utf-8")
    if portfolio is not None:
        (tmp_path / "portfolio.yaml").write_text(portfolio, encoding="utf-8")
    loaded = load_connector_configs(tmp_path)
    assert loaded.errors == []
    configs, errors = with_portfolio(tmp_path, loaded.configs)
    assert errors == []
    return {config.name: config for config in configs}


def jira_of(configs: dict[str, ConnectorConfig]) -> JiraConfig:
    config = configs["acme-jira"]
    assert isinstance(config, JiraConfig)
    return config


def ado_of(configs: dict[str, ConnectorConfig]) -> AzureDevOpsConfig:
    config = configs["contoso-ado"]
    assert isinstance(config, AzureDevOpsConfig)
    return config


def trello_of(configs: dict[str, ConnectorConfig]) -> TrelloConfig:
    config = configs["team-trello"]
    assert isinstance(config, TrelloConfig)
    return config


def test_portfolio_yaml_fills_every_connector_that_sets_nothing(tmp_path: Path) -> None:
    configs = applied(tmp_path, PORTFOLIO, jira=JIRA, ado=ADO, trello=TRELLO)
    jira = jira_of(configs)
    assert jira.dependency_link_types == [
        JiraLinkType(name="Blocks", outward="blocks"),
        JiraLinkType(name="Dependency", outward="depends_on"),
    ]
    assert (jira.target_start_field, jira.target_end_field) == ("Target start", "Target end")
    assert jira.start_date_field is None  # portfolio.yaml has no such setting
    ado = ado_of(configs)
    assert ado.link_types == ["System.LinkTypes.Dependency", "System.LinkTypes.Related"]
    assert ado.releases == AdoReleases(
        iteration="Release {name}",
        dates={"2027.1": AdoReleaseDates(planned=date(2027, 1, 29), released=date(2027, 2, 3))},
    )
    trello = trello_of(configs)
    assert trello.portfolio.dependencies == TrelloDependencies(
        attachment_prefix="Needs", checklist="Dependencies"
    )
    assert trello.portfolio.releases == ReleaseConvention(
        label="v{name}",
        dates={"2027.1": ReleaseDates(planned=date(2027, 1, 29), released=date(2027, 2, 3))},
    )
    assert trello.portfolio.levels == {"Epic": "epic"}  # untouched
    # the released dates are the connector's own types, as if written in its file
    assert type(ado.releases.dates["2027.1"]) is AdoReleaseDates


def test_the_connector_files_own_settings_win(tmp_path: Path) -> None:
    jira = JIRA + "dependency_link_types: [Relates]\ntarget_end_field: customfield_10099\n"
    ado = ADO + 'link_types: [Dependency]\nreleases: {tag: "rel-{name}"}\n'
    trello = TRELLO + (
        "portfolio:\n"
        "  dependencies: {checklist: Blocked by}\n"
        '  releases: {list: "Release {name}"}\n'
    )
    configs = applied(tmp_path, PORTFOLIO, jira=jira, ado=ado, trello=trello)
    j = jira_of(configs)
    assert j.dependency_link_types == [JiraLinkType(name="Relates")]
    assert (j.target_start_field, j.target_end_field) == ("Target start", "customfield_10099")
    a = ado_of(configs)
    assert a.link_types == ["System.LinkTypes.Dependency"]
    # its own convention (a tag, never the portfolio's iteration beside it), dated by the
    # portfolio since the file gives no dates
    assert a.releases == AdoReleases(
        tag="rel-{name}",
        dates={"2027.1": AdoReleaseDates(planned=date(2027, 1, 29), released=date(2027, 2, 3))},
    )
    t = trello_of(configs)
    # the file set the checklist; the prefix it left unset comes from portfolio.yaml
    assert t.portfolio.dependencies == TrelloDependencies(
        attachment_prefix="Needs", checklist="Blocked by"
    )
    assert t.portfolio.releases == ReleaseConvention(
        list="Release {name}",
        dates={"2027.1": ReleaseDates(planned=date(2027, 1, 29), released=date(2027, 2, 3))},
    )


def test_a_setting_written_as_the_default_still_wins(tmp_path: Path) -> None:
    """Written is written: `dependency_link_types: [Blocks]` keeps Blocks alone, and
    `attachment_prefix: null` keeps the convention off."""
    jira = JIRA + "dependency_link_types: [Blocks]\n"
    trello = TRELLO + "portfolio: {dependencies: {attachment_prefix: null}}\n"
    configs = applied(tmp_path, PORTFOLIO, jira=jira, trello=trello)
    assert jira_of(configs).dependency_link_types == [JiraLinkType(name="Blocks")]
    assert trello_of(configs).portfolio.dependencies == TrelloDependencies(
        attachment_prefix=None, checklist="Dependencies"
    )


def test_what_portfolio_yaml_leaves_out_changes_nothing(tmp_path: Path) -> None:
    """No file, or a file without these sections: each config is the very one loaded (Azure
    DevOps keeps its own default, the Dependency links, whatever portfolio.yaml's is)."""
    for portfolio in (None, "themes: []\n"):
        directory = tmp_path / ("none" if portfolio is None else "themes")
        directory.mkdir()
        configs = applied(directory, portfolio, jira=JIRA, ado=ADO, trello=TRELLO)
        loaded = {c.name: c for c in load_connector_configs(directory).configs}
        assert configs == loaded
        assert ado_of(configs).link_types == ["System.LinkTypes.Dependency"]
        assert ado_of(configs).releases is None


def test_release_dates_alone_date_a_trello_convention_but_make_no_ado_one(tmp_path: Path) -> None:
    """Azure DevOps needs a convention to name releases: dates alone give it none."""
    portfolio = 'releases: {dates: {"2027.2": {planned: 2027-04-30}}}\n'
    trello = TRELLO + 'portfolio: {releases: {label: "v{name}"}}\n'
    configs = applied(tmp_path, portfolio, ado=ADO, trello=trello)
    assert ado_of(configs).releases is None
    assert trello_of(configs).portfolio.releases == ReleaseConvention(
        label="v{name}", dates={"2027.2": ReleaseDates(planned=date(2027, 4, 30))}
    )


def test_an_invalid_portfolio_yaml_is_its_errors_and_the_configs_as_they_are(
    tmp_path: Path,
) -> None:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "jira.yaml").write_text(JIRA, encoding="utf-8")
    (tmp_path / "portfolio.yaml").write_text(
        "dependencies: {jira_link_types: [{name: Dependency, outward: waits}]}\n",
        encoding="utf-8",
    )
    loaded = load_connector_configs(tmp_path)
    configs, errors = with_portfolio(tmp_path, loaded.configs)
    assert configs == loaded.configs
    assert [f"{e.field}: {e.message}" for e in errors] == [
        "dependencies.jira_link_types[0].outward: Input should be 'blocks' or 'depends_on'"
    ]


def test_a_plug_in_config_is_left_as_it_is() -> None:
    class FolderConfig(ConnectorConfig):
        kind: str = "folder"
        path: str

    config = FolderConfig(name="files", path="/srv/items")
    assert apply_portfolio(config, PortfolioConfig()) is config


def test_the_jira_file_takes_link_types_as_names_or_with_their_outward_side() -> None:
    base = {
        "name": "acme-jira",
        "url": "https://acme.atlassian.net",
        "email": "bot@acme.example",
        "token": "${TOKEN}",
        "jql": "project = PAY",
    }
    types = ["Blocks", {"name": "Dependency", "outward": "depends_on"}]
    config = JiraConfig.model_validate({**base, "dependency_link_types": types})
    assert config.dependency_link_types == [
        JiraLinkType(name="Blocks", outward="blocks"),
        JiraLinkType(name="Dependency", outward="depends_on"),
    ]
    assert JiraConfig.model_validate(base).dependency_link_types == [JiraLinkType(name="Blocks")]


def test_the_service_config_runs_each_connector_with_portfolio_yaml(tmp_path: Path) -> None:
    """`serve` (and its reload) loads through `load_service_config`: the connector runs with
    portfolio.yaml's settings, and an invalid portfolio.yaml leaves no config to run."""
    from pmo_sync.service.cycle import load_service_config

    applied(tmp_path, PORTFOLIO, jira=JIRA)
    service, errors = load_service_config(tmp_path)
    assert errors == [] and service is not None
    jira = service.connectors["acme-jira"]
    assert isinstance(jira, JiraConfig)
    assert [t.outward for t in jira.dependency_link_types] == ["blocks", "depends_on"]
    (tmp_path / "portfolio.yaml").write_text("delivery: {Team Beta: agile}\n", encoding="utf-8")
    service, errors = load_service_config(tmp_path)
    assert service is None
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'portfolio.yaml'}: delivery.Team Beta: Input should be 'scrum', 'kanban' "
        "or 'traditional'"
    ]
