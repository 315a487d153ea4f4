"""Azure DevOps write-back end to end: sync, KPIs, findings, push, ten times over the sandbox.

The sandbox accepts any `Custom.*` field on PATCH and lists no fields, so the
write-back config names the fields by reference name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.azure_devops.push import AdoWriter
from pmo_sync.governance.policy import load_policies
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.service import refresh_kpis
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.store.models import WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector
from pmo_sync.writeback.service import PushSummary, push_connector

TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
FIELDS = {
    "cycle_time_days": "Custom.CycleTimeDays",
    "wip_age_days": "Custom.WipAgeDays",
    "team_cycle_time_p85_days": "Custom.TeamCycleTimeP85Days",
}
POLICY = """
rules:
  - id: estimate-committed
    rule: missing_estimate
"""


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(wiql_cap=100, size=150) as sandbox:
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
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "rules.yaml").write_text(POLICY, encoding="utf-8")
    rules, errors = load_policies(tmp_path)
    assert errors == []
    store = Store(engine)

    def run(*, dry_run: bool = False) -> PushSummary:
        with AzureDevOpsConnector(config) as connector:
            assert sync_connector(connector, store).status == "success"
        now = ado.dataset.clock.now
        refresh = refresh_kpis(engine, KpiConfig(), rules=rules, now=now)
        return push_connector(
            config, engine, refresh.run, refresh.findings, dry_run=dry_run, now=now
        )

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
