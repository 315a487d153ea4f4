"""The scripted portfolio's Jira world: a sandbox Jira generated at `START`, its player, the
connector config an admin would write for the portfolio, and a sync into a store.

`JiraWorld` is what the Jira portfolio test (tests/e2e/test_jira_portfolio_world.py) and the
three-tracker parity test share: `play(steps)` carries the script's steps out
(`pmo_sync.sandbox.jira.portfolio.JiraPortfolioPlayer`), `sync(store, full)` runs the real
connector at the script's sync day on the sandbox's clock (day 35 after act one, day 42
after act two), and `facts(engine, store, truth)` reads the store back in the script's terms
(`tests.portfolio_world.read_portfolio`).

The API token reaches the config through `token_file` (a file in the world's own temporary
directory, as a Docker secret would), so the world needs no environment variable.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from connectors.jira import JiraConfig, JiraConnector
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.portfolio import START_DATE_FIELD, JiraPortfolioPlayer, priority_of
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.portfolio import (
    ACT_ONE,
    ACT_TWO,
    FIRST_SYNC_DAY,
    SECOND_SYNC_DAY,
    PortfolioTruth,
    Step,
    at,
    play,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

from ..portfolio_world import PortfolioFacts, read_portfolio

__all__ = ["ISSUES_PER_PROJECT", "START", "JiraWorld", "play_into"]

START = datetime(2030, 1, 7, tzinfo=UTC)
"""The portfolio's first day (a Monday), 00:00 UTC: the sandbox is generated at this moment."""
ISSUES_PER_PROJECT = 10
"""The generated issues beside the portfolio's: a few, so the sync is quick, generated with no
portfolio (no epic, rank, due date, theme, link or release: the answers are the script's)."""


class JiraWorld:
    """A running sandbox Jira with the portfolio's player; use as a context manager."""

    kind = "jira"

    def __init__(self) -> None:
        self.sandbox = JiraSandbox(
            JiraDataset.generate(issues_per_project=ISSUES_PER_PROJECT, now=START, portfolio=False)
        )
        self.player = JiraPortfolioPlayer(self.sandbox.dataset, START)
        self.played: list[Step] = []
        self._stack = ExitStack()
        self._token_file: Path | None = None

    def __enter__(self) -> JiraWorld:
        directory = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
        self._token_file = directory / "jira-token"
        self._token_file.write_text(self.sandbox.token, encoding="utf-8")
        self._stack.enter_context(self.sandbox)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def keys(self) -> dict[str, str]:
        """Label → the issue's key (work_items.key)."""
        return self.player.keys

    def config(self, **overrides: Any) -> JiraConfig:
        """The connector's file for the portfolio: the three teams' projects, the Start date
        field for start dates (due dates are `duedate`, always read), "Blocks" links as
        dependencies (the default, spelled out); teams by board (the default: each project's
        first scrum board names its team)."""
        assert self._token_file is not None, "enter the world first"
        data: dict[str, Any] = {
            "name": "acme-jira",
            "kind": "jira",
            "url": self.sandbox.url,
            "email": self.sandbox.email,
            "token_file": str(self._token_file),
            "jql": "project in (ABC, DEF, GHI)",
            "start_date_field": START_DATE_FIELD,
            "dependency_link_types": ["Blocks"],
            "max_retry_wait_seconds": 5,
        }
        data.update(overrides)
        return JiraConfig.model_validate(data)

    def play(self, steps: Sequence[Step]) -> None:
        play(self.player, START, steps)
        self.played.extend(steps)

    def sync_moment(self) -> datetime:
        """09:00 on the script's sync day: day 35 while only act one is played, else 42."""
        first = len(self.played) <= len(ACT_ONE)
        return START + at(FIRST_SYNC_DAY if first else SECOND_SYNC_DAY)

    def sync(self, store: Store, full: bool) -> RunSummary:
        """One run of the real connector into `store`'s database on the script's sync day:
        the releases shipped by then are released, the sandbox's clock is set to it, and the
        run's clock (what its bookmarks and the site cache's age are measured by) is it too,
        so a week between two syncs is a week for the connector, as on a real site."""
        moment = max(self.sync_moment(), self.sandbox.dataset.clock.now)
        self.player.settle(moment)
        self.sandbox.dataset.clock.set(moment)
        on_the_day = Store(store.engine, clock=lambda: moment)
        with JiraConnector(self.config()) as connector:
            return sync_connector(connector, on_the_day, full=full)

    def source_id(self, store: Store) -> int:
        config = self.config()
        return store.ensure_source(config.name, "jira", str(config.url))

    def facts(self, engine: Engine, store: Store, truth: PortfolioTruth) -> PortfolioFacts:
        return read_portfolio(
            engine, self.source_id(store), self.keys, START.date(), priority_of, truth
        )


def play_into(engine: Engine) -> tuple[dict[str, str], str]:
    """The whole script into a sandbox Jira, synced into `engine`'s (migrated) store as the
    portfolio commands' and pages' tests read it: act one, then ABC-17, an epic made and done
    beside the script (the generated issues hold no request: `when` and the request page say
    the day it was done), a full sync on day 35; act two and an incremental sync on day 42.
    The labels' keys and the tracker's URL (the sandbox is stopped by then)."""
    with JiraWorld() as world:
        world.play(ACT_ONE)
        data = world.sandbox.dataset
        done = data.create_issue("ABC", "Performance budget", issue_type="Epic")
        data.clock.advance(minutes=5)
        data.transition(done.key, "Done")
        assert world.sync(Store(engine), full=True).status == "success"
        world.play(ACT_TWO)
        assert world.sync(Store(engine), full=False).status == "success"
        return dict(world.keys), world.sandbox.url
