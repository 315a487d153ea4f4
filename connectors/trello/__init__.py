"""The Trello connector: boards as teams, lists as stages, card actions as history.

`TrelloConfig` is the `kind: trello` file; `TrelloClient` makes every call to
Trello's REST API (paced under Trello's rate limits by `RatePacer`); the
streams rebuild each card's history from its board's actions
(`connectors.trello.streams`), and `TrelloWriter` writes KPI values into custom
fields and keeps one bot comment per card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from connectors.base import CheckReport, Connector, ConnectorConfig, Reconversion, Stream, Writer
from connectors.trello.check import check_connector
from connectors.trello.client import TrelloClient, TrelloNotFoundError
from connectors.trello.config import EstimateSource, SprintSource, TrelloConfig
from connectors.trello.pacing import RatePacer
from connectors.trello.streams import (
    CardsStream,
    CensusStream,
    ListsStream,
    ReleasesStream,
    SprintsStream,
    TrelloRunState,
)

__all__ = [
    "EstimateSource",
    "RatePacer",
    "SprintSource",
    "TrelloClient",
    "TrelloConfig",
    "TrelloConnector",
    "TrelloNotFoundError",
]


class TrelloConnector(Connector):
    kind = "trello"
    config_model = TrelloConfig
    config: TrelloConfig

    def __init__(self, config: TrelloConfig) -> None:
        super().__init__(config)
        self.client = TrelloClient(config, self.stats)

    @classmethod
    def reconversion(
        cls,
        config: ConnectorConfig,
        bookmark: Callable[[str], Mapping[str, Any] | None],
        today: date,
    ) -> Reconversion:
        from connectors.trello.reconvert import TrelloReconversion

        assert isinstance(config, TrelloConfig)
        return TrelloReconversion(config, today)

    def streams(self) -> Sequence[Stream]:
        state = TrelloRunState()
        return (
            CardsStream(self.client, self.config, state),
            ListsStream(self.config, state),
            SprintsStream(self.config, state),
            ReleasesStream(self.config, state),
            CensusStream(self.client, self.config, state),
        )

    def writer(self) -> Writer:
        from connectors.trello.push import TrelloWriter

        return TrelloWriter(self.client, self.config)

    def close(self) -> None:
        self.client.close()

    def check(self) -> CheckReport:
        """The key and token and whose they are, the boards, unmapped lists, the estimate and
        sprint fields, sprint dates, and (write-back on) the fields to write."""
        return check_connector(self.client, self.config)
