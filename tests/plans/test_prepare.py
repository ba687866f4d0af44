"""Preparing a draft stores only its moves and locks nothing; activating it is a switch that
catches what the field changed meanwhile, and falls back to a full assignment when stale."""

import numpy as np
import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from gridmap.areas.models import AreaLevel, Plan, PlanAssignment, PlanStatus
from gridmap.errors import Conflict
from gridmap.plans.service import activate, prepare
from gridmap.registry.models import Household, RegistryEvent
from tests.factories import make_area, make_plan
from tests.plans.conftest import VILLAGE, X0, Y0, followed

ORIGIN = np.array([X0, Y0])
SW, NW, NE = (X0 + 0.005, Y0 + 0.005), (X0 + 0.005, Y0 + 0.015), (X0 + 0.015, Y0 + 0.015)
WEST, EAST = VILLAGE + "001", VILLAGE + "002"  # the old plan's codes
SOUTH, NORTH = VILLAGE + "001", VILLAGE + "002"  # the new plan's


def _household(session, world, at, code):
    house = world["items"][1]
    hh = Household(house_id=house.id, size=1, location=from_shape(Point(*at), srid=4326),
                   plan_id=world["old"].id, grid_code=code)  # fmt: skip
    session.add(hh)
    session.flush()
    return hh


def _moves(session, plan_id):
    rows = session.scalars(select(PlanAssignment).where(PlanAssignment.plan_id == plan_id))
    return {(r.item_table, r.item_id, r.grid_code) for r in rows}


def _writers_can_go_on(engine, tables):
    """Whether another connection could write to ``tables`` now (without waiting)."""
    with engine.connect() as other:
        try:
            other.execute(text(f"LOCK TABLE {', '.join(tables)} IN ROW EXCLUSIVE MODE NOWAIT"))
            return True
        except OperationalError:
            return False
        finally:
            other.rollback()


REGISTRY = ("building", "household", "work_unit", "house", "person")


def test_preparing_stores_only_the_moves_and_locks_no_registry_row(engine, session, world):
    building, _, household, _, unit = world["items"]
    stays = _household(session, world, SW, WEST)  # west under the old plan, south under the new
    moves = prepare(session=session, plan_id=world["new"].id)
    assert moves.moved == {"building": 1, "household": 1, "work_unit": 1}
    assert moves.items["household"] == 2 and moves.outside == 0
    assert _moves(session, world["new"].id) == {
        ("building", building.id, SOUTH), ("household", household.id, SOUTH),
        ("work_unit", unit.id, SOUTH)}  # fmt: skip
    assert _writers_can_go_on(engine, REGISTRY)  # the field keeps editing meanwhile
    session.refresh(building)
    assert building.grid_code == EAST  # nothing of the registry changed
    plan = session.get(Plan, world["new"].id)
    assert plan.status == PlanStatus.draft and plan.prepared_against == world["old"].id

    counts = activate(session=session, plan_id=world["new"].id)
    assert counts == {"prepared": 1, "rechecked": 0, "building": 1, "household": 1,
                      "work_unit": 1, "outside": 0}  # fmt: skip
    # the switch holds off writers of located items (not readers) until it commits
    assert not _writers_can_go_on(engine, ["household"])
    assert _writers_can_go_on(engine, ["person", "house"])
    assert followed(session, world["new"].id) == {"building": 1, "household": 1, "work_unit": 1,
                                                  "house": 1, "person": 1}  # fmt: skip
    for item in world["items"]:
        session.refresh(item)
        assert (item.plan_id, item.grid_code) == (world["new"].id, SOUTH)
    session.refresh(stays)  # not moved: keeps the reference it had, a cell of both plans
    assert (stays.plan_id, stays.grid_code) == (world["old"].id, WEST)


def test_a_plan_in_force_or_retired_is_not_prepared(session, world):
    with pytest.raises(Conflict, match="only a draft is prepared"):
        prepare(session=session, plan_id=world["old"].id)


