"""Azure DevOps write-back end to end: sync, KPIs, findings, push, ten times over the sandbox.

The sandbox accepts any `Custom.*` field on PATCH and lists no fields, so the
write-back config names the fields by reference name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.azure_devops.push import AdoWriter
from pmo_sync.governance.policy import load_policies
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.store.models import WorkItemRow
from pmo_sync.writeback.service import PushSummary

from .cycles import load_rules, push, service_cycle, sync_and_refresh

TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
FIELDS = {
    "cycle_time_days": "Custom.CycleTimeDays",
    "wip_age_days": "Custom.WipAgeDays",
    "team_cycle_time_p85_days": "Custom.TeamCycleTimeP85Days",
}
PATCH_ITEM = r"/_apis/wit/workitems/\d+$"


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    """250 items: the sandbox's teams keep a few items each in progress (its sprints are
    planned), so it takes that many for in-progress items with findings to comment on
    (8 Active, one of them unassigned, some without an estimate; 60 gave one)."""
    with AdoSandbox(wiql_cap=100, size=250) as sandbox:
        yield sandbox


@pytest.fixture
def config(ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch) -> AzureDevOpsConfig:
    monkeypatch.setenv(TOKEN_VARIABLE, ado.pat)
    return AzureDevOpsConfig.model_validate(
        {
            "name": "sandbox-ado",
            "kind": "azure_devops",
            "organization_url": ado.url,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "project": ado.dataset.project.name,
            "wiql_cap": 100,
            "max_retry_wait_seconds": 5,
            "writeback": {"enabled": True, "fields": FIELDS, "comments": True},
        }
    )


@pytest.fixture
def cycle(
    ado: AdoSandbox, config: AzureDevOpsConfig, engine: Engine, tmp_path: Path
) -> Callable[..., PushSummary]:
    """One service cycle: sync, KPIs and findings as of the sandbox's clock, push."""
    rules = load_rules(tmp_path)

    def run(*, dry_run: bool = False) -> PushSummary:
        return service_cycle(config, engine, rules, ado.dataset.clock.now, dry_run=dry_run)

    return run


def _bot_comments(sandbox: AdoSandbox) -> dict[int, int]:
    me = sandbox.identity.unique_name
    counts: dict[int, int] = {}
    for item in sandbox.dataset.items():
        mine = [c for c in sandbox.dataset.comments(item.id) if c.created_by.unique_name == me]
        if mine:
            counts[item.id] = len(mine)
    return counts


def test_the_writer_knows_the_pat_identity(ado: AdoSandbox, config: AzureDevOpsConfig) -> None:
    with AzureDevOpsConnector(config) as connector:
        writer = connector.writer()
        assert isinstance(writer, AdoWriter)
        try:
            assert writer.bot_account_id() == ado.identity.unique_name
        finally:
            writer.close()


def _last_activity(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(WorkItemRow.external_id, WorkItemRow.last_activity))
        return {external_id: at for external_id, at in rows}


@pytest.mark.slow
def test_ten_cycles_write_once_and_leave_one_comment_per_item(
    ado: AdoSandbox, cycle: Callable[..., PushSummary], engine: Engine
) -> None:
    preview = cycle(dry_run=True)
    assert preview.planned > 0 and len(preview.lines) >= preview.planned
    assert ado.writes == []  # a dry run writes nothing

    activity = _last_activity(engine)
    first = cycle()
    assert first.ok, first.errors
    assert first.done == first.planned == preview.planned
    writes_after_first = len(ado.writes)
    assert writes_after_first > 0
    comments = _bot_comments(ado)
    assert comments and set(comments.values()) == {1}

    for _ in range(9):
        again = cycle()
        assert again.ok, again.errors
        assert (again.planned, again.done, again.api_calls) == (0, 0, 0)
        assert len(ado.writes) == writes_after_first  # the bot's edits caused none
        assert set(_bot_comments(ado).values()) <= {1}
    assert _bot_comments(ado) == comments
    # the bot's PATCHes and comments are not activity: last_activity did not move
    assert _last_activity(engine) == activity

    # a value written into the tracker is the value computed, by the PAT's identity
    data = ado.dataset
    written = [i for i in data.items() if i.fields.get(FIELDS["cycle_time_days"]) is not None]
    assert written
    assert all(ado.identity.unique_name in str(i.fields["System.ChangedBy"]) for i in written)


def _field_writes(sandbox: AdoSandbox) -> list[int]:
    """The work items each successful field PATCH went to, in order."""
    return [
        int(r.path.rsplit("/", 1)[1])
        for r in sandbox.writes
        if r.method == "PATCH" and "/comments" not in r.path and r.status == 200
    ]


