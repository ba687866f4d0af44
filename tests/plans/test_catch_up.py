"""After the switch the registry catches up in short transactions: an edit made meanwhile
is written under the new plan and never undone, a second run changes nothing, and an
interrupted catch-up is found and finished."""

from datetime import date

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from gridmap.auth.models import Role, User
from gridmap.errors import Conflict
from gridmap.plans.service import activate, follow, prepare, publication, unfinished
from gridmap.registry import edits, schemas
from gridmap.registry.models import Building, BuildingUse, House, Household, Person
from gridmap.scope import Actor
from tests.plans.conftest import VILLAGE, X0, Y0
from tests.registry.conftest import id_number

SOUTH, NORTH = VILLAGE + "001", VILLAGE + "002"  # the new plan's codes
WEST, EAST = VILLAGE + "001", VILLAGE + "002"  # the old plan's


def _savepoints(session):
    return sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")


@pytest.fixture
def north_west(session, world):
    """A building in the north-west: west (001) under the old plan, north (002) under the new."""
    at = from_shape(Point(X0 + 0.005, Y0 + 0.015), srid=4326)
    building = Building(use=BuildingUse.residential, floors=6, location=at,
                        plan_id=world["old"].id, grid_code=WEST)  # fmt: skip
    session.add(building)
    session.flush()
    return building


@pytest.fixture
def worker(session):
    user = User(username="catchup", password_hash="x", role=Role.grid_worker, area_code=VILLAGE)
    session.add(user)
    session.flush()
    return Actor(user.id, Role.grid_worker, VILLAGE)


def _counts(record, table):
    """A table's counts in a publication record (without the time it took)."""
    return {k: record["tables"][table][k] for k in ("todo", "done", "rows")}


def _cell(session, row):
    session.refresh(row)
    return row.grid_code, row.plan_id


def test_the_switch_updates_no_row_and_the_catch_up_does(session, world, north_west):
    building, house, household, person, unit = world["items"]
    new = world["new"].id
    prepare(session=session, plan_id=new)
    counts = activate(session=session, plan_id=new)
    assert counts == {"prepared": 1, "rechecked": 0, "outside": 0, "building": 2,
                      "household": 1, "work_unit": 1}  # fmt: skip
    # the switch moved nothing: every row still under its old cell, the catch-up to come
    assert _cell(session, building) == (EAST, world["old"].id)
    assert _cell(session, north_west) == (WEST, world["old"].id)
    record = publication(session, new)
    assert record["stage"] == "follow"
    assert _counts(record, "building") == {"todo": 2, "done": 0, "rows": 0}
    assert follow(_savepoints(session), new) == {"building": 2, "household": 1,
                                                 "work_unit": 1, "house": 1, "person": 1}  # fmt: skip
    for item in (building, house, household, person, unit):
        assert _cell(session, item) == (SOUTH, new)
    assert _cell(session, north_west) == (NORTH, new)
    record = publication(session, new)
    assert record["stage"] == "done" and record["finished_at"] is not None
    assert _counts(record, "building") == {"todo": 2, "done": 2, "rows": 2}
    assert _counts(record, "person") == {"todo": 1, "done": 1, "rows": 1}  # by household


def test_an_edit_after_the_switch_keeps_its_new_cell(session, world, north_west, worker):
    building, _, household, person, _ = world["items"]
    new = world["new"].id
    prepare(session=session, plan_id=new)
    activate(session=session, plan_id=new)
    # before the catch-up reaches them: the household moves into the north-west building,
    # and a new household registers in its old building (both still under their old cells)
    session.refresh(household)
    edits.move_household(session, worker, household.id, schemas.HouseholdMove(
        version=household.version, building_id=north_west.id, unit_no="201"))  # fmt: skip
    made = edits.register_household(session, worker, schemas.HouseholdCreate(
        building_id=building.id, unit_no="102",
        members=[schemas.PersonCreate(name="林芳", id_number="350503198001010028")],
    ))  # fmt: skip
    late = session.get(Household, made.object_id)
    assert _cell(session, household) == (NORTH, new)  # the new plan's cells at once
    assert _cell(session, late) == (SOUTH, new)
    follow(_savepoints(session), new)
    assert _cell(session, household) == (NORTH, new)  # not undone by its stored move south
    assert _cell(session, person) == (NORTH, new)
    assert _cell(session, late) == (SOUTH, new)
    late_people = session.scalars(select(Person).where(Person.household_id == late.id)).all()
    assert [(p.grid_code, p.plan_id) for p in late_people] == [(SOUTH, new)]
    houses = session.scalars(select(House).where(House.building_id == north_west.id)).all()
    assert [(h.grid_code, h.plan_id) for h in houses] == [(NORTH, new)]
    # a second run changes nothing
    assert set(follow(_savepoints(session), new).values()) == {0}


class Interrupted(Exception):
    """The server stopped mid-way."""


def _stopping_after(factory, batches):
    """A session factory whose ``begin()`` fails after ``batches`` transactions."""
    left = [batches]

    class Stopping:
        def __call__(self):
            return factory()

        def begin(self):
            if left[0] == 0:
                raise Interrupted
            left[0] -= 1
            return factory.begin()

    return Stopping()


def test_an_interrupted_catch_up_is_found_and_finished(session, world):
    new, old = world["new"].id, world["old"].id
    at = [(X0 + 0.0105 + 0.0009 * i, Y0 + 0.005) for i in range(10)]  # east → south: moving
    made = []
    for x, y in at:
        hh = Household(house_id=world["items"][1].id, size=1, plan_id=old,
                       grid_code=EAST,
                       location=from_shape(Point(x, y), srid=4326))  # fmt: skip
        session.add(hh)
        made.append(hh)
    session.flush()
    for i, hh in enumerate(made):
        session.add(Person(household_id=hh.id, name="王", gender="M", plan_id=old,
                           grid_code=hh.grid_code, id_number=id_number(i + 1),
                           birth_date=date(1980, 1, 1)))  # fmt: skip
    session.flush()
    prepare(session=session, plan_id=new)
    activate(session=session, plan_id=new)
    with pytest.raises(Interrupted):  # the start, buildings, then 3 of 6 household batches
        follow(_stopping_after(_savepoints(session), 1 + 1 + 3), new, batch=2, workers=1)
    record = publication(session, new)
    assert record["stage"] == "follow"
    assert _counts(record, "household") == {"todo": 11, "done": 6, "rows": 6}
    assert unfinished(session, quiet_s=0) == [new]
    with pytest.raises(Conflict, match="still being followed"):  # nothing new meanwhile
        activate(session=session, plan_id=old)
    follow(_savepoints(session), new)  # what the worker does for a stalled one
    assert unfinished(session, quiet_s=0) == []
    wrong = session.scalar(text(
        "SELECT count(*) FROM household h JOIN area a ON a.plan_id = :p AND a.level = 'grid' "
        "AND ST_Covers(a.geom, h.location) WHERE h.grid_code IS DISTINCT FROM a.code "
        "OR h.plan_id IS DISTINCT FROM :p"), {"p": new})  # fmt: skip
    astray = session.scalar(text(
        "SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id "
        "WHERE (p.grid_code, p.plan_id) IS DISTINCT FROM (h.grid_code, h.plan_id)"))  # fmt: skip
    assert (wrong, astray) == (0, 0)
    assert publication(session, new)["stage"] == "done"
