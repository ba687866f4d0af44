"""Maps: a covering index for counting incidents per cell with an index-only scan.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incident_map",
        "incident",
        ["grid_code", "status"],
        postgresql_ops={"grid_code": "text_pattern_ops"},
        postgresql_include=[
            "sign_due_at",
            "resolve_due_at",
            "reported_at",
            "category",
            "channel",
            "unit_id",
            "created_by_id",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_incident_map", table_name="incident")
