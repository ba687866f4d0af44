"""Incident use cases: intake (报单), workflow actions, reading. Services do not commit."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import (
    Insert,
    Row,
    bindparam,
    insert,
    inspect,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, make_transient_to_detached

from gridmap import timebounds
from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.calendar import CHINA_TZ, WorkingCalendar
from gridmap.crs import to_wgs84_checked
from gridmap.db.base import SRID
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.incidents import permissions
from gridmap.incidents.deadlines import (
    CHECK_IN_HOURS,
    FAST_TRACK_RESOLVE_DAYS,
    FAST_TRACK_SIGN_HOURS,
)
from gridmap.incidents.models import (
    FINAL,
    Channel,
    Incident,
    IncidentEvent,
    IncidentStatus,
    IncidentUnit,
    IncidentWhistle,
)
from gridmap.incidents.schemas import ActionIn, IncidentCreate
from gridmap.incidents.workflow import (
    TRANSITIONS,
    Action,
    allowed_actions,
    next_status,
    require_note,
)
from gridmap.locate import Locator, UnitRef
from gridmap.ops import counters
from gridmap.scope import Actor, incident_filter
from gridmap.units import codes as unit_codes
from gridmap.units.models import Department
from gridmap.units.organisation import WindowUnit, window_unit

__all__ = ["Actor", "StaleVersion", "act", "create", "get"]

# Escalation (上报) goes one level up at a time: 矛盾不上交, resolve as low as possible.
NEXT_LEVEL = {
    AreaLevel.village: AreaLevel.township,
    AreaLevel.township: AreaLevel.county,
    AreaLevel.county: AreaLevel.city,
}


class StaleVersion(Conflict):
    """The incident changed since the user loaded it (optimistic concurrency)."""

    code = "stale_version"
    title = "Stale version"


def idempotency_scope(
    actor: Actor | None,
    key: str,
    api_client_id: int | None = None,
    client_address: str | None = None,
) -> str:
    """The stored key: one namespace per user, per Open311 client, per anonymous address.

    Anonymous citizens have no account to keep their keys apart: their keys are scoped by
    the client's address, so another citizen sending the same key (a careless app, a guess)
    gets an incident of their own, never the first one and its ``citizen_token``. The
    address is stored only inside a digest. Within one scope the report's fingerprint still
    tells a retry (the first incident) from a different report (409).
    """
    if actor is not None:
        return f"u{actor.user_id}:{key}"
    if api_client_id is not None:
        return f"c{api_client_id}:{key}"
    scoped = f"{client_address or 'unknown'}\x00{key}".encode()
    return f"anon:{hashlib.sha256(scoped).hexdigest()}"


def fingerprint(data: IncidentCreate) -> str:
    """A digest of everything a report says, to tell a retry from a different report."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create(
    *,
    session: Session,
    locator: Locator,
    calendar: WorkingCalendar,
    data: IncidentCreate,
    actor: Actor | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    api_client_id: int | None = None,
    client_address: str | None = None,
) -> tuple[Incident, bool]:
    """Report an incident: locate, assign, route, set due dates, first event — one transaction.

    ``actor`` None is the system: the citizen port (``api_client_id``: the registered
    Open311 client that sent it) or an import. A signed-in reporter may report only
    within their own area, so they can always read what they reported. An anonymous
    report's ``Idempotency-Key`` is scoped by ``client_address`` (:func:`idempotency_scope`).

    Returns the incident and whether it was created (False: a retry with the same
    Idempotency-Key, by the same user and with the same report, returned the first one).
    """
    now = now or datetime.now(UTC)
    if actor is not None and not actor.policy.reports:
        raise Forbidden(f"a {actor.role.value} cannot report incidents")
    rule = locator.rule(data.category)
    lon, lat = to_wgs84_checked(data.lon, data.lat, data.crs)
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
    if actor is not None and not actor.covers(grid_code):
        raise Forbidden(
            f"the location is in grid cell {grid_code}, outside your area {actor.area_code}: "
            "report it to the centre responsible for that place"
        )
    if data.window is not None:
        window = _window(session, actor, data)
        unit = locator.units.get(window.code)
        reason = f"window: {window.code} stationed at {window.centre_code}"
    else:
        unit_code, reasons = locator.router.route(
            np.array([data.category]), np.array([grid_code]), np.array([lon]), np.array([lat])
        )
        unit, reason = locator.units.get(str(unit_code[0])), str(reasons[0])
    if data.reported_at is not None:  # the schema's bound, again for imports and commands
        timebounds.check(data.reported_at, name="reported_at", event=True, now=now)
    reported_at = data.reported_at or now
    if data.fast_track and actor is None:
        raise Forbidden("the citizen port cannot ask for fast track (速办): the centre marks it")
    when = np.array([np.datetime64(reported_at.astimezone(UTC).replace(tzinfo=None), "s")])
    try:
        if data.fast_track:
            sign_due = np.datetime64(
                calendar.add_working_hours(reported_at, FAST_TRACK_SIGN_HOURS)
                .astimezone(UTC).replace(tzinfo=None), "s")  # fmt: skip
            resolve_due = calendar.due(when, np.array([FAST_TRACK_RESOLVE_DAYS]))[0]
        else:
            sign_due = calendar.due(when, np.array([rule.sign_days]))[0]
            resolve_due = calendar.due(when, np.array([rule.resolve_days]))[0]
    except ValueError:
        raise InvalidInput(
            f"reported_at {reported_at.isoformat()} is outside the working-day calendar "
            f"({calendar.first_day} to {calendar.last_day}): check the date"
        ) from None
    key = (
        idempotency_scope(actor, idempotency_key, api_client_id, client_address)
        if idempotency_key is not None
        else None
    )
    digest = fingerprint(data) if key is not None else None
    new_id = _ids.next(session)
    row = intake_row(
        id=new_id,
        code=incident_code(reported_at, new_id),
        category=data.category,
        channel=data.channel,
        status=IncidentStatus.reported,
        title=data.title or rule.name,
        description=data.description,
        location=from_shape(Point(lon, lat), srid=SRID, extended=True),
        reported_crs=data.crs.value,
        reported_lon=data.lon,
        reported_lat=data.lat,
        address=data.address,
        people_involved=data.people_involved,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        media_url=data.media_url,
        api_client_id=api_client_id,
        unit_id=unit.id if unit else None,
        routing_reason=reason,
        handling_level=_handling_level(unit),
        idempotency_key=key,
        idempotency_hash=digest,
        created_by_id=actor.user_id if actor else None,
        reported_at=reported_at,
        sign_due_at=_aware(sign_due),
        resolve_due_at=_aware(resolve_due),
        plan_id=locator.plan_id,
        grid_code=grid_code,
        assigned_at=now,
        fast_track=data.fast_track,
        created_at=now,
    )
    first_event = {"actor_id": row["created_by_id"], "event_at": now}
    if _INTAKE.first(session, row | first_event) is None:
        # the key is taken: a retry (return the first incident) or a different report (409)
        existing = _by_idempotency_key(session, key or "", digest)
        if existing is None:  # pragma: no cover - the row that blocked us cannot vanish
            raise Conflict("the report could not be stored: try again")
        return existing, False
    # the row as stored, attached to the session without reading it back
    incident = Incident(**row)
    make_transient_to_detached(incident)
    session.add(incident)
    counters.INTAKES.labels(channel=str(row["channel"])).inc()
    return incident, True


