"""Hardening: token versions, audit reasons, shared rate-limit counters, idempotency per user,
photo metadata kept as data.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "app_user", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("audit_log", sa.Column("reason", sa.Text(), nullable=True))
    op.create_table(
        "rate_limit",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit")),
        prefixes=["UNLOGGED"],
    )
    op.create_index(op.f("ix_rate_limit_expires_at"), "rate_limit", ["expires_at"])
    op.alter_column(
        "incident",
        "idempotency_key",
        type_=sa.String(length=120),
        existing_type=sa.String(length=100),
    )
    op.add_column("incident", sa.Column("idempotency_hash", sa.String(length=64), nullable=True))
    for name, kind in (
        ("width", sa.Integer()),
        ("height", sa.Integer()),
        ("gps_lon", sa.Float()),
        ("gps_lat", sa.Float()),
        ("taken_at", sa.DateTime(timezone=True)),
        ("created_by_id", sa.Integer()),
    ):
        op.add_column("incident_photo", sa.Column(name, kind, nullable=True))
    op.create_foreign_key(
        op.f("fk_incident_photo_created_by_id_app_user"),
        "incident_photo",
        "app_user",
        ["created_by_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_incident_photo_created_by_id_app_user"), "incident_photo", type_="foreignkey"
    )
    for name in ("created_by_id", "taken_at", "gps_lat", "gps_lon", "height", "width"):
        op.drop_column("incident_photo", name)
    op.drop_column("incident", "idempotency_hash")
    op.alter_column(
        "incident",
        "idempotency_key",
        type_=sa.String(length=100),
        existing_type=sa.String(length=120),
    )
    op.drop_index(op.f("ix_rate_limit_expires_at"), table_name="rate_limit")
    op.drop_table("rate_limit")
    op.drop_column("audit_log", "reason")
    op.drop_column("app_user", "password_changed_at")
    op.drop_column("app_user", "token_version")
