"""Read views of incidents: the API's shape, masking, history, duplicate hints."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from geoalchemy2.shape import to_shape
from sqlalchemy import and_, func, inspect, or_, select
from sqlalchemy.orm import Session

from gridmap.areas.codes import ancestors, city_of
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area
from gridmap.auth.models import User
from gridmap.calendar import WorkingCalendar
from gridmap.incidents.deadlines import is_overdue, time_left_hours
from gridmap.incidents.models import FINAL, Incident, IncidentEvent, IncidentUnit, IncidentWhistle
from gridmap.incidents.schemas import IncidentRead
from gridmap.incidents.service import allowed
from gridmap.locate import UnitRef
from gridmap.privacy import Kind, mask, mask_text
from gridmap.scope import Actor, incident_filter
from gridmap.units.models import Department

DUPLICATE_RADIUS_M = 200
DUPLICATE_WINDOW = timedelta(days=7)

# The personal data in an incident's row and how each is masked (gridmap/privacy.py): the
# API's view, the seed's export and the audit of an unmasked read all take it from here.
MASKED: dict[str, Kind | Literal["text"]] = {
    "reporter_name": "name",
    "reporter_phone": "phone",
    "title": "text",
    "description": "text",
    "media_url": "text",  # a phone may ride in its query
}
# What the view shows as stored: every field of IncidentRead that is a column of the table
# and holds no personal data (the others are computed below: place, unit, overdue, actions).
AS_STORED = tuple(
    name
    for name in IncidentRead.model_fields
    if name in inspect(Incident).column_attrs and name not in MASKED
)


def as_json(view: dict[str, object], fields: Iterable[str]) -> dict[str, Any]:
    """Some fields of the view as the API's JSON writes them (for files and offline packs)."""
    return IncidentRead.model_validate(view).model_dump(mode="json", include=set(fields))


def masked(value: str | None, kind: Kind | Literal["text"]) -> str | None:
    """One value of the view, masked by its kind (a field's rule, or free text)."""
    return mask_text(value) if kind == "text" else mask(value, kind)


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
    calendar: WorkingCalendar | None = None,
    areas: dict[tuple[str, int | None], list[dict[str, str]]] | None = None,
) -> dict[str, object]:
    """The API view of an incident, personal data masked unless ``unmasked``.

    The caller has checked and audited an unmasked read (``gridmap.audit``). ID numbers and
    phone numbers typed into the free text (title, description, media URL, event and joint
    units' notes) are masked like the structured fields (:func:`gridmap.privacy.mask_text`).
    ``allowed_actions`` lists what this reader may do now (state and role). ``units`` (the
    locator's, by id) saves a query for the unit's code and name. ``history`` (one incident's
    full view) adds its events, its whistles and its joint units: lists do without them.
    ``calendar`` adds ``time_left_hours`` (the working-day calendar's time left); ``areas``
    (:func:`area_paths`, one query for a page) the named areas it lies in.
    """
    now = now or datetime.now(UTC)
    point = to_shape(incident.location)
    unit: UnitRef | Department | None = None
    if incident.unit_id is not None:
        unit = (units or {}).get(incident.unit_id) or session.get(Department, incident.unit_id)
    text_of = _same if unmasked else mask_text
    view: dict[str, object] = {
        **{c: getattr(incident, c) for c in AS_STORED},
        **{
            c: getattr(incident, c) if unmasked else masked(getattr(incident, c), kind)
            for c, kind in MASKED.items()
        },
        "lon": point.x,
        "lat": point.y,
        "unit_code": unit.code if unit else None,
        "unit_name": unit.name if unit else None,
        "supervised_by": _unit_code(session, incident.supervised_by_id, units),
        "overdue": is_overdue(incident, now),
        "time_left_hours": time_left_hours(incident, now, calendar) if calendar else None,
        "allowed_actions": allowed(session, incident, actor) if actor is not None else [],
        "possible_duplicates": duplicates,
        "areas": (areas or {}).get((incident.grid_code or "", incident.plan_id), []),
    }
    if history:
        view["whistles"] = _whistles(session, incident, now)
        view["joint_units"] = [
            {"unit_code": code, "role": part.role, "signed_at": part.signed_at,
             "done_at": part.done_at, "part_note": text_of(part.part_note)}
            for part, code in session.execute(
                select(IncidentUnit, Department.code)
                .join(Department, Department.id == IncidentUnit.unit_id)
                .where(IncidentUnit.incident_id == incident.id)
                .order_by(IncidentUnit.role.desc(), Department.code)
            )
        ]  # fmt: skip
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
                "note": text_of(e.note),
                "at": e.at,
            }
            for e, unit_code, username in rows
        ]
    return view


