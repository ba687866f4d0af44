"""Incident use cases: intake (报单), workflow actions, reading. Services do not commit."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.areas.models import AreaLevel
from gridmap.auth.models import Role
from gridmap.calendar import WorkingCalendar
from gridmap.crs import to_wgs84
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.incidents.models import Incident, IncidentEvent, IncidentStatus, IncidentUnit
from gridmap.incidents.schemas import ActionIn, IncidentCreate
from gridmap.incidents.workflow import OPEN, Action, next_status
from gridmap.locate import Locator
from gridmap.units.models import Department

DISPATCHERS = frozenset(
    {Role.city_admin, Role.county_dispatcher, Role.township_dispatcher, Role.village_worker}
)
REPORTERS = DISPATCHERS | {Role.grid_worker, Role.department_handler}
READERS = REPORTERS | {Role.analyst, Role.planner}
# Who may take each action: dispatchers (in their area) or the handling unit.
BY_DISPATCHER = frozenset(
    {
        Action.dispatch,
        Action.self_handle,
        Action.joint,
        Action.reject,
        Action.merge,
        Action.supervise,
        Action.escalate,
        Action.follow_up,
        Action.close,
        Action.reopen,
        Action.transfer,
    }
)
BY_HANDLER = frozenset({Action.sign, Action.return_, Action.resolve, Action.transfer})
NEXT_LEVEL = {AreaLevel.village: 9, AreaLevel.township: 6, AreaLevel.county: 0}


class StaleVersion(Conflict):
    """The incident changed since the user loaded it (optimistic concurrency)."""

    code = "stale_version"
    title = "Stale version"


@dataclass(frozen=True)
class Actor:
    """Who acts: the signed-in user, or None for the anonymous citizen port."""

    user_id: int
    role: Role
    area_code: str
    department_id: int | None

    def covers(self, code: str | None) -> bool:
        """True if an area code lies within the actor's area."""
        if self.role in (Role.city_admin, Role.analyst):
            return True
        return code is not None and code.startswith(self.area_code)


def is_overdue(incident: Incident, now: datetime) -> bool:
    """Not signed for in time, or not resolved in time (the same rule as the SQL lists)."""
    unsigned = incident.status in (IncidentStatus.reported, IncidentStatus.dispatched)
    late_sign = unsigned and incident.sign_due_at is not None and incident.sign_due_at < now
    late_resolve = (
        incident.status in OPEN
        and incident.resolve_due_at is not None
        and incident.resolve_due_at < now
    )
    return bool(late_sign or late_resolve)


def create(
    *,
    session: Session,
    locator: Locator,
    calendar: WorkingCalendar,
    data: IncidentCreate,
    actor: Actor | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Incident, bool]:
    """Report an incident: locate, assign, route, set due dates, first event — one transaction.

    ``actor`` None is the system: the citizen port or an import.

    Returns the incident and whether it was created (False: a retry with the same
    Idempotency-Key returned the incident the first request created).
    """
    now = now or datetime.now(UTC)
    if actor is not None and actor.role not in REPORTERS:
        raise Forbidden(f"a {actor.role.value} cannot report incidents")
    rule = locator.rule(data.category)
    lon, lat = to_wgs84(data.lon, data.lat, data.crs)
    cell = locator.index.locate(lon, lat)
    if cell < 0:
        near, dist = locator.index.nearest(lon, lat)
        raise InvalidInput(
            f"the location ({data.lon}, {data.lat}, {data.crs.value}) is outside the jurisdiction, "
            f"{dist:,.0f} m from the nearest grid cell {locator.index.codes[near]}: check the "
            "coordinates and their CRS (phones using AMap/Tencent report gcj02, Baidu bd09)",
            nearest_grid_code=str(locator.index.codes[near]),
            distance_m=round(dist, 1),
        )
    grid_code = str(locator.index.codes[cell])
    unit_codes, reasons = locator.router.route(
        np.array([data.category]), np.array([grid_code]), np.array([lon]), np.array([lat])
    )
    unit = locator.units.get(str(unit_codes[0]))
    reported_at = data.reported_at or now
    when = np.array([np.datetime64(reported_at.astimezone(UTC).replace(tzinfo=None), "s")])
    sign_due = calendar.due(when, np.array([rule.sign_days]))[0]
    resolve_due = calendar.due(when, np.array([rule.resolve_days]))[0]
    new_id = _ids.next(session)
    incident = Incident(
        id=new_id,
        code=f"QZ{reported_at.year}{new_id:08d}",
        category=data.category,
        channel=data.channel,
        status=IncidentStatus.reported,
        title=data.title or rule.name,
        description=data.description,
        location=from_shape(Point(lon, lat), srid=4326),
        reported_crs=data.crs.value,
        reported_lon=data.lon,
        reported_lat=data.lat,
        address=data.address,
        people_involved=data.people_involved,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        unit_id=unit.id if unit else None,
        routing_reason=str(reasons[0]),
        handling_level=AreaLevel.village,
        idempotency_key=idempotency_key,
        created_by_id=actor.user_id if actor else None,
        reported_at=reported_at,
        sign_due_at=_aware(sign_due),
        resolve_due_at=_aware(resolve_due),
        plan_id=locator.plan_id,
        grid_code=grid_code,
        assigned_at=now,
    )
    if idempotency_key is None:
        session.add(incident)
        session.flush()
    else:
        # no lookup first: retries are rare, so insert and let the unique key catch them
        try:
            with session.begin_nested():
                session.add(incident)
                session.flush()
        except IntegrityError:
            existing = _by_idempotency_key(session, idempotency_key, data)
            if existing is not None:
                return existing, False
            raise
    _event(session, incident, Action.report, None, IncidentStatus.reported, actor, None, now)
    return incident, True


