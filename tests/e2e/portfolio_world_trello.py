"""The scripted portfolio's Trello world: a sandbox Trello generated at the portfolio's first
day, the player that carries the script out on it, the connector file an admin writes for
the teams' conventions, and the sync through the real connector.

`TrelloWorld` is a context manager (it serves the sandbox until it exits) with the same
interface as the other trackers' worlds, so one parity test drives the three:

    with TrelloWorld() as world:
        world.play(ACT_ONE)
        world.sync(store, full=True)
        world.facts(engine, store, truth(ACT_ONE))

A sync happens on the script's sync day after the steps played (day 35 after act one, day
42 after act two; a later sync an hour after the one before), on the sandbox's clock and the
store's alike: Trello keeps no release dates, so whether a release is out is the config's
released day against the day the sync runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.trello import TrelloConfig, TrelloConnector
from pmo_sync.sandbox.portfolio import (
    FIRST_SYNC_DAY,
    SECOND_SYNC_DAY,
    PortfolioTruth,
    Step,
    play,
)
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.portfolio import TrelloPortfolioPlayer, portfolio_block, priority_of
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

from ..portfolio_world import PortfolioFacts, read_portfolio

START = datetime(2030, 1, 7, tzinfo=UTC)
"""The portfolio's first day, a Monday, 00:00 UTC: the sandbox is generated at it."""
BOARDS = ("Team Alpha", "Team Beta", "Team Gamma")
CARDS_PER_BOARD = 3
"""A few generated cards per board besides the script's, so the backlog is not only its."""
NAME = "acme-trello"
KEY_VARIABLE = "PMO_SYNC_PORTFOLIO_TRELLO_KEY"
TOKEN_VARIABLE = "PMO_SYNC_PORTFOLIO_TRELLO_TOKEN"


class TrelloWorld:
    """The sandbox Trello with the scripted portfolio played into it (see the module)."""

    kind = "trello"

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces per key
        dataset = TrelloDataset.generate(  # plain cards: the script's portfolio is the only one
            seed=16, cards_per_board=CARDS_PER_BOARD, now=START, boards=BOARDS, portfolio=False
        )
        self.sandbox = TrelloSandbox(dataset, key=f"key-{tag}", token=f"token-{tag}")
        self.player = TrelloPortfolioPlayer(dataset, START)
        self._env = pytest.MonkeyPatch()
        self._played: list[Step] = []
        self._last_sync: datetime | None = None

    def __enter__(self) -> TrelloWorld:
        self.sandbox.start()
        self._env.setenv(KEY_VARIABLE, self.sandbox.key)
        self._env.setenv(TOKEN_VARIABLE, self.sandbox.token)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._env.undo()
        self.sandbox.stop()

    @property
    def keys(self) -> dict[str, str]:
        """Label → the card's short link (`work_items.key`)."""
        return self.player.keys

    def config(self, **overrides: Any) -> TrelloConfig:
        """The connector file a PMO's admin writes for the three boards and the teams'
        conventions, validated as the YAML file is (secrets named by variable)."""
        data: dict[str, Any] = {
            "name": NAME,
            "kind": "trello",
            "url": self.sandbox.root_url,
            "api_key": f"${{{KEY_VARIABLE}}}",
            "token": f"${{{TOKEN_VARIABLE}}}",
            "boards": list(BOARDS),
            "portfolio": portfolio_block(START.date()),
            "max_retry_wait_seconds": 2,
        }
        data.update(overrides)
        return TrelloConfig.model_validate(data)

    def play(self, steps: Sequence[Step]) -> None:
        play(self.player, START, steps)
        self._played.extend(steps)

    def sync_moment(self) -> datetime:
        """Noon of the script's next sync day after the steps played; a sync after the
        one on that day runs an hour after it."""
        last = max((step.at for step in self._played), default=timedelta(0))
        days = FIRST_SYNC_DAY if last < timedelta(days=FIRST_SYNC_DAY) else SECOND_SYNC_DAY
        moment = START + timedelta(days=days, hours=12)
        if self._last_sync is not None and self._last_sync >= moment:
            moment = self._last_sync + timedelta(hours=1)
        return max(moment, self.sandbox.dataset.clock.now)

    def sync(self, store: Store, full: bool) -> RunSummary:
        """One run of the real connector into `store`'s database at `sync_moment()`."""
        moment = self.sync_moment()
        self.sandbox.dataset.clock.set(moment)
        self._last_sync = moment
        with TrelloConnector(self.config()) as connector:
            return sync_connector(connector, Store(store.engine, clock=lambda: moment), full=full)

    def source_id(self, store: Store) -> int:
        """The connector's source in the store (it exists once a sync ran)."""
        return next(s.id for s in store.sources() if s.name == NAME)

    def facts(self, engine: Engine, store: Store, truth: PortfolioTruth) -> PortfolioFacts:
        """The store's portfolio in the script's terms."""
        return read_portfolio(
            engine, self.source_id(store), self.keys, START.date(), priority_of, truth
        )
