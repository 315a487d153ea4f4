"""Fixtures for the Trello client tests: sandboxes with credentials of their own, and configs.

Each sandbox gets a unique key and token, so the pacer's process-wide windows
(shared per credential) never carry requests over from one test to another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.http import CallStats
from connectors.trello import RatePacer, TrelloClient, TrelloConfig
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox

MakeClient = Callable[..., TrelloClient]


def unique_credentials() -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    return {"key": f"key-{tag}", "token": f"token-{tag}"}


def config_for(
    sandbox: TrelloSandbox,
    monkeypatch: pytest.MonkeyPatch,
    *,
    token: str | None = None,
    key: str | None = None,
    **extra: Any,
) -> TrelloConfig:
    """A validated config pointing at `sandbox` (secrets through ${ENV} as in a real file)."""
    monkeypatch.setenv("TRELLO_API_KEY", key or sandbox.key)
    monkeypatch.setenv("TRELLO_TOKEN", token or sandbox.token)
    data = {
        "name": "acme-trello",
        "kind": "trello",
        "url": sandbox.root_url,
        "api_key": "${TRELLO_API_KEY}",
        "token": "${TRELLO_TOKEN}",
        "boards": ["Team Alpha", "Team Beta"],
        "max_retry_wait_seconds": 1,
        **extra,
    }
    return TrelloConfig.model_validate(data)


@pytest.fixture(scope="session")
def dataset() -> TrelloDataset:
    """The default seeded dataset; never mutated."""
    return TrelloDataset.generate()


@pytest.fixture(scope="module")
def sandbox(dataset: TrelloDataset) -> Iterator[TrelloSandbox]:
    """A read-only sandbox over the shared dataset, Trello's default rate limits on."""
    with TrelloSandbox(dataset, **unique_credentials()) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[TrelloSandbox]:
    """A sandbox with its own dataset, for tests that write or inject faults."""
    with TrelloSandbox(**unique_credentials()) as running:
        yield running


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeClient]:
    """`make_client(sandbox, stats=None, pacer_limits=None, **config)`: a client, closed after."""
    made: list[TrelloClient] = []

    def make(
        sandbox: TrelloSandbox,
        stats: CallStats | None = None,
        pacer_limits: dict[str, Any] | None = None,
        **extra: Any,
    ) -> TrelloClient:
        config = config_for(sandbox, monkeypatch, **extra)
        stats = stats if stats is not None else CallStats()
        pacer = None
        if pacer_limits is not None:
            pacer = RatePacer(
                config.api_key.get_secret_value(),
                config.token.get_secret_value(),
                stats,
                **pacer_limits,
            )
        client = TrelloClient(config, stats, pacer=pacer)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
