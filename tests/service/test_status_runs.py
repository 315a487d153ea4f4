"""`pmo-sync status` shows every run: `sync` and `push` by hand beside `serve`'s cycles,
an invalid connector file as a row of its own, and a store with nothing synced yet.

The CLI in-process (typer's CliRunner) against the sandbox Jira, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from pmo_sync import cli
from pmo_sync.cli import app
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.status import STATUS_KEYS
from pmo_sync.settings import get_settings
from pmo_sync.store.cycles import iter_cycles
from pmo_sync.store.engine import make_engine, upgrade

from .serve_helpers import TOKEN_VARIABLE, provision_kpi_fields, write_jira_config


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=5) as sandbox:
        provision_kpi_fields(sandbox)
        yield sandbox


@pytest.fixture
def config_dir(
    jira: JiraSandbox, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """One connector run by hand (no schedule), write-back on; a quiet log."""
    config_dir = tmp_path / "config"
    path = write_jira_config(config_dir, jira.url, jira.email, name="acme")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("schedule:\n  interval_seconds: 1\n", ""), encoding="utf-8")
    monkeypatch.setenv(TOKEN_VARIABLE, jira.token)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(cli.out, "width", 160)
    return config_dir


def _run(*args: str) -> Result:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args))
    get_settings.cache_clear()
    return result


def _status_json(*args: str) -> list[dict[str, object]]:
    result = _run("status", "--format", "json", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    rows: list[dict[str, object]] = json.loads(result.stdout)
    assert all(tuple(row) == STATUS_KEYS for row in rows)
    return rows


def test_status_shows_manual_syncs_and_pushes(config_dir: Path, store_url: str) -> None:
    empty = _run("status")
    assert empty.exit_code == 0
    # the store does not exist yet (SQLite) or has no tables (PostgreSQL): one line saying so
    assert empty.stderr.count("\n") == 1
    assert "nothing has been synced" in empty.stderr and "run `pmo-sync sync`" in empty.stderr
    for _ in range(3):
        assert _run("sync").exit_code == 0
    (after_syncs,) = _status_json()
    engine = make_engine(store_url)
    try:
        runs = list(iter_cycles(engine, "acme", kinds=("cycle", "sync", "push")))
        assert [(r.run_kind, r.ok, r.stage) for r in runs] == [("sync", True, "done")] * 3
        assert list(iter_cycles(engine, "acme")) == []  # no serve cycle: the schedule is not moved
        pushed = _run("push")
        assert pushed.exit_code == 0, pushed.stdout
        last = list(iter_cycles(engine, "acme", kinds=("push",)))
    finally:
        engine.dispose()
    assert after_syncs["last_run_kind"] == "sync"
    assert after_syncs["outcome"] == "success"
    assert after_syncs["last_run"] == runs[-1].started_at.isoformat()
    assert after_syncs["last_success"] == runs[-1].finished_at.isoformat()  # type: ignore[union-attr]
    assert after_syncs["next_run"] is None and after_syncs["schedule"] == "by hand"
    (push,) = last
    assert (push.ok, push.pushed, push.push_failed) == (True, push.pushed, 0) and push.pushed > 0
    (after_push,) = _status_json()
    assert (after_push["last_run_kind"], after_push["outcome"]) == ("push", "success")
    assert after_push["pending_pushes"] == 0
    table = _run("status")
    assert table.exit_code == 0 and table.stderr == ""
    lines = table.stdout.splitlines()
    assert lines[3].split() == [
        "acme", "by", "hand", *f"{push.started_at:%m-%d %H:%M}".split(), "push", "(manual)",
        "success", "-", "0",
    ]  # fmt: skip
    assert len(lines) == 4


def test_status_shows_an_invalid_file_as_a_row_and_fits_80_columns(
    config_dir: Path, jira: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = write_jira_config(config_dir, jira.url, jira.email, seconds=3600, name="typo")
    typo.write_text(typo.read_text(encoding="utf-8").replace("jql:", "jqll:"), encoding="utf-8")
    assert _run("sync").exit_code == 5
    rows = _status_json()
    assert [(r["connector"], r["outcome"], r["last_run_kind"]) for r in rows] == [
        ("acme", "success", "sync"),
        ("typo", "invalid", None),
    ]
    assert rows[1]["last_error"] == f"{typo}: jql: field required"

    as_csv = _run("status", "--format", "csv", "--connector", "typo")
    assert as_csv.exit_code == 0
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        list(STATUS_KEYS),
        ["typo", "-", "", "", "invalid", "", "", "", "0", "", "", f"{typo}: jql: field required"],
    ]
    unknown = _run("status", "--connector", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "no connector named 'nope' (connectors: acme, typo)\n"
    refused = _run("status", "--format", "xml")
    assert refused.exit_code == 2
    assert refused.stderr == "--format must be table, json or csv, not 'xml'\n"

    monkeypatch.setattr(cli.out, "width", 80)
    table = _run("status")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert "…" not in table.stdout
    body = lines[: lines.index(f"typo: {typo}: jql: field required")]
    assert max(len(line) for line in body) <= 80
    when = lines[3].split()[3:5]  # MM-DD HH:MM
    # 8 to push, what a push would make: five field values, ABC-2's finding comment and the
    # stakeholder-sentence comments of the open epics ABC-1 and GHI-1 (every open request
    # gets one), planned with the portfolio answers as `push_connector` plans them
    assert [line.split() for line in body[3:]] == [
        ["acme", "by", "hand", *when, "sync", "(manual)", "success", "-", "8"],
        ["typo", "-", "-", "invalid", "-", "off"],
    ]
    dry_run = _run("push", "--dry-run", "--connector", "acme")
    assert dry_run.exit_code == 0, dry_run.stderr
    assert "acme: would make 8 change(s)" in dry_run.stdout
    added = [line.split(":")[0] for line in dry_run.stdout.splitlines() if ": add comment" in line]
    assert added == ["ABC-1", "ABC-2", "GHI-1"]


def test_status_names_a_file_that_reuses_a_connectors_name_by_its_file(
    config_dir: Path, jira: JiraSandbox
) -> None:
    again = write_jira_config(config_dir, jira.url, jira.email, name="zz-again")
    again.write_text(
        again.read_text(encoding="utf-8").replace("name: zz-again", "name: acme"),
        encoding="utf-8",
    )
    acme_file = config_dir / "connectors" / "acme.yaml"
    rows = _status_json()
    assert [(r["connector"], r["outcome"], r["last_error"]) for r in rows] == [
        ("acme", "never run", None),
        ("zz-again.yaml", "invalid",
         f"{again}: name: duplicate connector name 'acme' (also in {acme_file})"),
    ]  # fmt: skip


def test_0010_keeps_every_earlier_row_a_serve_cycle(store_url: str) -> None:
    """Rows written before 0010 were all `serve` cycles: they stay cycles after it."""
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0009")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO service_cycles (connector, run_id, replica, started_at, stage, "
                    "items_seen, api_calls, pushed, push_failed, errors) VALUES ('acme', 'r1', "
                    "'host:1', :at, 'sync', 0, 0, 0, 0, '[]')"
                ),
                {"at": datetime(2026, 12, 1, tzinfo=UTC)},
            )
        upgrade(engine)
        (cycle,) = list(iter_cycles(engine, "acme"))
    finally:
        engine.dispose()
    assert (cycle.run_id, cycle.run_kind) == ("r1", "cycle")
