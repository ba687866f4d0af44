"""The organisation: centre profiles (六有) and stationed windows; category groups as data

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the groups a fresh database starts with (the seed loads the same from seed_data/units.py)
GROUPS = [
    ("dispute", "纠纷化解", "Dispute resolution"),
    ("petition", "信访诉求", "Petitions and appeals"),
    ("complaint", "投诉举报", "Complaints and reports"),
    ("legal", "法律咨询", "Legal advice"),
    ("psychological", "心理服务", "Psychological services"),
    ("hazard", "安全隐患", "Safety hazards"),
    ("city", "城市管理", "City management"),
]
MEMBERS = {
    "petition": ("petition",),
    "complaint": ("environment", "complaint"),
    "legal": ("legal_consultation",),
    "psychological": ("psychological",),
    "hazard": ("safety_hazard", "public_order"),
    "city": ("road_damage",),
}
# the old Open311 groups, for a downgrade
OLD = {"dispute": "矛盾纠纷", "hazard": "安全隐患", "city": "城市管理", "complaint": "城市管理",
       "petition": "群众诉求", "legal": "群众诉求", "psychological": "群众诉求"}  # fmt: skip


def upgrade() -> None:
    group = op.create_table(
        "category_group",
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_category_group")),
    )
    op.bulk_insert(
        group, [{"code": c, "name": n, "name_en": e, "position": i}
                for i, (c, n, e) in enumerate(GROUPS, 1)],
    )  # fmt: skip
    op.add_column("routing_rule", sa.Column("group_code", sa.String(30), nullable=True))
    op.execute(
        "UPDATE routing_rule SET group_code = CASE WHEN is_dispute THEN 'dispute' "
        "ELSE 'complaint' END"
    )
    for code, categories in MEMBERS.items():
        op.execute(
            sa.text("UPDATE routing_rule SET group_code = :g WHERE category = ANY(:c)")
            .bindparams(g=code, c=list(categories))
        )  # fmt: skip
    op.alter_column("routing_rule", "group_code", nullable=False)
    op.create_foreign_key(
        op.f("fk_routing_rule_group_code_category_group"), "routing_rule", "category_group",
        ["group_code"], ["code"],
    )  # fmt: skip
    op.create_index(op.f("ix_routing_rule_group_code"), "routing_rule", ["group_code"])
    op.drop_column("routing_rule", "service_group")

    op.create_table(
        "centre_profile",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.Integer(), nullable=True),
        sa.Column("premises_m2", sa.Integer(), nullable=True),
        sa.Column("duties", sa.Text(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("funding_yuan", sa.BigInteger(), nullable=True),
        sa.Column("platform", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "staff >= 0 AND premises_m2 >= 0 AND funding_yuan >= 0",
            name=op.f("ck_centre_profile_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], ondelete="CASCADE",
            name=op.f("fk_centre_profile_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("department_id", name=op.f("pk_centre_profile")),
    )  # fmt: skip
    op.create_table(
        "centre_window",
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.CheckConstraint("centre_id <> department_id", name=op.f("ck_centre_window_not_itself")),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["department.id"], ondelete="CASCADE",
            name=op.f("fk_centre_window_centre_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], ondelete="CASCADE",
            name=op.f("fk_centre_window_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("centre_id", "department_id", name=op.f("pk_centre_window")),
    )  # fmt: skip
    op.create_index(op.f("ix_centre_window_department_id"), "centre_window", ["department_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_centre_window_department_id"), table_name="centre_window")
    op.drop_table("centre_window")
    op.drop_table("centre_profile")
    op.add_column("routing_rule", sa.Column("service_group", sa.String(40), nullable=True))
    for code, name in OLD.items():
        op.execute(
            sa.text("UPDATE routing_rule SET service_group = :n WHERE group_code = :g")
            .bindparams(n=name, g=code)
        )  # fmt: skip
    op.drop_index(op.f("ix_routing_rule_group_code"), table_name="routing_rule")
    op.drop_constraint(op.f("fk_routing_rule_group_code_category_group"), "routing_rule")
    op.drop_column("routing_rule", "group_code")
    op.drop_table("category_group")
