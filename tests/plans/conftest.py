"""The plans tests' world: one village, the old plan cut west | east, the new south / north."""

from datetime import UTC, datetime

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from gridmap.areas.models import AreaLevel, PlanStatus
from gridmap.incidents.models import Channel, Incident, IncidentStatus
from gridmap.registry.models import Building, BuildingUse, House, Household, Person, WorkUnit
from tests.factories import make_area, make_plan, make_rule

X0, Y0 = 118.60, 24.90
VILLAGE = "350503001001"


@pytest.fixture
def world(session):
    county = make_area(session, "350503", AreaLevel.county, bounds=(X0, Y0, X0 + 0.02, Y0 + 0.02))
    township = make_area(
        session, "350503001", AreaLevel.township, county, bounds=(X0, Y0, X0 + 0.02, Y0 + 0.02)
    )
    village = make_area(
        session, VILLAGE, AreaLevel.village, township, bounds=(X0, Y0, X0 + 0.02, Y0 + 0.02)
    )
    old = make_plan(session, "old", PlanStatus.active)
    new = make_plan(session, "new", PlanStatus.draft)
    # old plan: west | east; new plan: south / north
    make_area(
        session,
        VILLAGE + "001",
        AreaLevel.grid,
        village,
        old,
        bounds=(X0, Y0, X0 + 0.01, Y0 + 0.02),
    )
    make_area(
        session,
        VILLAGE + "002",
        AreaLevel.grid,
        village,
        old,
        bounds=(X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.02),
    )
    make_area(
        session,
        VILLAGE + "001",
        AreaLevel.grid,
        village,
        new,
        bounds=(X0, Y0, X0 + 0.02, Y0 + 0.01),
    )
    make_area(
        session,
        VILLAGE + "002",
        AreaLevel.grid,
        village,
        new,
        bounds=(X0, Y0 + 0.01, X0 + 0.02, Y0 + 0.02),
    )
    at = from_shape(Point(X0 + 0.015, Y0 + 0.005), srid=4326)  # east (old 002), south (new 001)
    linked = {"plan_id": old.id, "grid_code": VILLAGE + "002"}
    building = Building(use=BuildingUse.residential, floors=3, location=at, **linked)
    session.add(building)
    session.flush()
    house = House(building_id=building.id, unit_no="101", **linked)
    session.add(house)
    session.flush()
    household = Household(house_id=house.id, size=1, location=at, **linked)
    session.add(household)
    session.flush()
    person = Person(
        household_id=household.id,
        name="陈明",
        gender="M",
        birth_date=datetime(1980, 1, 1).date(),
        id_number="11010519491231002X",
        **linked,
    )
    unit = WorkUnit(name="shop", type="shop", employees=2, location=at, **linked)
    make_rule(session, "neighbour")
    session.flush()
    incident = Incident(
        code="T1",
        category="neighbour",
        channel=Channel.window,
        status=IncidentStatus.reported,
        title="t",
        location=at,
        reported_lon=X0 + 0.015,
        reported_lat=Y0 + 0.005,
        reported_at=datetime.now(UTC),
        **linked,
    )
    session.add_all([person, unit, incident])
    session.flush()
    return {
        "old": old,
        "new": new,
        "items": [building, house, household, person, unit],
        "incident": incident,
        "village": village,
    }


def followed(session, plan_id):
    """Houses and people following, each batch a savepoint of the test's transaction."""
    from sqlalchemy.orm import sessionmaker

    from gridmap.plans.service import follow

    factory = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    return follow(factory, plan_id)
