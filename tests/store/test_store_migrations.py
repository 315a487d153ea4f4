"""Engine set-up and migrations: the migrated schema is exactly the models'."""

from __future__ import annotations

from pathlib import Path

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
from pmo_sync.store.models import Base, SourceRow

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
