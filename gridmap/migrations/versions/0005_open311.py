"""open311: registered clients, media URLs, the source client of a report, service groups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the public group of each category on the citizen port (services.json "group")
GROUPS = {
    "矛盾纠纷": ("labour", "neighbour", "marriage_family", "land_forest", "property_housing",
                 "construction", "traffic", "consumer", "medical"),
    "安全隐患": ("safety_hazard", "public_order"),
    "城市管理": ("road_damage", "environment"),
    "群众诉求": ("petition", "legal_consultation", "psychological"),
}  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("name", name=op.f("uq_api_client_name")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_client_key_sha256")),
    )  # fmt: skip
    op.add_column("incident", sa.Column("media_url", sa.String(length=500), nullable=True))
    op.add_column("incident", sa.Column("api_client_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_incident_api_client_id_api_client"), "incident", "api_client",
        ["api_client_id"], ["id"],
    )  # fmt: skip
    op.add_column("routing_rule", sa.Column("service_group", sa.String(length=40), nullable=True))
    for group, categories in GROUPS.items():
        op.execute(
            sa.text("UPDATE routing_rule SET service_group = :g WHERE category = ANY(:c)")
            .bindparams(g=group, c=list(categories))
        )  # fmt: skip
    op.create_index("ix_building_address", "building", ["address"])


def downgrade() -> None:
    op.drop_index("ix_building_address", table_name="building")
    op.drop_column("routing_rule", "service_group")
    op.drop_constraint(op.f("fk_incident_api_client_id_api_client"), "incident")
    op.drop_column("incident", "api_client_id")
    op.drop_column("incident", "media_url")
    op.drop_table("api_client")
