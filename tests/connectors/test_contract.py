"""The contract every connector meets, run against each connector's sandbox.

Add a connector by adding a case to `CASES`: a context manager that starts its
sandbox and yields a function building a configured connector.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import CensusDue, Connector, ConnectorConfig, StreamContext
from connectors.registry import connector_classes
from pmo_sync.domain import Census, ItemBundle, SprintRecord, StatusRecord
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector

RECORD_TYPES = {ItemBundle, SprintRecord, StatusRecord, Census}
ConnectorFactory = Callable[[], Connector]


@contextmanager
def jira_case(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectorFactory]:
    from connectors.jira import JiraConfig, JiraConnector

    with JiraSandbox(issues_per_project=20) as sandbox:
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
        yield lambda: JiraConnector(config)


@contextmanager
def ado_case(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectorFactory]:
    from azure.devops import _file_cache

    from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
    from pmo_sync.sandbox.ado import AdoSandbox

    with tempfile.TemporaryDirectory() as cache, AdoSandbox(size=60) as sandbox:
        for store, name in ((_file_cache.OPTIONS_CACHE, "o"), (_file_cache.RESOURCE_CACHE, "r")):
            monkeypatch.setattr(store, "file_name", f"{cache}/{name}.json")
            monkeypatch.setattr(store, "data", {})
            monkeypatch.setattr(store, "initial_load_occurred", False)
        monkeypatch.setenv("CONTRACT_ADO_PAT", sandbox.pat)
        config = AzureDevOpsConfig.model_validate(
            {
                "name": "contract-ado",
                "kind": "azure_devops",
                "organization_url": sandbox.url,
                "token": "${CONTRACT_ADO_PAT}",
                "project": "Fabrikam",
            }
        )
        yield lambda: AzureDevOpsConnector(config)


@contextmanager
def trello_case(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectorFactory]:
    import uuid

    from connectors.trello import TrelloConfig, TrelloConnector
    from pmo_sync.sandbox.trello import TrelloSandbox

    tag = uuid.uuid4().hex[:12]  # credentials of its own: the pacer's windows are per key
    with TrelloSandbox(cards_per_board=20, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
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
            }
        )
        yield lambda: TrelloConnector(config)


CASES = {"jira": jira_case, "azure_devops": ado_case, "trello": trello_case}


@pytest.fixture(params=sorted(CASES))
def make_connector(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConnectorFactory]:
    with CASES[request.param](monkeypatch) as factory:
        yield factory


class _NoStore:
    def live_item_count(self) -> int:
        return 0

    def live_ids_among(self, external_ids: Collection[str]) -> set[str]:
        return set()

    def status_names(self) -> set[str]:
        return set()


def _context(bookmark: dict[str, Any] | None, errors: list[str]) -> StreamContext:
    return StreamContext(
        bookmark=bookmark,
        full=True,
        store=_NoStore(),
        started_at=datetime.now(UTC),
        report_error=errors.append,
        census=CensusDue(None, nothing_stored=True),
    )


def test_every_case_is_a_registered_connector() -> None:
    """Each contract case is a connector found by its kind, with a config model of that kind."""
    classes = connector_classes()
    for kind in CASES:
        cls = classes[kind]
        assert cls.kind == kind
        assert issubclass(cls.config_model, ConnectorConfig)
        assert cls.config_model.model_fields["kind"].default == kind


def test_check_passes_against_the_sandbox(make_connector: ConnectorFactory) -> None:
    with make_connector() as connector:
        report = connector.check()
    assert report.ok, [r for r in report.results if not r.ok]
    assert report.results[0].name == "credentials" and report.results[0].ok


def test_streams_declare_themselves_and_yield_their_record_type(
    make_connector: ConnectorFactory,
) -> None:
    """Unique names, a known record type, primary keys present on every record."""
    errors: list[str] = []
    seen_types: set[type] = set()
    with make_connector() as connector:
        streams = connector.streams()
        assert len({s.name for s in streams}) == len(streams)
        for stream in streams:
            declared = (stream.record_type, *stream.side_records)
            assert set(declared) <= set(RECORD_TYPES), stream.name
            for record in stream.records(_context(None, errors)):
                assert isinstance(record, declared), stream.name
                seen_types.add(type(record))
                if isinstance(record, ItemBundle):
                    item = record.item
                    assert item.external_id and item.key and item.title is not None
                    assert item.created.tzinfo is not None and item.updated >= item.created
                    assert {c.item_external_id for c in record.changes} <= {item.external_id}
                    assert len({c.change_id for c in record.changes}) == len(record.changes)
                    assert {m.item_external_id for m in record.memberships} <= {item.external_id}
                elif isinstance(record, SprintRecord | StatusRecord):
                    assert record.external_id
    assert errors == []
    assert {ItemBundle, SprintRecord, StatusRecord} <= seen_types


def test_final_bookmark_resumes_without_refetching(
    make_connector: ConnectorFactory, engine: Any
) -> None:
    """A second run from the stored bookmarks loads nothing and costs fewer calls."""
    store = Store(engine)
    with make_connector() as connector:
        first = sync_connector(connector, store)
    with make_connector() as connector:
        second = sync_connector(connector, store)
    assert first.status == second.status == "success"
    assert first.items_inserted > 0
    assert (second.items_seen, second.items_inserted, second.items_updated) == (0, 0, 0)
    assert second.api_calls < first.api_calls


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
