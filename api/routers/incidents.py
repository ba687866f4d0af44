"""Incidents: intake (报单), lists, one incident with its history, workflow actions, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, UploadFile
from sqlalchemy import select

from api.deps import (
    CalendarDep,
    LocatorDep,
    OptionalPrincipalDep,
    Principal,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from gridmap.errors import Forbidden, InvalidInput, NotFound
from gridmap.incidents import photos, queries, service, views
from gridmap.incidents.models import Channel, Incident, IncidentStatus
from gridmap.incidents.schemas import ActionIn, IncidentCreate, IncidentPage, IncidentRead
from gridmap.incidents.workflow import OPEN, Action

router = APIRouter(tags=["incidents"])


def actor_of(principal: Principal) -> service.Actor:
    """The engine's view of the signed-in user."""
    return service.Actor(
        principal.user_id, principal.role, principal.area_code, principal.department_id
    )


@router.post("/incidents", response_model=IncidentRead, status_code=201)
def report(
    data: IncidentCreate,
    response: Response,
    session: SessionDep,
    locator: LocatorDep,
    calendar: CalendarDep,
    principal: OptionalPrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> Any:
    """Report an incident from any channel.

    It is located, assigned to its grid cell and routed to a unit in the same transaction.
    Send an ``Idempotency-Key`` header so that a retried submission creates exactly one
    incident (the retry answers 200 with it).
    """
    actor = actor_of(principal) if principal else None
    if actor is None and data.channel != Channel.citizen_app:
        raise Forbidden("sign in to report through this channel (the citizen port is open)")
    incident, created = service.create(
        session=session,
        locator=locator,
        calendar=calendar,
        data=data,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = 200
    return views.read_model(session, incident, actor, units=locator.units_by_id)


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    session: SessionDep,
    principal: PrincipalDep,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    category: str | None = None,
    channel: Channel | None = None,
    area: Annotated[
        str | None, Query(pattern=r"^\d{6,15}$", description="Area code at any level")
    ] = None,
    unit: Annotated[str | None, Query(description="Unit code")] = None,
    overdue: bool = False,
    due_within_days: Annotated[int | None, Query(ge=1, le=60, description="Due soon")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: Annotated[
        str | None,
        Query(
            pattern=r"^-?[\d.]+,-?[\d.]+,-?[\d.]+,-?[\d.]+$",
            description="minlon,minlat,maxlon,maxlat",
        ),
    ] = None,
    sort: Annotated[str, Query(pattern=r"^-?(reported_at|resolve_due_at|code)$")] = "-reported_at",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IncidentPage:
    """Incidents in the user's area (a department: those assigned to it), filtered and paged."""
    actor = actor_of(principal)
    now = datetime.now(UTC)
    box = _bbox(bbox) if bbox else None
    total, rows = queries.list_incidents(
        session=session,
        actor=actor,
        now=now,
        status=status,
        category=category,
        channel=channel.value if channel else None,
        area=area,
        unit=unit,
        overdue_only=overdue,
        due_within=timedelta(days=due_within_days) if due_within_days else None,
        since=since,
        until=until,
        bbox=box,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    items = [IncidentRead(**views.read_model(session, i, actor, now=now)) for i in rows]
    return IncidentPage(total=total, page=page, page_size=page_size, items=items)


def _bbox(text: str) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in text.split(","))
    if not (x0 < x1 and y0 < y1):
        raise InvalidInput("bbox is minlon,minlat,maxlon,maxlat with min < max")
    return x0, y0, x1, y1


@router.get("/incidents/{code}", response_model=IncidentRead)
def read(
    code: str,
    session: SessionDep,
    principal: PrincipalDep,
    unmasked: Annotated[bool, Query(description="Reporter contact unmasked (audited)")] = False,
) -> Any:
    """One incident with its full history; 404 outside the user's scope.

    An open incident lists ``possible_duplicates``: open incidents of the same category
    within 200 m and 7 days, for the dispatcher to merge.
    """
    actor = actor_of(principal)
    incident = service.get(session=session, code=code, actor=actor)
    duplicates = views.nearby_duplicates(session, incident) if incident.status in OPEN else None
    return views.read_model(
        session, incident, actor, history=True, unmasked=unmasked, duplicates=duplicates
    )


@router.post("/incidents/{code}/actions/{action}", response_model=IncidentRead)
def act(
    code: str, action: Action, data: ActionIn, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Take a workflow action. Illegal for the current state, or a stale ``version``: 409."""
    actor = actor_of(principal)
    if action == Action.report:
        raise InvalidInput("report is not an action on an existing incident: POST /incidents")
    incident = service.act(session=session, code=code, action=action, data=data, actor=actor)
    return views.read_model(session, incident, actor, history=True)


@router.post("/incidents/{code}/photos", status_code=201)
def add_photo(
    code: str,
    photo: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipalDep,
) -> dict[str, Any]:
    """Attach a photo (JPEG, PNG or WebP, ≤ 10 MB; checked by content, not by name).

    Anonymous uploads (the citizen port) only to an anonymous report of the last hour.
    """
    data = photo.file.read(photos.MAX_BYTES + 1)
    if principal is None:
        # the citizen port may add photos to its own report in the first hour only
        incident = session.scalar(select(Incident).where(Incident.code == code))
        fresh = (
            incident is not None
            and incident.created_by_id is None
            and (datetime.now(UTC) - incident.created_at < timedelta(hours=1))
        )
        if not fresh:
            raise NotFound(f"there is no incident {code} you can add photos to")
    else:
        incident = service.get(session=session, code=code, actor=actor_of(principal))
    assert incident is not None
    stored = photos.attach(
        session=session, incident=incident, data=data, photo_dir=settings.data_dir / "photos"
    )
    return {
        "id": stored.id,
        "content_type": stored.content_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
    }


@router.get("/stats")
def stats(
    session: SessionDep,
    principal: PrincipalDep,
    group_by: queries.GroupBy | None = None,
    area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """KPIs, overall or per county, township, village, grid, category, unit, channel, month.

    Accepted, closed, completion rate, disputes screened/resolved, on-time rate, overdue
    now, mean hours to sign-for and to close, satisfaction, people served.
    """
    return queries.stats(
        session=session,
        actor=actor_of(principal),
        now=datetime.now(UTC),
        group_by=group_by,
        area=area,
        category=category,
        since=since,
        until=until,
    )
