"""service_cycles.run_kind: what ran, so `status` shows manual runs beside `serve`'s cycles.

`cycle` is a `pmo-sync serve` cycle (every row before this revision); `sync` and
`push` are the commands run by hand, recorded in the same table since this revision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_cycles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("run_kind", sa.String(length=10), nullable=False, server_default="cycle")
        )


def downgrade() -> None:
    with op.batch_alter_table("service_cycles", schema=None) as batch_op:
        batch_op.drop_column("run_kind")