def test_a_refused_patch_is_retried_next_cycle_and_only_it(
    ado: AdoSandbox, cycle: Callable[..., PushSummary]
) -> None:
    ado.inject(method="PATCH", path=PATCH_ITEM, status=403, times=1)
    first = cycle()
    assert (first.failed, len(first.errors)) == (1, 1)
    assert "(HTTP 403)" in first.errors[0]
    refused = int(first.errors[0].split(":", 1)[0])
    assert refused not in _field_writes(ado)
    ado.reset_log()
    second = cycle()
    assert (second.planned, second.done, second.failed) == (1, 1, 0)
    assert _field_writes(ado) == [refused]
    assert cycle().planned == 0


def test_a_503_on_a_patch_is_retried_within_the_run_and_written_once(
    ado: AdoSandbox, cycle: Callable[..., PushSummary]
) -> None:
    """A PATCH is idempotent: the policy retries it; a lost answer after the write is
    recognised by its own revision (test /rev) and counted as done, not written twice."""
    ado.inject(method="PATCH", path=PATCH_ITEM, status=503, times=1, headers={"Retry-After": "0"})
    ado.inject(method="PATCH", path=PATCH_ITEM, status=502, times=1, skip=3, applied=True)
    first = cycle()
    assert first.ok, first.errors
    assert first.done == first.planned
    calls = [
        (r.method, int(r.path.rsplit("/", 1)[1]), r.status)
        for r in ado.requests
        if r.method in ("PATCH", "GET") and re.search(PATCH_ITEM, r.path, re.IGNORECASE)
    ]
    _, first_patched, _ = calls[0]
    fourth, second_try = calls[3], calls[4]
    assert calls[:2] == [("PATCH", first_patched, 503), ("PATCH", first_patched, 200)]
    assert fourth[0] == "PATCH" and fourth[2] == 502  # applied, then the answer lost
    item_id = fourth[1]
    # the retry meets its own revision (400, test /rev), one GET shows our values: done
    assert second_try == ("PATCH", item_id, 400)
    assert calls[5] == ("GET", item_id, 200)
    assert calls.count(("PATCH", item_id, 200)) == 0
    fields = ado.dataset.item(item_id).fields
    assert (
        fields.get(FIELDS["wip_age_days"]) is not None
        or fields.get(FIELDS["cycle_time_days"]) is not None
    )
    assert cycle().planned == 0


@pytest.mark.slow
def test_a_person_editing_an_item_between_sync_and_push_is_not_overwritten(
    ado: AdoSandbox,
    config: AzureDevOpsConfig,
    engine: Engine,
    cycle: Callable[..., PushSummary],
    tmp_path: Path,
) -> None:
    """The PATCH carries `test /rev` with the revision synced: a newer one refuses it."""
    first = cycle()
    assert first.ok, first.errors
    data = ado.dataset
    # An item that will get a new field value: in progress, so its WIP age moves daily.
    target = next(i.id for i in data.items() if i.state == "Active" and i.id in _bot_comments(ado))
    data.clock.advance(days=1)
    rules, _ = load_policies(tmp_path)
    refresh = sync_and_refresh(config, engine, rules, data.clock.now)
    person = data.people[0]
    data.update(target, {"System.Title": "Renamed by a person"}, by=person)  # after the sync
    ado.reset_log()
    racing = push(config, engine, refresh, data.clock.now)
    # deferred, not failed: expected when people work, and written by the next cycle
    assert (racing.deferred, racing.failed, racing.errors) == (1, 0, [])
    assert racing.ok
    assert target not in _field_writes(ado)
    assert data.item(target).fields["System.Title"] == "Renamed by a person"

    ado.reset_log()
    after = cycle()  # the next cycle syncs the new revision first, then writes
    assert after.ok, after.errors
    assert target in _field_writes(ado)
    assert data.item(target).fields["System.Title"] == "Renamed by a person"
    assert cycle().planned == 0


@pytest.mark.slow
def test_a_comment_deleted_by_a_person_comes_back_with_its_next_change(
    ado: AdoSandbox, cycle: Callable[..., PushSummary]
) -> None:
    """Unchanged findings cost no call, so a deletion is seen when the comment next changes;
    the update finding it gone adds it again in the same push."""
    cycle()
    data = ado.dataset
    me = ado.identity.unique_name
    item_id = next(
        i
        for i in _bot_comments(ado)
        if data.item(i).state == "Active" and data.item(i).fields.get("System.AssignedTo")
    )
    comment = next(c for c in data.comments(item_id) if c.created_by.unique_name == me)
    data.delete_comment(item_id, comment.id, by=data.people[0])
    assert cycle().planned == 0
    data.clock.advance(minutes=1)
    data.assign(item_id, None, by=data.people[0])  # a new finding: the comment must change
    changed = cycle()
    assert (changed.planned, changed.done, changed.failed) == (1, 1, 0)  # gone: added again
    assert _bot_comments(ado)[item_id] == 1
    assert cycle().planned == 0
