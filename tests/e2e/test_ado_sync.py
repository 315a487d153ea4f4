"""Full and incremental Azure DevOps syncs against the sandbox, compared with its ground truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.store.models import SprintItemRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.store.teams import stored_teams
from pmo_sync.sync import sync_connector

from ..schema_helpers import dump_tables, stored_changes, stored_items

REPORTING = "/contoso/Fabrikam/_apis/wit/reporting/workItemRevisions"
WIQL = "/contoso/Fabrikam/_apis/wit/wiql"
BATCH = "/contoso/Fabrikam/_apis/wit/workItemsBatch"


def _batched_ids(sandbox: AdoSandbox) -> list[list[int]]:
    """The ids of each `workitemsbatch` call (the Dependency links, read by default)."""
    return [list(r.body["ids"]) for r in sandbox.requests if r.path == BATCH]


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(wiql_cap=100, size=300) as sandbox:
        yield sandbox


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _changes(engine: Engine, field: str) -> dict[str, list[tuple]]:
    """(revision, at, from, to) of each item's changes of `field`, by external id."""
    return {
        key: [(int(r.change_id.split(":")[0]), _utc(r.at), r.from_value, r.to_value) for r in rows]
        for key, rows in stored_changes(engine, field).items()
    }


def _stays(engine: Engine) -> dict[str, list[tuple]]:
    query = select(WorkItemRow.external_id, SprintItemRow).join(
        WorkItemRow, WorkItemRow.id == SprintItemRow.item_id
    )
    result: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            result.setdefault(row.external_id, []).append(
                (row.sprint_external_id, _utc(row.added_at), _utc(row.removed_at))
            )
    return {key: sorted(value) for key, value in result.items()}


def _assert_matches_truth(sandbox: AdoSandbox, engine: Engine) -> None:
    ds = sandbox.dataset
    live = list(ds.items())
    items, states, stays = stored_items(engine), _changes(engine, "status"), _stays(engine)
    assert {k for k, row in items.items() if row.deleted_at is None} == {str(i.id) for i in live}
    for item in live:
        key = str(item.id)
        row = items[key]
        assert (row.status, row.title) == (item.state, item.fields["System.Title"])
        assert row.area_path == item.fields["System.AreaPath"]  # what a theme may name
        assert row.revision == item.rev  # what write-back's `test /rev` sends
        truth = [(t.rev, t.at, t.from_state, t.to_state) for t in item.transitions if t.from_state]
        assert states.get(key, []) == truth, key
        expected_stays = sorted(
            (ds.iteration(s.path).id, s.start, s.end) for s in item.iteration_stays
        )
        assert stays.get(key, []) == expected_stays, key


