"""Where an item sits beside its labels: work_items.components (Jira) and area_path (Azure
DevOps), what a strategic theme in portfolio.yaml matches (issue 16).

Nothing is filled here: the connectors fill each item when they next emit it (the content
hash covers both, `HASH_VERSION` 7, so the first sync after the upgrade counts every item it
emits as updated once; `pmo-sync sync --full` fills and counts them all at once). An upgraded
store keeps every row it held, with no components and no area path until then.

`components` is a JSON list like `labels` (`[]` for the rows already there); `area_path` is
text: an area path is a chain of node names with no length the service promises to keep short.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("components", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("area_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("area_path")
        batch_op.drop_column("components")
