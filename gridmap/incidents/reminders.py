"""Reminders (提醒): what needs a unit's attention, as notifications with read/unread.

Who is told what, and when — the rules, each written once here:

======================  ==========================================  ============================
kind                    arises                                      told
======================  ==========================================  ============================
``due_soon`` 临期       08:30 China time of the last working day    the holding unit
                        before the resolution deadline (an open
                        incident, not yet overdue)
``overdue`` 超期        the moment a deadline passes (sign-for      the holding unit; if it is a
                        while unsigned, resolution while open —     department, also the centre
                        :mod:`gridmap.incidents.deadlines`)         that dispatches the incident
``supervised`` 督办     when a higher level supervises (until the   the holding unit
                        holder answers)
``whistle`` 吹哨        when a department is summoned (until it     the summoned department
                        checks in)
``check_in_late``       the check-in limit passes without a         the centre that blew the
报到超时                check-in                                    whistle
``returned`` 退单       when the holder returns it (while it waits  the centre that dispatches
                        to be dispatched again)                     the incident
======================  ==========================================  ============================

"The centre that dispatches the incident" is the centre at its handling level for its
place (the township's, by the routing rules), or the township centre where that level has
none.

How: :func:`sweep` derives the notifications from the incidents' current state — no
timer, no event hook — and inserts the ones not made yet (``ON CONFLICT DO NOTHING`` on
(unit, incident, kind, moment)). It is idempotent, so it runs whenever an inbox is read
or a stream polls, scoped to the units asking; a moved deadline (a supervision's) is a new
moment and so a new reminder. Only open incidents are looked at: a bounded set, however
many incidents a city has had. The text is composed when read (:func:`message`), so it
follows the incident and holds no personal data (codes, category, deadlines only).

Whose inbox: a department handler reads their department's; a dispatcher (city, county,
township, village) their own centre's — the centre of their area. Other roles have none.
Read/unread is per person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridmap.areas.levels import AreaLevel
from gridmap.calendar import CHINA_TZ, WorkingCalendar
from gridmap.errors import NotFound
from gridmap.incidents.deadlines import DEADLINES, UPCOMING, due_soon_reminder_at
from gridmap.incidents.models import (
    OPEN,
    Incident,
    IncidentEvent,
    IncidentStatus,
    IncidentWhistle,
    Notification,
    NotificationKind,
    NotificationRead,
)
from gridmap.incidents.workflow import Action
from gridmap.ops import counters
from gridmap.scope import Actor, within
from gridmap.units import codes as unit_codes
from gridmap.units.models import Department, RoutingRule

K = NotificationKind


@dataclass(frozen=True)
class Wording:
    """How a kind reads, in Chinese and English ({code}, {category}, {due})."""

    zh: str
    en: str


WORDING: dict[NotificationKind, Wording] = {
    K.due_soon: Wording("临期：{code}（{category}）须于 {due} 前办结",
                        "Due soon: {code} ({category}) must be resolved by {due}"),
    K.overdue: Wording("超期：{code}（{category}）已超过 {due} 的时限",
                       "Overdue: {code} ({category}) passed its limit of {due}"),
    K.supervised: Wording("督办：{code}（{category}）被督办，须于 {due} 前办结并回复",
                          "Supervised: {code} ({category}) must be resolved and answered by {due}"),
    K.whistle: Wording("吹哨：{code}（{category}）召集本单位，须于 {due} 前报到",
                       "Whistle: your unit is summoned to {code} ({category}); check in by {due}"),
    K.check_in_late: Wording("报到超时：{code}（{category}）被召集的部门未于 {due} 前报到",
                             "Late check-in: a department summoned to {code} ({category}) did not "
                             "check in by {due}"),
    K.returned: Wording("退单：{code}（{category}）被退回，待重新派单",
                        "Returned: {code} ({category}) was sent back and waits to be dispatched"),
}  # fmt: skip


def inbox_units(session: Session, actor: Actor) -> list[int]:
    """The units whose notifications ``actor`` reads (see the module docstring)."""
    if actor.policy.unit:
        return [actor.department_id] if actor.department_id is not None else []
    if actor.policy.dispatches:  # a dispatcher reads their own centre's
        own = session.scalar(
            select(Department.id).where(Department.code == unit_codes.centre_code(actor.area_code))
        )
        return [own] if own is not None else []
    return []


@dataclass(frozen=True)
class _Row:
    unit_id: int
    incident_id: int
    kind: NotificationKind
    at: datetime
    due_at: datetime | None


def sweep(
    session: Session,
    now: datetime,
    calendar: WorkingCalendar,
    units: Sequence[int] | None = None,
) -> int:
    """Make the notifications due by ``now`` that are not made yet; the number made.

    ``units`` limits it to what those units are told (an inbox being read); ``None``
    sweeps every unit (``gridmap worker``). Its duration is a metric.
    """
    if units is not None and not units:
        return 0
    with counters.SWEEP_SECONDS.labels(scope="all" if units is None else "inbox").time():
        return _sweep(session, now, calendar, units)


def _sweep(
    session: Session, now: datetime, calendar: WorkingCalendar, units: Sequence[int] | None
) -> int:
    centres = {
        code: uid
        for code, uid in session.execute(
            select(Department.code, Department.id).where(Department.type == unit_codes.CENTRE)
        )
    }
    rows = [
        r
        for r in _candidates(session, now, calendar, units, centres)
        if units is None or r.unit_id in units
    ]
    if not rows:
        return 0
    values = [
        {"unit_id": r.unit_id, "incident_id": r.incident_id, "kind": r.kind.value,
         "at": r.at, "due_at": r.due_at}
        for r in dict.fromkeys(rows)
    ]  # fmt: skip
    made = 0
    for start in range(0, len(values), 5000):
        result = session.execute(
            insert(Notification)
            .values(values[start : start + 5000])
            .on_conflict_do_nothing(constraint="uq_notification_once")
            .returning(Notification.id)
        )
        made += len(result.all())
    return made


def _candidates(
    session: Session,
    now: datetime,
    calendar: WorkingCalendar,
    units: Sequence[int] | None,
    centres: dict[str, int],
) -> Iterable[_Row]:
    mine: list[ColumnElement[bool]] = [
        Incident.status.in_(sorted(OPEN)),
        Incident.unit_id.is_not(None),
    ]
    if units is not None:
        wanted = set(units)
        areas = [
            within(Incident.grid_code, unit_codes.area_of_centre(code))
            for code, uid in centres.items()
            if uid in wanted
        ]
        mine.append(or_(Incident.unit_id.in_(units), *areas))
    incidents = session.execute(
        select(
            Incident.id, Incident.unit_id, Incident.grid_code, Incident.handling_level,
            Incident.status, Incident.sign_due_at, Incident.resolve_due_at,
            Incident.supervised_at, Incident.supervision_due_at, Incident.supervision_answered_at,
            Department.type.label("unit_type"),
        )
        .join(Department, Department.id == Incident.unit_id)
        .where(*mine)
    ).all()  # fmt: skip
    waiting = [i.id for i in incidents if i.status == IncidentStatus.reported]
    returned: dict[int, datetime] = {
        incident_id: at
        for incident_id, at in session.execute(
            select(IncidentEvent.incident_id, func.max(IncidentEvent.at))
            .where(
                IncidentEvent.incident_id.in_(waiting),
                IncidentEvent.action == Action.return_.value,
            )
            .group_by(IncidentEvent.incident_id)
        )
    }
    for i in incidents:
        overdue = False
        for states, column in DEADLINES:
            due = getattr(i, column)
            if i.status in states and due is not None and due < now:
                overdue = True
                yield _Row(i.unit_id, i.id, K.overdue, due, due)
                if i.unit_type != unit_codes.CENTRE:
                    centre = _dispatcher(centres, i.grid_code, i.handling_level)
                    if centre is not None:
                        yield _Row(centre, i.id, K.overdue, due, due)
        due = getattr(i, UPCOMING)
        if not overdue and due is not None and due > now:
            moment = due_soon_reminder_at(calendar, due)
            if moment is not None and moment <= now:
                yield _Row(i.unit_id, i.id, K.due_soon, moment, due)
        if i.supervised_at is not None and i.supervision_answered_at is None:
            yield _Row(i.unit_id, i.id, K.supervised, i.supervised_at, i.supervision_due_at)
        if i.id in returned:
            centre = _dispatcher(centres, i.grid_code, i.handling_level)
            if centre is not None:
                yield _Row(centre, i.id, K.returned, returned[i.id], None)
    yield from _whistles(session, now, units)


def _whistles(session: Session, now: datetime, units: Sequence[int] | None) -> Iterable[_Row]:
    open_incident = exists().where(
        Incident.id == IncidentWhistle.incident_id, Incident.status.in_(sorted(OPEN))
    )
    query = select(IncidentWhistle).where(IncidentWhistle.checked_in_at.is_(None), open_incident)
    if units is not None:
        query = query.where(
            or_(IncidentWhistle.unit_id.in_(units), IncidentWhistle.called_by_unit_id.in_(units))
        )
    for w in session.scalars(query):
        yield _Row(w.unit_id, w.incident_id, K.whistle, w.called_at, w.due_at)
        if w.due_at < now and w.called_by_unit_id is not None:
            yield _Row(w.called_by_unit_id, w.incident_id, K.check_in_late, w.due_at, w.due_at)


def _dispatcher(
    centres: dict[str, int], grid_code: str | None, level: AreaLevel | None
) -> int | None:
    """The centre that dispatches an incident: its handling level's, else the township's."""
    if not grid_code:
        return None
    for lvl in (level or AreaLevel.village, AreaLevel.township):
        found = centres.get(unit_codes.centre_of(grid_code, lvl))
        if found is not None:
            return found
    return None


# --- reading an inbox ----------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One notification as its reader sees it."""

    id: int
    kind: str
    incident_code: str
    unit_code: str
    at: datetime
    due_at: datetime | None
    read: bool
    still_open: bool
    message: str
    message_en: str


