"""`gridmap plan rebalance` as a planner runs it: on a file of blocks, and on blocks derived
from the registry of a seeded database."""

import geopandas as gpd
import numpy as np
import pyogrio
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.rebalance.blocks import lattice
from tests.test_cli import env as env  # the seeded database, for commands

runner = CliRunner()


def test_rebalance_a_file_of_blocks(tmp_path):
    # an 8×4 lattice in one village, currently two cells of 16 blocks; the west one grew
    current = ["350503001001001" if i % 8 < 4 else "350503001001002" for i in range(32)]
    loads = np.full(32, 25.0)
    loads[[0, 8, 16, 24]] = 50.0  # west 500, east 400 → 450 each is the balance
    _, polys = lattice(8, 4, loads, current=current)
    frame = gpd.GeoDataFrame(
        {"block_id": [f"k{i}" for i in range(32)], "village_code": "350503001001",
         "households": loads, "cell": current},
        geometry=list(polys), crs="EPSG:4547",
    )  # fmt: skip
    source = tmp_path / "blocks.gpkg"
    frame.to_file(source, driver="GPKG")
    out = tmp_path / "draft.gpkg"
    result = runner.invoke(app, ["plan", "rebalance", "--blocks", str(source), "--target", "450",
                                 "--current-col", "cell", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "32 blocks → 2 cells, 2 within ±10%" in result.output
    assert "2.8% of households change cell" in result.output  # one 25-household block of 900
    cells = pyogrio.read_dataframe(out, layer="cells")
    assert sorted(cells["households"]) == [425, 475]  # west was 500, above 495
    assert cells.geometry.geom_type.isin(["Polygon"]).all()  # contiguous: one polygon each
    blocks = pyogrio.read_dataframe(out, layer="blocks")
    assert (blocks["new_cell"] != blocks["cell"]).sum() == 1
    # the file it wrote is read back (its blocks layer), starting from the cells it drew
    again = runner.invoke(app, ["plan", "rebalance", "--blocks", str(out), "--target", "450",
                                "--current-col", "new_cell", "-o", str(tmp_path / "b.gpkg")])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "0.0% of households change cell" in again.output


def test_a_file_with_a_missing_column_or_a_broken_polygon_is_refused(tmp_path):
    _, polys = lattice(2, 1)
    frame = gpd.GeoDataFrame({"block_id": [1, 2], "households": [1, 2]}, geometry=list(polys),
                             crs="EPSG:4547")  # fmt: skip
    frame.to_file(tmp_path / "a.gpkg", driver="GPKG")
    result = runner.invoke(app, ["plan", "rebalance", "--blocks", str(tmp_path / "a.gpkg"),
                                 "-o", str(tmp_path / "o.gpkg")])  # fmt: skip
    assert result.exit_code == 1 and "no column village_code" in result.output
    import shapely

    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame = frame.assign(village_code="350503001001").set_geometry([bowtie, polys[1]])
    frame.to_file(tmp_path / "b.gpkg", driver="GPKG")
    result = runner.invoke(app, ["plan", "rebalance", "--blocks", str(tmp_path / "b.gpkg"),
                                 "-o", str(tmp_path / "o.gpkg")])  # fmt: skip
    assert result.exit_code == 1 and "invalid or empty polygons: [1]" in result.output


def test_rebalance_a_township_of_the_seed(env, tmp_path):
    township = env.areas[env.areas.level == "township"].code.iloc[0]
    out = tmp_path / "draft.gpkg"
    result = runner.invoke(app, ["plan", "rebalance", "--area", township, "--target", "20",
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    blocks = pyogrio.read_dataframe(out, layer="blocks")
    cells = pyogrio.read_dataframe(out, layer="cells")
    # every household of the township's buildings is in exactly one new cell
    buildings = env.buildings[env.buildings.grid_code.str.startswith(township)]
    assert blocks["households"].sum() == buildings["households"].sum() == cells["households"].sum()
    # nested: a new cell's code starts with its village's code, and its blocks share it
    assert (blocks["new_cell"].str[:12] == blocks["village_code"]).all()


def test_a_draft_from_the_seed_and_its_diff(fresh, tmp_path, monkeypatch):
    import json

    url, data = fresh
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    township = data.areas[data.areas.level == "township"].code.iloc[1]
    out = tmp_path / "draft.gpkg"
    result = runner.invoke(app, ["plan", "rebalance", "--area", township, "--target", "15",
                                 "--draft", "balanced", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    plan_id = int(result.output.split("draft plan ")[1].split()[0])
    listed = runner.invoke(app, ["plan", "list"])
    assert f"{plan_id}  draft" in listed.output and "balanced" in listed.output
    report_file = tmp_path / "impact.json"
    result = runner.invoke(app, ["plan", "diff", "1", str(plan_id), "--area", township,
                                 "-o", str(report_file)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text(encoding="utf-8"))
    # the households that change cell are those of the blocks that changed cell
    blocks = pyogrio.read_dataframe(out, layer="blocks")
    moved_blocks = blocks[blocks["new_cell"] != blocks["cell"]]
    assert report["households_moved"] == int(moved_blocks["households"].sum())
    assert f"households moved {report['households_moved']:,}" in result.output


def test_prepare_then_activate_a_draft_through_the_commands(pg_cluster, tmp_path, monkeypatch):
    """A planner's draft prepared and put in force on a demo seed of its own: the registry
    moves as the change-impact report said, and agrees with PostGIS afterwards."""
    import json

    from sqlalchemy import text

    from gridmap.db import migrate
    from gridmap.db.session import make_engine
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    pg_cluster.create_database("activate_cli")
    url = pg_cluster.url("activate_cli")
    migrate.upgrade(url)
    data = generate(SeedConfig(scale="demo", population_fraction=0.005, seed=13))
    engine = make_engine(url)
    load(data, engine)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    township = data.households.grid_code.str[:9].value_counts().index[0]  # the most lived-in
    result = runner.invoke(app, ["plan", "rebalance", "--area", township, "--target", "8",
                                 "--draft", "balanced", "-o", str(tmp_path / "d.gpkg")])  # fmt: skip
    assert result.exit_code == 0, result.output
    rebalanced = result.output
    plan_id = int(result.output.split("draft plan ")[1].split()[0])
    report_file = tmp_path / "impact.json"
    result = runner.invoke(app, ["plan", "diff", "1", str(plan_id), "-o", str(report_file)])
    moved = json.loads(report_file.read_text(encoding="utf-8"))["households_moved"]
    assert result.exit_code == 0 and moved > 0, result.output + rebalanced

    result = runner.invoke(app, ["plan", "prepare", str(plan_id)])
    assert result.exit_code == 0, result.output
    assert f"household {moved:,} of" in result.output
    assert list((tmp_path / "data" / "index").glob(f"plan-{plan_id}-*.npz"))  # saved for servers
    result = runner.invoke(app, ["plan", "activate", str(plan_id)])
    assert result.exit_code == 0, result.output
    assert "(prepared)" in result.output and f"household {moved:,}," in result.output
    with engine.connect() as conn:
        wrong = conn.execute(text(
            "SELECT count(*) FROM household h WHERE NOT EXISTS (SELECT 1 FROM area a "
            "WHERE a.plan_id = :p AND a.code = h.grid_code AND ST_Covers(a.geom, h.location))"),
            {"p": plan_id}).scalar_one()  # fmt: skip
        astray = conn.execute(text(
            "SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id "
            "WHERE p.grid_code IS DISTINCT FROM h.grid_code")).scalar_one()  # fmt: skip
        in_force = conn.execute(text("SELECT id FROM plan WHERE status = 'active'")).all()
    again = runner.invoke(app, ["plan", "prepare", str(plan_id)])
    finish = runner.invoke(app, ["plan", "follow", str(plan_id)])  # nothing left to follow
    engine.dispose()
    pg_cluster.drop_database("activate_cli")
    assert (wrong, astray, in_force) == (0, 0, [(plan_id,)])
    assert again.exit_code == 1 and "only a draft is prepared" in again.output
    assert finish.exit_code == 0 and "house 0, person 0" in finish.output, finish.output


def test_the_command_and_the_studio_route_make_the_same_draft(fresh, tmp_path, monkeypatch):
    """One use case, two doors: `plan rebalance --area … --draft` and POST /plans/drafts."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from api.app import create_app
    from gridmap.auth.models import Role
    from gridmap.auth.security import create_token
    from gridmap.auth.service import create_user
    from gridmap.db.session import make_engine
    from gridmap.models import make_sessionmaker
    from gridmap.settings import Settings
    from tests.helpers import TEST_SECRET

    url, data = fresh
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    township = data.areas[data.areas.level == "township"].code.iloc[1]
    cells = data.areas[(data.areas.level == "grid") & data.areas.code.str.startswith(township)]
    locked = cells.code.iloc[0]
    result = runner.invoke(app, ["plan", "rebalance", "--area", township, "--target", "15",
                                 "--tolerance", "0.15", "--lock", locked, "--draft", "by-cli",
                                 "-o", str(tmp_path / "d.gpkg")])  # fmt: skip
    assert result.exit_code == 0, result.output
    by_cli = int(result.output.split("draft plan ")[1].split()[0])
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        user = create_user(session=session, username="same-planner", password="Same-tests-2025",
                           role=Role.planner, area_code="350500")  # fmt: skip
        token = create_token(secret=TEST_SECRET, user_id=user.id, username=user.username,
                             role=Role.planner, area_code="350500", minutes=30)  # fmt: skip
    settings = Settings(environment="test", database_url=url, data_dir=tmp_path / "data",
                        secret_key=TEST_SECRET, rate_limits_enabled=False)  # fmt: skip
    try:
        with TestClient(create_app(settings)) as client:
            auth = {"Authorization": f"Bearer {token}"}
            r = client.post("/api/v1/plans/drafts", headers=auth, json={
                "area": township, "target": 15, "tolerance": 0.15, "locked": [locked],
                "name": "by-route"})  # fmt: skip
            assert r.status_code == 202, r.text
            job = client.get(f"/api/v1/plans/jobs/{r.json()['id']}", headers=auth).json()
        assert job["state"] == "done", job
        by_route = job["plan_id"]
        with engine.connect() as conn:
            differ = conn.execute(text(
                "SELECT count(*) FROM area a FULL JOIN area b ON b.code = a.code "
                "AND b.plan_id = :r WHERE a.plan_id = :c AND (b.code IS NULL "
                "OR NOT ST_Equals(a.geom, b.geom))"), {"c": by_cli, "r": by_route}).scalar()  # fmt: skip
            counts = conn.execute(text(
                "SELECT plan_id, count(*) FROM area WHERE plan_id IN (:c, :r) GROUP BY plan_id"),
                {"c": by_cli, "r": by_route}).all()  # fmt: skip
        assert differ == 0 and len({n for _, n in counts}) == 1 and len(counts) == 2
        summary = job["summary"]
        assert f"{summary['within']:,} within ±15%" in result.output
        assert f"{summary['moved']:.1%} of households change cell" in result.output
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM app_user WHERE username = 'same-planner'"))
        engine.dispose()
