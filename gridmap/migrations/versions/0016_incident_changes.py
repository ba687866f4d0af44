"""Incident changes announced: a NOTIFY for every statement that adds incident events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:30:00

Every workflow action, intake included, appends to ``incident_event``; one statement-level
trigger announces the incidents it touched on channel ``gridmap_incident`` (delivered at
commit, never for a transaction that rolls back), so the workbench's live stream hears of
a change within milliseconds without polling. A statement of more than 200 events (a seed
load, an import) announces only that much changed: listeners reload.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION gridmap_incident_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    top integer;
    ids integer[];
BEGIN
    SELECT count(*), max(id) INTO n, top FROM added;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n <= 200 THEN
        SELECT array_agg(DISTINCT incident_id) INTO ids FROM added;
    END IF;
    PERFORM pg_notify('gridmap_incident',
                      json_build_object('event', top, 'incidents', ids)::text);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER incident_event_notify AFTER INSERT ON incident_event "
        "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
        "EXECUTE FUNCTION gridmap_incident_events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_event_notify ON incident_event")
    op.execute("DROP FUNCTION IF EXISTS gridmap_incident_events_notify()")
