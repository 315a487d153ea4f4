"""An Azure DevOps organisation whose process lacks a field pmo-sync reads, against the sandbox.

Azure DevOps answers TF51535 to a revision stream asked for a field its organisation does
not have, and a whole sync used to fail on it. The metadata stream now reads the field list
(one call, cached with the rest of the metadata) and the revision stream is asked only for
the fields that exist; a configured estimate field the organisation lacks stops the sync
with its name before any revision is read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from connectors.azure_devops import AzureDevOpsConfig
from pmo_sync.domain import ChangeField
from pmo_sync.sandbox.ado import AdoProcess, AdoSandbox
from pmo_sync.store.models import ItemChangeRow, WorkItemRow
from pmo_sync.store.repository import Store

REPORTING = "/contoso/Fabrikam/_apis/wit/reporting/workItemRevisions"
FIELDS = "/contoso/_apis/wit/fields"
BLOCKED = "Microsoft.VSTS.CMMI.Blocked"


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def lacking() -> Iterator[AdoSandbox]:
    """An organisation whose process has no Blocked field (Agile, not CMMI)."""
    with AdoSandbox(wiql_cap=100, size=60, process=AdoProcess().without(BLOCKED)) as sandbox:
        yield sandbox


def _calls(ado: AdoSandbox) -> list[tuple[str, str]]:
    """The run's calls, route discovery (OPTIONS, resource areas) left out."""
    return [
        (r.method, r.path)
        for r in ado.requests
        if r.method != "OPTIONS" and "ResourceAreas" not in r.path
    ]


def _asked(ado: AdoSandbox) -> list[list[str]]:
    """The fields each reporting call asked for."""
    return [r.body["fields"] for r in ado.requests if r.path == REPORTING]


def _stored(engine: Engine) -> tuple[set[str], int, int]:
    """(live external ids, status changes, Blocked changes) in the store."""
    with engine.connect() as conn:
        live = set(
            conn.scalars(select(WorkItemRow.external_id).where(WorkItemRow.deleted_at.is_(None)))
        )
        changes = dict(
            conn.execute(
                select(ItemChangeRow.field, func.count()).group_by(ItemChangeRow.field)
            ).all()
        )
    return live, changes.get(ChangeField.STATUS, 0), changes.get(ChangeField.FLAGGED, 0)


def test_a_process_without_blocked_syncs_fully_with_one_call_more_on_the_first_run(
    lacking: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., Any],
    engine: Engine,
) -> None:
    config = ado_config(lacking)
    summary = sync(config)
    assert summary.status == "success", summary.errors
    live = {str(i.id) for i in lacking.dataset.items()}
    stored, status_changes, blocked_changes = _stored(engine)
    assert stored == live and summary.items_seen == len(live) == 60
    assert status_changes > 60  # every item's whole history, not only its current state
    assert blocked_changes == 0  # no Blocked field: no blocked history, and no failure

    # The metadata as before (the PAT's identity, the teams, per team its area paths and
    # iterations, per type its states: Epic's among them, a default type) and one call more:
    # the field list. Then the revision stream, asked for every field it reads but Blocked,
    # and the Dependency links (read by default) of the 60 items: one batch call.
    teams = [t.name for t in lacking.dataset.teams]
    team_calls = [
        f"/contoso/Fabrikam/{team}/_apis/work/teamsettings/{what}"
        for team in teams
        for what in ("teamfieldvalues", "iterations")
    ]
    type_calls = [
        f"/contoso/Fabrikam/_apis/wit/workItemTypes/{quoted}/states"
        for quoted in [t.replace(" ", "%20") for t in config.work_item_types]
    ]
    pages = math.ceil(lacking.dataset.watermark() / 1000)
    assert Counter(_calls(lacking)) == Counter(
        {
            ("GET", "/contoso/_apis/ConnectionData"): 1,
            ("GET", "/contoso/_apis/projects/Fabrikam/teams"): 1,
            **{("GET", path): 1 for path in team_calls},
            **{("GET", path): 1 for path in type_calls},
            ("GET", FIELDS): 1,
            ("POST", REPORTING): pages,
            ("POST", "/contoso/Fabrikam/_apis/wit/workItemsBatch"): 1,
        }
    )
    assert "Epic" in config.work_item_types
    assert summary.api_calls == len(lacking.requests)
    asked = _asked(lacking)
    assert all(BLOCKED not in fields for fields in asked)
    assert {"System.Parent", "Microsoft.VSTS.Scheduling.StoryPoints"} <= set(asked[0])

    # A cached run: no metadata call, the field list included; one reporting call.
    lacking.reset_log()
    again = sync(config)
    assert again.status == "success", again.errors
    assert _calls(lacking) == [("POST", REPORTING)]
    assert BLOCKED not in _asked(lacking)[0]


def test_a_configured_estimate_field_the_organisation_lacks_stops_the_sync_naming_it(
    lacking: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., Any],
    engine: Engine,
) -> None:
    summary = sync(ado_config(lacking, estimate_field="Custom.Points"))
    assert summary.status == "failed"
    assert any(
        "`estimate_field: Custom.Points` of sandbox-ado is not a field of this Azure DevOps "
        "organisation" in error
        for error in summary.errors
    ), summary.errors
    assert ("POST", REPORTING) not in _calls(lacking)  # refused before reading a revision
    assert _stored(engine)[0] == set()


def test_a_metadata_cache_stored_without_the_field_list_reads_only_the_list(
    lacking: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., Any],
    store: Store,
) -> None:
    """A cache written before the field list was kept: its next run reads the list alone
    (one call), keeps the rest of the cache, and the run after it reads nothing more."""
    config = ado_config(lacking)
    assert sync(config).status == "success"
    source = store.ensure_source(config.name, config.kind, None)
    cached = store.get_bookmark(source, "metadata")
    assert cached is not None and BLOCKED not in cached["fields"]
    older = {k: v for k, v in cached.items() if k not in ("fields", "version")}
    store.set_bookmark(source, "metadata", older)

    lacking.reset_log()
    assert sync(config).status == "success"
    assert _calls(lacking) == [("GET", FIELDS), ("POST", REPORTING)]
    assert BLOCKED not in _asked(lacking)[0]
    assert store.get_bookmark(source, "metadata") == cached  # the same cache, the list in it

    lacking.reset_log()
    assert sync(config).status == "success"
    assert _calls(lacking) == [("POST", REPORTING)]


def test_a_server_without_a_field_list_is_asked_for_every_field_as_before(
    ado_config: Callable[..., AzureDevOpsConfig], sync: Callable[..., Any], engine: Engine
) -> None:
    with AdoSandbox(wiql_cap=100, size=20, process=AdoProcess(lists_fields=False)) as old:
        summary = sync(ado_config(old))
        assert summary.status == "success", summary.errors
        assert [r.status for r in old.requests if r.path == FIELDS] == [404]
        assert BLOCKED in _asked(old)[0]
    assert len(_stored(engine)[0]) == 20
