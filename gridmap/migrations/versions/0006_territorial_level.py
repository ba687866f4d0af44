"""routing: the level a territorial (属地) category goes to

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVEL = postgresql.ENUM(name="area_level", create_type=False)


def upgrade() -> None:
    op.add_column("routing_rule", sa.Column("territorial_level", LEVEL, nullable=True))
    # the county command platform hands territorial matters to the township (the source)
    op.execute("UPDATE routing_rule SET territorial_level = 'township' WHERE mode = 'territorial'")
    op.create_check_constraint(
        op.f("ck_routing_rule_territorial_level"), "routing_rule",
        "(mode = 'territorial') = (territorial_level IS NOT NULL) "
        "AND territorial_level IS DISTINCT FROM 'grid' AND territorial_level IS DISTINCT FROM 'city'",
    )  # fmt: skip


def downgrade() -> None:
    op.drop_constraint(op.f("ck_routing_rule_territorial_level"), "routing_rule")
    op.drop_column("routing_rule", "territorial_level")
