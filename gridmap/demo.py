"""The demo: the demo seed plus one user per role, so a new user can sign in at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.areas.active import current_plan
from gridmap.areas.models import Area, AreaLevel
from gridmap.auth.models import Role, User
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.errors import GridmapError
from gridmap.incidents.deadlines import due_within_clause, next_due_clause, overdue_clause
from gridmap.incidents.models import OPEN, Incident, IncidentEvent
from gridmap.models import make_sessionmaker
from gridmap.open311.clients import create_client, list_clients
from gridmap.settings import Settings
from gridmap.units.codes import centre_code
from gridmap.units.models import Department

DEMO_PASSWORD = "quanzhou-2025"  # documented in README; demo data only, never production
DEMO_OPEN311_CLIENT = "demo-app"
DEMO_OPEN311_KEY = "demo-open311-key"  # published like the password: demo only
DEMO_COUNTY = "350503"  # Fengze


def has_seed(url: str) -> bool:
    """True if the database already holds a seed (an active plan)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return current_plan(session) is not None
    finally:
        engine.dispose()


def _first_code(session: Session, level: AreaLevel, prefix: str) -> str | None:
    return session.scalar(
        select(Area.code)
        .where(Area.level == level, Area.code.startswith(prefix))
        .order_by(Area.code)
    )


def demo_users(session: Session) -> list[tuple[str, Role, str, int | None]]:
    """One user per role, placed in the demo data where it exists (username, role, area, dept)."""
    township = _first_code(session, AreaLevel.township, DEMO_COUNTY) or DEMO_COUNTY
    village = _first_code(session, AreaLevel.village, township) or township
    grid = _first_code(session, AreaLevel.grid, village) or village
    labour = session.scalar(select(Department.id).where(Department.code == f"labour-{DEMO_COUNTY}"))
    users: list[tuple[str, Role, str, int | None]] = [
        ("admin", Role.city_admin, "350500", None),
        ("fengze", Role.county_dispatcher, DEMO_COUNTY, None),
        ("township", Role.township_dispatcher, township, None),
        ("village", Role.village_worker, village, None),
        ("grid", Role.grid_worker, grid, None),
        ("planner", Role.planner, "350500", None),
        ("analyst", Role.analyst, "350500", None),
    ]
    if labour is not None:
        users.append(("labour", Role.department_handler, DEMO_COUNTY, labour))
    centre = session.scalar(select(Department.id).where(Department.code == centre_code(township)))
    if centre is not None:  # 调解员 of the township's centre
        users.append(("mediator", Role.mediator, township, centre))
    return users


def load_demo(*, url: str, console: Console, settings: Settings) -> None:
    """Create the demo users that are missing (idempotent); refused in production."""
    if settings.environment == "production":
        raise GridmapError("the demo users have a published password: not in production")
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            for username, role, area, department_id in demo_users(session):
                if session.scalar(select(User.id).where(User.username == username)) is None:
                    create_user(
                        session=session,
                        username=username,
                        password=DEMO_PASSWORD,
                        role=role,
                        area_code=area,
                        department_id=department_id,
                    )
                    console.print(
                        f"demo user {username} ({role.value}, area {area}) / {DEMO_PASSWORD}"
                    )
            if not any(c.name == DEMO_OPEN311_CLIENT for c in list_clients(session)):
                create_client(session, DEMO_OPEN311_CLIENT, key=DEMO_OPEN311_KEY,
                              contact="the demo")  # fmt: skip
                console.print(f"demo Open311 client {DEMO_OPEN311_CLIENT}: "
                              f"api_key={DEMO_OPEN311_KEY}")  # fmt: skip
    finally:
        engine.dispose()


# every table whose times belong to an incident's life: moved together, so the history,
# the deadlines, the joint parts, whistles, photos and reminders still agree
LIVE_TABLES = ("incident", "incident_event", "incident_unit", "incident_whistle",
               "incident_photo", "notification", "notification_read")  # fmt: skip


@dataclass(frozen=True)
class Live:
    """How far the demo's incidents moved, and what is live now."""

    shift: timedelta
    open: int
    overdue: int
    due_soon: int


# Of the open incidents the moved year leaves overdue, these shares (by a fixed hash of the
# id) are made due within two days and stay overdue; the rest fall due days ahead.
LIVE_OVERDUE_SHARE = 0.15
LIVE_DUE_SOON_SHARE = 0.15


