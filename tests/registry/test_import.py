"""Importing residents: each kind of bad row refused with its reason, households whole,
good rows linked to their cell and building, strict mode, scope, GeoPackage input."""

import csv

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import func, select

from gridmap.auth.models import Role
from gridmap.locate import build_index
from gridmap.registry.importer import import_registry
from gridmap.registry.models import House, Household, Person, RegistryEvent
from gridmap.scope import Actor
from tests.registry.conftest import CELL, id_number
from tests.world import T2, inside

LON, LAT = inside(1, 1)  # building "a" of the registry fixture stands here
HEADER = ["户号", "姓名", "身份证号", "性别", "联系电话", "与户主关系", "标签",
          "建筑编号", "室号", "地址", "经度", "纬度"]  # fmt: skip


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([row.get(h, "") for h in HEADER])
    return path


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.fixture
def index(session, world):
    return build_index(session, world.plan_id)


@pytest.fixture
def rows(registry):
    """One row of every kind, numbered as in the file (1 = first data row)."""
    existing = registry.people["陈老伯"].id_number
    return [
        # 1, 2: a good household of two at building a (by its point), the first the head
        {"户号": "H1", "姓名": "黄志明", "身份证号": id_number(101, "19750102"), "性别": "男",
         "与户主关系": "户主", "室号": "301", "经度": LON, "纬度": LAT, "联系电话": "13800001111"},
        {"户号": "H1", "姓名": "黄丽", "身份证号": id_number(102, "19780304"), "与户主关系": "妻",
         "标签": "残疾人"},
        # 3: bad coordinates
        {"户号": "H2", "姓名": "坏坐标", "身份证号": id_number(103), "经度": "118.6x", "纬度": LAT},
        # 4: outside the jurisdiction
        {"户号": "H3", "姓名": "界外", "身份证号": id_number(104), "经度": 119.5, "纬度": 25.5},
        # 5: a wrong check digit
        {"户号": "H4", "姓名": "错校验", "身份证号": wrong_check(id_number(105)), "经度": LON,
         "纬度": LAT},
        # 6: the same ID number as row 1
        {"户号": "H5", "姓名": "重复甲", "身份证号": id_number(101, "19750102"), "经度": LON,
         "纬度": LAT},
        # 7: an ID number already in the registry
        {"户号": "H6", "姓名": "已登记", "身份证号": existing, "经度": LON, "纬度": LAT},
        # 8: an unknown building
        {"户号": "H7", "姓名": "无楼", "身份证号": id_number(108), "建筑编号": "999999"},
        # 9: an unknown address
        {"户号": "H8", "姓名": "无址", "身份证号": id_number(109), "地址": "不存在路88号"},
        # 10, 11: a household whose second row is bad: refused whole
        {"户号": "H9", "姓名": "好成员", "身份证号": id_number(110), "经度": LON, "纬度": LAT},
        {"户号": "H9", "姓名": "坏成员", "身份证号": id_number(111), "性别": "女"},  # ID says M
        # 12: a renter found by the building's address (building b), a migrant
        {"户号": "H10", "姓名": "租客", "身份证号": id_number(112, "19990101"), "地址": "东湖路3号",
         "室号": "202", "标签": "流动人口/租户"},
        # 13: in the east cell by its point (no building near: a household without a house)
        {"户号": "H11", "姓名": "东边", "身份证号": id_number(113), "经度": inside(2, 2)[0],
         "纬度": inside(2, 2)[1]},
    ]  # fmt: skip


def test_each_kind_of_bad_row_is_refused_with_its_reason(session, world, registry, index,
                                                         rows, tmp_path):  # fmt: skip
    path = write_csv(tmp_path / "residents.csv", rows)
    report = import_registry(session, index, path)
    reasons = {p.row: p.reason for p in report.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11], reasons
    assert reasons[3].startswith("bad coordinates")
    assert reasons[4].startswith("outside the jurisdiction")
    assert "wrong check digit" in reasons[5]
    assert "duplicate ID number" in reasons[6] and "row 1" in reasons[6]
    assert "already registered" in reasons[7]
    assert reasons[8] == "unknown building 999999"
    assert reasons[9].startswith("unknown address")
    assert reasons[11] == "gender: does not match the ID number (its 17th digit)"
    assert reasons[10] == "household H9 is refused whole: see row 11"
    # no full ID number in any reason
    for row in rows:
        assert not any(str(row["身份证号"]) in reason for reason in reasons.values())
    assert report.rows == 13 and len(report.households) == 3 and report.people == 4


@pytest.mark.parametrize("building", ["²", "2147483648", "99999999999999999999", "-3"])
def test_a_building_id_beyond_the_integer_column_is_refused(session, world, index, tmp_path,
                                                            building):  # fmt: skip
    """The same id rule as the API's (gridmap/db/ids.py): "²" passed str.isdigit."""
    row = {
        "户号": "H1",
        "姓名": "黄志明",
        "身份证号": id_number(101, "19750102"),
        "建筑编号": building,
    }
    report = import_registry(session, index, write_csv(tmp_path / "r.csv", [row]))
    assert [p.reason for p in report.problems] == [
        f"building_id {building!r} is not a building number"
    ]


def test_a_unit_number_with_superscripts_gets_a_floor_not_a_crash(session, world, registry,
                                                                  index, tmp_path):  # fmt: skip
    """The importer and the API's edits take a floor from one rule (House.floor_of)."""
    row = {"户号": "H1", "姓名": "黄志明", "身份证号": id_number(101, "19750102"),
           "建筑编号": str(registry.buildings["a"].id), "室号": "1²³4"}  # fmt: skip
    report = import_registry(session, index, write_csv(tmp_path / "r.csv", [row]))
    assert report.problems == [] and len(report.households) == 1
    house = session.get(House, session.get(Household, report.households[0]).house_id)
    assert (house.unit_no, house.floor) == ("1²³4", 1)