def intake_row(**values: object) -> dict[str, object]:
    """Every column of a new incident's row: as given, else the column's default, else NULL.

    The row is complete, so the incident built from it reads nothing back once attached.
    """
    unknown = values.keys() - _COLUMNS.keys()
    if unknown:
        raise TypeError(f"incident has no column {', '.join(sorted(unknown))}")
    return {key: values.get(key, default) for key, default in _DEFAULTS.items()}


# attribute name → column, for every column of the table (``Incident.__table__``)
_COLUMNS = {a.key: a.columns[0] for a in inspect(Incident).column_attrs}
# what a column holds when intake gives it nothing: its scalar default, else NULL
_DEFAULTS = {
    key: c.default.arg if c.default is not None and c.default.is_scalar else None
    for key, c in _COLUMNS.items()
}


def _intake_statement() -> Insert:
    """The incident (unless its Idempotency-Key is taken) and its ``report`` event: one statement.

    Generated from the tables, so a new column is written without touching intake: every
    column of ``incident`` is a parameter of its own type (casts, geometry, enums are the
    column types' business). ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING``: a retry,
    even a concurrent one, inserts nothing (the loser waits for the winner's commit on the
    unique index), and then no event is written either — the statement returns no row.
    """
    inserted = (
        pg_insert(Incident)
        .values({c: bindparam(key, type_=c.type) for key, c in _COLUMNS.items()})
        .on_conflict_do_nothing(index_elements=[Incident.idempotency_key])
        .returning(Incident.id, Incident.unit_id)
        .cte("inserted")
    )
    event = IncidentEvent
    first_event = {
        "incident_id": inserted.c.id,
        "action": literal(Action.report.value, event.action.type),
        "from_status": null(),
        "to_status": literal(IncidentStatus.reported, event.to_status.type),
        "actor_id": bindparam("actor_id", type_=event.actor_id.type),
        "unit_id": inserted.c.unit_id,
        "at": bindparam("event_at", type_=event.at.type),
    }
    return (
        insert(event)
        .from_select(list(first_event), select(*first_event.values()))
        .returning(event.incident_id)
    )


