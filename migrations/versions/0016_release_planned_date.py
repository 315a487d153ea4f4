"""Column releases.planned_date: the day a release was planned for, beside the day it shows.

Issue 17 asks whether a release shipped on or before its planned date and by how many days
it slipped. `release_date` is the one date a tracker shows: for a Jira version often moved
to the ship day once released, for Azure DevOps and Trello the config's released day once
out. `planned_date` keeps the plan (`pmo_sync.domain.ReleaseRecord.planned_date`).

Nothing is filled here: a stored release's plan is not in its row. The connectors give it
on the next sync (Azure DevOps and Trello from their config; Jira from the date it sees
while a version is not released, so a Jira version already released keeps None: unknown).
The releases' content hash now covers the column, so each stored release is rewritten once
by that sync.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("planned_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("planned_date")
