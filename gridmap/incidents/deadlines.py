"""Overdue and due soon (超期 / 临期): computed from the due dates, never typed in.

The rule is data — which states each deadline applies to — and both the SQL filter (lists,
KPIs, maps) and the check on one loaded incident are derived from it, so the two can
never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, or_

from gridmap.incidents.models import OPEN, UNSIGNED, Incident, IncidentStatus

# (states in which the deadline runs, the due-date column): late sign-for, late resolution
DEADLINES: tuple[tuple[frozenset[IncidentStatus], str], ...] = (
    (UNSIGNED, "sign_due_at"),
    (OPEN, "resolve_due_at"),
)
DUE_SOON_COLUMN = "resolve_due_at"  # "due soon" looks at the resolution deadline
DUE_SOON = timedelta(days=2)  # the default horizon of "due soon" on maps and reminders
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


def due_soon_clause(now: datetime, within: timedelta = DUE_SOON) -> ColumnElement[bool]:
    """SQL: open, not overdue, and due within ``within``."""
    due = getattr(Incident, DUE_SOON_COLUMN)
    return and_(
        Incident.status.in_(sorted(OPEN)),
        ~overdue_clause(now),
        due >= now,
        due < now + within,
    )


def is_due_soon(incident: Incident, now: datetime, within: timedelta = DUE_SOON) -> bool:
    """Open, not overdue, and due within ``within`` (the same rule as the SQL)."""
    due = getattr(incident, DUE_SOON_COLUMN)
    return (
        incident.status in OPEN
        and not is_overdue(incident, now)
        and due is not None
        and now <= due < now + within
    )
