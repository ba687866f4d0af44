"""supervision (督办): who supervises, the new deadline, the holder's answer

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incident", sa.Column("supervised_at", sa.DateTime(timezone=True)))
    op.add_column("incident", sa.Column("supervised_by_id", sa.Integer()))
    op.add_column("incident", sa.Column("supervision_due_at", sa.DateTime(timezone=True)))
    op.add_column("incident", sa.Column("supervision_answered_at", sa.DateTime(timezone=True)))
    op.create_foreign_key(
        op.f("fk_incident_supervised_by_id_department"), "incident", "department",
        ["supervised_by_id"], ["id"],
    )  # fmt: skip
    # supervisions recorded before: when they happened, from their events
    op.execute(
        "UPDATE incident i SET supervised_at = e.at FROM (SELECT incident_id, max(at) AS at "
        "FROM incident_event WHERE action = 'supervise' GROUP BY incident_id) e "
        "WHERE e.incident_id = i.id"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_incident_supervised_by_id_department"), "incident")
    for column in ("supervision_answered_at", "supervision_due_at", "supervised_by_id",
                   "supervised_at"):  # fmt: skip
        op.drop_column("incident", column)
