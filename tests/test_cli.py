"""The `gridmap` command against the test cluster (GRIDMAP_DATABASE_URL points at it)."""

import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from gridmap.cli import app

runner = CliRunner()


@pytest.fixture
def env(seeded, tmp_path, monkeypatch):
    url, data = seeded
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    return data


def test_assign_command_writes_every_row(env, tmp_path):
    grids = env.areas[env.areas.level == "grid"]
    pts = shapely.point_on_surface(grids.geometry.values[:50])
    frame = pd.DataFrame(
        {"lon": [*shapely.get_x(pts), 118.75], "lat": [*shapely.get_y(pts), 24.70]}
    )
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = runner.invoke(app, ["assign", str(tmp_path / "in.csv"), str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "50 in a cell, 1 outside" in result.output
    out = pd.read_csv(tmp_path / "out.csv", dtype={"grid_code": str})
    assert list(out["grid_code"][:50]) == list(grids.code[:50])


def test_assign_command_refuses_an_unknown_crs(env, tmp_path):
    result = runner.invoke(app, ["assign", "in.csv", "out.csv", "--crs", "epsg:3857"])
    assert result.exit_code == 1 and "unknown crs" in result.output


def test_plan_list(env):
    result = runner.invoke(app, ["plan", "list"])
    assert result.exit_code == 0 and "active" in result.output


def test_db_status_of_a_stopped_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_DB_PORT", "55999")
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 3 and "stopped" in result.output


def test_seed_export_refuses_an_unknown_format(tmp_path):
    result = runner.invoke(app, ["seed-export", str(tmp_path), "--format", "shp"])
    assert result.exit_code == 1 and "gpkg or parquet" in result.output