def test_good_rows_are_linked_to_their_cell_building_and_house(session, world, registry, index,
                                                               rows, tmp_path):  # fmt: skip
    before = registry.buildings["a"].households
    report = import_registry(session, index, write_csv(tmp_path / "r.csv", rows))
    people = {
        p.name: p
        for p in session.scalars(
            select(Person).where(Person.name.in_(["黄志明", "黄丽", "租客", "东边"]))
        )
    }
    assert {p.grid_code for n, p in people.items() if n != "东边"} == {CELL}
    assert people["东边"].grid_code == T2 + "001002"
    assert people["黄志明"].is_household_head and not people["黄丽"].is_household_head
    assert people["黄丽"].tags == ["disabled"] and people["黄志明"].gender == "M"
    assert people["黄丽"].household_id == people["黄志明"].household_id
    h1 = session.get(Household, people["黄志明"].household_id)
    house = session.get(House, h1.house_id)
    assert house.building_id == registry.buildings["a"].id and house.unit_no == "301"
    assert h1.size == 2 and h1.id in report.households
    renter = session.get(Household, people["租客"].household_id)
    rented = session.get(House, renter.house_id)
    assert rented.building_id == registry.buildings["b"].id and rented.is_rented
    assert session.get(Household, people["东边"].household_id).house_id is None
    session.refresh(registry.buildings["a"])
    assert registry.buildings["a"].households == before + 1  # kept by the trigger
    events = session.scalars(select(RegistryEvent).where(RegistryEvent.action == "import")).all()
    assert sorted(e.object_id for e in events) == sorted(report.households)
    assert all(e.after["file"] == "r.csv" for e in events)


def test_strict_loads_nothing_when_a_row_is_refused(session, world, registry, index, rows,
                                                    tmp_path):  # fmt: skip
    count = session.scalar(select(func.count()).select_from(Person))
    report = import_registry(session, index, write_csv(tmp_path / "r.csv", rows), strict=True)
    assert not report.loaded and report.households == [] and len(report.problems) == 9
    assert session.scalar(select(func.count()).select_from(Person)) == count


def test_a_second_import_of_the_same_file_loads_nothing(session, world, registry, index, rows,
                                                        tmp_path):  # fmt: skip
    path = write_csv(tmp_path / "r.csv", [rows[0], rows[1]])
    assert len(import_registry(session, index, path).households) == 1
    again = import_registry(session, index, path)
    assert again.households == [] and all("already registered" in p.reason
                                          for p in again.problems)  # fmt: skip


def test_an_importer_is_held_to_their_area(session, world, registry, index, rows, tmp_path):
    grid = Actor(world.users["grid"], Role.grid_worker, CELL)
    path = write_csv(tmp_path / "r.csv", [rows[0], rows[1], rows[12]])
    report = import_registry(session, index, path, actor=grid)
    assert [p.row for p in report.problems] == [3]
    assert "outside your area" in report.problems[0].reason
    assert len(report.households) == 1
    event = session.scalar(select(RegistryEvent).where(RegistryEvent.action == "import"))
    assert event.actor_id == world.users["grid"]


def test_a_geopackage_with_points(session, world, registry, index, tmp_path):
    frame = gpd.GeoDataFrame(
        {"household": ["G1"], "name": ["几何"], "id_number": [id_number(120)]},
        geometry=[shapely.Point(LON + 0.0001, LAT)], crs="EPSG:4326",
    )  # fmt: skip
    frame.to_file(tmp_path / "r.gpkg", driver="GPKG")
    report = import_registry(session, index, tmp_path / "r.gpkg")
    assert report.problems == [] and len(report.households) == 1
    person = session.scalar(select(Person).where(Person.name == "几何"))
    household = session.get(Household, person.household_id)
    # 10 m from building a: linked to it
    assert session.get(House, household.house_id).building_id == registry.buildings["a"].id


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("姓名,经度,纬度\n张三,118.6,24.9\n", "no column for id_number"),
        ("姓名,身份证号\n张三,350503198001010011\n", "needs a place"),
    ],
)
def test_a_file_without_the_needed_columns_is_refused_whole(session, world, index, tmp_path,
                                                            content, message):  # fmt: skip
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    from gridmap.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        import_registry(session, index, path)


def test_building_and_point_far_apart_are_refused(session, world, registry, index, tmp_path):
    far = inside(1, 2)  # the north cell, over a kilometre away
    path = write_csv(tmp_path / "r.csv", [{
        "户号": "F", "姓名": "远", "身份证号": id_number(130),
        "建筑编号": registry.buildings["a"].id, "经度": far[0], "纬度": far[1]}])  # fmt: skip
    report = import_registry(session, index, path)
    assert "m from the row's point" in report.problems[0].reason
    assert report.households == []


def test_households_written_in_chunks_are_the_same(session, world, registry, index, rows,
                                                   tmp_path, monkeypatch):  # fmt: skip
    """A large file is written a chunk of households at a time: one per chunk here."""
    from gridmap.registry import importer

    monkeypatch.setattr(importer, "LOAD_CHUNK", 1)
    report = import_registry(session, index, write_csv(tmp_path / "r.csv", rows))
    assert len(report.households) == 3 and report.people == 4
    events = session.scalars(select(RegistryEvent).where(RegistryEvent.action == "import")).all()
    assert sorted(e.object_id for e in events) == sorted(report.households)
    sizes = [session.get(Household, h).size for h in report.households]
    assert sorted(sizes) == [1, 1, 2]
