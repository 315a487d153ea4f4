"""Engine set-up and migrations: the migrated schema is exactly the models'."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from pmo_sync.store.engine import (
    alembic_config,
    current_revision,
    make_engine,
    session_factory,
    upgrade,
)
from pmo_sync.store.items import compress_raw
from pmo_sync.store.models import Base, SourceRow, WorkItemRow

from .records import T0


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent_and_reports_revision(store_url: str) -> None:
    engine = make_engine(store_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and int(head) >= 2  # 0001 initial, 0002 kpi values, ...
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head
        upgrade(engine)
        assert current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    assert current_revision(engine) is None


def test_0009_fills_the_rules_facts_from_the_stored_raw_payloads(store_url: str) -> None:
    """A store at 0008 keeps each item's raw payload; 0009 fills the new columns from it as
    the connectors now fill them: the description as plain text (Jira ADF, Azure DevOps HTML,
    Trello markdown as it is), Azure DevOps' criteria, Jira's parent type. An item without a
    raw payload, or of a source kind the migration does not know, is left empty."""
    engine = make_engine(store_url)
    adf = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "As a PMO, I want X"}]},
        {"type": "heading", "attrs": {"level": 3},
         "content": [{"type": "text", "text": "Acceptance criteria"}]},
    ]}  # fmt: skip
    raws = {
        (1, "10042"): {"id": "10042", "key": "ABC-42", "fields": {
            "description": adf,
            "parent": {"key": "ABC-40", "fields": {"issuetype": {"name": "Epic"}}},
        }},
        (1, "10043"): {"id": "10043", "fields": {"description": None, "parent": {
            "key": "ABC-42", "fields": {"issuetype": {"name": "Story", "subtask": False}}}}},
        (2, "7"): {"id": "7", "fields": {
            "System.Description": "<div>As a shopper</div><h3>Notes</h3>",
            "Microsoft.VSTS.Common.AcceptanceCriteria": "<ul><li>PDF arrives</li></ul>",
        }},
        (2, "8"): {"id": "8", "fields": {
            "Microsoft.VSTS.Common.AcceptanceCriteria": "<div><br></div>"}},
        (3, "6a01"): {"id": "6a01", "fields": {"desc": "**AC**: works offline", "closed": False}},
        (4, "x1"): {"id": "x1", "fields": {"description": "a plug-in's"}},
    }  # fmt: skip
    sources = sa.table(
        "sources", sa.column("id"), sa.column("name"), sa.column("kind"), sa.column("created_at")
    )
    items = sa.table(
        "work_items",
        *(sa.column(c) for c in ("id", "source_id", "external_id", "key", "url", "title")),
        *(sa.column(c) for c in ("item_type", "raw_type", "status", "status_category", "stage")),
        *(sa.column(c) for c in ("project", "flagged", "created", "updated", "content_hash")),
        sa.column("labels", sa.JSON),
        sa.column("synced_at"),
    )
    raw_records = sa.table(
        "raw_records",
        *(sa.column(c) for c in ("source_id", "external_id", "payload", "fetched_at")),
    )
    try:
        upgrade(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                sa.insert(sources),
                [
                    {"id": n, "name": f"s{n}", "kind": kind, "created_at": T0}
                    for n, kind in ((1, "jira"), (2, "azure_devops"), (3, "trello"), (4, "plug"))
                ],
            )
            keys = [*raws, (2, "9")]  # ADO item 9: no raw payload
            same = {
                "url": "u", "title": "t", "item_type": "story", "raw_type": "Story",
                "status": "To Do", "status_category": "new", "stage": "todo", "project": "P",
                "labels": [], "flagged": False, "created": T0, "updated": T0,
                "content_hash": "h", "synced_at": T0,
            }  # fmt: skip
            conn.execute(
                sa.insert(items),
                [
                    {"id": n, "source_id": source, "external_id": ext, "key": ext, **same}
                    for n, (source, ext) in enumerate(keys, start=1)
                ],
            )
            conn.execute(
                sa.insert(raw_records),
                [
                    {"source_id": s, "external_id": e, "payload": compress_raw(r), "fetched_at": T0}
                    for (s, e), r in raws.items()
                ],
            )
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    WorkItemRow.source_id,
                    WorkItemRow.external_id,
                    WorkItemRow.description,
                    WorkItemRow.acceptance_criteria,
                    WorkItemRow.parent_type,
                    WorkItemRow.checklist,
                ).order_by(WorkItemRow.id)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, "10042", "As a PMO, I want X\nh3. Acceptance criteria", None, "epic", []),
        (1, "10043", None, None, "story", []),
        (2, "7", "As a shopper\nh3. Notes", "* PDF arrives", None, []),
        (2, "8", None, None, None, []),
        (3, "6a01", "**AC**: works offline", None, None, []),
        (4, "x1", None, None, None, []),
        (2, "9", None, None, None, []),
    ]


def test_session_factory_reads_and_writes(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(SourceRow(name="s", kind="jira", base_url=None, created_at=T0))
    with sessions() as session:
        source = session.query(SourceRow).one()
    assert (source.name, source.created_at) == ("s", T0)  # usable after the session closed


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "pmo.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}
        assert db.parent.is_dir()
        assert engine.echo is False
    finally:
        engine.dispose()


def test_migrations_resolve_from_the_package() -> None:
    location = Path(alembic_config().get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert (location / "versions" / "0001_initial.py").is_file()
