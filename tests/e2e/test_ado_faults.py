"""A misbehaving Azure DevOps: every fault gets a clear message, and nothing stored is lost."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import WorkItem
from pmo_sync.store.models import ItemChangeRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary

from ..schema_helpers import dump_tables

API = "/contoso/Fabrikam/_apis/wit"
REPORTING = f"{API}/reporting/workItemRevisions"
BATCH = f"{API}/workItemsBatch"
WIQL = f"{API}/wiql"
ITEM_TABLES = ("work_items", "item_changes", "sprint_items", "raw_records")


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(wiql_cap=100, size=60) as sandbox:
        yield sandbox


def _calls(sandbox: AdoSandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests]


def _revisions_path(item_id: int) -> str:
    return f"{API}/workItems/{item_id}/revisions"


def _retry(store: Store) -> list[int]:
    """The work items stream's `retry`: the ids the next run reads again."""
    source = store.ensure_source("sandbox-ado", "azure_devops", None)
    bookmark = store.get_bookmark(source, "work_items")
    assert bookmark is not None
    return list(bookmark["retry"])


def _item_row(engine: Engine, item_id: int) -> Any:
    with engine.connect() as conn:
        query = select(WorkItemRow).where(WorkItemRow.external_id == str(item_id))
        return conn.execute(query).one()


def _status_history(engine: Engine, item_id: int) -> list[tuple[str, str | None]]:
    query = (
        select(ItemChangeRow.change_id, ItemChangeRow.to_value)
        .join(WorkItemRow, WorkItemRow.id == ItemChangeRow.item_id)
        .where(WorkItemRow.external_id == str(item_id), ItemChangeRow.field == "status")
        .order_by(ItemChangeRow.at, ItemChangeRow.change_id)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _active_item(sandbox: AdoSandbox) -> WorkItem:
    """A live item in progress that a person can resolve."""
    ds = sandbox.dataset
    return next(i for i in ds.items() if i.state == "Active" and "Resolved" in ds.states(i.type))


def _without_changed_date(sandbox: AdoSandbox, item_id: int) -> dict[str, Any]:
    """The item's real revisions answer, its latest revision lacking `System.ChangedDate`."""
    query = {"$top": ["200"], "$skip": ["0"]}
    answer = sandbox.api.handle("GET", _revisions_path(item_id), query, None, sandbox.url)
    assert answer.status == 200
    body = copy.deepcopy(answer.body)
    del body["value"][-1]["fields"]["System.ChangedDate"]
    return body


def test_an_item_whose_revisions_come_back_malformed_is_read_again_until_stored(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    """A person resolves an item; its revisions (read whole, as for any changed item) come
    back without a change date, twice. The item keeps its stored row and history, and is read
    again by every run until it converts, though nobody touches it again."""
    config = ado_config(ado)
    assert sync(config).status == "success"
    ds = ado.dataset
    item = _active_item(ado)
    assert ds.update(item.id, {"System.State": "Resolved"}, by=ds.people[0]) is not None
    malformed = _without_changed_date(ado, item.id)
    ado.inject("GET", rf"/_apis/wit/workItems/{item.id}/revisions$", 200, body=malformed, times=2)
    before = dump_tables(engine)
    history = _status_history(engine, item.id)
    assert history and history[-1][1] == "Active"
    message = (
        f"work item {item.id} skipped (read again next run): "
        f"work item {item.id} has no created/changed date"
    )

    # The change is seen in the stream; the item's whole history is malformed: skipped.
    ado.reset_log()
    summary = sync(config)
    assert (summary.status, summary.errors) == ("partial", [message])
    assert _calls(ado) == [("POST", REPORTING), ("GET", _revisions_path(item.id))]
    assert summary.api_calls == 2
    skipped = dump_tables(engine)
    for table in ITEM_TABLES:
        assert skipped[table] == before[table], table  # the item as it was; the others too
    assert _status_history(engine, item.id) == history
    assert _retry(store) == [item.id]

    # Nothing new in the stream, the item still malformed: read again, skipped again, and
    # nothing stored moves (the bookmark, its `retry` included, stays as it was).
    ado.reset_log()
    summary = sync(config)
    assert (summary.status, summary.errors) == ("partial", [message])
    assert _calls(ado) == [("POST", REPORTING), ("GET", _revisions_path(item.id))]
    assert dump_tables(engine) == skipped
    assert _retry(store) == [item.id]

    # Azure DevOps answers properly again and nobody has touched the item: the next run
    # reads it on its own, with one revisions call, and stores the change; its Dependency
    # links (read by default) cost one batch call, asked of this item alone. A run that
    # skipped it asked for no links.
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert _calls(ado) == [
        ("POST", REPORTING), ("GET", _revisions_path(item.id)), ("POST", BATCH)
    ]  # fmt: skip
    assert [r.body["ids"] for r in ado.requests if r.path == BATCH] == [[item.id]]
    assert summary.api_calls == 3
    assert (summary.items_seen, summary.items_updated) == (1, 1)
    row = _item_row(engine, item.id)
    assert (row.status, row.revision) == ("Resolved", ds.item(item.id).rev)
    resolved = _status_history(engine, item.id)
    assert resolved[:-1] == history and resolved[-1] == (f"{row.revision}:status", "Resolved")
    assert _retry(store) == []

    # Done: a run with nothing new is one call again.
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert _calls(ado) == [("POST", REPORTING)]
    assert summary.api_calls == 1


def test_a_skipped_item_deleted_since_leaves_the_retry_list(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    store: Store,
    engine: Engine,
) -> None:
    config = ado_config(ado)
    assert sync(config).status == "success"
    ds = ado.dataset
    item = _active_item(ado)
    ds.update(item.id, {"System.State": "Resolved"}, by=ds.people[0])
    ado.inject(
        "GET", rf"/_apis/wit/workItems/{item.id}/revisions$", 200,
        body=_without_changed_date(ado, item.id),
    )  # fmt: skip
    assert sync(config).status == "partial"
    assert _retry(store) == [item.id]

    ds.delete(item.id, by=ds.people[0])
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    # its deletion is in the stream: no revisions call, the census lists the live ids
    assert _calls(ado) == [("POST", REPORTING), ("POST", WIQL)]
    assert summary.items_deleted == 1
    assert _item_row(engine, item.id).deleted_at is not None
    assert _retry(store) == []

    ado.reset_log()
    assert sync(config).api_calls == 1


def test_unreachable_azure_devops_fails_with_cannot_reach_and_keeps_the_store(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = ado_config(ado, max_retries=2)
    assert sync(config).status == "success"
    before = dump_tables(engine)
    url = ado.url
    ado.stop()  # nothing listens on its port any more: connection refused

    summary = sync(config)
    assert summary.status == "failed"
    assert summary.errors == [
        f"cannot reach Azure DevOps at {url} (connection refused): is the url right and the "
        "tracker up?"
    ]
    assert summary.api_calls == 1  # nothing reached it: not retried
    assert dump_tables(engine) == before
