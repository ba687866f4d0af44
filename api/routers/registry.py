"""The registry (入网入格) over HTTP.

A cell's households, buildings and units, edits with history, visits, task sheets, the
offline pack and sync, person search, the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import (
    CalendarDep,
    ClientDep,
    LimiterDep,
    LocatorDep,
    PrincipalDep,
    RulesDep,
    SessionDep,
    authorise_unmask,
    permitted,
)
from api.params import AreaCode, AreaQuery
from api.problems import responses
from gridmap.areas.lookup import get_area
from gridmap.auth.models import AuditLog, User
from gridmap.db.ids import RowId
from gridmap.registry import edits, pack, queries, schemas, tasks, visits
from gridmap.registry.models import BuildingUse, HouseholdStatus
from gridmap.scope import Actor, require_audit, require_editor, require_people
from gridmap.timebounds import Moment

UNMASKED_PERSON = ["name", "id_number", "phone"]
UNMASKED_UNIT = ["name", "address", "contact_phone"]
router = APIRouter(tags=["registry"], responses=responses(401, 403, 404))
Id = Annotated[RowId, Path()]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]
EDIT = responses(409, 422)
SEARCH_HELP = "A name (its beginning), or the last 4+ digits of an ID number"


# -- reads of an area ---------------------------------------------------------------------


@router.get("/areas/{code}/households", response_model=schemas.HouseholdPage)
def area_households(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    tag: Annotated[str | None, Query(max_length=30, description="A member's special group")] = None,
    building: Annotated[RowId | None, Query()] = None,
    not_visited_since: Annotated[
        Moment | None, Query(description="Only households not visited since")
    ] = None,
    status: HouseholdStatus | None = HouseholdStatus.active,
) -> dict[str, Any]:
    """The households of an area with their members (names, ID numbers and phones masked)."""
    require_people(principal)  # the role before the place: 403 wherever the area is
    get_area(session, code, principal)
    total, items = queries.households(
        session, principal, area=code, page=page, page_size=page_size, tag=tag,
        building_id=building, not_visited_since=not_visited_since, status=status,
    )  # fmt: skip
    return {"total": total, "page": page, "page_size": page_size, "items": items}


@router.get("/areas/{code}/buildings", response_model=schemas.BuildingPage)
def area_buildings(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    use: BuildingUse | None = None,
) -> dict[str, Any]:
    """The buildings of an area with their houses."""
    get_area(session, code, principal)
    total, items = queries.buildings(
        session, principal, area=code, page=page, page_size=page_size, use=use
    )
    return {"total": total, "page": page, "page_size": page_size, "items": items}


@router.get("/areas/{code}/units", response_model=schemas.WorkUnitPage)
def area_units(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageNo = 1,
    page_size: PageSize = 50,
    type: Annotated[str | None, Query(max_length=30)] = None,
) -> dict[str, Any]:
    """The work units of an area (contact phones, and numbers typed into names, masked)."""
    get_area(session, code, principal)
    total, items = queries.units(
        session, principal, area=code, page=page, page_size=page_size, type_=type
    )
    return {"total": total, "page": page, "page_size": page_size, "items": items}


@router.get("/areas/{code}/visits-due", response_model=list[schemas.DueVisit])
def visits_due(code: AreaCode, session: SessionDep, principal: PrincipalDep) -> Any:
    """Households due for a visit: never visited, or not within their interval.

    Special groups are visited more often (elderly people living alone monthly).
    """
    require_people(principal)  # the role before the place: 403 wherever the area is
    get_area(session, code, principal)
    return visits.due(session, principal, code)


@router.get("/areas/{code}/task-items", response_model=list[schemas.TaskItemRead])
def area_task_items(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    open_only: Annotated[bool, Query(alias="open")] = True,
) -> Any:
    """The task rows of the area (a grid worker's cell), open ones by default."""
    require_people(principal)  # the role before the place: 403 wherever the area is
    get_area(session, code, principal)
    return tasks.items(session, principal, code, open_only=open_only)


class Pack(BaseModel):
    """A cell for a phone to work offline with (personal data masked)."""

    area: dict[str, Any]
    generated_at: str
    since: str | None
    buildings: list[dict[str, Any]]
    households: list[dict[str, Any]]
    moved_out_households: list[int]
    units: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    closed_incidents: list[str] = Field(
        description="With since: codes of the cell's incidents closed, rejected or merged since"
    )
    visits_due: list[dict[str, Any]]
    task_items: list[dict[str, Any]]
    done_task_items: list[int] = Field(description="With since: task rows done since (by anyone)")


@router.get("/areas/{code}/pack", response_model=Pack)
def offline_pack(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[Moment | None, Query(description="Only what changed after this")] = None,
) -> Any:
    """Everything a grid worker needs offline for their cell, or what changed since."""
    return pack.pack(session, principal, code, since=since, now=datetime.now(UTC))


@router.post("/areas/{code}/sync", response_model=list[pack.SyncResult], responses=EDIT)
def sync(
    code: AreaCode,
    data: pack.SyncIn,
    session: SessionDep,
    principal: PrincipalDep,
    locator: LocatorDep,
    calendar: CalendarDep,
) -> Any:
    """Upload edits made offline: each applied once, conflicts answered with both versions."""
    return pack.sync(session, principal, code, data, locator=locator, calendar=calendar)


@router.post("/areas/{code}/households", response_model=schemas.Edited, status_code=201,
             responses=EDIT)  # fmt: skip
def register_household(
    code: AreaCode, data: schemas.HouseholdCreate, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Register a household and its members (信息采集) in a house of the area."""
    require_editor(principal)  # the role before the place, as every edit
    get_area(session, code, principal)
    return edits.register_household(session, principal, data)


# -- one object -----------------------------------------------------------------------------


@router.get("/households/{household_id}", response_model=schemas.HouseholdRead)
def read_household(household_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """One household with its members."""
    return queries.household(session, principal, household_id)


@router.post("/households/{household_id}/people", response_model=schemas.Edited,
             status_code=201, responses=EDIT)  # fmt: skip
def register_person(
    household_id: Id, data: schemas.PersonCreate, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Register a person into a household (born, moved in, a renter: tag migrant)."""
    return edits.register_person(session, principal, household_id, data)


@router.post("/households/{household_id}/move", response_model=schemas.Edited, responses=EDIT)
def move_household(
    household_id: Id, data: schemas.HouseholdMove, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Move a household to another house (a stale version is 409 with both versions)."""
    return edits.move_household(session, principal, household_id, data)


@router.post("/households/{household_id}/moved-out", response_model=schemas.Edited,
             responses=EDIT)  # fmt: skip
def household_moved_out(
    household_id: Id, data: schemas.HouseholdOut, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Mark a household (and its members) as moved out; nothing is deleted."""
    return edits.household_moved_out(session, principal, household_id, data)


@router.post("/households/{household_id}/visits", response_model=schemas.VisitRead,
             status_code=201, responses=EDIT)  # fmt: skip
def record_visit(
    household_id: Id,
    data: schemas.VisitCreate,
    session: SessionDep,
    principal: PrincipalDep,
    locator: LocatorDep,
    calendar: CalendarDep,
) -> Any:
    """Record a visit (入户走访); with ``incident_category`` the finding becomes an incident."""
    return visits.record(session, principal, household_id, data, locator=locator,
                         calendar=calendar)  # fmt: skip


@router.get("/people/{person_id}", response_model=schemas.PersonRead, responses=responses(429))
def read_person(
    person_id: Id,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    limiter: LimiterDep,
    rules: RulesDep,
    client: ClientDep,
    unmasked: Annotated[
        bool, Query(description="Name, ID number and phone unmasked (audited)")
    ] = False,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """One person, name (张*三), ID number and phone masked.

    ``unmasked=true`` with a ``reason`` shows them (allowed roles only, rate-limited, and
    audited — refusals too).
    """
    if unmasked:
        authorise_unmask(
            request, session, principal, "person", str(person_id), UNMASKED_PERSON, reason,
            limiter, rules, client, lambda: queries.person(session, principal, person_id),
        )  # fmt: skip
    found = queries.person(session, principal, person_id)
    return queries.person_view(found, unmasked=unmasked)


@router.post("/people/{person_id}/status", response_model=schemas.Edited, responses=EDIT)
def set_person_status(
    person_id: Id, data: schemas.PersonStatusChange, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Mark a person as moved out or deceased (or resident again)."""
    return edits.set_person_status(session, principal, person_id, data)


@router.patch("/people/{person_id}", response_model=schemas.Edited, responses=EDIT)
def update_person(
    person_id: Id, data: schemas.PersonUpdate, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Update a person's phone (checked as the importer checks it; 409 on a stale version)."""
    return edits.update_person(session, principal, person_id, data)


@router.get("/people", response_model=list[schemas.PersonRead])
def search_people(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=50,
            description="A name, or the last 4+ characters of an ID number",
            json_schema_extra={"not": {"pattern": queries.SHORT_SEARCH}},
        ),
    ],
    area: AreaQuery = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Any:
    """People within the user's area by name (prefix) or by the last digits of an ID number."""
    return queries.search_people(session, principal, q, area=area, limit=limit)


@router.get("/buildings/{building_id}", response_model=schemas.BuildingRead)
def read_building(building_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """One building with its houses."""
    return queries.building(session, principal, building_id)


@router.get("/units/{unit_id}", response_model=schemas.WorkUnitRead, responses=responses(429))
def read_unit(
    unit_id: Id,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    limiter: LimiterDep,
    rules: RulesDep,
    client: ClientDep,
    unmasked: Annotated[
        bool, Query(description="Contact phone, name and address unmasked (audited)")
    ] = False,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """One work unit."""
    if unmasked:
        authorise_unmask(
            request, session, principal, "work_unit", str(unit_id), UNMASKED_UNIT, reason,
            limiter, rules, client, lambda: queries.unit(session, principal, unit_id),
        )  # fmt: skip
    return queries.unit_view(queries.unit(session, principal, unit_id), unmasked=unmasked)


@router.patch("/units/{unit_id}", response_model=schemas.Edited, responses=EDIT)
def update_unit(
    unit_id: Id, data: schemas.WorkUnitUpdate, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Update a work unit (name, type, employees, address, contact)."""
    return edits.update_unit(session, principal, unit_id, data)


# -- tasks ------------------------------------------------------------------------------------


@router.post("/tasks", response_model=schemas.TaskRead, status_code=201, responses=EDIT)
def create_task(data: schemas.TaskCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Hand a task sheet down (任务下发): one row per matching target in each cell."""
    task = tasks.create(session, principal, data)
    return tasks.read(session, principal, task.id)


@router.get("/tasks", response_model=list[schemas.TaskRead])
def list_tasks(session: SessionDep, principal: PrincipalDep) -> Any:
    """Task sheets issued in (or covering) the user's area, with their progress."""
    return tasks.list_tasks(session, principal)


@router.get("/tasks/{task_id}", response_model=schemas.TaskRead)
def read_task(task_id: Id, session: SessionDep, principal: PrincipalDep) -> Any:
    """One task sheet: progress per cell and per worker (within the reader's area)."""
    return tasks.read(session, principal, task_id)


@router.post("/task-items/{item_id}/complete", response_model=schemas.TaskItemRead,
             responses=EDIT)  # fmt: skip
def complete_task_item(
    item_id: Id, data: schemas.TaskItemDone, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Complete a task row with its result."""
    return tasks.complete(session, principal, item_id, data)


# -- the audit log -------------------------------------------------------------------------------


class AuditRow(BaseModel):
    """One audit entry."""

    id: int
    at: datetime
    username: str | None
    action: str
    object_type: str
    object_id: str | None
    reason: str | None
    client_ip: str | None
    detail: dict[str, Any] | None


@router.get("/audit", response_model=list[AuditRow])
def audit_log(
    session: SessionDep,
    principal: Annotated[Actor, Depends(permitted(require_audit))],
    username: Annotated[str | None, Query(max_length=50)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    object_type: Annotated[str | None, Query(max_length=50)] = None,
    object_id: Annotated[str | None, Query(max_length=50)] = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Who read personal data unmasked (and why), who was refused (city administrators)."""
    query = select(AuditLog, User.username).outerjoin(User, User.id == AuditLog.user_id)
    if username:
        query = query.where(User.username == username)
    if action:
        query = query.where(AuditLog.action == action)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until)
    rows = session.execute(query.order_by(AuditLog.id.desc()).limit(limit)).all()
    return [
        {
            "id": a.id, "at": a.at, "username": name, "action": a.action,
            "object_type": a.object_type, "object_id": a.object_id, "reason": a.reason,
            "client_ip": str(a.client_ip) if a.client_ip else None, "detail": a.detail,
        }
        for a, name in rows
    ]  # fmt: skip
