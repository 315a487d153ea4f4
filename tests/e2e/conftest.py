"""End-to-end fixtures: sandboxes, configs pointing at them (validated the way a YAML file is),
a store on both databases, and a sync of any connector into it. Every test here is marked
`e2e` (`-m "not e2e"` leaves them out)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig, JiraConnector
from connectors.registry import connector_for_kind
from connectors.trello import TrelloConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

from ..schema_helpers import migrated_engine, postgres_schema

E2E_DIR = Path(__file__).parent

TOKEN_VARIABLE = "PMO_SYNC_TEST_JIRA_TOKEN"
ADO_TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
TRELLO_KEY_VARIABLE = "PMO_SYNC_TEST_TRELLO_KEY"
TRELLO_TOKEN_VARIABLE = "PMO_SYNC_TEST_TRELLO_TOKEN"
TRELLO_CADENCE = {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}
"""The sandbox Trello's calendar: Sprint 18 is the one running at its default clock."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ is an `e2e` test (the hook sees the whole session's)."""
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def jira_sandbox() -> Iterator[JiraSandbox]:
    with JiraSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def make_config(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., JiraConfig]:
    """A JiraConfig for a sandbox, validated the way a YAML file is."""

    def build(sandbox: JiraSandbox, **overrides: Any) -> JiraConfig:
        monkeypatch.setenv(TOKEN_VARIABLE, overrides.pop("token_value", sandbox.token))
        data: dict[str, Any] = {
            "name": "sandbox-jira",
            "kind": "jira",
            "url": sandbox.url,
            "email": sandbox.email,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "jql": "project in (ABC, DEF, GHI)",
            "max_retry_wait_seconds": 5,
        }
        data.update(overrides)
        return JiraConfig.model_validate(data)

    return build


@pytest.fixture
def ado_config(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AzureDevOpsConfig]:
    """An AzureDevOpsConfig for a sandbox (`token_value=` puts another PAT in its variable)."""

    def build(sandbox: AdoSandbox, **overrides: Any) -> AzureDevOpsConfig:
        monkeypatch.setenv(ADO_TOKEN_VARIABLE, overrides.pop("token_value", sandbox.pat))
        data: dict[str, Any] = {
            "name": "sandbox-ado",
            "kind": "azure_devops",
            "organization_url": sandbox.url,
            "token": f"${{{ADO_TOKEN_VARIABLE}}}",
            "project": sandbox.dataset.project.name,
            "wiql_cap": 100,
            "max_retry_wait_seconds": 5,
        }
        data.update(overrides)
        return AzureDevOpsConfig.model_validate(data)

    return build


@pytest.fixture
def trello_config(monkeypatch: pytest.MonkeyPatch) -> Callable[..., TrelloConfig]:
    """A TrelloConfig for a sandbox's two boards, sprints on its calendar (`token_value=` puts
    another token in its variable)."""

    def build(sandbox: TrelloSandbox, **overrides: Any) -> TrelloConfig:
        monkeypatch.setenv(TRELLO_KEY_VARIABLE, sandbox.key)
        monkeypatch.setenv(TRELLO_TOKEN_VARIABLE, overrides.pop("token_value", sandbox.token))
        data: dict[str, Any] = {
            "name": "sandbox-trello",
            "kind": "trello",
            "url": sandbox.root_url,
            "api_key": f"${{{TRELLO_KEY_VARIABLE}}}",
            "token": f"${{{TRELLO_TOKEN_VARIABLE}}}",
            "boards": ["Team Alpha", "Team Beta"],
            "sprints": {"cadence": TRELLO_CADENCE},
            "max_retry_wait_seconds": 2,
        }
        data.update(overrides)
        return TrelloConfig.model_validate(data)

    return build


@pytest.fixture
def store(engine: Engine) -> Store:
    return Store(engine)


@pytest.fixture
def sync(store: Store) -> Callable[..., RunSummary]:
    """`sync(config, full=False)`: one run of the config's connector into `store`."""

    def run(config: Any, *, full: bool = False) -> RunSummary:
        with connector_for_kind(config.kind)(config) as connector:
            return sync_connector(connector, store, full=full)

    return run


@pytest.fixture
def run_sync(store: Store) -> Callable[..., RunSummary]:
    def run(config: JiraConfig, *, full: bool = False) -> RunSummary:
        with JiraConnector(config) as connector:
            return sync_connector(connector, store, full=full)

    return run


@pytest.fixture
def second_engine(store_url: str) -> Iterator[Engine]:
    """A second empty, migrated store of the same kind as `engine`, for side-by-side syncs.

    SQLite: another file next to the first. PostgreSQL: another schema (the first one's
    name + `_2`), dropped at teardown like the first.
    """
    import re
    from urllib.parse import quote, unquote

    with ExitStack() as stack:
        if store_url.startswith("sqlite"):
            url = store_url.replace("/pmo.db", "/pmo-2.db")
            assert url != store_url
        else:
            base, _, options = store_url.partition("?options=")
            schema = unquote(options).removeprefix("-csearch_path=") + "_2"
            assert re.fullmatch(r"t_[0-9a-f]{16}_2", schema), store_url
            libpq = base.replace("postgresql+psycopg://", "postgresql://", 1)
            stack.enter_context(postgres_schema(libpq, schema))
            url = f"{base}?options={quote(f'-csearch_path={schema}')}"
        engine = migrated_engine(url)
        stack.callback(engine.dispose)
        yield engine
