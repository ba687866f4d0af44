"""吹哨报到: departments summoned to an incident, and their check-ins

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 22:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_whistle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("called_by_unit_id", sa.Integer(), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"],
                                name=op.f("fk_incident_whistle_incident_id_incident")),
        sa.ForeignKeyConstraint(["unit_id"], ["department.id"],
                                name=op.f("fk_incident_whistle_unit_id_department")),
        sa.ForeignKeyConstraint(["called_by_unit_id"], ["department.id"],
                                name=op.f("fk_incident_whistle_called_by_unit_id_department")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_whistle")),
    )  # fmt: skip
    op.create_index(op.f("ix_incident_whistle_incident_id"), "incident_whistle", ["incident_id"])
    op.create_index(op.f("ix_incident_whistle_unit_id"), "incident_whistle", ["unit_id"])


def downgrade() -> None:
    op.drop_table("incident_whistle")
