"""Read views of incidents: the API's shape, masking, history, duplicate hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.auth.models import AuditLog, User
from gridmap.errors import Forbidden
from gridmap.incidents.models import Incident, IncidentEvent
from gridmap.incidents.service import DISPATCHERS, Actor, is_overdue
from gridmap.incidents.workflow import allowed_actions
from gridmap.locate import UnitRef
from gridmap.privacy import mask
from gridmap.units.models import Department

DUPLICATE_RADIUS_M = 200
DUPLICATE_WINDOW = timedelta(days=7)


def read_model(
    session: Session,
    incident: Incident,
    actor: Actor | None,
    *,
    now: datetime | None = None,
    history: bool = False,
    unmasked: bool = False,
    duplicates: list[str] | None = None,
    units: dict[int, UnitRef] | None = None,
) -> dict[str, object]:
    """The API view of an incident. Unmasked reporter data only for dispatchers, audited.

    ``units`` (the locator's, by id) saves a query for the unit's code and name.
    """
    now = now or datetime.now(UTC)
    point = to_shape(incident.location)
    unit: UnitRef | Department | None = None
    if incident.unit_id is not None:
        unit = (units or {}).get(incident.unit_id) or session.get(Department, incident.unit_id)
    if unmasked:
        if actor is None or actor.role not in DISPATCHERS:
            raise Forbidden("only dispatchers may read reporters' contact details unmasked")
        session.add(
            AuditLog(
                user_id=actor.user_id,
                action="read_unmasked",
                object_type="incident",
                object_id=incident.code,
                detail={"fields": ["reporter_name", "reporter_phone"]},
            )
        )
        name, phone = incident.reporter_name, incident.reporter_phone
    else:
        name = mask(incident.reporter_name, "name")
        phone = mask(incident.reporter_phone, "phone")
    view: dict[str, object] = {
        **{
            c: getattr(incident, c)
            for c in (
                "id",
                "code",
                "category",
                "channel",
                "status",
                "title",
                "description",
                "reported_crs",
                "reported_lon",
                "reported_lat",
                "grid_code",
                "plan_id",
                "routing_reason",
                "people_involved",
                "outcome",
                "satisfaction",
                "supervised",
                "reported_at",
                "sign_due_at",
                "resolve_due_at",
                "signed_at",
                "resolved_at",
                "closed_at",
                "version",
            )
        },
        "lon": point.x,
        "lat": point.y,
        "unit_code": unit.code if unit else None,
        "unit_name": unit.name if unit else None,
        "reporter_name": name,
        "reporter_phone": phone,
        "overdue": is_overdue(incident, now),
        "allowed_actions": allowed_actions(incident.status),
        "possible_duplicates": duplicates,
    }
    if history:
        rows = session.execute(
            select(IncidentEvent, Department.code, User.username)
            .outerjoin(Department, Department.id == IncidentEvent.unit_id)
            .outerjoin(User, User.id == IncidentEvent.actor_id)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.id)
        ).all()
        view["history"] = [
            {
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "unit_code": unit_code,
                "actor": username,
                "note": e.note,
                "at": e.at,
            }
            for e, unit_code, username in rows
        ]
    return view


def nearby_duplicates(session: Session, incident: Incident) -> list[str]:
    """Open incidents of the same category within 200 m and 7 days: maybe the same problem."""
    rows = session.scalars(
        text(
            "SELECT code FROM incident WHERE id <> :id AND category = :cat "
            "AND status NOT IN ('closed', 'rejected') "
            "AND reported_at BETWEEN :t0 AND :t1 "
            "AND location && ST_Expand((SELECT location FROM incident WHERE id = :id), :deg) "
            "AND ST_DWithin(location::geography, "
            "(SELECT location FROM incident WHERE id = :id)::geography, :r) "
            "ORDER BY reported_at DESC LIMIT 10"
        ),
        {
            "id": incident.id,
            "cat": incident.category,
            "r": DUPLICATE_RADIUS_M,
            "deg": DUPLICATE_RADIUS_M / 100_000,  # a box the GiST index can use (≥ 200 m)
            "t0": incident.reported_at - DUPLICATE_WINDOW,
            "t1": incident.reported_at + DUPLICATE_WINDOW,
        },
    )
    return list(rows)
