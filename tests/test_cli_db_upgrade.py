"""`pmo-sync db upgrade` re-converts the portfolio facts of a store filled before them: one
line per connector (items, seconds, what stays for the next sync), one line per raw payload
it cannot read (skipped, counted, exit 6, never fatal), and nothing the second time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from connectors.jira.convert import IssueContext, JiraFieldIds, convert_issue
from pmo_sync.cli.common import EXIT_RECORDS_SKIPPED, err, out
from pmo_sync.store.engine import head_revision
from pmo_sync.store.models import ItemReleaseRow, RawRecordRow, SourceRow, WorkItemRow
from pmo_sync.store.repository import Store

from .cli_support import cli_state_restored, run_cli
from .schema_helpers import migrated_engine

TOKEN_VARIABLE = "PMO_SYNC_DB_UPGRADE_TEST_TOKEN"
URL = "http://127.0.0.1:9"  # never reached: the re-conversion makes no call
CTX = IssueContext(URL, JiraFieldIds(None, None, None), {}, {})


@pytest.fixture
def store_engine(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """A config dir naming one Jira connector, and the store at `store_url`."""
    config_dir = tmp_path / "config"
    (config_dir / "connectors").mkdir(parents=True)
    (config_dir / "connectors" / "acme-jira.yaml").write_text(
        f"name: acme-jira\nkind: jira\nurl: {URL}\nemail: pmo-bot@acme.example\n"
        f"token: ${{{TOKEN_VARIABLE}}}\njql: project = ABC\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "ERROR")  # stderr: the command's lines alone
    monkeypatch.setenv(TOKEN_VARIABLE, "db-upgrade-test-token")
    monkeypatch.setattr(out, "width", 300)
    monkeypatch.setattr(err, "width", 300)
    engine = migrated_engine(store_url)
    with cli_state_restored():
        yield engine
    engine.dispose()


def _issue(issue_id: str, key: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": issue_id,
        "key": key,
        "fields": {
            "summary": key,
            "issuetype": {"name": "Epic", "hierarchyLevel": 1},
            "status": {"name": "To Do", "statusCategory": {"key": "new"}},
            "project": {"key": "ABC"},
            "created": "2026-11-02T09:00:00.000+0000",
            "updated": "2026-11-03T09:00:00.000+0000",
            "duedate": None,
            "priority": None,
            "fixVersions": [],
            "issuelinks": [],
            **fields,
        },
    }


def _stored_before_the_facts(engine: Engine) -> None:
    """Two issues synced, then put as a store of before migration 0012 holds them: no
    portfolio facts, the source not re-converted; one raw payload is garbage."""
    store = Store(engine)
    source = store.ensure_source("acme-jira", "jira", URL)
    epic = _issue(
        "10001", "ABC-1", duedate="2026-12-18", priority={"name": "High"},
        fixVersions=[{"id": "200", "name": "2026.4", "releaseDate": "2026-12-20"}],
    )  # fmt: skip
    broken = _issue("10002", "ABC-2")
    bundles = [convert_issue(raw, [], CTX) for raw in (epic, broken)]
    store.load_items(source, bundles, store.now())
    with engine.begin() as conn:
        items = WorkItemRow.__table__
        conn.execute(update(items).values(level=None, due_date=None, priority=None))
        conn.execute(ItemReleaseRow.__table__.delete())
        conn.execute(update(SourceRow.__table__).values(converted_version=None))
        raw = RawRecordRow.__table__
        conn.execute(update(raw).where(raw.c.external_id == "10002").values(payload=b"garbage"))


def _facts(engine: Engine) -> dict[str, tuple[Any, ...]]:
    items = WorkItemRow.__table__
    with engine.connect() as conn:
        return {
            r.key: (r.level, r.due_date, r.priority)
            for r in conn.execute(select(items).order_by(items.c.key))
        }


def test_db_upgrade_reconverts_each_source_once_and_skips_a_payload_it_cannot_read(
    store_engine: Engine, store_url: str
) -> None:
    _stored_before_the_facts(store_engine)
    assert _facts(store_engine) == {"ABC-1": (None, None, None), "ABC-2": (None, None, None)}

    result = run_cli(["db", "upgrade"])
    assert result.exit_code == EXIT_RECORDS_SKIPPED == 6
    shown = re.sub(r"in \d+\.\d s", "in S s", result.stdout)
    assert shown.splitlines()[1:] == [
        "acme-jira: 1 stored item re-converted from their raw payloads in S s; kept for the "
        "next sync: rank, start date and target dates (no cached Jira field ids)"
    ]
    assert shown.splitlines()[0].startswith(f"store at revision {head_revision()} (")
    assert result.stderr == (
        "acme-jira: ABC-2: raw payload skipped, the payload cannot be decompressed or parsed "
        "(error: Error -3 while decompressing data: incorrect header check); its facts come "
        "with its next sync\n"
    )
    assert _facts(store_engine) == {
        "ABC-1": ("epic", date(2026, 12, 18), "High"),
        "ABC-2": (None, None, None),  # skipped: as it was
    }
    with store_engine.connect() as conn:
        assert list(conn.execute(select(ItemReleaseRow.release_external_id)).scalars()) == ["200"]

    again = run_cli(["db", "upgrade"])  # re-converted once: only the revision now
    assert (again.exit_code, len(again.stdout.splitlines()), again.stderr) == (0, 1, "")


def test_db_upgrade_names_the_sources_no_connector_file_names(
    store_engine: Engine, tmp_path: Path
) -> None:
    """A source whose connector file is gone (or invalid) waits for its own next sync."""
    _stored_before_the_facts(store_engine)
    (tmp_path / "config" / "connectors" / "acme-jira.yaml").unlink()
    result = run_cli(["db", "upgrade"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "not re-converted here (no valid connector file names them): acme-jira; each is "
        "re-converted at its next sync"
    ]
    assert _facts(store_engine)["ABC-1"] == (None, None, None)
