"""The Azure DevOps connector: one project's work items, read with a PAT through the SDK."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.azure_devops.sdk_cache import use_own_cache_dir

use_own_cache_dir()  # before the SDK's first import, which reads it (see sdk_cache)

from connectors.azure_devops.client import AdoClient  # noqa: E402
from connectors.azure_devops.config import AzureDevOpsConfig  # noqa: E402
from connectors.azure_devops.push import AdoWriter  # noqa: E402
from connectors.azure_devops.streams import (  # noqa: E402
    AdoRunState,
    CensusStream,
    IterationsStream,
    MetadataStream,
    StatesStream,
    WorkItemsStream,
)
from connectors.base import CheckReport, Connector, Stream  # noqa: E402
from connectors.errors import AuthenticationError, ConnectorError  # noqa: E402

__all__ = ["AzureDevOpsConfig", "AzureDevOpsConnector"]


class AzureDevOpsConnector(Connector):
    kind = "azure_devops"
    config_model = AzureDevOpsConfig
    config: AzureDevOpsConfig

    def __init__(self, config: AzureDevOpsConfig) -> None:
        super().__init__(config)
        self.client = AdoClient(config, self.stats)

    def streams(self) -> Sequence[Stream]:
        state = AdoRunState()
        return (
            MetadataStream(self.client, self.config, state),
            WorkItemsStream(self.client, self.config, state),
            IterationsStream(self.client, self.config, state),
            StatesStream(self.client, self.config, state),
            CensusStream(self.client, self.config, state),
        )

    def writer(self) -> AdoWriter:
        return AdoWriter(self.client)

    def close(self) -> None:
        self.client.close()

    def check(self) -> CheckReport:
        """The PAT, the project, the teams and their iterations, and WIQL."""
        report = CheckReport()
        project = self.config.project
        try:
            info = self.client.project_info()
        except AuthenticationError as exc:
            report.add("credentials", False, str(exc))
            return report
        except ConnectorError as exc:
            name = "project" if exc.status_code == 404 else "reach Azure DevOps"
            report.add(name, False, str(exc))
            return report
        report.add("credentials", True, f"the PAT is accepted by {self.client.url}")
        report.add("project", True, f"{info.get('name', project)} ({info.get('id', '?')})")
        try:
            teams = [str(t["name"]) for t in self.client.teams()]
        except ConnectorError as exc:
            report.add("teams", False, str(exc))
            teams = []
        else:
            wanted = self.config.teams or teams
            missing = sorted({t.lower() for t in wanted} - {t.lower() for t in teams})
            report.add(
                "teams",
                not missing,
                f"missing: {', '.join(missing)} (found {', '.join(teams)})"
                if missing
                else f"{len(wanted)} team(s): {', '.join(wanted)}",
            )
            for team in [t for t in teams if t.lower() in {w.lower() for w in wanted}]:
                try:
                    count = len(self.client.team_iterations(team))
                except ConnectorError as exc:
                    report.add(f"team {team} iterations", False, str(exc), "warning")
                else:
                    report.add(f"team {team} iterations", True, f"{count} iterations")
        try:
            ids = self.client.work_item_ids(
                "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project", 1
            )
        except ConnectorError as exc:
            report.add("wiql", False, str(exc))
        else:
            report.add("wiql", True, "WIQL runs" + ("" if ids else " (no work item yet)"))
        return report
