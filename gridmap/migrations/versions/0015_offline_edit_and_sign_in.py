"""Offline edits' ids recorded with their kind, target and content; sign-in failures per address

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the ids already used, so a phone's retry across the upgrade is still a replay; their
# content was not kept (digest NULL: matched on kind and target). An id used both for a
# visit and for a registry edit keeps its first use.
BACKFILL = """
INSERT INTO offline_edit (actor_id, client_id, kind, target_id, digest, object_type, object_id,
                          event_id, grid_code, at)
SELECT actor_id, client_id, kind, target_id, NULL, object_type, object_id, event_id, grid_code, at
FROM (
    SELECT actor_id, client_id,
           CASE WHEN action LIKE 'person\\_%' THEN 'set_person_status' ELSE action END AS kind,
           CASE action
               WHEN 'register_household' THEN NULL
               WHEN 'register_person' THEN (after ->> 'household_id')::integer
               ELSE object_id END AS target_id,
           object_type, object_id, id AS event_id, grid_code, at
    FROM registry_event WHERE client_id IS NOT NULL AND actor_id IS NOT NULL
    UNION ALL
    SELECT actor_id, client_id, 'visit', household_id, 'visit', id, NULL, grid_code, created_at
    FROM visit WHERE client_id IS NOT NULL AND actor_id IS NOT NULL
) used
ORDER BY at
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.create_table(
        "offline_edit",
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_offline_edit_actor_id_app_user")
        ),
        sa.PrimaryKeyConstraint("actor_id", "client_id", name=op.f("pk_offline_edit")),
    )
    op.execute(BACKFILL)
    op.create_table(
        "sign_in_failure",
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "address", name=op.f("pk_sign_in_failure")),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sign_in_failure_account_last_at", "sign_in_failure", ["account", "last_at"])


def downgrade() -> None:
    op.drop_table("sign_in_failure")
    op.drop_table("offline_edit")
