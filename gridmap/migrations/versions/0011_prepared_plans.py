"""Prepared plans: sparse per-plan assignments and the marks they were computed at

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plan", sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("plan", sa.Column("prepared_against", sa.Integer(), nullable=True))
    op.add_column("plan", sa.Column("prepared_digest", sa.String(length=32), nullable=True))
    op.add_column(
        "plan",
        sa.Column("prepared_marks", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        "plan_assignment",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("item_table", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "item_table", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("plan_assignment")
    for column in ("prepared_marks", "prepared_digest", "prepared_against", "prepared_at"):
        op.drop_column("plan", column)