def area_paths(
    session: Session, incidents: Iterable[Incident]
) -> dict[tuple[str, int | None], list[dict[str, str]]]:
    """The named areas each incident lies in, county to grid cell, in one query for all.

    Keyed by (grid code, plan): a cell is the one of the plan the incident was assigned
    under (plans are versioned; an old incident keeps its old cell's name).
    """
    cells = {(i.grid_code, i.plan_id) for i in incidents if i.grid_code}
    if not cells:
        return {}
    upper = {a for code, _ in cells for a in ancestors(code)} - {city_of(c) for c, _ in cells}
    rows = session.execute(
        select(Area.level, Area.code, Area.name, Area.plan_id).where(
            or_(
                and_(Area.code.in_(upper), Area.plan_id.is_(None)),
                and_(Area.code.in_({c for c, _ in cells}),
                     Area.plan_id.in_({p for _, p in cells if p is not None})),
            )
        )
    ).all()  # fmt: skip
    shared = {code: (level, name) for level, code, name, plan in rows if plan is None}
    own: dict[tuple[str, int | None], tuple[AreaLevel, str]] = {
        (code, plan): (level, name) for level, code, name, plan in rows if plan is not None
    }
    out: dict[tuple[str, int | None], list[dict[str, str]]] = {}
    for code, plan in cells:
        named = [(a, shared[a]) for a in reversed(ancestors(code)) if a in shared]
        if (code, plan) in own:
            named.append((code, own[(code, plan)]))
        out[(code, plan)] = [{"level": lvl.value, "code": c, "name": n} for c, (lvl, n) in named]
    return out


def _whistles(session: Session, incident: Incident, now: datetime) -> list[dict[str, object]]:
    rows = session.execute(
        select(IncidentWhistle, Department.code)
        .join(Department, Department.id == IncidentWhistle.unit_id)
        .where(IncidentWhistle.incident_id == incident.id)
        .order_by(IncidentWhistle.id)
    ).all()
    out: list[dict[str, object]] = []
    for w, code in rows:
        if w.checked_in_at is not None:
            on_time: bool | None = w.checked_in_at <= w.due_at
        else:
            on_time = False if now > w.due_at else None
        out.append({"unit_code": code, "called_at": w.called_at, "due_at": w.due_at,
                    "checked_in_at": w.checked_in_at, "on_time": on_time})  # fmt: skip
    return out


def _unit_code(
    session: Session, unit_id: int | None, units: dict[int, UnitRef] | None
) -> str | None:
    if unit_id is None:
        return None
    known = (units or {}).get(unit_id) or session.get(Department, unit_id)
    return known.code if known else None


def load_units(session: Session, incidents: Iterable[Incident]) -> None:
    """Read the units a page of incidents names, in one query.

    The holding and the supervising unit: each view then finds them in the session instead
    of asking once per row.
    """
    ids = {i.unit_id for i in incidents} | {i.supervised_by_id for i in incidents}
    ids.discard(None)
    if ids:
        session.scalars(select(Department).where(Department.id.in_(ids))).all()


def _same(value: str | None) -> str | None:
    return value


def nearby_duplicates(session: Session, incident: Incident, actor: Actor) -> list[str]:
    """Open incidents of the same category within 200 m and 7 days that ``actor`` may see."""
    here = select(Incident.location).where(Incident.id == incident.id).scalar_subquery()
    rows = session.scalars(
        select(Incident.code)
        .where(
            Incident.id != incident.id,
            Incident.category == incident.category,
            Incident.status.not_in(sorted(FINAL)),
            Incident.reported_at.between(
                incident.reported_at - DUPLICATE_WINDOW, incident.reported_at + DUPLICATE_WINDOW
            ),
            # a box the GiST index can use (at least 200 m wide), then the exact distance
            Incident.location.op("&&")(func.ST_Expand(here, DUPLICATE_RADIUS_M / 100_000)),
            func.ST_DWithin(
                func.geography(Incident.location), func.geography(here), DUPLICATE_RADIUS_M
            ),
            incident_filter(actor),
        )
        .order_by(Incident.reported_at.desc())
        .limit(10)
    )
    return list(rows)
