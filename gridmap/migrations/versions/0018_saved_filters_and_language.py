"""Saved work-queue filters, and each user's language

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:10:00

The workbench keeps a user's filters (``saved_filter``: a name, the query string of
``GET /incidents``, shared with the owner's centre or unit, one default per user) and the
language the user chose on screen (``app_user.lang``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "app_user", sa.Column("lang", sa.String(length=2), server_default="zh", nullable=False)
    )
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("team", sa.String(length=60), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["app_user.id"],
            name=op.f("fk_saved_filter_owner_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filter")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_filter_owner_id_name")),
    )
    op.create_index(op.f("ix_saved_filter_owner_id"), "saved_filter", ["owner_id"])
    op.create_index(
        "uq_saved_filter_default",
        "saved_filter",
        ["owner_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index(
        "ix_saved_filter_team", "saved_filter", ["team"], postgresql_where=sa.text("shared")
    )


def downgrade() -> None:
    op.drop_table("saved_filter")
    op.drop_column("app_user", "lang")