def test_what_the_field_changed_after_preparing_is_assigned_again(session, world):
    household, person = world["items"][2], world["items"][3]
    prepare(session=session, plan_id=world["new"].id)
    late = _household(session, world, NW, WEST)  # created after: west → north
    # an edit after the preparation moves the prepared household to the south-west: it
    # no longer changes cell (west → south keeps the code 001) and must not be moved back
    household.location = from_shape(Point(*SW), srid=4326)
    household.grid_code = person.grid_code = WEST
    session.add(RegistryEvent(action="move_household", object_type="household",
                              object_id=household.id, grid_code=WEST))  # fmt: skip
    session.flush()
    counts = activate(session=session, plan_id=world["new"].id)
    assert counts["prepared"] == 1 and counts["rechecked"] == 2
    followed(session, world["new"].id)
    session.refresh(late)
    session.refresh(household)
    session.refresh(person)
    assert late.grid_code == NORTH and late.plan_id == world["new"].id
    assert household.grid_code == SOUTH and person.grid_code == SOUTH
    assert ("household", household.id, SOUTH) not in _moves(session, world["new"].id)


def test_a_preparation_against_another_plan_in_force_is_done_again(session, world):
    prepare(session=session, plan_id=world["new"].id)
    # meanwhile another plan — the old cells again — goes into force
    other = make_plan(session, "other")
    for code, box in ((WEST, (X0, Y0, X0 + 0.01, Y0 + 0.02)),
                      (EAST, (X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.02))):  # fmt: skip
        make_area(session, code, AreaLevel.grid, world["village"], other, bounds=box)
    assert activate(session=session, plan_id=other.id)["building"] == 0  # nothing moves
    followed(session, other.id)
    counts = activate(session=session, plan_id=world["new"].id)
    assert counts["prepared"] == 0 and counts["building"] == 1
    followed(session, world["new"].id)
    for item in world["items"]:
        session.refresh(item)
        assert item.grid_code == SOUTH


def test_cells_changed_after_preparing_are_not_trusted(session, world):
    prepare(session=session, plan_id=world["new"].id)
    session.execute(text(  # the planner swaps the shapes of the new plan's two cells
        "UPDATE area a SET geom = b.geom FROM area b WHERE a.plan_id = :p AND b.plan_id = :p "
        "AND a.level = 'grid' AND b.level = 'grid' AND a.code <> b.code"),
        {"p": world["new"].id})  # fmt: skip
    counts = activate(session=session, plan_id=world["new"].id)
    assert counts["prepared"] == 0
    building = world["items"][0]
    session.refresh(building)
    assert building.grid_code == NORTH  # the south-east is now 002


def test_prepared_activation_agrees_with_postgis_on_random_points(session, world):
    rng = np.random.default_rng(7)
    points = rng.uniform(0.0005, 0.0195, size=(300, 2)) + ORIGIN
    made = [_household(session, world, (x, y), WEST if x < X0 + 0.01 else EAST)
            for x, y in points]  # fmt: skip
    prepare(session=session, plan_id=world["new"].id)
    for hh in made[::7]:  # some move house after the preparation
        x, y = rng.uniform(0.0005, 0.0195, size=2) + ORIGIN
        hh.location = from_shape(Point(x, y), srid=4326)
        session.add(RegistryEvent(action="move_household", object_type="household",
                                  object_id=hh.id))  # fmt: skip
    session.flush()
    activate(session=session, plan_id=world["new"].id)
    followed(session, world["new"].id)
    wrong = session.execute(text(
        "SELECT h.id FROM household h JOIN area a ON a.plan_id = :p AND a.level = 'grid' "
        "AND ST_Covers(a.geom, h.location) WHERE h.grid_code IS DISTINCT FROM a.code"),
        {"p": world["new"].id}).all()  # fmt: skip
    assert wrong == []
    assert session.scalar(select(Household.id).where(Household.grid_code.is_(None))) is None
    people = session.scalar(text(
        "SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id "
        "WHERE p.grid_code IS DISTINCT FROM h.grid_code"))  # fmt: skip
    assert people == 0


def test_following_never_undoes_an_edit_made_after_the_switch(session, world):
    building, house, household, person, _ = world["items"]
    activate(session=session, plan_id=world["new"].id)
    # before the registry catches up, the household is moved again (its people with it),
    # under the new plan as the registry's writes do (gridmap.areas.active.cell_now)
    session.refresh(household)
    household.grid_code = person.grid_code = NORTH
    household.plan_id = person.plan_id = world["new"].id
    session.flush()
    assert followed(session, world["new"].id) == {"building": 1, "household": 0, "work_unit": 1,
                                                  "house": 1, "person": 0}  # fmt: skip
    for item in (person, house, building):
        session.refresh(item)
    assert person.grid_code == NORTH and house.grid_code == building.grid_code == SOUTH
    assert set(followed(session, world["new"].id).values()) == {0}  # idempotent
