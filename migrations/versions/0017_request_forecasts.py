"""Table request_forecasts: the dated history of each open request's forecast (issue 17).

`kpi_values` keeps each open request's latest forecast only; issue 17 asks for "the history
of its forecast (so a slip is visible)". The refresh adds a row when a request's forecast
differs from its latest row (`pmo_sync.store.forecast_history`). Nothing is filled here:
the history starts with the next refresh.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_forecasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("p50", sa.Date(), nullable=True),
        sa.Column("p85", sa.Date(), nullable=True),
        sa.Column("p95", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_probability", sa.Float(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "key", "made_on", name="uq_request_forecasts_day"),
    )


def downgrade() -> None:
    op.drop_table("request_forecasts")
