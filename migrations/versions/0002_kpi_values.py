"""KPI values: one row per metric, scope, key and window, recomputed after each sync.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("scope_key", sa.String(length=300), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.Column("window", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("metric", "scope", "scope_key", "window", name="uq_kpi_values_key"),
    )
    with op.batch_alter_table("kpi_values", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_values_scope", ["scope", "scope_key"], unique=False)
        batch_op.create_index("ix_kpi_values_team", ["team"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kpi_values", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_values_team")
        batch_op.drop_index("ix_kpi_values_scope")

    op.drop_table("kpi_values")
