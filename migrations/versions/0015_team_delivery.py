"""Table teams: each source's teams with the delivery method their tracker says (issue 16).

A team is still named by its items (`work_items.team`); this table adds what the tracker's
board says of how it works: `scrum` or `kanban` (`pmo_sync.domain.TeamRecord`). portfolio.yaml's
`delivery:` (`traditional`, or a correction) is applied when the teams are read, so a change
of that file needs no sync. Nothing is filled here: the connectors describe their teams on
the next sync, from metadata they already read (no call is added).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "name", name="uq_teams_source_name"),
    )


def downgrade() -> None:
    op.drop_table("teams")