class _IdBlocks:
    """Incident ids taken from the sequence fifty at a time (one round trip per fifty reports).

    Ids stay unique (the sequence hands out each value once); a restart leaves a gap.
    """

    BLOCK = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._url: str | None = None

    def next(self, session: Session) -> int:
        url = str(session.get_bind().engine.url)
        with self._lock:
            if url != self._url:  # another database (tests, CLI): its own sequence
                self._free, self._url = [], url
            if not self._free:
                rows = session.scalars(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('incident', 'id')) "
                        "FROM generate_series(1, :n)"
                    ),
                    {"n": self.BLOCK},
                )
                self._free = sorted(rows, reverse=True)
            return self._free.pop()


_ids = _IdBlocks()


def _aware(value: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(value.astype("datetime64[s]"))).replace(tzinfo=UTC)


def _by_idempotency_key(session: Session, key: str, data: IncidentCreate) -> Incident | None:
    existing = session.scalar(select(Incident).where(Incident.idempotency_key == key))
    if existing is None:
        return None
    same = (
        existing.category,
        existing.reported_lon,
        existing.reported_lat,
        existing.description,
    ) == (
        data.category,
        data.lon,
        data.lat,
        data.description,
    )
    if not same:
        raise Conflict(
            "this Idempotency-Key was already used for a different incident: use a new key "
            "for a new report"
        )
    return existing


def _event(
    session: Session,
    incident: Incident,
    action: Action,
    before: IncidentStatus | None,
    after: IncidentStatus,
    actor: Actor | None,
    note: str | None,
    now: datetime,
    data: dict[str, object] | None = None,
) -> None:
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            action=action.value,
            from_status=before,
            to_status=after,
            actor_id=actor.user_id if actor else None,
            unit_id=incident.unit_id,
            note=note,
            data=data,
            at=now,
        )
    )


def get(*, session: Session, code: str, actor: Actor) -> Incident:
    """The incident with ``code`` if the actor may see it (404 otherwise: no existence leak)."""
    incident = session.scalar(select(Incident).where(Incident.code == code))
    if incident is None or not can_see(session, incident, actor):
        raise NotFound(f"there is no incident {code} in your area")
    return incident


def can_see(session: Session, incident: Incident, actor: Actor) -> bool:
    """Area roles see their area; a department sees what it was assigned (or joins)."""
    if actor.role == Role.department_handler:
        if incident.unit_id == actor.department_id:
            return True
        joined = session.scalar(
            select(IncidentUnit.id).where(
                IncidentUnit.incident_id == incident.id, IncidentUnit.unit_id == actor.department_id
            )
        )
        return joined is not None
    return actor.role in READERS and actor.covers(incident.grid_code)


