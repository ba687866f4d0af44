"""Reminders: notifications addressed to units, read/unread per user

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("due_soon", "overdue", "supervised", "whistle", "check_in_late", "returned")


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["department.id"], name=op.f("fk_notification_unit_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_notification_incident_id_incident")
        ),
        sa.UniqueConstraint("unit_id", "incident_id", "kind", "at", name="uq_notification_once"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
            name=op.f("ck_notification_kind_known"),
        ),
    )
    op.create_index(op.f("ix_notification_incident_id"), "notification", ["incident_id"])
    op.create_index("ix_notification_inbox", "notification", ["unit_id", "id"])
    op.create_table(
        "notification_read",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", "user_id", name=op.f("pk_notification_read")),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            ondelete="CASCADE",
            name=op.f("fk_notification_read_notification_id_notification"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_notification_read_user_id_app_user")
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_read")
    op.drop_table("notification")