Processor = Callable[[Any], Any]


class _Compiled:
    """A statement compiled once per dialect and run through the driver.

    Intake is the hottest write: this skips SQLAlchemy's per-execution work (cache key,
    execution context) and keeps only what it must do, each bound value through its
    type's processor — the same SQL and values ``session.execute`` would send.
    """

    def __init__(self, statement: Insert) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, dict[str, Any], dict[str, Processor]]] = {}

    def first(self, session: Session, params: dict[str, Any]) -> Row[Any] | None:
        """The first row the statement returns for ``params``, or None."""
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name not in self._by_dialect:
            compiled = self.statement.compile(dialect=dialect)
            binds = {name: bind for bind, name in compiled.bind_names.items()}
            fixed = {name: bind.value for name, bind in binds.items() if not bind.required}
            process: dict[str, Processor] = {}
            for name, bind in binds.items():
                if processor := bind.type.dialect_impl(dialect).bind_processor(dialect):
                    process[name] = processor
            self._by_dialect[dialect.name] = (compiled.string, fixed, process)
        sql, fixed, process = self._by_dialect[dialect.name]
        values = fixed | params
        for name, convert in process.items():
            values[name] = convert(values[name])
        return connection.exec_driver_sql(sql, values).first()


_INTAKE = _Compiled(_intake_statement())


def _window(session: Session, actor: Actor | None, data: IncidentCreate) -> WindowUnit:
    """The department whose window in the actor's centre took the report (进驻窗口)."""
    if data.channel != Channel.window:
        raise InvalidInput(f"window is for reports taken at a window (channel window), not "
                           f"{data.channel.value}: leave it out")  # fmt: skip
    if actor is None or not actor.policy.dispatches:
        raise Forbidden("only the staff of a centre take reports at its windows")
    return window_unit(
        session, unit_codes.centre_code(actor.area_code), data.window or "", data.category
    )


def _handling_level(unit: UnitRef | None) -> AreaLevel:
    """The level an incident starts at: its centre's (a township for 属地), else the village.

    A dispatcher acts on incidents handled at their level or above it: a township-held
    incident is the township's and the county's to dispatch, not the village's.
    """
    if unit is not None and unit_codes.is_centre(unit.code):
        return area_codes.level_of(unit_codes.area_of_centre(unit.code))
    return AreaLevel.village


