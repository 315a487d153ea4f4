"""The Azure DevOps connector: one project's work items, read with a PAT through the SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from connectors.azure_devops.sdk_cache import use_own_cache_dir

use_own_cache_dir()  # before the SDK's first import, which reads it (see sdk_cache)

from connectors.azure_devops.check import check_connector  # noqa: E402
from connectors.azure_devops.client import AdoClient  # noqa: E402
from connectors.azure_devops.config import AzureDevOpsConfig  # noqa: E402
from connectors.azure_devops.push import AdoWriter  # noqa: E402
from connectors.azure_devops.streams import (  # noqa: E402
    AdoRunState,
    CensusStream,
    IterationsStream,
    MetadataStream,
    ReleasesStream,
    StatesStream,
    WorkItemsStream,
)
from connectors.base import (  # noqa: E402
    CheckReport,
    Connector,
    ConnectorConfig,
    Reconversion,
    Stream,
    Writer,
)

__all__ = ["AzureDevOpsConfig", "AzureDevOpsConnector"]


class AzureDevOpsConnector(Connector):
    kind = "azure_devops"
    config_model = AzureDevOpsConfig
    config: AzureDevOpsConfig

    def __init__(self, config: AzureDevOpsConfig) -> None:
        super().__init__(config)
        self.client = AdoClient(config, self.stats)

    @classmethod
    def reconversion(
        cls,
        config: ConnectorConfig,
        bookmark: Callable[[str], Mapping[str, Any] | None],
        today: date,
    ) -> Reconversion:
        from connectors.azure_devops.reconvert import AdoReconversion

        assert isinstance(config, AzureDevOpsConfig)
        return AdoReconversion(config, today)

    def streams(self) -> Sequence[Stream]:
        state = AdoRunState()
        return (
            MetadataStream(self.client, self.config, state),
            WorkItemsStream(self.client, self.config, state),
            IterationsStream(self.client, self.config, state),
            ReleasesStream(self.client, self.config, state),
            StatesStream(self.client, self.config, state),
            CensusStream(self.client, self.config, state),
        )

    def writer(self) -> Writer:
        return AdoWriter(self.client)

    def close(self) -> None:
        self.client.close()

    def check(self) -> CheckReport:
        """The PAT and whose it is, the project, teams, iterations, WIQL; with write-back on,
        the fields and the right to edit (see `connectors.azure_devops.check`)."""
        return check_connector(self.client, self.config)
