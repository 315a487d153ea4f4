"""sources.census_owed_at/_reason: a census a sync owes, saved with the bookmark that passed
its cause (a deletion seen, an item gone from scope) and cleared by the census that pays it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("census_owed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("census_owed_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("census_owed_reason")
        batch_op.drop_column("census_owed_at")
