"""A sync right after a push finds nothing updated: pmo-sync's own writes are not changes.

Every write moves a tracker's `updated` stamp (and Azure DevOps' revision), pmo-sync's
KPI fields and bot comment included; the store keeps those columns out of the content
hash (`pmo_sync.store.canonical.BOOKKEEPING_COLUMNS`), so they are written without the
item counting as updated. The stored revision still moves: the next push's `test /rev`
is against the revision the push itself made.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello.server import TrelloSandbox
from pmo_sync.store.engine import make_engine
from pmo_sync.store.models import WorkItemRow

from .conftest import (
    JIRA_FIELDS,
    TRELLO_FIELDS,
    Invoke,
    ado_file,
    jira_file,
    sync_rows,
    trello_file,
)

pytestmark = pytest.mark.slow


def _revisions(url: str) -> dict[str, int | None]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(WorkItemRow.external_id, WorkItemRow.revision))
            return {str(ext): rev for ext, rev in rows}
    finally:
        engine.dispose()


def test_a_sync_after_a_push_counts_no_item_updated_in_any_tracker(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke, store_url: str
) -> None:
    """On SQLite and PostgreSQL (the store's change detection is the store's)."""
    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    tag = uuid.uuid4().hex[:12]
    with (
        JiraSandbox(issues_per_project=20) as jira,
        AdoSandbox(wiql_cap=100, size=60) as ado,
        TrelloSandbox(cards_per_board=20, key=f"key-{tag}", token=f"token-{tag}") as trello,
    ):
        for name in JIRA_FIELDS.values():
            field_id = jira.dataset.create_custom_field(name, "number")
            for project in ("ABC", "DEF", "GHI"):
                jira.dataset.add_field_to_screen(field_id, project)
        for board in trello.dataset.boards:
            for name in TRELLO_FIELDS.values():
                trello.dataset.create_custom_field(board, name, "number")
        jira_file(config_dir, monkeypatch, jira)
        ado_file(config_dir, monkeypatch, ado)
        trello_file(config_dir, monkeypatch, trello)

        first = invoke("sync")
        assert first.exit_code == 0, first.stdout + first.stderr
        before = _revisions(store_url)
        pushed = invoke("push")
        assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
        made = {
            line.split(":")[0]: int(line.split(" made ")[1].split(" ")[0])
            for line in pushed.stdout.splitlines()
            if " made " in line
        }
        assert set(made) == {"acme-ado", "acme-jira", "acme-trello"}
        assert all(count > 0 for count in made.values()), made

        again = invoke("sync")
        assert again.exit_code == 0, again.stdout + again.stderr
        rows = {row[0]: row for row in sync_rows(again.stdout)}
        for name in ("acme-jira", "acme-ado", "acme-trello"):
            seen, inserted, updated, unchanged = rows[name][2:6]
            assert (rows[name][1], inserted, updated, unchanged) == ("success", "0", "0", seen)
        # Jira and Azure DevOps read the items the push wrote again (their stamp moved);
        # Trello's actions of the bot are not read at all.
        assert int(rows["acme-jira"][2]) > 0 and int(rows["acme-ado"][2]) > 0
        assert rows["acme-trello"][2] == "0"
        after = _revisions(store_url)
        moved = [ext for ext, rev in after.items() if rev is not None and rev != before[ext]]
        assert moved, "the revisions the push made are stored"
