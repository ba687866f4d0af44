"""Real concurrent transactions: two dispatchers, one incident — exactly one wins."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.auth.models import Role
from gridmap.calendar import WorkingCalendar
from gridmap.db import migrate
from gridmap.db.session import make_engine
from gridmap.errors import Conflict
from gridmap.incidents import service
from gridmap.incidents.models import Channel, IncidentEvent
from gridmap.incidents.schemas import ActionIn, IncidentCreate
from gridmap.incidents.workflow import Action
from gridmap.locate import Locator
from tests.world import COUNTY, build_world, inside


@pytest.fixture(scope="module")
def committed(pg_cluster):
    pg_cluster.create_database("concurrency")
    url = pg_cluster.url("concurrency")
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        world = build_world(s)
        s.commit()
    yield engine, world
    engine.dispose()
    pg_cluster.drop_database("concurrency")


def test_two_concurrent_dispatches_exactly_one_wins(committed):
    engine, world = committed
    admin = service.Actor(world.users["county"], Role.county_dispatcher, COUNTY, None)
    with Session(engine) as s:
        lon, lat = inside()
        incident, _ = service.create(
            session=s,
            locator=Locator.from_database(s),
            calendar=WorkingCalendar.chinese(2024, 2028),
            actor=admin,
            data=IncidentCreate(
                category="labour", channel=Channel.window, lon=lon, lat=lat, description="x"
            ),
        )
        s.commit()
        code = incident.code
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def dispatch(unit: str) -> None:
        with Session(engine) as s:
            try:
                loaded = service.get(session=s, code=code, actor=admin)  # both read version 1
                assert loaded.version == 1
                barrier.wait(timeout=10)
                service.act(
                    session=s,
                    code=code,
                    action=Action.dispatch,
                    actor=admin,
                    data=ActionIn(version=1, unit_code=unit),
                )
                s.commit()
                outcomes.append("won")
            except Exception as exc:  # the loser: stale version, from the database's row check
                s.rollback()
                outcomes.append(type(exc).__name__)

    threads = [
        threading.Thread(target=dispatch, args=(u,))
        for u in (f"labour-{COUNTY}", f"housing-{COUNTY}")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["StaleDataError", "won"]
    with Session(engine) as s:
        events = s.scalars(
            select(IncidentEvent.action)
            .join_from(IncidentEvent, service.Incident)
            .where(service.Incident.code == code)
        ).all()
        assert events == ["report", "dispatch"]
        assert s.scalar(select(service.Incident.version).where(service.Incident.code == code)) == 2
    assert issubclass(service.StaleVersion, Conflict)


def test_concurrent_retries_with_one_idempotency_key_make_one_incident(committed):
    engine, world = committed
    grid = service.Actor(world.users["grid"], Role.grid_worker, "350503001001001", None)
    lon, lat = inside()
    data = IncidentCreate(
        category="neighbour", channel=Channel.grid_app, lon=lon, lat=lat, description="吵架"
    )
    with Session(engine) as s:
        locator = Locator.from_database(s)
    calendar = WorkingCalendar.chinese(2024, 2028)
    barrier = threading.Barrier(4)
    codes: list[str] = []

    def submit() -> None:
        with Session(engine) as s:
            barrier.wait(timeout=10)
            incident, _ = service.create(
                session=s,
                locator=locator,
                calendar=calendar,
                data=data,
                actor=grid,
                idempotency_key="retry-key-1",
            )
            s.commit()
            codes.append(incident.code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(codes) == 4 and len(set(codes)) == 1
    with Session(engine) as s:
        n = s.scalar(
            select(func.count())
            .select_from(service.Incident)
            .where(
                service.Incident.idempotency_key == service.idempotency_scope(grid, "retry-key-1")
            )
        )
        assert n == 1