def incident_code(reported_at: datetime, incident_id: int) -> str:
    """The public code of an incident: ``QZ<year in China time><id, 8 digits>``.

    The seed names its incidents with this function too, so every code has one width.
    """
    return f"QZ{reported_at.astimezone(CHINA_TZ).year}{incident_id:08d}"


class _IdBlocks:
    """Incident ids taken from the sequence fifty at a time (one round trip per fifty reports).

    Ids stay unique (the sequence hands out each value once); a restart leaves a gap.
    """

    BLOCK = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._url: URL | None = None

    def next(self, session: Session) -> int:
        url = session.get_bind().engine.url  # compared as a tuple: rendering it costs more
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


def _by_idempotency_key(session: Session, key: str, digest: str | None) -> Incident | None:
    existing = session.scalar(select(Incident).where(Incident.idempotency_key == key))
    if existing is None:
        return None
    if existing.idempotency_hash != digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different report: use a new key "
            "for a new report (a retry must repeat the request exactly)"
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


def get(*, session: Session, code: str, actor: Actor, for_update: bool = False) -> Incident:
    """The incident with ``code`` if the actor may see it (404 otherwise: no existence leak)."""
    query = select(Incident).where(Incident.code == code, incident_filter(actor))
    incident = session.scalar(query.with_for_update() if for_update else query)
    if incident is None:
        raise NotFound(f"there is no incident {code} in your area")
    return incident


# -- workflow actions ------------------------------------------------------------------------


@dataclass
class Step:
    """What an action's effect works on."""

    session: Session
    incident: Incident
    data: ActionIn
    actor: Actor
    now: datetime
    payload: dict[str, object] = field(default_factory=dict)
    calendar: WorkingCalendar | None = None


def act(
    *,
    session: Session,
    code: str,
    action: Action,
    data: ActionIn,
    actor: Actor,
    now: datetime | None = None,
    calendar: WorkingCalendar | None = None,
    loaded: Incident | None = None,
) -> Incident:
    """Take ``action`` on an incident: scope, version, state, who may, then its effect.

    The order of the checks is fixed (docs/decisions.md): outside the actor's scope 404
    (existence does not leak), a stale version 409, an illegal transition 409, a role or
    unit that may not take it 403; then the action's own rules as its effect runs (a unit
    outside the place 403, a missing outcome 422, …), and last a note missing where the
    table needs one 422. A refusal leaves the caller's transaction to roll back.
    ``loaded``: the incident ``code`` already read by :func:`get` in this transaction (a
    bulk action reads all of its incidents in one query); otherwise it is read here.
    """
    if action not in TRANSITIONS:
        raise InvalidInput(f"{action.value} is not an action on an existing incident")
    now = now or datetime.now(UTC)
    incident = loaded if loaded is not None else get(session=session, code=code, actor=actor)
    if incident.code != code:
        raise ValueError(f"loaded is incident {incident.code}, not {code}")
    if incident.version != data.version:
        raise StaleVersion(
            f"incident {code} changed since you loaded it (you have version {data.version}, it "
            f"is at {incident.version}): reload it and try again",
        )
    before = incident.status
    after = next_status(before, action)
    check_allowed(session, incident, action, actor)
    step = Step(session, incident, data, actor, now, calendar=calendar)
    EFFECTS[action](step)
    if TRANSITIONS[action].needs_note:
        require_note(action, data.note)
    incident.status = after
    _event(session, incident, action, before, after, actor, data.note, now, step.payload or None)
    session.flush()  # bumps version; a concurrent change makes this raise StaleDataError
    return incident


class Ties:
    """The actor's ties to an incident that need the database, each read once when asked."""

    def __init__(self, session: Session, incident: Incident, actor: Actor) -> None:
        self.holds = functools.cache(lambda: _is_handler(session, incident, actor))
        self.co_unit = functools.cache(lambda: co_part(session, incident, actor) is not None)
        self.summoned = functools.cache(lambda: _summons(session, incident, actor) is not None)