def make_live(session: Session, now: datetime) -> Live:
    """Move the demo's incidents so that the newest history entry is ``now``, with live shares.

    The seed is a reference year (2025, reproducing the published figures): seen from a
    later clock every open incident is overdue and the recent-days views are empty. First
    the year moves forward as a whole — reports, events, deadlines, joint parts, whistles,
    reminders, by one interval — so it ends now. The generator's year end still leaves most
    open incidents overdue (546 of 702 on the demo seed), which no working centre has:
    then each of those, but a minority, moves forward on its own — its whole timeline by
    one interval, never past now — so that its deadline falls within two days (some) or
    days ahead (most). Only for the demo (``gridmap demo``), right after the seed is
    loaded; ``gridmap seed`` keeps the reference year. The history's append-only trigger is
    switched off for this transaction (it needs the table's owner, as the demo's loader is).
    """
    newest = session.scalar(select(func.max(IncidentEvent.at)))
    shift = timedelta(0) if newest is None else now - newest
    shift = timedelta(seconds=int(shift.total_seconds()))
    session.execute(text("ALTER TABLE incident_event DISABLE TRIGGER incident_event_append_only"))
    if shift > timedelta(0):
        for table in LIVE_TABLES:
            columns = _time_columns(session, table)
            if columns:
                moved = ", ".join(f"{c} = {c} + CAST(:shift AS interval)" for c in columns)
                session.execute(text(f"UPDATE {table} SET {moved}"),
                                {"shift": f"{int(shift.total_seconds())} seconds"})  # fmt: skip
    _move_each(session, _live_shifts(session, now))
    session.execute(text("ALTER TABLE incident_event ENABLE TRIGGER incident_event_append_only"))
    counts = session.execute(
        select(
            func.count().filter(Incident.status.in_(sorted(OPEN))),
            func.count().filter(overdue_clause(now)),
            func.count().filter(due_within_clause(now)),
        )
    ).one()
    return Live(shift, *counts)


def _time_columns(session: Session, table: str) -> list[str]:
    return list(
        session.scalars(
            text("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                 "current_schema() AND table_name = :t AND data_type = "
                 "'timestamp with time zone' ORDER BY ordinal_position"), {"t": table}
        )
    )  # fmt: skip


def _live_shifts(session: Session, now: datetime) -> dict[int, timedelta]:
    """How far each overdue open incident moves on its own (none: it stays overdue).

    The earliest running deadline (sign-for while unsigned) is the one moved ahead: the
    overdue rule's own (:func:`gridmap.incidents.deadlines.next_due_clause`).
    """
    last = (
        select(IncidentEvent.incident_id, func.max(IncidentEvent.at).label("at"))
        .group_by(IncidentEvent.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(Incident.id, next_due_clause(), func.coalesce(last.c.at, Incident.reported_at))
        .outerjoin(last, last.c.incident_id == Incident.id)
        .where(overdue_clause(now), next_due_clause().is_not(None))
    ).all()  # fmt: skip
    out = {}
    for incident_id, due, latest in rows:
        share = (incident_id * 2654435761 % 2**32) / 2**32  # a fixed spread over the ids
        if share < LIVE_OVERDUE_SHARE:
            continue
        ahead = (
            timedelta(hours=12 + 24 * share)  # due within two days
            if share < LIVE_OVERDUE_SHARE + LIVE_DUE_SOON_SHARE
            else timedelta(days=3 + 10 * share)
        )
        by = min(now + ahead - due, now - latest)  # no history entry moves past now
        if by > timedelta(0):
            out[incident_id] = timedelta(seconds=int(by.total_seconds()))
    return out


def _move_each(session: Session, shifts: dict[int, timedelta]) -> None:
    """Move every time of each incident's life (all LIVE_TABLES) by its own interval."""
    if not shifts:
        return
    session.execute(text("CREATE TEMP TABLE live_shift (incident_id bigint PRIMARY KEY, "
                         "delta interval NOT NULL) ON COMMIT DROP"))  # fmt: skip
    session.execute(
        text("INSERT INTO live_shift VALUES (:i, CAST(:d AS interval))"),
        [{"i": i, "d": f"{int(d.total_seconds())} seconds"} for i, d in shifts.items()],
    )
    joins = {
        "incident": ("live_shift m", "t.id = m.incident_id"),
        "notification_read": ("live_shift m, notification n",
                              "t.notification_id = n.id AND n.incident_id = m.incident_id"),
    }  # fmt: skip
    for table in LIVE_TABLES:
        columns = _time_columns(session, table)
        if not columns:
            continue
        source, on = joins.get(table, ("live_shift m", "t.incident_id = m.incident_id"))
        moved = ", ".join(f"{c} = t.{c} + m.delta" for c in columns)
        session.execute(text(f"UPDATE {table} AS t SET {moved} FROM {source} WHERE {on}"))
    session.execute(text("DROP TABLE live_shift"))


def liven(*, url: str, console: Console, now: datetime) -> Live:
    """:func:`make_live` in its own transaction, saying what it did."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            live = make_live(session, now)
    finally:
        engine.dispose()
    console.print(
        f"demo incidents moved {live.shift.days} days forward, so the reference year ends "
        f"now: {live.open:,} open, {live.due_soon:,} due within 2 days, {live.overdue:,} overdue"
    )
    return live
