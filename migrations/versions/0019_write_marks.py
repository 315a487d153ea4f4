"""A token each save of a table writes, so a process that keeps a copy knows it is current.

Issue 18: the service's refresh compares the values it computed with the stored ones. Reading
back every stored value (half a million at 100,000 items) each cycle costs more than computing
what changed. The service keeps what it saved instead (`pmo_sync.store.kpis.KeptValues`), and
`write_marks` tells it whether anyone wrote the table since: every save of the table writes a
new random token for it in the same transaction; a copy whose token is the stored one is the
table as it is. A CLI refresh, another replica, or a save that failed after its writes
(the token goes with them, or not at all) all leave a token the copy does not hold.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "write_marks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("write_marks")