def may(
    session: Session, incident: Incident, action: Action, actor: Actor, ties: Ties | None = None
) -> bool:
    """True if ``actor`` may take ``action`` on ``incident`` now (state and role)."""
    row = TRANSITIONS.get(action)
    if row is None or incident.status not in row.sources:
        return False
    if action == Action.respond and not _awaits_answer(incident):
        return False  # nothing to answer: not offered (and no unit looked up for it)
    try:
        check_allowed(session, incident, action, actor, ties)
    except Forbidden:
        return False
    return True


def allowed(session: Session, incident: Incident, actor: Actor) -> list[Action]:
    """Every action ``actor`` may take on ``incident`` now.

    :func:`may` for each action of its state, the actor's ties to it read once for all of
    them (a list page asks this for 50 incidents).
    """
    ties = Ties(session, incident, actor)
    return [a for a in allowed_actions(incident.status) if may(session, incident, a, actor, ties)]


def check_allowed(
    session: Session, incident: Incident, action: Action, actor: Actor, ties: Ties | None = None
) -> None:
    """Refuse (403) an action the actor's role, level or unit does not allow.

    The rules are the table in :mod:`gridmap.incidents.permissions`; this gives them the
    incident, and the actor's ties to it, looked up only if a check asks.
    """
    ties = ties or Ties(session, incident, actor)
    reason = permissions.refusal(
        permissions.Case(
            actor=actor,
            action=action,
            code=incident.code,
            grid_code=incident.grid_code,
            handling_level=incident.handling_level,
            holds=ties.holds,
            co_unit=ties.co_unit,
            summoned=ties.summoned,
        )
    )
    if reason is not None:
        raise Forbidden(reason)


def _is_handler(session: Session, incident: Incident, actor: Actor) -> bool:
    return _acts_for(session, actor, incident.unit_id)


def _acts_for(session: Session, actor: Actor, unit_id: int | None) -> bool:
    """True if ``actor`` works for the unit (its handler, or a dispatcher for its centre)."""
    if unit_id is None:
        return False
    if actor.policy.unit:
        return unit_id == actor.department_id
    unit = session.get(Department, unit_id)
    return (
        actor.policy.dispatches
        and unit is not None
        and unit.type == unit_codes.CENTRE
        and actor.covers(unit.area_code)
    )


def co_part(session: Session, incident: Incident, actor: Actor) -> IncidentUnit | None:
    """The co-unit part of a joint incident that ``actor`` works for, if any."""
    parts = session.scalars(
        select(IncidentUnit).where(
            IncidentUnit.incident_id == incident.id, IncidentUnit.role == "co"
        )
    )
    return next((p for p in parts if _acts_for(session, actor, p.unit_id)), None)


# the actions that hand the incident to (or summon) units the dispatcher picks
HANDING = (Action.dispatch, Action.transfer, Action.joint, Action.whistle)
NO_UNIT = "hands the incident to no unit: use dispatch, transfer, joint or whistle"


def takers(session: Session, incident: Incident, action: Action) -> dict[str, Department]:
    """The units ``action`` may hand ``incident`` to, by code, in the picker's order.

    A unit responsible for the incident's place (属地): its area is the incident's grid cell
    or one containing it; a transfer goes to a unit other than the one holding it, and a
    whistle (吹哨) summons departments, not centres. The
    action checks its unit against this set (:func:`_target_unit`) and
    :func:`units_for` lists it: the picker and the check are one rule.
    """
    if action not in HANDING:
        raise InvalidInput(f"{action} {NO_UNIT}")
    if incident.grid_code is None:
        return {}
    places = [incident.grid_code, *area_codes.ancestors(incident.grid_code)]
    query = select(Department).where(Department.area_code.in_(places))
    if action == Action.transfer and incident.unit_id is not None:
        query = query.where(Department.id != incident.unit_id)
    if action == Action.whistle:
        query = query.where(Department.type != unit_codes.CENTRE)
    rows = session.scalars(query.order_by(Department.level, Department.type, Department.code))
    return {unit.code: unit for unit in rows}


