"""Hand edits of drafts: a draft's balance rule and locks, its blocks, its edit log

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-08 00:10:00

The planner's studio moves blocks between the cells of a draft (issue 28):
``plan_draft`` keeps the draft's target, tolerance and locked cells, ``plan_block`` the
blocks and the cell each belongs to, ``plan_edit`` every edit (who, when, the block, from
and to, both cells' outlines before and after for an exact undo).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _multipolygon() -> Geometry:
    return Geometry(
        geometry_type="MULTIPOLYGON", srid=4326, dimension=2, spatial_index=False,
        from_text="ST_GeomFromEWKT", name="geometry",
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "plan_draft",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=12), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("tolerance", sa.Float(), nullable=False),
        sa.Column("locked", postgresql.ARRAY(sa.String(length=15)), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_draft_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plan_draft")),
    )
    op.create_table(
        "plan_block",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.String(length=24), nullable=False),
        sa.Column("cell", sa.String(length=15), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("geom", _multipolygon(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_block_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("plan_id", "block_id", name=op.f("pk_plan_block")),
    )
    op.create_index("ix_plan_block_plan_id_cell", "plan_block", ["plan_id", "cell"])
    op.create_table(
        "plan_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("block_id", sa.String(length=24), nullable=True),
        sa.Column("from_cell", sa.String(length=15), nullable=True),
        sa.Column("to_cell", sa.String(length=15), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("from_before", _multipolygon(), nullable=True),
        sa.Column("to_before", _multipolygon(), nullable=True),
        sa.Column("from_after", _multipolygon(), nullable=True),
        sa.Column("to_after", _multipolygon(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_edit_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_plan_edit_user_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_edit")),
    )
    op.create_index("ix_plan_edit_plan_id_id", "plan_edit", ["plan_id", "id"])


def downgrade() -> None:
    op.drop_table("plan_edit")
    op.drop_table("plan_block")
    op.drop_table("plan_draft")
