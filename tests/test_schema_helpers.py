"""The test stores' template (tests/schema_helpers.py): a store `migrated_engine` makes from
this process's template is, on each database, the store Alembic's migrations make."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, inspect, text

from .schema_helpers import migrated_by_alembic, migrated_engine, postgres_schema


def _schema_of(engine: Engine) -> dict[str, Any]:
    """Everything the schema is made of, in a form to compare with `==`."""
    found = inspect(engine)
    tables: dict[str, Any] = {}
    for table in sorted(found.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in found.get_columns(table)
            ],
            "primary key": found.get_pk_constraint(table),
            "foreign keys": sorted(map(repr, found.get_foreign_keys(table))),
            "indexes": sorted(map(repr, found.get_indexes(table))),
            "unique": sorted(map(repr, found.get_unique_constraints(table))),
            "checks": sorted(map(repr, found.get_check_constraints(table))),
        }
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        if engine.dialect.name == "sqlite":
            ddl = conn.execute(
                text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            ).all()
        else:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            ddl = [
                tuple(re.sub(re.escape(schema), "SCHEMA", str(v)) for v in row)
                for row in conn.execute(
                    text(
                        "SELECT c.relkind, c.relname, pg_get_indexdef(c.oid) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = current_schema() ORDER BY c.relkind, c.relname"
                    )
                )
            ]
            ddl += [
                tuple(str(v) for v in row)
                for row in conn.execute(
                    text(
                        "SELECT t.typname, e.enumlabel FROM pg_type t"
                        " JOIN pg_namespace n ON n.oid = t.typnamespace"
                        " LEFT JOIN pg_enum e ON e.enumtypid = t.oid"
                        " WHERE n.nspname = current_schema() ORDER BY 1, e.enumsortorder"
                    )
                )
            ]
    return {"tables": tables, "version": version, "ddl": ddl}


def _second_url(store_url: str, tmp_path: Path, name: str) -> str:
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / name / 'pmo.db'}"
    base, _, options = store_url.partition("?options=")
    schema = unquote(options).removeprefix("-csearch_path=") + f"_{name}"
    return f"{base}?options={quote(f'-csearch_path={schema}')}"


def test_a_store_from_the_template_is_the_store_the_migrations_make(
    store_url: str, tmp_path: Path
) -> None:
    """The first store of a process (Alembic's, kept as the template), a later one (the
    template's) and one migrated by Alembic alone: the same tables, columns, keys, indexes,
    constraints and revision."""
    urls = [_second_url(store_url, tmp_path, name) for name in ("first", "alembic")]
    libpq = store_url.partition("?")[0].replace("postgresql+psycopg://", "postgresql://", 1)
    with ExitStack() as stack:
        if not store_url.startswith("sqlite"):
            for url in urls:
                schema = unquote(url.partition("?options=")[2]).removeprefix("-csearch_path=")
                assert re.fullmatch(r"t_[0-9a-f]{16}_(first|alembic)", schema)
                stack.enter_context(postgres_schema(libpq, schema))
        engines = [
            migrated_engine(urls[0]),  # makes the template, unless this process has one
            migrated_engine(store_url),
            migrated_by_alembic(urls[1]),
        ]
        for engine in engines:
            stack.callback(engine.dispose)
        first, templated, alembic = engines
        expected = _schema_of(alembic)
        assert expected["tables"] and expected["version"]
        assert _schema_of(first) == expected
        assert _schema_of(templated) == expected


def test_an_existing_sqlite_store_is_migrated_by_alembic_not_overwritten(tmp_path: Path) -> None:
    """A file that exists already is never replaced by the template: its rows stay."""
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    migrated_engine(f"sqlite:///{tmp_path / 'other.db'}").dispose()
    engine = migrated_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE extra (x INTEGER)"))
        conn.execute(text("INSERT INTO extra VALUES (1)"))
    engine.dispose()
    again = migrated_engine(url)
    try:
        with again.connect() as conn:
            assert conn.execute(text("SELECT x FROM extra")).scalar_one() == 1
    finally:
        again.dispose()
