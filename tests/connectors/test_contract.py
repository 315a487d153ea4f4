"""The contract every connector meets (`pmo_sync.testing`, the suite plug-ins run too), run
against each built-in connector's sandbox, its syncs on SQLite and PostgreSQL.

Each case starts a sandbox and says how a person edits, creates and deletes an item in it,
and what write-back may write there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.testing import ContractCase, WritebackCase, connector_contract_tests

KPI_FIELDS = ("Cycle time (days)", "WIP age (days)")


@contextmanager
def jira_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractCase]:
    from connectors.jira import JiraConfig, JiraConnector

    with JiraSandbox(issues_per_project=20) as sandbox:
        data = sandbox.dataset
        for name in KPI_FIELDS:
            field_id = data.create_custom_field(name, "number")
            for project in ("ABC", "DEF", "GHI"):
                data.add_field_to_screen(field_id, project)
        monkeypatch.setenv("CONTRACT_JIRA_TOKEN", sandbox.token)
        config = JiraConfig.model_validate(
            {
                "name": "contract-jira",
                "kind": "jira",
                "url": sandbox.url,
                "email": sandbox.email,
                "token": "${CONTRACT_JIRA_TOKEN}",
                "jql": "project in (ABC, DEF, GHI)",
            }
        )

        def todo() -> list:
            data.clock.advance(minutes=30)
            issues = sorted(data.issues, key=lambda i: int(i.id))
            return [i for i in issues if i.status.name == "To Do"]

        def edit() -> str:
            issue = todo()[0]
            data.transition(issue.key, "In Progress")
            return issue.id

        def create() -> str:
            data.clock.advance(minutes=30)
            return data.create_issue("ABC", "Export the quarterly report", points=3).id

        def delete() -> str:
            issue = todo()[-1]
            data.delete_issue(issue.key)
            return issue.id

        yield ContractCase(
            connector=lambda: JiraConnector(config),
            edit_item=edit,
            create_item=create,
            delete_item=delete,
            writeback=WritebackCase(dict.fromkeys(KPI_FIELDS, 4.5), missing_key="ABC-9999"),
        )


@contextmanager
def ado_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractCase]:
    from azure.devops import _file_cache
    from azure.devops.client import Client

    from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
    from pmo_sync.sandbox.ado import AdoSandbox
    from pmo_sync.sandbox.ado.generator import F_POINTS

    monkeypatch.setattr(Client, "_locations_cache", {})
    for store, name in ((_file_cache.OPTIONS_CACHE, "o"), (_file_cache.RESOURCE_CACHE, "r")):
        monkeypatch.setattr(store, "file_name", str(tmp_path / f"{name}.json"))
        monkeypatch.setattr(store, "data", {})
        monkeypatch.setattr(store, "initial_load_occurred", False)
    with AdoSandbox(size=60) as sandbox:
        ds = sandbox.dataset
        monkeypatch.setenv("CONTRACT_ADO_PAT", sandbox.pat)
        config = AzureDevOpsConfig.model_validate(
            {
                "name": "contract-ado",
                "kind": "azure_devops",
                "organization_url": sandbox.url,
                "token": "${CONTRACT_ADO_PAT}",
                "project": ds.project.name,
            }
        )
        stories = sorted((i for i in ds.items() if i.type == "User Story"), key=lambda i: i.id)

        def edit() -> str:
            item = stories[0]
            ds.update(item.id, {F_POINTS: (item.fields.get(F_POINTS) or 1) + 2}, by=ds.people[0])
            return str(item.id)

        def create() -> str:
            new = ds.create("User Story", "Export the quarterly report", by=ds.people[0])
            return str(new.id)

        def delete() -> str:
            return str(ds.delete(stories[-1].id, by=ds.people[0]).id)

        yield ContractCase(
            connector=lambda: AzureDevOpsConnector(config),
            edit_item=edit,
            create_item=create,
            delete_item=delete,
            writeback=WritebackCase(
                {"Custom.CycleTimeDays": 4.5, "Custom.WipAgeDays": 2.0}, missing_key="999999"
            ),
        )


@contextmanager
def trello_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractCase]:
    from connectors.trello import TrelloConfig, TrelloConnector
    from connectors.trello.provision import provision
    from pmo_sync.sandbox.trello import TrelloSandbox
    from pmo_sync.sandbox.trello.generator import HEAVY_CARD

    tag = uuid.uuid4().hex[:12]  # credentials of its own: the pacer's windows are per key
    with TrelloSandbox(cards_per_board=20, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        ds = sandbox.dataset
        monkeypatch.setenv("CONTRACT_TRELLO_KEY", sandbox.key)
        monkeypatch.setenv("CONTRACT_TRELLO_TOKEN", sandbox.token)
        config = TrelloConfig.model_validate(
            {
                "name": "contract-trello",
                "kind": "trello",
                "url": sandbox.root_url,
                "api_key": "${CONTRACT_TRELLO_KEY}",
                "token": "${CONTRACT_TRELLO_TOKEN}",
                "boards": ["Team Alpha", "Team Beta"],
                "list_stages": {"Blocked by vendor": "in_progress"},
                "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16"}},
                "writeback": {
                    "enabled": True,
                    "fields": {"cycle_time_days": KPI_FIELDS[0], "wip_age_days": KPI_FIELDS[1]},
                },
            }
        )
        assert {step.status for step in provision(config)} == {"made"}
        alpha = ds.board("Team Alpha")
        cards = [c for c in ds.cards(alpha) if not c.closed and c.n != HEAVY_CARD]
        person = ds.people[0]

        def edit() -> str:
            card = cards[0]
            ds.set_custom_field(card.id, "Story Points", (card.estimate or 1) + 2, by=person)
            return card.id

        def create() -> str:
            return ds.create_card(alpha, "To Do", "Export the quarterly report", by=person).id

        def delete() -> str:
            return ds.delete_card(cards[-1].id, by=person).id

        yield ContractCase(
            connector=lambda: TrelloConnector(config),
            edit_item=edit,
            create_item=create,
            delete_item=delete,
            writeback=WritebackCase(dict.fromkeys(KPI_FIELDS, 4.5), missing_key="Zz9Zz9Zz"),
        )


class _BothStores:
    """The suite's syncs on SQLite and on PostgreSQL (tests/conftest.py's `engine`)."""

    @pytest.fixture
    def contract_engine(self, engine: Engine) -> Engine:
        return engine


class TestJiraContract(_BothStores, connector_contract_tests(jira_case)):
    pass


class TestAzureDevOpsContract(_BothStores, connector_contract_tests(ado_case)):
    pass


class TestTrelloContract(_BothStores, connector_contract_tests(trello_case)):
    pass


def test_a_plugin_registers_through_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Third-party connectors arrive through `pmo_sync.connectors`; a broken one is skipped."""
    import connectors.registry as registry
    from connectors.jira import JiraConnector

    class PluginConnector(JiraConnector):
        kind = "acme-tracker"

    class EntryPoint:
        def __init__(self, name: str, target: object) -> None:
            self.name, self._target = name, target

        def load(self) -> object:
            if isinstance(self._target, Exception):
                raise self._target
            return self._target

    points = [
        EntryPoint("acme-tracker", PluginConnector),
        EntryPoint("broken", ImportError("no module named acme")),
        EntryPoint("not-a-connector", object),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    registry.connector_classes.cache_clear()
    try:
        classes = registry.connector_classes()
        assert classes["acme-tracker"] is PluginConnector
        assert "broken" not in classes and "not-a-connector" not in classes
        assert classes["jira"] is JiraConnector
    finally:
        registry.connector_classes.cache_clear()
