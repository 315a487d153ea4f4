"""The scripted portfolio's Azure DevOps world: a sandbox organisation generated at `START`, the
player that writes the script into it, the connector config a PMO would write for it, and a
sync through the real connector (`AdoWorld`). The parity test builds on this interface, as on
the Jira and Trello worlds.

The config reads the portfolio the way an admin sets an Agile project up for it: the Epic
and Feature types synced besides the stories (`work_item_types`), Epic named the
`initiative` level and Feature the `epic` level (`levels`), the dependencies read
(`link_types: [Dependency]`), the releases named by a tag `Release {name}` and dated in the
config (`releases`). Dates, priority and rank need nothing: Start Date and Target Date,
Priority and Stack Rank are read as they are.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from pmo_sync.sandbox.ado import AdoDataset, AdoSandbox
from pmo_sync.sandbox.ado.portfolio import AdoPortfolioPlayer, priority_of, release_config
from pmo_sync.sandbox.portfolio import (
    ACT_TWO,
    FIRST_SYNC_DAY,
    SECOND_SYNC_DAY,
    TEAMS,
    PortfolioTruth,
    Step,
    at,
    play,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

from ..portfolio_world import PortfolioFacts, read_portfolio

START = datetime(2030, 1, 7, tzinfo=UTC)
"""The portfolio's first day, a Monday (in 2030: the connector judges iterations against the
wall clock too, so the sandbox's calendar stays in the future)."""
SIZE = 12
"""Generated work items besides the portfolio's: teams' ordinary flow around it."""
NAME = "portfolio-ado"
CONFIG: dict[str, Any] = {
    "work_item_types": ["Epic", "Feature", "User Story", "Bug", "Task"],
    "levels": {"Epic": "initiative", "Feature": "epic"},
    "link_types": ["Dependency"],
    "releases": release_config(START.date()),
}
"""What a PMO adds to the connector's YAML for the portfolio."""


class AdoWorld:
    """The Azure DevOps sandbox holding the scripted portfolio; a context manager (starts and
    stops the server). The PAT is handed to the config as a secret file (`token_file`), as a
    container's secret is, so no environment variable is set."""

    kind = "azure_devops"

    def __init__(self) -> None:
        teams = tuple(TEAMS.values())
        self.sandbox = AdoSandbox(AdoDataset.generate(size=SIZE, now=START, teams=teams))
        self.player = AdoPortfolioPlayer(self.sandbox.dataset, START.date())
        self._secrets = tempfile.TemporaryDirectory(prefix="pmo-ado-world-")
        self._token = Path(self._secrets.name) / "pat"
        self._token.write_text(self.sandbox.pat, encoding="utf-8")
        self._second_act = False

    def __enter__(self) -> Self:
        self.sandbox.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sandbox.stop()
        self._secrets.cleanup()

    @property
    def keys(self) -> dict[str, str]:
        """Label → the work item's id, as the store keeps it in `work_items.key`."""
        return self.player.keys

    def now(self) -> datetime:
        """The sandbox's clock."""
        return self.sandbox.dataset.clock.now

    def config(self, **overrides: Any) -> AzureDevOpsConfig:
        """The connector's config, validated as its YAML file is; `overrides` replace keys."""
        data: dict[str, Any] = {
            "name": NAME,
            "kind": "azure_devops",
            "organization_url": self.sandbox.url,
            "token_file": str(self._token),
            "project": self.sandbox.dataset.project.name,
            "max_retry_wait_seconds": 5,
            **CONFIG,
        }
        data.update(overrides)
        return AzureDevOpsConfig.model_validate(data)

    def play(self, steps: Sequence[Step]) -> None:
        play(self.player, START, steps)
        self._second_act = self._second_act or any(step in ACT_TWO for step in steps)

    def sync(self, store: Store, full: bool) -> RunSummary:
        """One sync into `store`'s database on the script's sync day (day 35 after act one,
        42 after act two; a later sync a minute after the one before): the sandbox's clock
        and the run's are that moment, so releases are judged shipped as of then."""
        day = SECOND_SYNC_DAY if self._second_act else FIRST_SYNC_DAY
        clock = self.sandbox.dataset.clock
        clock.set(max(START + at(day, 8 * 60), clock.now + timedelta(minutes=1)))
        with AzureDevOpsConnector(self.config()) as connector:
            return sync_connector(connector, Store(store.engine, clock=self.now), full=full)

    def facts(self, engine: Engine, store: Store, truth: PortfolioTruth) -> PortfolioFacts:
        """The store's portfolio in the script's terms (`tests/portfolio_world.py`)."""
        source_id = next(s.id for s in store.sources() if s.name == NAME)
        return read_portfolio(engine, source_id, self.keys, START.date(), priority_of, truth)
