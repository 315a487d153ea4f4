"""One service cycle (sync → KPIs and findings → push) against the sandbox Jira, both stores."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.jira import JiraConfig
from pmo_sync.governance.policy import load_policies
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.logging import configure_logging
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.cycle import PushedMarks, ServiceConfig, load_service_config, run_cycle
from pmo_sync.store.repository import Store

from .serve_helpers import FIELDS, POLICY, TOKEN_VARIABLE, provision_kpi_fields


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=15) as sandbox:
        provision_kpi_fields(sandbox)
        yield sandbox


def _config(jira: JiraSandbox, monkeypatch: pytest.MonkeyPatch, token: str) -> JiraConfig:
    monkeypatch.setenv(TOKEN_VARIABLE, token)
    return JiraConfig.model_validate(
        {
            "name": "sandbox-jira",
            "kind": "jira",
            "url": jira.url,
            "email": jira.email,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "jql": "project in (ABC, DEF, GHI)",
            "max_retries": 0,
            "writeback": {"enabled": True, "fields": FIELDS, "comments": True},
        }
    )


def _service(config: JiraConfig, tmp_path: Path) -> ServiceConfig:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "rules.yaml").write_text(POLICY, encoding="utf-8")
    rules, errors = load_policies(tmp_path)
    assert errors == []
    return ServiceConfig({config.name: config}, KpiConfig(), rules)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield stream
    configure_logging("console", "WARNING")


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_a_cycle_syncs_computes_and_pushes_and_the_next_writes_nothing(
    jira: JiraSandbox,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    json_logs: io.StringIO,
) -> None:
    config = _config(jira, monkeypatch, jira.token)
    service = _service(config, tmp_path)
    store = Store(engine)
    now = jira.dataset.clock.now

    first = run_cycle(config, service, store, run_id="cycle-1", now=now)
    assert first.ok, first.errors
    assert first.stage == "done"
    assert first.sync is not None and first.sync.items_inserted == 45
    assert first.kpi_values_changed > 0 and first.findings_open > 0
    assert first.push is not None and first.push.done > 0 and first.push.failed == 0

    second = run_cycle(config, service, store, run_id="cycle-2", now=now)
    assert second.ok, second.errors
    assert second.sync is not None and second.sync.items_inserted == 0
    assert second.push is not None
    assert (second.push.planned, second.push.api_calls) == (0, 0)
    assert second.kpi_values_changed == 0

    # every line of a cycle carries its run id: the sync's, the KPI refresh's, the push's
    lines = _lines(json_logs)
    by_run = {run: [line for line in lines if line.get("run_id") == run] for run in ("cycle-1",)}
    events = [line["event"] for line in by_run["cycle-1"]]
    assert events[0] == "cycle_started" and events[-1] == "cycle_finished"
    assert "sync_started" in events and "sync_finished" in events
    started = next(i for i, line in enumerate(lines) if line["event"] == "cycle_started")
    finished = next(i for i, line in enumerate(lines) if line["event"] == "cycle_finished")
    assert all(line.get("run_id") == "cycle-1" for line in lines[started : finished + 1])


def test_a_tracker_that_rejects_the_token_stops_the_cycle_at_the_sync(
    jira: JiraSandbox, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(jira, monkeypatch, "wrong-token")
    result = run_cycle(config, _service(config, tmp_path), Store(engine), now=datetime.now(UTC))
    assert not result.ok
    assert result.stage == "sync"
    assert result.push is None and result.kpi_values_changed == 0
    assert len(result.errors) == 1 and "401" in result.errors[0]
    assert "wrong-token" not in result.errors[0]
    assert jira.writes == []


def test_the_service_config_is_loaded_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "a.yaml").write_text(
        "name: a\nkind: jira\nurl: https://a.example\nemail: x@a.example\n"
        "token: ${A_TOKEN}\njql: project = A\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("A_TOKEN", "t")
    service, errors = load_service_config(tmp_path)
    assert errors == [] and service is not None and list(service.connectors) == ["a"]
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "bad.yaml").write_text("rules:\n  - id: x\n    rule: nope\n")
    service, errors = load_service_config(tmp_path)
    assert service is None
    assert len(errors) == 1 and str(errors[0]).startswith(str(tmp_path / "policies" / "bad.yaml"))


def test_a_cycle_with_nothing_new_computes_and_pushes_nothing(
    jira: JiraSandbox, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: with the service's pushed marks, a cycle whose sync loaded nothing, on the
    day and with the configuration of the refresh its connector last pushed cleanly, stops
    after the sync: no values rewritten, no push (not even its planning). A change in the
    tracker, the next day or another configuration computes and pushes again."""
    config = _config(jira, monkeypatch, jira.token)
    service = _service(config, tmp_path)
    store = Store(engine)
    marks = PushedMarks()
    clock = jira.dataset.clock

    first = run_cycle(config, service, store, now=clock.now, pushed=marks)
    assert first.ok and not first.kpis_unchanged, first.errors
    assert first.push is not None and first.push.done > 0
    # the push's own writes moved the issues' `updated` stamps: the next sync stores them,
    # but the refresh reads the last activity, which leaves the bot's writes out
    idle = run_cycle(config, service, store, now=clock.advance(minutes=30), pushed=marks)
    assert idle.ok and idle.kpis_unchanged and idle.stage == "done"
    assert idle.sync is not None and (idle.sync.items_inserted, idle.sync.items_updated) == (0, 0)
    assert (idle.push, idle.kpi_values_changed, idle.findings_open) == (None, 0, 0)
    # without the marks (a cycle by hand, a restarted service) the same cycle recomputes
    again = run_cycle(config, service, store, now=clock.now)
    assert not again.kpis_unchanged and again.kpi_values_changed == 0
    assert again.push is not None and again.push.planned == 0

    key = next(i.key for i in jira.dataset.issues if i.status.name == "To Do")
    jira.dataset.transition(key, "In Progress")
    changed = run_cycle(config, service, store, now=clock.advance(minutes=30), pushed=marks)
    assert changed.ok and not changed.kpis_unchanged
    assert changed.sync is not None and changed.sync.items_updated == 1
    assert changed.kpi_values_changed > 0 and changed.push is not None
    assert run_cycle(config, service, store, now=clock.now, pushed=marks).kpis_unchanged

    tomorrow = clock.now.replace(hour=0, minute=5) + timedelta(days=1)
    next_day = run_cycle(config, service, store, now=clock.set(tomorrow), pushed=marks)
    assert next_day.ok and not next_day.kpis_unchanged and next_day.kpi_values_changed > 0
    assert run_cycle(config, service, store, now=clock.now, pushed=marks).kpis_unchanged

    other = replace(service, kpi=KpiConfig(day_counting="exclusive"))
    reconfigured = run_cycle(config, other, store, now=clock.now, pushed=marks)
    assert not reconfigured.kpis_unchanged and reconfigured.kpi_values_changed > 0
