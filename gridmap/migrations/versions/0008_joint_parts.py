"""joint handling (联办): each co-unit signs for and records its part

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 21:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incident_unit", sa.Column("signed_at", sa.DateTime(timezone=True)))
    op.add_column("incident_unit", sa.Column("done_at", sa.DateTime(timezone=True)))
    op.add_column("incident_unit", sa.Column("part_note", sa.Text()))


def downgrade() -> None:
    for column in ("part_note", "done_at", "signed_at"):
        op.drop_column("incident_unit", column)
