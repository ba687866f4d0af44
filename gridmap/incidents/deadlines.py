"""Overdue and nearly due (超期 / 临期): computed from the due dates, never typed in.

The rule is data — which states each deadline applies to — and both the SQL filter (lists,
KPIs, maps) and the check on one loaded incident are derived from it, so the two can
never disagree.

"Nearly due" is two rules with two names, both about the resolution deadline:

- **due within** a horizon (:func:`due_within_clause`, ``DUE_WITHIN`` = 2 days by default):
  what the lists filter (``due_within_days``) and what the maps and ``/stats`` count as
  ``due_soon`` — a sliding window of hours;
- the **due-soon reminder** (:func:`due_soon_reminder_at`): a unit is told at 08:30 China
  time of the last working day before the deadline — a moment on the working calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, null, or_

from gridmap.calendar import WorkingCalendar
from gridmap.incidents.models import OPEN, UNSIGNED, Incident, IncidentStatus

# (states in which the deadline runs, the due-date column): late sign-for, late resolution
DEADLINES: tuple[tuple[frozenset[IncidentStatus], str], ...] = (
    (UNSIGNED, "sign_due_at"),
    (OPEN, "resolve_due_at"),
)
UPCOMING = "resolve_due_at"  # the deadline "due within" and the due-soon reminder look at
DUE_WITHIN = timedelta(days=2)  # the horizon the maps and /stats count as due_soon
CHECK_IN_HOURS = 2.0  # 吹哨报到: a summoned department checks in within two office hours
# 民意事件速办: signed for within two office hours, resolved by the end of the next working day
FAST_TRACK_SIGN_HOURS = 2.0
FAST_TRACK_RESOLVE_DAYS = 1


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL: overdue at ``now``."""
    return or_(
        false(),
        *(
            and_(Incident.status.in_(sorted(states)), getattr(Incident, column) < now)
            for states, column in DEADLINES
        ),
    )


def is_overdue(incident: Incident, now: datetime) -> bool:
    """Overdue at ``now`` (the same rule as :func:`overdue_clause`)."""
    for states, column in DEADLINES:
        due = getattr(incident, column)
        if incident.status in states and due is not None and due < now:
            return True
    return False


def next_due(incident: Incident) -> datetime | None:
    """The earliest deadline running now (the one :func:`is_overdue` passes first), if any."""
    running = [
        getattr(incident, column)
        for states, column in DEADLINES
        if incident.status in states and getattr(incident, column) is not None
    ]
    return min(running, default=None)


def next_due_clause() -> ColumnElement[datetime]:
    """SQL: :func:`next_due` (NULL when no deadline runs): the "time left" sort's key.

    Office hours left on the working calendar grow with the deadline, so sorting by this
    moment sorts by the time left, and it is past exactly when the incident is overdue.
    """
    return func.least(
        *(
            case((Incident.status.in_(sorted(states)), getattr(Incident, column)), else_=null())
            for states, column in DEADLINES
        )
    )


def time_left_hours(incident: Incident, now: datetime, calendar: WorkingCalendar) -> float | None:
    """Office hours from ``now`` to :func:`next_due` on the working calendar (negative: late).

    None when no deadline runs, or when the calendar does not reach it.
    """
    due = next_due(incident)
    if due is None:
        return None
    try:
        return round(calendar.working_hours(now, due), 2)
    except ValueError:
        return None


def due_within_clause(now: datetime, within: timedelta = DUE_WITHIN) -> ColumnElement[bool]:
    """SQL: open, not overdue, and due within ``within`` (not the due-soon reminder's rule)."""
    due = getattr(Incident, UPCOMING)
    return and_(
        Incident.status.in_(sorted(OPEN)),
        ~overdue_clause(now),
        due >= now,
        due < now + within,
    )


def is_due_within(incident: Incident, now: datetime, within: timedelta = DUE_WITHIN) -> bool:
    """Open, not overdue, and due within ``within`` (the same rule as the SQL)."""
    due = getattr(incident, UPCOMING)
    return (
        incident.status in OPEN
        and not is_overdue(incident, now)
        and due is not None
        and now <= due < now + within
    )


def due_soon_reminder_at(calendar: WorkingCalendar, due: datetime) -> datetime | None:
    """When the due-soon reminder (临期提醒) for a deadline ``due`` arises, if the calendar knows.

    08:30 China time of the last working day that opens before the deadline: the start of
    the last working day left (:meth:`WorkingCalendar.opening_before`).
    """
    try:
        return calendar.opening_before(due)
    except ValueError:
        return None