def units_for(
    *, session: Session, incident: Incident, action: Action, actor: Actor
) -> list[Department]:
    """The units the unit picker offers for ``action``: none if the actor may not take it."""
    if action not in HANDING:
        raise InvalidInput(f"{action} {NO_UNIT}")
    if not may(session, incident, action, actor):
        return []
    return list(takers(session, incident, action).values())


def _target_unit(step: Step, code: str | None, action: Action) -> Department:
    """The unit ``code`` if ``action`` may hand the incident to it (one of :func:`takers`)."""
    if not code:
        raise InvalidInput(f"{action} needs unit_code: the unit that takes the incident")
    found = takers(step.session, step.incident, action).get(code)
    if found is not None:
        return found
    unit = step.session.scalar(select(Department).where(Department.code == code))
    if unit is None:
        raise InvalidInput(f"there is no unit {code!r}")
    if action == Action.transfer and unit.id == step.incident.unit_id:
        raise InvalidInput(f"the incident is already with {code}")
    if action == Action.whistle and unit.type == unit_codes.CENTRE:
        raise InvalidInput(f"{code} is a centre: a whistle summons departments")
    raise Forbidden(
        f"unit {code} works in area {unit.area_code}; incident {step.incident.code} is in "
        f"{step.incident.grid_code}: choose a unit responsible for that place"
    )


def _current_unit_code(session: Session, incident: Incident) -> str | None:
    if incident.unit_id is None:
        return None
    return session.scalar(select(Department.code).where(Department.id == incident.unit_id))


def _hand_to(step: Step, unit: Department) -> None:
    step.incident.unit_id = unit.id
    step.payload["unit"] = unit.code


def _dispatch(step: Step) -> None:
    code = step.data.unit_code or _current_unit_code(step.session, step.incident)
    _hand_to(step, _target_unit(step, code, Action.dispatch))


def _transfer(step: Step) -> None:
    if not step.data.unit_code:
        raise InvalidInput("transfer needs unit_code: the unit that takes the incident over")
    _hand_to(step, _target_unit(step, step.data.unit_code, Action.transfer))


def _joint(step: Step) -> None:
    _dispatch(step)
    session, incident = step.session, step.incident
    co = [_target_unit(step, c, Action.joint) for c in dict.fromkeys(step.data.co_unit_codes)]
    if not co:
        raise InvalidInput("joint handling needs co_unit_codes besides the lead unit")
    lead = next((c.code for c in co if c.id == incident.unit_id), None)
    if lead is not None:
        raise InvalidInput(f"{lead} leads incident {incident.code}: it cannot be a co-unit too")
    if session.scalar(select(IncidentUnit.id).where(IncidentUnit.incident_id == incident.id)):
        raise Conflict(f"incident {incident.code} is already handled jointly")
    session.add(IncidentUnit(incident_id=incident.id, unit_id=incident.unit_id, role="lead"))
    session.add_all(IncidentUnit(incident_id=incident.id, unit_id=c.id, role="co") for c in co)
    step.payload["co_units"] = [c.code for c in co]


def _own_centre(step: Step) -> Department | None:
    """The acting user's own governance centre (the centre of their area), if there is one."""
    own = unit_codes.centre_code(step.actor.area_code)
    return step.session.scalar(select(Department).where(Department.code == own))


def _self_handle(step: Step) -> None:
    """自办: the acting centre keeps it (a county centre that steps in holds it itself)."""
    incident = step.incident
    centre = _own_centre(step)
    if centre is None or centre.code not in takers(step.session, incident, Action.dispatch):
        centre = step.session.scalar(
            select(Department).where(
                Department.code == unit_codes.centre_of(incident.grid_code or "", AreaLevel.village)
            )
        )
    if centre is not None:
        incident.unit_id = centre.id
        incident.handling_level = centre.level
        step.payload["unit"] = centre.code
    incident.signed_at = step.now


def _sign(step: Step) -> None:
    step.incident.signed_at = step.incident.signed_at or step.now


def _return(step: Step) -> None:
    step.payload["returned_by"] = _current_unit_code(step.session, step.incident)


