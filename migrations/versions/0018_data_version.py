"""A per-source data version the store bumps on every change, and the KPI refresh's mark.

Issue 18: a service cycle whose sync loaded nothing must not recompute the portfolio. The
refresh needs to know, in one cheap read, whether anything it reads changed since it last
ran. `sources.data_version` is that: database triggers add one to it whenever a row of the
tables the refresh reads from the tracker's side (work items, whose satellite rows — changes,
sprint stays, links, releases — change only with their item's row; sprints; statuses;
releases; teams) is inserted, updated or deleted, whichever code path wrote it (a sync, a
census, a re-conversion, a `pmo-sync db` command). Triggers rather than the Store's write
methods, so a write path added later cannot forget to bump it.

SQLite runs a row-level trigger per written row (one primary-key update of `sources`, a few
microseconds: under 1% of a sync's load); PostgreSQL a statement-level trigger over the
transition table, once per statement. Only rows that really changed are written by the
loaders (content hashes), so an unchanged sync bumps nothing; an update of a work item's
bookkeeping alone (`BOOKKEEPING`: the echo of pmo-sync's own write-back) bumps nothing either.

`refresh_marks` keeps what the last complete refresh saw: the data versions, the day and a
digest of the configuration it ran with (`pmo_sync.evaluation.marks`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("work_items", "sprints", "workflow_statuses", "releases", "teams")
_BUMP = "UPDATE sources SET data_version = data_version + 1"
BOOKKEEPING = ("updated", "revision", "synced_at")
"""Work item columns a write changes without changing what a refresh reads: the tracker's
`updated` stamp and revision move with every write, pmo-sync's own write-back included (whose
echo the next sync stores), and the refresh reads the item's last activity, which leaves the
bot's writes out. An update of these alone does not bump the version."""
_WORK_ITEM_COLUMNS = (
    "id", "source_id", "external_id", "key", "url", "title", "item_type", "raw_type", "status",
    "status_category", "stage", "project", "team", "assignee", "estimate", "parent_key",
    "labels", "flagged", "created", "updated", "resolved", "last_activity", "revision",
    "archived", "description", "acceptance_criteria", "parent_type", "checklist", "level",
    "start_date", "due_date", "target_start", "target_end", "priority", "rank", "components",
    "area_path", "deleted_at", "content_hash", "synced_at",
)  # fmt: skip
"""The table's columns at this revision (a migration must not read today's model)."""


def _sqlite_triggers() -> list[str]:
    statements = []
    watched = ", ".join(f'"{c}"' for c in _WORK_ITEM_COLUMNS if c not in BOOKKEEPING)
    for table in TRACKED:
        for event, rows in (
            ("INSERT", "NEW.source_id"),
            ("UPDATE", "NEW.source_id, OLD.source_id"),
            ("DELETE", "OLD.source_id"),
        ):
            what = f"UPDATE OF {watched}" if table == "work_items" and event == "UPDATE" else event
            statements.append(
                f"CREATE TRIGGER trg_{table}_{event.lower()}_data_version AFTER {what} "
                f"ON {table} FOR EACH ROW BEGIN {_BUMP} WHERE id IN ({rows}); END"
            )
    return statements


def _postgres_triggers() -> list[str]:
    statements = [
        "CREATE FUNCTION pmo_data_version_new() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_BUMP} WHERE id IN (SELECT DISTINCT source_id FROM new_rows); RETURN NULL; END $$",
        "CREATE FUNCTION pmo_data_version_old() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_BUMP} WHERE id IN (SELECT DISTINCT source_id FROM old_rows); RETURN NULL; END $$",
        "CREATE FUNCTION pmo_data_version_both() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_BUMP} WHERE id IN (SELECT source_id FROM new_rows UNION SELECT source_id FROM "
        "old_rows); RETURN NULL; END $$",
        # work items: only rows whose columns other than the bookkeeping ones changed
        "CREATE FUNCTION pmo_data_version_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_BUMP} WHERE id IN (SELECT n.source_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
        f"WHERE (to_jsonb(n) - '{{{','.join(BOOKKEEPING)}}}'::text[]) IS DISTINCT FROM "
        f"(to_jsonb(o) - '{{{','.join(BOOKKEEPING)}}}'::text[])); RETURN NULL; END $$",
    ]
    for table in TRACKED:
        for event, referencing, function in (
            ("INSERT", "NEW TABLE AS new_rows", "new"),
            ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows", "both"),
            ("DELETE", "OLD TABLE AS old_rows", "old"),
        ):
            if table == "work_items" and event == "UPDATE":
                function = "items"
            statements.append(
                f"CREATE TRIGGER trg_{table}_{event.lower()}_data_version AFTER {event} "
                f"ON {table} REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION pmo_data_version_{function}()"
            )
    return statements


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column("data_version", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "refresh_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("data_versions", sa.JSON(), nullable=False),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_refresh_marks_name"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _postgres_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TRACKED:
        for event in ("insert", "update", "delete"):
            name = f"trg_{table}_{event}_data_version"
            op.execute(
                f"DROP TRIGGER {name} ON {table}"
                if dialect == "postgresql"
                else f"DROP TRIGGER {name}"
            )
    if dialect == "postgresql":
        for function in ("new", "old", "both", "items"):
            op.execute(f"DROP FUNCTION pmo_data_version_{function}()")
    op.drop_table("refresh_marks")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("data_version")