def act(
    *,
    session: Session,
    code: str,
    action: Action,
    data: ActionIn,
    actor: Actor,
    now: datetime | None = None,
) -> Incident:
    """Take ``action`` on an incident, checking role, unit, state and version."""
    now = now or datetime.now(UTC)
    incident = get(session=session, code=code, actor=actor)
    if incident.version != data.version:
        raise StaleVersion(
            f"incident {code} changed since you loaded it (you have version {data.version}, it "
            f"is at {incident.version}): reload it and try again",
        )
    next_status(incident.status, action)  # then an illegal transition, by state
    _check_allowed(session, incident, action, actor)
    before = incident.status
    after = next_status(before, action)
    payload: dict[str, object] = {}
    if action in (Action.dispatch, Action.transfer, Action.joint):
        target = _unit(session, data.unit_code or _current_unit_code(session, incident), action)
        incident.unit_id = target.id
        payload["unit"] = target.code
        if action == Action.joint:
            co = [_unit(session, c, action) for c in data.co_unit_codes]
            if not co:
                raise InvalidInput("joint handling needs co_unit_codes besides the lead unit")
            if session.scalar(
                select(IncidentUnit.id).where(IncidentUnit.incident_id == incident.id)
            ):
                raise Conflict(f"incident {code} is already handled jointly")
            session.add(IncidentUnit(incident_id=incident.id, unit_id=target.id, role="lead"))
            session.add_all(
                IncidentUnit(incident_id=incident.id, unit_id=c.id, role="co") for c in co
            )
            payload["co_units"] = [c.code for c in co]
    elif action == Action.self_handle:
        centre = session.scalar(
            select(Department).where(Department.code == f"centre-{(incident.grid_code or '')[:12]}")
        )
        if centre is not None:
            incident.unit_id = centre.id
        incident.signed_at = now
    elif action == Action.sign:
        incident.signed_at = incident.signed_at or now
    elif action == Action.return_:
        payload["returned_by"] = _current_unit_code(session, incident)
    elif action == Action.resolve:
        if data.outcome is None:
            raise InvalidInput(
                "resolving needs an outcome: mediated, referred_arbitration, referred_court, "
                "handled or other"
            )
        incident.outcome = data.outcome
        incident.resolved_at = now
    elif action == Action.follow_up:
        if data.satisfaction is None:
            raise InvalidInput("a follow-up records the citizen's satisfaction (1–5)")
        incident.satisfaction = data.satisfaction
    elif action == Action.close:
        incident.closed_at = now
    elif action == Action.reopen:
        incident.resolved_at = None
        incident.outcome = None
    elif action == Action.supervise:
        if not is_overdue(incident, now):
            raise Conflict(
                f"incident {code} is not overdue: supervision (督办) is for overdue incidents"
            )
        incident.supervised = True
    elif action == Action.escalate:
        level = incident.handling_level or AreaLevel.village
        if level not in NEXT_LEVEL:
            raise Conflict(f"incident {code} is already handled at city level: it cannot go higher")
        width = NEXT_LEVEL[level]
        centre_code = f"centre-{(incident.grid_code or '')[:width]}" if width else "centre-350500"
        centre = _unit(session, centre_code, action)
        incident.unit_id = centre.id
        incident.handling_level = AreaLevel(centre.level)
        payload["to"] = centre.code
    elif action == Action.merge:
        if not data.merged_into:
            raise InvalidInput("merging needs merged_into: the code of the incident kept")
        kept = get(session=session, code=data.merged_into, actor=actor)
        if kept.id == incident.id:
            raise InvalidInput("an incident cannot be merged into itself")
        incident.merged_into_id = kept.id
        payload["merged_into"] = kept.code
    incident.status = after
    _event(session, incident, action, before, after, actor, data.note, now, payload or None)
    session.flush()  # bumps version; a concurrent change makes this raise StaleDataError
    return incident


def _check_allowed(session: Session, incident: Incident, action: Action, actor: Actor) -> None:
    if actor.role in (Role.analyst, Role.planner, Role.grid_worker):
        raise Forbidden(f"a {actor.role.value} cannot {action.value} incidents")
    handler = actor.role == Role.department_handler and incident.unit_id == actor.department_id
    dispatcher = actor.role in DISPATCHERS
    if action in BY_HANDLER and handler:
        return
    if action in BY_DISPATCHER and dispatcher:
        return
    # a dispatcher acts for a centre holding the incident in their area (self-handling)
    if action in BY_HANDLER and dispatcher:
        unit = session.get(Department, incident.unit_id) if incident.unit_id else None
        if unit is not None and unit.type == "centre" and actor.covers(unit.area_code):
            return
    who = "the handling unit" if action in BY_HANDLER else "a dispatcher of this area"
    raise Forbidden(f"only {who} can {action.value} incident {incident.code}")


def _unit(session: Session, code: str | None, action: Action) -> Department:
    if not code:
        raise InvalidInput(f"{action.value} needs unit_code: the unit that takes the incident")
    unit = session.scalar(select(Department).where(Department.code == code))
    if unit is None:
        raise InvalidInput(f"there is no unit {code!r}")
    return unit


def _current_unit_code(session: Session, incident: Incident) -> str | None:
    if incident.unit_id is None:
        return None
    return session.scalar(select(Department.code).where(Department.id == incident.unit_id))
