"""Incidents found by the last digits of the reporter's phone

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:00:00

The workbench's ``phone_suffix`` filter (a caller rings again: "my number ends in 1234")
is a prefix search on the reversed number, as ``ix_person_id_suffix`` is for ID numbers,
with the place inside the index so a township's search reads only the township's rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incident_phone_suffix",
        "incident",
        [sa.func.reverse(sa.literal_column("reporter_phone")).label("phone_suffix"), "grid_code"],
        postgresql_ops={"phone_suffix": "text_pattern_ops", "grid_code": "text_pattern_ops"},
        postgresql_where=sa.text("reporter_phone IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incident_phone_suffix", table_name="incident")