def inbox(
    session: Session,
    actor: Actor,
    *,
    unread_only: bool = False,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Item]:
    """The actor's notifications, newest first (or, with ``after_id``, those after it in order)."""
    units = inbox_units(session, actor)
    if not units:
        return []
    read = _read_by(actor)
    query = (
        select(Notification, Incident.code, Incident.status, Department.code, RoutingRule.name,
               RoutingRule.name_en, read.label("read"))
        .join(Incident, Incident.id == Notification.incident_id)
        .join(Department, Department.id == Notification.unit_id)
        .join(RoutingRule, RoutingRule.category == Incident.category)
        .where(Notification.unit_id.in_(units))
    )  # fmt: skip
    if unread_only:
        query = query.where(~read)
    if after_id is not None:
        query = query.where(Notification.id > after_id).order_by(Notification.id)
    else:
        query = query.order_by(Notification.id.desc())
    out = []
    for n, code, status, unit, name, name_en, is_read in session.execute(query.limit(limit)):
        kind = NotificationKind(n.kind)
        when = _local(n.due_at) if n.due_at else ""
        out.append(Item(
            id=n.id, kind=kind.value, incident_code=code, unit_code=unit, at=n.at,
            due_at=n.due_at, read=bool(is_read), still_open=status in OPEN,
            message=WORDING[kind].zh.format(code=code, category=name, due=when),
            message_en=WORDING[kind].en.format(code=code, category=name_en, due=when),
        ))  # fmt: skip
    return out


