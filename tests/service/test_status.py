"""`pmo-sync status` after real cycles: last run, outcome, next run, pending pushes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from pmo_sync.cli import app
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.runner import Service
from pmo_sync.settings import get_settings
from pmo_sync.store.cycles import CycleRecord, iter_cycles

from .serve_helpers import (
    TOKEN_VARIABLE,
    ok_cycles,
    provision_kpi_fields,
    wait_for,
    write_jira_config,
)


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=10) as sandbox:
        provision_kpi_fields(sandbox)
        yield sandbox


def scheduled_next(cycle: CycleRecord) -> datetime:
    return cycle.started_at + timedelta(hours=1)


def _status(*args: str) -> str:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["status", *args])
    get_settings.cache_clear()
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_status_shows_each_connectors_last_cycle_next_run_and_pending_pushes(
    jira: JiraSandbox,
    store_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_dir = tmp_path / "config"
    write_jira_config(config_dir, jira.url, jira.email, seconds=3600, name="scheduled")
    manual = write_jira_config(config_dir, jira.url, jira.email, name="manual")
    manual.write_text(
        manual.read_text().split("schedule:")[0], encoding="utf-8"
    )  # no schedule, no write-back: run by hand only
    monkeypatch.setenv(TOKEN_VARIABLE, jira.token)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    # one issue refuses its field write once: one push left pending after the cycle
    jira.inject(method="PUT", path=r"/rest/api/2/issue/[A-Z]+-\d+$", status=403, times=1)

    service = Service(engine, config_dir)
    assert service.start() == []
    try:
        wait_for(lambda: ok_cycles(engine, "scheduled"), what="the first cycle")
    finally:
        service.stop()
    (cycle,) = list(iter_cycles(engine, "scheduled"))
    assert cycle.ok and cycle.push_failed == 1

    (scheduled, by_hand) = sorted(
        json.loads(_status("--format", "json")), key=lambda s: s["connector"] != "scheduled"
    )
    assert scheduled["connector"] == "scheduled"
    assert scheduled["schedule"] == "every 3600 s"
    assert scheduled["outcome"] == "success"
    assert scheduled["last_run_kind"] == "cycle"
    assert scheduled["failures_in_a_row"] == 0
    assert scheduled["replica"] == service.replica
    assert scheduled["last_run"] == cycle.started_at.isoformat()
    assert scheduled["next_run"] == (cycle.started_at + timedelta(hours=1)).isoformat()
    assert scheduled["pending_pushes"] == 1
    refused = next(w for w in jira.writes if w.method == "PUT" and w.status == 403)
    assert scheduled["last_error"].startswith(refused.path.rsplit("/", 1)[1] + ": ")
    assert "(HTTP 403)" in scheduled["last_error"]
    assert by_hand == {
        "connector": "manual",
        "schedule": "by hand",
        "last_run": None,
        "last_run_kind": None,
        "outcome": "never run",
        "duration_seconds": None,
        "replica": None,
        "last_success": None,
        "failures_in_a_row": 0,
        "next_run": None,
        "pending_pushes": None,
        "last_error": None,
    }

    table = _status().splitlines()
    assert table[0] == "pmo-sync status (times in UTC)"
    started, next_run = (f"{t:%m-%d %H:%M}" for t in (cycle.started_at, scheduled_next(cycle)))
    assert table[1].split() == ["connector", "schedule", "last", "run", "outcome", "next", "run",
                                "to", "push"]  # fmt: skip
    assert table[3].split() == ["manual", "by", "hand", "-", "never", "run", "-", "off"]
    assert table[4].split() == [
        "scheduled", "every", "3600", "s", *started.split(), "success", *next_run.split(), "1",
    ]  # fmt: skip
    assert table[5] == f"scheduled: {scheduled['last_error']}"
