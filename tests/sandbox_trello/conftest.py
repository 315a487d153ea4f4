"""Fixtures for the sandbox Trello tests: a shared read-only sandbox, fresh ones to mutate,
and a tiny HTTP client.

The tests speak plain `requests` rather than a Trello library: py-trello hard-codes
api.trello.com, and the sandbox has to work for any client whose base URL is
configurable. Rate limits are off in the shared fixtures (the paging tests make
more than 100 requests); tests/sandbox_trello/test_trello_server.py turns them on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import parse_date

from ..api_samples import api_sample


class Client:
    """key/token in the query string, as Trello's own examples do; one session per client."""

    def __init__(self, sandbox: TrelloSandbox, token: str | None = None) -> None:
        self.sandbox = sandbox
        self.auth = {"key": sandbox.key, "token": token or sandbox.token}
        self.session = requests.Session()

    def request(self, method: str, path: str, json_body: Any = None, **params: Any):
        return self.session.request(
            method,
            f"{self.sandbox.url}{path}",
            params={**self.auth, **params},
            json=json_body,
            timeout=10,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, **params)

    def json(self, path: str, **params: Any) -> Any:
        """GET that must succeed."""
        response = self.get(path, **params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def all_actions(self, path: str, filter: str = "all", page_size: int = 1000) -> list[dict]:
        """Every action, paging from the newest back with `before` = the oldest id seen."""
        actions: list[dict] = []
        before = None
        while True:
            params: dict[str, Any] = {"filter": filter, "limit": page_size}
            if before:
                params["before"] = before
            page = self.json(path, **params)
            actions.extend(page)
            if len(page) < page_size:
                return actions
            before = page[-1]["id"]


def reconstruct_moves(actions: list[dict]) -> dict[str, list[tuple[datetime, str | None, str]]]:
    """List moves per card id from raw actions (any order, any boards), the way a sync
    would: creation and copies enter a list, updateCard with old.idList moves, and a
    moveCardFromBoard/moveCardToBoard pair moves across boards."""
    moves: dict[str, list[tuple[datetime, str | None, str]]] = defaultdict(list)
    leaving: dict[str, str] = {}
    for a in sorted(actions, key=lambda a: a["id"]):
        card, data = a["data"]["card"]["id"], a["data"]
        at = datetime.fromtimestamp(parse_date(a["date"]) / 1000, UTC)
        kind = a["type"]
        if kind in ("createCard", "copyCard"):
            moves[card].append((at, None, data["list"]["id"]))
        elif kind == "updateCard" and "idList" in data.get("old", {}):
            assert data["listBefore"]["id"] == data["old"]["idList"]
            assert data["card"]["idList"] == data["listAfter"]["id"]
            moves[card].append((at, data["old"]["idList"], data["listAfter"]["id"]))
        elif kind == "moveCardFromBoard":
            leaving[card] = data["list"]["id"]
        elif kind == "moveCardToBoard":
            moves[card].append((at, leaving.pop(card), data["list"]["id"]))
    return dict(moves)


def truth_moves(cards: Any) -> dict[str, list[tuple[datetime, str | None, str]]]:
    return {c.id: [(m.at, m.from_list, m.to_list) for m in c.list_moves] for c in cards}


@pytest.fixture(scope="session")
def dataset() -> TrelloDataset:
    """The default seeded dataset (seed 7, 2 boards x 150 cards); never mutated."""
    return TrelloDataset.generate()


@pytest.fixture(scope="module")
def sandbox(dataset: TrelloDataset) -> Iterator[TrelloSandbox]:
    """A sandbox over the shared dataset, rate limits off; tests must not mutate it."""
    with TrelloSandbox(dataset, token_limit=None, key_limit=None) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[TrelloSandbox]:
    """A sandbox with its own dataset, for tests that write or inject faults."""
    with TrelloSandbox(token_limit=None, key_limit=None) as running:
        yield running


@pytest.fixture
def client(sandbox: TrelloSandbox) -> Client:
    return Client(sandbox)


@pytest.fixture
def fresh_client(fresh: TrelloSandbox) -> Client:
    return Client(fresh)


@pytest.fixture(scope="session")
def sample() -> Callable[[str], Any]:
    """An official example payload, from tests/fixtures/api-samples/trello."""

    def load(name: str) -> Any:
        return api_sample("trello", name)

    return load


@pytest.fixture(scope="session")
def helpers() -> Any:
    """The module-level helpers above, for test modules (no package to import them from)."""

    class Helpers:
        Client = Client
        reconstruct_moves = staticmethod(reconstruct_moves)
        truth_moves = staticmethod(truth_moves)

    return Helpers
