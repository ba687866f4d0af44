"""The mediator role (调解员), attached to a governance centre

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:10:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'mediator' AFTER 'department_handler'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: mediators become department handlers of their
    # centre (same unit, same incidents) and the value stays, unused
    op.execute("UPDATE app_user SET role = 'department_handler' WHERE role = 'mediator'")
