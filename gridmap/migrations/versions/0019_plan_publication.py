"""A plan's publication: the progress of its switch and of the registry catching up

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:10:00

``plan.publication`` (JSONB) records, for the plan activated last, the stages prepare →
switch → follow with their times and, per registry table, the rows to do and done, so
the API and the studio can show how far the registry has caught up, and an interrupted
catch-up can be found and finished (gridmap.plans.service.follow).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "plan", sa.Column("publication", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("plan", "publication")