def _read_by(actor: Actor) -> ColumnElement[bool]:
    """True for a notification ``actor`` has read (read receipts are per person)."""
    return exists().where(
        NotificationRead.notification_id == Notification.id,
        NotificationRead.user_id == actor.user_id,
    )


def unread_count(session: Session, actor: Actor) -> int:
    """How many of the actor's notifications they have not read."""
    units = inbox_units(session, actor)
    if not units:
        return 0
    read = _read_by(actor)
    return int(
        session.scalar(select(func.count()).where(Notification.unit_id.in_(units), ~read)) or 0
    )


def mark_read(session: Session, actor: Actor, ids: Sequence[int] | None, now: datetime) -> int:
    """Mark notifications read (``None``: all in the inbox); the number newly marked.

    Raises
    ------
    NotFound
        Naming the ids that are not in the actor's inbox (nothing is marked then).
    """
    units = inbox_units(session, actor)
    query = select(Notification.id).where(Notification.unit_id.in_(units))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    found = set(session.scalars(query))
    if ids is not None and (missing := sorted(set(ids) - found)):
        raise NotFound(
            f"no notification {', '.join(map(str, missing))} in your inbox: read the list "
            "at /api/v1/notifications for the ids you may mark"
        )
    if not found:
        return 0
    result = session.execute(
        insert(NotificationRead)
        .values([{"notification_id": i, "user_id": actor.user_id, "read_at": now}
                 for i in sorted(found)])
        .on_conflict_do_nothing()
        .returning(NotificationRead.notification_id)
    )  # fmt: skip
    return len(result.all())


def _local(at: datetime) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
