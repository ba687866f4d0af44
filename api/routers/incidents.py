"""Incidents: intake (报单), lists, one incident with its history, workflow actions, KPIs."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select

from api.deps import (
    CalendarDep,
    ClientDep,
    LimiterDep,
    LocatorDep,
    OptionalPrincipalDep,
    PrincipalDep,
    RulesDep,
    SessionDep,
    SettingsDep,
    authorise_unmask,
)
from api.filters import FiltersDep
from api.problems import responses
from gridmap.db.ids import RowId
from gridmap.errors import Forbidden, InvalidInput, NotFound
from gridmap.incidents import photos, queries, service, views
from gridmap.incidents.models import OPEN, Channel, Incident
from gridmap.incidents.schemas import (
    ActionIn,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    PhotoItem,
    PhotoRead,
    StatsRow,
    UnitChoice,
    WhistleStatsRow,
)
from gridmap.incidents.workflow import Action
from gridmap.scope import require_reporter
from gridmap.settings import Settings

UNMASKED_INCIDENT = [*views.MASKED, "notes"]  # what an unmasked read shows, for the audit
router = APIRouter(tags=["incidents"], responses=responses(401))

IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,100}$"  # visible ASCII: a UUID, a ULID, a phone's own id
MAX_PAGE = 10_000
CITIZEN_PHOTO_WINDOW = timedelta(hours=1)
# every action but report, which creates an incident (POST /incidents)
ON_AN_INCIDENT = {"enum": [a.value for a in Action if a is not Action.report]}


def citizen_token(settings: Settings, code: str) -> str:
    """The secret an anonymous reporter gets with their report, to add photos to it.

    An HMAC of the incident code with the server's key: nothing to store, and only the
    person who received the answer to the report knows it.
    """
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"citizen-photo:{code}".encode(), hashlib.sha256).hexdigest()[:32]


@router.post(
    "/incidents",
    response_model=IncidentRead,
    status_code=201,
    responses={
        200: {"description": "A retry: the incident the first request created"},
        **responses(403, 409, 429),
    },
)
def report(
    data: IncidentCreate,
    response: Response,
    session: SessionDep,
    locator: LocatorDep,
    calendar: CalendarDep,
    principal: OptionalPrincipalDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    rules: RulesDep,
    client: ClientDep,
    idempotency_key: Annotated[str | None, Header(pattern=IDEMPOTENCY_KEY)] = None,
) -> Any:
    """Report an incident from any channel.

    It is located, assigned to its grid cell and routed to a unit in the same transaction.
    Send an ``Idempotency-Key`` header so that a retried submission creates exactly one
    incident (the retry, by the same user with the same report, answers 200 with it).
    Signed-in reporters report within their own area. The anonymous citizen port
    (``channel: citizen_app``) is rate-limited per address; its answer carries a
    ``citizen_token`` for adding photos to the report in the next hour.
    """
    if principal is None:
        if data.channel != Channel.citizen_app:
            raise Forbidden("sign in to report through this channel (the citizen port is open)")
        limiter.hit(rules.anonymous_intake, client)
    incident, created = service.create(
        session=session,
        locator=locator,
        calendar=calendar,
        data=data,
        actor=principal,
        idempotency_key=idempotency_key,
        client_address=client,
    )
    if not created:
        response.status_code = 200
    view = views.read_model(
        session, incident, principal, units=locator.units_by_id, calendar=calendar,
        areas=views.area_paths(session, [incident]),
    )  # fmt: skip
    if principal is None:
        view["citizen_token"] = citizen_token(settings, incident.code)
    return view


@router.get("/incidents", response_model=IncidentPage, responses=responses(403))
def list_incidents(
    session: SessionDep,
    principal: PrincipalDep,
    filters: FiltersDep,
    calendar: CalendarDep,
    sort: Annotated[
        str, Query(pattern=queries.SORT_PATTERN, description="A column; - for descending")
    ] = "-reported_at",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IncidentPage:
    """Incidents in the user's scope (gridmap/scope.py), filtered and paged.

    ``sort=time_left`` orders by the office hours left before the earliest running deadline
    (the overdue flag's rule; none running: last).
    """
    now = datetime.now(UTC)
    total, rows = queries.list_incidents(
        session=session,
        actor=principal,
        now=now,
        filters=filters,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    areas = views.area_paths(session, rows)
    views.load_units(session, rows)
    items = [
        IncidentRead(
            **views.read_model(session, i, principal, now=now, calendar=calendar, areas=areas)
        )
        for i in rows
    ]
    return IncidentPage(total=total, page=page, page_size=page_size, items=items)


@router.get("/incidents/{code}", response_model=IncidentRead, responses=responses(403, 404, 429))
def read(
    code: Annotated[str, Path(max_length=30)],
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    limiter: LimiterDep,
    rules: RulesDep,
    client: ClientDep,
    calendar: CalendarDep,
    unmasked: Annotated[
        bool, Query(description="Reporter contact and free text unmasked (audited)")
    ] = False,
    reason: Annotated[
        str | None, Query(max_length=200, description="Why (required with unmasked=true)")
    ] = None,
) -> Any:
    """One incident with its full history; 404 outside the user's scope.

    ``unmasked=true`` with a ``reason`` shows the reporter's name and phone and the free
    text as typed; allowed roles only, rate-limited, and every such read — and every
    refused attempt — is written to the audit log with the reason and the address.
    An open incident lists ``possible_duplicates`` the reader may see.
    """
    if unmasked:
        authorise_unmask(
            request,
            session,
            principal,
            "incident",
            code,
            UNMASKED_INCIDENT,
            reason,
            limiter,
            rules,
            client,
            lambda: service.get(session=session, code=code, actor=principal),
        )
    incident = service.get(session=session, code=code, actor=principal)
    duplicates = (
        views.nearby_duplicates(session, incident, principal) if incident.status in OPEN else None
    )
    return views.read_model(
        session, incident, principal, history=True, unmasked=unmasked, duplicates=duplicates,
        calendar=calendar, areas=views.area_paths(session, [incident]),
    )  # fmt: skip


@router.post(
    "/incidents/{code}/actions/{action}",
    response_model=IncidentRead,
    responses=responses(403, 404, 409),
)
def act(
    code: Annotated[str, Path(max_length=30)],
    action: Annotated[Action, Path(json_schema_extra=ON_AN_INCIDENT)],
    data: ActionIn,
    session: SessionDep,
    principal: PrincipalDep,
    calendar: CalendarDep,
) -> Any:
    """Take a workflow action. Illegal for the current state, or a stale ``version``: 409."""
    if action == Action.report:
        raise InvalidInput("report is not an action on an existing incident: POST /incidents")
    incident = service.act(
        session=session, code=code, action=action, data=data, actor=principal, calendar=calendar
    )
    return views.read_model(
        session, incident, principal, history=True, calendar=calendar,
        areas=views.area_paths(session, [incident]),
    )  # fmt: skip


@router.get(
    "/incidents/{code}/units", response_model=list[UnitChoice], responses=responses(403, 404)
)
def list_units(
    code: Annotated[str, Path(max_length=30)],
    action: Annotated[
        Action, Query(json_schema_extra={"enum": [a.value for a in service.HANDING]})
    ],
    session: SessionDep,
    principal: PrincipalDep,
) -> list[UnitChoice]:
    """The units ``action`` (dispatch, transfer, joint, whistle) would accept for the incident.

    What the unit picker offers: the same rule the action checks (a unit responsible for
    the incident's place; a transfer not to the unit holding it; a whistle summons
    departments). Empty when the user may not take the action now. Scoped like reading
    the incident (404 outside the reader's scope).
    """
    incident = service.get(session=session, code=code, actor=principal)
    units = service.units_for(session=session, incident=incident, action=action, actor=principal)
    return [UnitChoice(code=u.code, name=u.name, kind=u.type) for u in units]


def photo_incident(
    code: Annotated[str, Path(max_length=30)],
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipalDep,
    x_citizen_token: Annotated[str | None, Header(max_length=64)] = None,
) -> Incident:
    """The incident a photo is added to, if the sender may add one (404 or 403 otherwise).

    Signed in: an incident in the user's scope (404 outside it), by a role that reports
    (403). Anonymous (the citizen port): the ``X-Citizen-Token`` of the report's answer,
    within an hour of the report — anything else is 404, so codes cannot be probed.
    """
    if principal is not None:
        incident = service.get(session=session, code=code, actor=principal)
        require_reporter(principal, "add photos to incidents")
        return incident
    found = session.scalar(select(Incident).where(Incident.code == code))
    if (
        found is None
        or x_citizen_token is None
        or not hmac.compare_digest(
            x_citizen_token.encode(), citizen_token(settings, found.code).encode()
        )
        or datetime.now(UTC) - found.created_at >= CITIZEN_PHOTO_WINDOW
    ):
        raise NotFound(f"there is no incident {code} you can add photos to")
    return found


@router.post(
    "/incidents/{code}/photos",
    status_code=201,
    response_model=PhotoRead,
    responses={
        **responses(403, 404),
        200: {"model": PhotoRead, "description": "The same photo again: the one recorded"},
    },
)
def add_photo(
    incident: Annotated[Incident, Depends(photo_incident)],
    photo: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipalDep,
    response: Response,
) -> PhotoRead:
    """Attach a photo (JPEG, PNG or WebP, ≤ 10 MB, decoded and re-encoded; EXIF GPS kept).

    Anonymous uploads (the citizen port) need the ``X-Citizen-Token`` the report's answer
    carried, within an hour of the report. The same photo sent again (a retry after a
    lost answer) is answered 200 with the photo already recorded: never stored twice.
    """
    stored, new = photos.attach(
        session=session,
        incident=incident,
        data=photo.file.read(photos.MAX_BYTES + 1),
        photo_dir=settings.data_dir / "photos",
        created_by_id=principal.user_id if principal else None,
    )
    if not new:
        response.status_code = 200
    return PhotoRead.model_validate(stored, from_attributes=True)


@router.get(
    "/incidents/{code}/photos", response_model=list[PhotoItem], responses=responses(403, 404)
)
def list_photos(
    code: Annotated[str, Path(max_length=30)],
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> list[PhotoItem]:
    """The incident's photos: where to fetch each and its thumbnail, EXIF time and GPS.

    Scoped like reading the incident (404 outside the reader's scope).
    """
    incident = service.get(session=session, code=code, actor=principal)
    out = []
    for p in photos.of_incident(session, incident):
        url = str(request.url_for("read_photo", code=incident.code, photo_id=p.id).path)
        gps = (p.gps_lon, p.gps_lat) if p.gps_lon is not None and p.gps_lat is not None else None
        out.append(PhotoItem(id=p.id, url=url, thumb_url=f"{url}?thumb=1",
                             content_type=p.content_type, bytes=p.size_bytes,
                             taken_at=p.taken_at, gps=gps))  # fmt: skip
    return out


@router.get(
    "/incidents/{code}/photos/{photo_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
                     "description": "The photo, or its thumbnail"},
               **responses(403, 404)},
)  # fmt: skip
def read_photo(
    code: Annotated[str, Path(max_length=30)],
    photo_id: Annotated[RowId, Path()],
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    thumb: Annotated[bool, Query(description="A small JPEG (PNG for a PNG) instead")] = False,
) -> FileResponse:
    """One photo of the incident (its stored, re-encoded form), or its thumbnail."""
    incident = service.get(session=session, code=code, actor=principal)
    row = photos.one(session, incident, photo_id)
    photo_dir = settings.data_dir / "photos"
    if thumb:
        path, content_type = photos.thumbnail(photo_dir, row)
    else:
        path, content_type = photo_dir / row.path, row.content_type
    if not path.is_file():
        raise NotFound(f"the file of photo {photo_id} is missing: ask an administrator")
    return FileResponse(path, media_type=content_type,
                        headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip


@router.get("/stats", response_model=list[StatsRow], responses=responses(403))
def stats(
    session: SessionDep,
    principal: PrincipalDep,
    filters: FiltersDep,
    group_by: queries.GroupBy | None = None,
    monthly: bool = False,
) -> list[dict[str, Any]]:
    """KPIs, overall or per county, township, village, grid, category, unit, channel, month.

    ``monthly=true`` splits each group into calendar months (China time): a unit's or a
    township's monthly series, one row per group and month.

    Accepted, closed, completion rate, disputes screened/resolved, on-time rate, open,
    overdue and due soon now, mean hours to sign-for and to close, satisfaction, people
    served. Takes the filters of ``GET /incidents``. Planners and analysts get them
    city-wide; everyone else within their scope.
    """
    return queries.stats(
        session=session,
        actor=principal,
        now=datetime.now(UTC),
        group_by=group_by,
        monthly=monthly,
        filters=filters,
    )


@router.get("/stats/whistles", response_model=list[WhistleStatsRow], responses=responses(403))
def whistle_stats(
    session: SessionDep, principal: PrincipalDep, filters: FiltersDep
) -> list[dict[str, Any]]:
    """吹哨报到 per summoned department: summoned, checked in, on time, rates, mean minutes.

    Of the incidents in the reader's scope, with the filters of ``GET /incidents``.
    """
    return queries.whistle_stats(session=session, actor=principal, now=datetime.now(UTC),
                                 filters=filters)  # fmt: skip
