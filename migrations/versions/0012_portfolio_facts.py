"""The portfolio facts: work_items.level, start_date, due_date, target_start, target_end,
priority, rank; tables item_links, releases and item_releases (issue 16).

Nothing is filled here: the connectors that read these facts from the trackers come next,
and they fill each item when they next emit it. The content hash covers the new values
(`HASH_VERSION` 6), so the first sync after the upgrade counts every item it emits as
updated once (`pmo-sync sync --full` fills and counts them all at once); an upgraded
store keeps every row it held, with the new columns empty and the new tables empty.

Dates are SQL DATE on both databases: trackers keep these as days, without a time.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _source_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE")


def _item_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["item_id"], ["work_items.id"], ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("start_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("target_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("target_end", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("rank", sa.String(length=200), nullable=True))

    op.create_table(
        "item_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("target_key", sa.String(length=100), nullable=False),
        sa.Column("target_external_id", sa.String(length=100), nullable=True),
        _item_fk(),
        _source_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "item_id", "link_type", "direction", "target_key", name="uq_item_links_link"
        ),
    )
    op.create_index("ix_item_links_target_key", "item_links", ["target_key"])

    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("project", sa.String(length=100), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        _source_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "external_id", name="uq_releases_source_external"),
    )

    op.create_table(
        "item_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("release_external_id", sa.String(length=100), nullable=False),
        _item_fk(),
        _source_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "release_external_id", name="uq_item_releases_item_release"),
    )
    op.create_index(
        "ix_item_releases_source_release", "item_releases", ["source_id", "release_external_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_item_releases_source_release", table_name="item_releases")
    op.drop_table("item_releases")
    op.drop_table("releases")
    op.drop_index("ix_item_links_target_key", table_name="item_links")
    op.drop_table("item_links")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("rank")
        batch_op.drop_column("priority")
        batch_op.drop_column("target_end")
        batch_op.drop_column("target_start")
        batch_op.drop_column("due_date")
        batch_op.drop_column("start_date")
        batch_op.drop_column("level")
