"""sources.converted_version: which conversion a source's stored items have been through.

A store filled before the portfolio facts (0012) holds raw payloads those facts can be
re-converted from, offline, but only with the connector's config at hand, which a
migration has not: `pmo-sync db upgrade` (with the connector files) and otherwise the
connector's next sync do it (`pmo_sync.store.reconvert`) and record here that they did.
Every source present when this runs starts at NULL (not yet re-converted), so each is
re-converted once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("converted_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("converted_version")