def test_full_sync_stores_every_item_state_change_and_iteration_stay_exactly(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    summary = sync(ado_config(ado), full=True)
    assert summary.status == "success", summary.errors
    live = list(ado.dataset.items())
    assert len(live) == 300
    assert (summary.items_seen, summary.items_inserted) == (300, 300)
    assert sum(1 for i in live if len(i.transitions) > 1) > 200  # real histories
    assert sum(1 for i in live if i.iteration_stays) > 100
    _assert_matches_truth(ado, engine)

    # The whole history comes from the revision stream: 1,000 revisions a call, no per-item
    # call; metadata is one teams call, iterations per team, states per type; no WIQL. The
    # Dependency links (read by default) cost ⌈300 / 200⌉ batch calls, each item asked once.
    revisions = ado.dataset.watermark()
    calls = Counter((r.method, r.path) for r in ado.requests if r.method != "OPTIONS")
    assert calls[("POST", REPORTING)] == -(-revisions // 1000)
    assert not any("/revisions" in path for _, path in calls)
    assert calls[("POST", WIQL)] == 0
    batches = _batched_ids(ado)
    assert [len(ids) for ids in batches] == [200, 100]
    assert sorted(i for ids in batches for i in ids) == sorted(i.id for i in live)
    # Every call is counted, the route discovery included: the resource-area lookup (OPTIONS
    # + GET on a cold disk cache) goes through the connector's own policy, not the SDK's.
    assert summary.api_calls == len(ado.requests)
    assert calls[("GET", "/contoso/_apis/ResourceAreas")] == 1

    # A second run in the same process: the SDK's disk cache answers both discoveries.
    ado.reset_log()
    again = sync(ado_config(ado))
    assert again.status == "success", again.errors
    assert again.api_calls == len(ado.requests)
    assert not [r for r in ado.requests if r.method == "OPTIONS" or "ResourceAreas" in r.path]


def test_a_sync_stores_each_team_with_its_iterations_as_scrum(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    """Every sandbox team has its calendar of iterations: each is a scrum team, from the
    metadata the sync reads anyway (the same calls as without teams)."""
    summary = sync(ado_config(ado), full=True)
    assert summary.status == "success", summary.errors
    teams = {(t.name, t.method) for t in stored_teams(engine)}
    assert teams == {(team.name, "scrum") for team in ado.dataset.teams}


def test_incremental_sync_reads_only_what_changed_and_marks_deletions(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    config = ado_config(ado)
    assert sync(config).status == "success"
    before = dump_tables(engine)

    # Nothing changed: one reporting call, no row touched.
    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert [(r.method, r.path) for r in ado.requests if r.method != "OPTIONS"] == [
        ("POST", REPORTING)
    ]
    assert summary.items_seen == 0 and summary.api_calls == len(ado.requests)
    assert dump_tables(engine) == before

    ds = ado.dataset
    live = [i for i in ds.items() if i.state not in ("Closed", "Removed", "Done")]
    moved, sprinted, gone = live[0].id, live[1].id, live[2].id
    ds.set_state(moved, "Active" if live[0].state != "Active" else "Resolved")
    path = ds.teams[0].iterations[-1].path
    ds.set_iteration(sprinted, path)
    ds.set_iteration(sprinted, None)
    ds.delete(gone)
    created = ds.create("Bug", "Created after the first sync").id
    ds.set_state(created, "Active")

    ado.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    paths = Counter((r.method, r.path) for r in ado.requests if r.method != "OPTIONS")
    assert paths == {
        ("POST", REPORTING): 1,
        # the two changed items are re-read whole; the new one is complete in the stream
        ("GET", f"/contoso/Fabrikam/_apis/wit/workItems/{moved}/revisions"): 1,
        ("GET", f"/contoso/Fabrikam/_apis/wit/workItems/{sprinted}/revisions"): 1,
        # the deletion makes the census list the live ids: 300 ids, 100 a WIQL call
        ("POST", WIQL): 4,
        # the links of the three items read, and of them alone: ⌈3 / 200⌉ batch calls
        ("POST", BATCH): 1,
    }
    assert [sorted(ids) for ids in _batched_ids(ado)] == [sorted([moved, sprinted, created])]
    assert all(r.body.get("query", "").count("[System.Id] >") == 1 for r in ado.requests
               if r.path == WIQL)  # fmt: skip
    assert (summary.items_seen, summary.items_deleted) == (3, 1)
    items = stored_items(engine)
    assert items[str(gone)].deleted_at is not None
    _assert_matches_truth(ado, engine)


def test_wrong_pat_fails_the_run_with_an_authentication_message(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync
) -> None:
    summary = sync(ado_config(ado, token_value="not-the-pat"))
    assert summary.status == "failed"
    assert "personal access token" in summary.errors[0]
    assert "HTTP 401" in summary.errors[0]


def test_sign_in_page_is_an_authentication_error(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync
) -> None:
    ado.inject("POST", r"reporting/workItemRevisions", status=203, content_type="text/html")
    summary = sync(ado_config(ado))
    assert summary.status == "failed"
    assert "sign-in page (HTTP 203)" in summary.errors[0]


def test_throttled_wiql_is_retried_after_retry_after(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    config = ado_config(ado)
    assert sync(config).status == "success"
    ado.dataset.delete(next(iter(ado.dataset.items())).id)  # the next run needs a census
    ado.inject("POST", r"/_apis/wit/wiql", status=429, times=1)
    ado.reset_log()
    with AzureDevOpsConnector(config) as connector:
        summary = sync_connector(connector, Store(engine))
        stats = connector.stats
    assert summary.status == "success", summary.errors
    assert summary.items_deleted == 1
    wiql = [r.status for r in ado.requests if r.path == WIQL]
    assert wiql[:2] == [429, 200]
    assert (stats.retries, stats.rate_limit_waits) == (1, 1)
    assert stats.rate_limit_wait_seconds >= 0.9


def test_check_reports_a_working_setup_and_a_wrong_pat(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig]
) -> None:
    with AzureDevOpsConnector(ado_config(ado)) as connector:
        report = connector.check()
    assert report.ok, report.results
    assert {r.name for r in report.results} >= {"credentials", "project", "teams", "wiql"}
    with AzureDevOpsConnector(ado_config(ado, token_value="nope")) as connector:
        report = connector.check()
    assert not report.ok
    assert report.results[0].name == "credentials"
    assert "personal access token" in report.results[0].detail