def _resolve(step: Step) -> None:
    if step.data.outcome is None:
        raise InvalidInput(
            "resolving needs an outcome: mediated, referred_arbitration, referred_court, "
            "handled or other"
        )
    pending = step.session.scalars(
        select(Department.code)
        .join(IncidentUnit, IncidentUnit.unit_id == Department.id)
        .where(IncidentUnit.incident_id == step.incident.id, IncidentUnit.role == "co",
               IncidentUnit.done_at.is_(None))
        .order_by(Department.code)
    ).all()  # fmt: skip
    if pending and not step.data.override:
        raise Conflict(
            f"joint handling (联办): waiting for the parts of {', '.join(pending)}; resolve "
            "when they are in, or with override and a note giving the reason"
        )
    if pending:
        require_note(Action.resolve, step.data.note)  # why it cannot wait for them
        step.payload["overridden"] = list(pending)
    step.incident.outcome = step.data.outcome
    step.incident.resolved_at = step.now


def _follow_up(step: Step) -> None:
    if step.data.satisfaction is None:
        raise InvalidInput("a follow-up records the citizen's satisfaction (1–5)")
    step.incident.satisfaction = step.data.satisfaction


def _close(step: Step) -> None:
    step.incident.closed_at = step.now


def _reopen(step: Step) -> None:
    step.incident.resolved_at = None
    step.incident.outcome = None


def _supervise(step: Step) -> None:
    """督办: a higher level's centre supervises, with a reason (the note) and a new deadline."""
    deadline = step.data.deadline
    if deadline is None:
        raise InvalidInput("supervising needs a deadline: when it must be resolved by")
    timebounds.check(deadline, name="deadline", event=False, now=step.now)
    if deadline <= step.now:
        raise InvalidInput(f"the deadline {deadline.isoformat()} has passed: give a later one")
    own = _own_centre(step)
    incident = step.incident
    incident.supervised = True
    incident.supervised_at = step.now
    incident.supervised_by_id = own.id if own is not None else None
    incident.supervision_due_at = deadline
    incident.supervision_answered_at = None
    incident.resolve_due_at = deadline
    step.payload.update(by=own.code if own else None, deadline=deadline.isoformat())


def _awaits_answer(incident: Incident) -> bool:
    """True while a supervision (督办) waits for the holder's answer."""
    return incident.supervised_at is not None and incident.supervision_answered_at is None


def _respond(step: Step) -> None:
    """督办回复: the holder answers the supervision (the note: what was done, what is next)."""
    incident = step.incident
    if not _awaits_answer(incident):
        raise Conflict(f"incident {incident.code} has no supervision waiting for an answer")
    incident.supervision_answered_at = step.now


def _escalate(step: Step) -> None:
    incident = step.incident
    level = incident.handling_level or AreaLevel.village
    if level not in NEXT_LEVEL:
        raise Conflict(
            f"incident {incident.code} is already handled at city level: it cannot go higher"
        )
    centre_code = unit_codes.centre_of(incident.grid_code or "", NEXT_LEVEL[level])
    centre = step.session.scalar(select(Department).where(Department.code == centre_code))
    if centre is None:
        raise Conflict(f"there is no centre {centre_code} to escalate to")
    incident.unit_id = centre.id
    incident.handling_level = centre.level
    step.payload["to"] = centre.code


def _merge(step: Step) -> None:
    if not step.data.merged_into:
        raise InvalidInput("merging needs merged_into: the code of the incident kept")
    kept = get(session=step.session, code=step.data.merged_into, actor=step.actor)
    if kept.id == step.incident.id:
        raise InvalidInput("an incident cannot be merged into itself")
    if kept.status in FINAL:
        raise Conflict(
            f"incident {kept.code} is {kept.status.value}: merge into an incident that is "
            "still being handled"
        )
    step.incident.merged_into_id = kept.id
    step.payload["merged_into"] = kept.code


