"""work_items indexes for the dashboard's lookups: an epic's children, an item by key alone,
the items of one type (the epics).

Without them, at 100k items, SQLite answers "the children of epic X", "the items with
these keys" (the team pages pair stored per-item values, keyed by the item's key, with
the items' columns) and "every epic" by scanning the whole table, and the epics page's
join of every child to its epic picks `ix_work_items_source_key` on `source_id` alone,
which one source makes a scan of the table per epic: minutes (`bench/pages.py`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_work_items_source_parent", "work_items", ["source_id", "parent_key"], unique=False
    )
    op.create_index("ix_work_items_key", "work_items", ["key"], unique=False)
    op.create_index("ix_work_items_type", "work_items", ["item_type"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_work_items_type", table_name="work_items")
    op.drop_index("ix_work_items_key", table_name="work_items")
    op.drop_index("ix_work_items_source_parent", table_name="work_items")
