"""The live demo (issue 26, item 7): the reference year moved to end now, as a whole."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.db.session import make_engine
from gridmap.demo import LIVE_TABLES, _time_columns, make_live
from gridmap.incidents.deadlines import overdue_clause
from gridmap.incidents.models import OPEN, Incident, IncidentEvent

PLANNED: set[str] = set()  # time columns that name a moment ahead by design, besides *_due_at
# the seeded database is shared: other tests' reminder sweeps add notifications made today,
# which the year's shift then moves a year on (the demo shifts before any sweep runs)
SHARED = {"notification", "notification_read"}


def test_make_live_moves_every_time_by_one_interval(seeded):
    url, _ = seeded
    engine = make_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        with engine.connect() as conn, conn.begin() as outer:  # rolled back: the seed is shared
            session = Session(bind=conn)
            first = session.execute(
                select(Incident.id, Incident.reported_at, Incident.resolve_due_at)
                .where(Incident.status.in_(sorted(OPEN)), Incident.resolve_due_at.is_not(None))
                .order_by(Incident.id).limit(1)
            ).one()  # fmt: skip
            events = session.scalar(select(func.count()).select_from(IncidentEvent))
            newest = session.scalar(select(func.max(IncidentEvent.at)))
            open_n = session.scalar(select(func.count()).where(Incident.status.in_(sorted(OPEN))))
            stale = session.scalar(select(func.count()).where(overdue_clause(now)))
            assert newest.year == 2025 and stale == open_n  # seen from today: all overdue

            live = make_live(session, now)

            assert live.shift == timedelta(seconds=int((now - newest).total_seconds()))
            assert session.scalar(select(func.max(IncidentEvent.at))) == newest + live.shift
            assert abs(session.scalar(select(func.max(IncidentEvent.at))) - now) < timedelta(
                seconds=1
            )
            after = session.execute(
                select(Incident.reported_at, Incident.resolve_due_at).where(
                    Incident.id == first.id)
            ).one()  # fmt: skip
            # the year moved as a whole, and some overdue incidents further on their own
            assert after.reported_at - first.reported_at >= live.shift
            assert after.resolve_due_at - after.reported_at == (
                first.resolve_due_at - first.reported_at
            )
            assert session.scalar(select(func.max(Incident.reported_at))) <= now
            assert session.scalar(select(func.count()).select_from(IncidentEvent)) == events
            assert live.open == open_n
            # realistic shares: most open incidents within their deadline, some due within
            # two days, a minority overdue
            assert 0 < live.overdue < 0.25 * live.open, live
            assert 0 < live.due_soon < live.open - live.overdue - live.due_soon, live
            # each incident's history still runs in order: moved together
            assert not session.scalar(
                select(func.count())
                .select_from(IncidentEvent)
                .join(Incident, Incident.id == IncidentEvent.incident_id)
                .where(IncidentEvent.at < Incident.reported_at - timedelta(seconds=1))
            )
            # nothing that happened is dated after now (deadlines and reminders may be)
            future = {
                f"{table}.{column}": n
                for table in sorted(set(LIVE_TABLES) - SHARED)
                for column in _time_columns(session, table)
                if not column.endswith("due_at") and column not in PLANNED
                and (n := session.scalar(text(f"SELECT count(*) FROM {table} WHERE {column} > :now"),
                                         {"now": now + timedelta(seconds=1)}))
            }  # fmt: skip
            assert future == {}, future
            recent = session.scalar(
                select(func.count()).where(Incident.reported_at >= now - timedelta(days=7))
            )
            assert recent > 0
            # the history stays append-only afterwards
            from sqlalchemy.exc import DBAPIError

            try:
                with session.begin_nested():
                    session.execute(text("UPDATE incident_event SET note = 'x'"))
                raise AssertionError("the append-only trigger was left off")
            except DBAPIError:
                pass
            print(f"open {live.open}, due soon {live.due_soon}, overdue {live.overdue}")
            outer.rollback()
    finally:
        engine.dispose()
