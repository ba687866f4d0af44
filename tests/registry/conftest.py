"""A hand-made registry in the hand-drawn world: two buildings in the grid worker's cell,
one in township 2; households with members in known special groups; a work unit."""

from dataclasses import dataclass
from datetime import date

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from gridmap.registry.ids import id_check_digit
from gridmap.registry.models import Building, BuildingUse, House, Household, Person, WorkUnit
from tests.world import T2, V1, inside

CELL = V1 + "001"  # the grid worker's cell (township 1, south)
EAST_CELL = T2 + "001001"


def id_number(seq: int, birth: str = "19800101", region: str = "350503") -> str:
    first = f"{region}{birth}{seq:03d}"
    return first + str(id_check_digit(__import__("numpy").array([first]))[0])


@dataclass
class Registry:
    buildings: dict[str, Building]
    houses: dict[str, House]
    households: dict[str, Household]
    people: dict[str, Person]
    unit: WorkUnit


@pytest.fixture
def registry(session, world) -> Registry:
    def point(township, cell, dx=0.0):
        lon, lat = inside(township, cell)
        return from_shape(Point(lon + dx, lat), srid=4326)

    def linked(code):
        return {"plan_id": world.plan_id, "grid_code": code}

    buildings = {
        "a": Building(use=BuildingUse.residential, floors=6, address="东湖路1号", location=point(1, 1), **linked(CELL)),
        "b": Building(use=BuildingUse.mixed, floors=3, address="东湖路3号", location=point(1, 1, 0.001), **linked(CELL)),
        "east": Building(use=BuildingUse.residential, floors=2, address="西街9号", location=point(2, 1), **linked(EAST_CELL)),
    }  # fmt: skip
    session.add_all(buildings.values())
    session.flush()
    houses = {
        "a101": House(building_id=buildings["a"].id, unit_no="101", floor=1, **linked(CELL)),
        "a102": House(building_id=buildings["a"].id, unit_no="102", floor=1, is_rented=True, **linked(CELL)),
        "b201": House(building_id=buildings["b"].id, unit_no="201", floor=2, **linked(CELL)),
        "east": House(building_id=buildings["east"].id, unit_no="101", floor=1, **linked(EAST_CELL)),
    }  # fmt: skip
    session.add_all(houses.values())
    session.flush()
    households, people = {}, {}
    plan = [
        ("elder", "a101", "a", [("陈老伯", "M", date(1940, 5, 1), ["elderly_alone"], True)]),
        ("renters", "a102", "a", [("王租户", "F", date(1995, 3, 1), ["migrant"], True),
                                   ("王小明", "M", date(2018, 3, 1), ["migrant"], False)]),
        ("family", "b201", "b", [("林建国", "M", date(1978, 2, 1), [], True),
                                  ("林芳", "F", date(1980, 7, 1), [], False)]),
        ("east", "east", "east", [("郑东", "M", date(1970, 1, 1), [], True)]),
    ]  # fmt: skip
    seq = 1
    for key, house, building, members in plan:
        code = EAST_CELL if key == "east" else CELL
        hh = Household(house_id=houses[house].id, size=len(members),
                       location=buildings[building].location, **linked(code))  # fmt: skip
        session.add(hh)
        session.flush()
        households[key] = hh
        for name, gender, birth, tags, head in members:
            p = Person(household_id=hh.id, name=name, gender=gender, birth_date=birth,
                       id_number=id_number(seq, birth.strftime("%Y%m%d")),
                       phone=f"1380595{seq:04d}", tags=tags, is_household_head=head,
                       **linked(code))  # fmt: skip
            session.add(p)
            people[name] = p
            seq += 1
    unit = WorkUnit(name="东湖便利店", type="shop", employees=3, contact_phone="13905951111",
                    location=point(1, 1), building_id=buildings["b"].id, **linked(CELL))  # fmt: skip
    session.add(unit)
    session.flush()
    # registered yesterday (the offline pack's "since" compares these dates)
    from sqlalchemy import text

    for table in ("building", "house", "household", "person", "work_unit"):
        # the touch trigger would date this very update now: set the date with it off
        session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_touch"))
        session.execute(text(f"UPDATE {table} SET updated_at = now() - interval '1 day'"))
        session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_touch"))
    for b in buildings.values():
        session.refresh(b)
    return Registry(buildings, houses, households, people, unit)