def _co_sign(step: Step) -> None:
    """会办签收: the co-unit takes on its part."""
    part = co_part(step.session, step.incident, step.actor)
    assert part is not None  # check_allowed found it
    if part.signed_at is not None:
        raise Conflict("your unit has already signed for its part of this joint incident")
    part.signed_at = step.now
    step.payload["unit"] = _unit_code_of(step.session, part.unit_id)


def _co_report(step: Step) -> None:
    """会办反馈: the co-unit records its part as done, saying what it did."""
    part = co_part(step.session, step.incident, step.actor)
    assert part is not None
    if part.signed_at is None:
        raise Conflict("sign for your part (co_sign) before recording it as done")
    if part.done_at is not None:
        raise Conflict("your unit's part of this joint incident is already recorded")
    part.done_at = step.now
    part.part_note = step.data.note
    step.payload["unit"] = _unit_code_of(step.session, part.unit_id)


def _summons(session: Session, incident: Incident, actor: Actor) -> IncidentWhistle | None:
    """The whistle summoning ``actor``'s department to ``incident``, not yet answered."""
    if not actor.policy.unit or actor.department_id is None:
        return None
    return session.scalar(
        select(IncidentWhistle).where(
            IncidentWhistle.incident_id == incident.id,
            IncidentWhistle.unit_id == actor.department_id,
            IncidentWhistle.checked_in_at.is_(None),
        )
    )


def _whistle(step: Step) -> None:
    """吹哨: summon departments; each must check in within the office-hour limit."""
    if not step.data.summoned:
        raise InvalidInput("a whistle names the departments summoned (summoned)")
    if step.calendar is None:  # pragma: no cover - the API always passes it
        raise InvalidInput("a whistle needs the working-day calendar")
    try:
        due = step.calendar.add_working_hours(step.now, CHECK_IN_HOURS)
    except ValueError:
        raise InvalidInput("the working-day calendar does not reach the check-in time") from None
    units = [_target_unit(step, code, Action.whistle) for code in dict.fromkeys(step.data.summoned)]
    for unit in units:
        waiting = step.session.scalar(select(IncidentWhistle.id).where(
            IncidentWhistle.incident_id == step.incident.id, IncidentWhistle.unit_id == unit.id,
            IncidentWhistle.checked_in_at.is_(None)))  # fmt: skip
        if waiting is not None:
            raise Conflict(f"{unit.code} is already summoned and has not checked in yet")
    caller = _own_centre(step)
    for unit in units:
        step.session.add(IncidentWhistle(
            incident_id=step.incident.id, unit_id=unit.id,
            called_by_unit_id=caller.id if caller else None,
            called_at=step.now, due_at=due))  # fmt: skip
    step.payload.update(summoned=[u.code for u in units], due=due.isoformat())


def _check_in(step: Step) -> None:
    """报到: the summoned department checks in (what it will do, in the note)."""
    summons = _summons(step.session, step.incident, step.actor)
    assert summons is not None  # check_allowed found it
    summons.checked_in_at = step.now
    summons.note = step.data.note
    step.payload["on_time"] = step.now <= summons.due_at


def _nothing_more(step: Step) -> None:
    """An action that is its event: the state change and the note say it all."""


def _unit_code_of(session: Session, unit_id: int) -> str | None:
    return session.scalar(select(Department.code).where(Department.id == unit_id))


EFFECTS: dict[Action, Callable[[Step], None]] = {
    Action.dispatch: _dispatch,
    Action.self_handle: _self_handle,
    Action.sign: _sign,
    Action.return_: _return,
    Action.transfer: _transfer,
    Action.joint: _joint,
    Action.resolve: _resolve,
    Action.follow_up: _follow_up,
    Action.close: _close,
    Action.reopen: _reopen,
    Action.reject: _nothing_more,  # the note says why, for the reporter
    Action.merge: _merge,
    Action.supervise: _supervise,
    Action.respond: _respond,
    Action.co_sign: _co_sign,
    Action.co_report: _co_report,
    Action.whistle: _whistle,
    Action.check_in: _check_in,
    Action.escalate: _escalate,
    Action.note: _nothing_more,  # 跟踪落实: the note is what was seen or done
}
