"""Household visits (入户走访): record one, list those due, turn a finding into an incident.

A visit made more than 100 m from the household's building is recorded with a warning (a
phone's fix can be poor indoors; the worker may also be somewhere else). Households are due
for a visit by their members' special groups (gridmap/registry/groups.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from pyproj import Geod
from shapely.geometry import Point
from sqlalchemy import ColumnElement, Integer, func, select
from sqlalchemy.orm import Session

from gridmap import timebounds
from gridmap.calendar import WorkingCalendar
from gridmap.crs import to_wgs84_checked
from gridmap.errors import Forbidden, NotFound
from gridmap.incidents import service as incidents
from gridmap.incidents.models import Channel, Incident
from gridmap.incidents.schemas import IncidentCreate
from gridmap.locate import Locator
from gridmap.privacy import mask_text
from gridmap.registry import offline, schemas
from gridmap.registry.edits import any_of, point_of_household
from gridmap.registry.groups import GROUPS, visit_days
from gridmap.registry.models import (
    Building,
    House,
    Household,
    HouseholdStatus,
    Person,
    PersonStatus,
    Visit,
)
from gridmap.scope import REGISTRY_EDITORS, Actor, registry_filter, require_people, within

FAR_M = 100.0  # a visit recorded further than this from the building carries a warning
_GEOD = Geod(ellps="WGS84")


def record(
    session: Session,
    actor: Actor,
    household_id: int,
    data: schemas.VisitCreate,
    *,
    locator: Locator | None = None,
    calendar: WorkingCalendar | None = None,
    photo: bytes | None = None,
    photo_dir: Path | None = None,
) -> schemas.VisitRead:
    """Record a visit; with ``incident_category`` its finding becomes an incident too."""
    if actor.role not in REGISTRY_EDITORS:
        raise Forbidden(f"a {actor.role.value} does not record household visits")
    edit = offline.upload("visit", household_id, data)
    first = offline.replayed(session, actor, edit)
    if first is not None:
        done = session.get(Visit, first.object_id)
        assert done is not None  # visits are never deleted
        return schemas.VisitRead(**_read(session, done), duplicate=True)
    household = session.get(Household, household_id)
    if household is None or not actor.covers(household.grid_code):
        raise NotFound(f"there is no household {household_id} in your area")
    now = datetime.now(UTC)
    if data.visited_at is not None:  # the schema's bound, again for commands and sync
        timebounds.check(data.visited_at, name="visited_at", event=True, now=now)
    visit = Visit(
        household_id=household.id, grid_code=household.grid_code or "",
        visited_at=data.visited_at or now, actor_id=actor.user_id, findings=data.findings,
        follow_up_needed=data.follow_up_needed, client_id=data.client_id,
    )  # fmt: skip
    warning = None
    if data.lon is not None and data.lat is not None:
        lon, lat = to_wgs84_checked(data.lon, data.lat, data.crs)
        home = point_of_household(household)
        distance = float(_GEOD.inv(home.x, home.y, lon, lat)[2])
        visit.location = from_shape(Point(lon, lat), srid=4326)
        visit.distance_m = round(distance, 1)
        if distance > FAR_M:
            warning = (
                f"recorded {distance:,.0f} m from the household's building (more than "
                f"{FAR_M:.0f} m): check the phone's position, or that this is the right household"
            )
    session.add(visit)
    session.flush()
    if photo is not None and photo_dir is not None:
        from gridmap.incidents.photos import normalise

        image = normalise(photo)
        relative = Path("visits") / str(visit.id) / f"photo{image.suffix}"
        (photo_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (photo_dir / relative).write_bytes(image.data)
        visit.photo_path = str(relative)
    incident_code = None
    if data.incident_category:
        if locator is None or calendar is None:
            raise NotFound("incidents cannot be reported from here")
        home = point_of_household(household)
        incident, _ = incidents.create(
            session=session,
            locator=locator,
            calendar=calendar,
            data=IncidentCreate(
                category=data.incident_category,
                channel=Channel.grid_app,
                lon=home.x,
                lat=home.y,
                description=data.findings or "入户走访发现",
                title=None,
                reported_at=visit.visited_at,
            ),
            actor=actor,
        )
        visit.incident_id = incident.id
        incident_code = incident.code
    session.flush()
    offline.remember(session, actor, edit, object_type="visit", object_id=visit.id,
                     grid_code=visit.grid_code)  # fmt: skip
    return schemas.VisitRead(**(_read(session, visit) | {"incident_code": incident_code}),
                             warning=warning)  # fmt: skip


def _read(session: Session, visit: Visit) -> dict[str, Any]:
    """A visit as the API shows it: numbers typed into the findings masked."""
    code = session.scalar(select(Incident.code).where(Incident.id == visit.incident_id)) if (
        visit.incident_id
    ) else None  # fmt: skip
    return {
        "id": visit.id, "household_id": visit.household_id, "grid_code": visit.grid_code,
        "visited_at": visit.visited_at, "findings": mask_text(visit.findings),
        "follow_up_needed": visit.follow_up_needed, "distance_m": visit.distance_m,
        "incident_code": code,
    }  # fmt: skip


def due(
    session: Session, actor: Actor, area: str, *, now: datetime | None = None, limit: int = 500
) -> list[schemas.DueVisit]:
    """Households of ``area`` due for a visit, the most urgent first (:func:`urgency`)."""
    require_people(actor)
    return due_in(session, area, registry_filter(actor, Household.grid_code, people=True), now=now)[
        :limit
    ]


def due_in(
    session: Session, area: str, scope: ColumnElement[bool], *, now: datetime | None = None
) -> list[schemas.DueVisit]:
    """Every household of ``area`` (within ``scope``) due for a visit, most urgent first.

    The rule of :func:`due` without a reader: also for the change-impact report, which
    counts the due visits a new plan would hand to another grid worker.
    """
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(Household.id, Building.address, House.unit_no)
        .outerjoin(House, House.id == Household.house_id)
        .outerjoin(Building, Building.id == House.building_id)
        .where(
            scope,
            within(Household.grid_code, area),
            Household.status == HouseholdStatus.active,
        )
    ).all()
    ids = [r[0] for r in rows]
    tags: dict[int, set[str]] = {i: set() for i in ids}
    members: dict[int, int] = dict.fromkeys(ids, 0)
    for member_of, person_tags in session.execute(
        select(Person.household_id, Person.tags).where(
            Person.household_id == any_of(ids, Integer), Person.status == PersonStatus.resident
        )
    ):
        if member_of is not None:
            tags[member_of].update(person_tags or [])
            members[member_of] += 1
    last = dict(
        session.execute(
            select(Visit.household_id, func.max(Visit.visited_at))
            .where(Visit.household_id == any_of(ids, Integer))
            .group_by(Visit.household_id)
        ).all()
    )
    out = []
    for household_id, address, unit_no in rows:
        groups = sorted(tags[household_id] & set(GROUPS))
        days = visit_days(groups)
        seen = last.get(household_id)
        overdue = None if seen is None else (now - seen - timedelta(days=days)).days
        if seen is None or (overdue is not None and overdue >= 0):
            out.append(
                schemas.DueVisit(
                    household_id=household_id,
                    address=mask_text(" ".join(x for x in (address, unit_no) if x) or None),
                    members=members[household_id],
                    groups=groups,
                    interval_days=days,
                    last_visit_at=seen,
                    overdue_days=overdue,
                )
            )
    out.sort(key=urgency)
    return out


def urgency(due: schemas.DueVisit) -> tuple[int, bool, int, int]:
    """Which household to visit first (the smallest key).

    The shortest interval first (special groups, 特殊人群, by the registry's rule), then
    never visited, then the longest overdue.
    """
    return (due.interval_days, due.last_visit_at is not None, -(due.overdue_days or 0),
            due.household_id)  # fmt: skip
