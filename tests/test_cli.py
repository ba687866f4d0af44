"""The `gridmap` command against the test cluster (GRIDMAP_DATABASE_URL points at it)."""

import re

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
    frame = pd.DataFrame(  # 50 in their cells, one at sea, one whose longitude is a typo
        {"lon": [*shapely.get_x(pts), 118.75, "118.6o"], "lat": [*shapely.get_y(pts), 24.70, 24.9]}
    )
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = runner.invoke(app, ["assign", str(tmp_path / "in.csv"), str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "50 in a cell, 1 outside the jurisdiction" in result.output
    assert "1 whose coordinates cannot be read" in result.output
    out = pd.read_csv(tmp_path / "out.csv", dtype={"grid_code": str})
    assert list(out["grid_code"][:50]) == list(grids.code[:50])
    assert list(out["readable"]) == [True] * 51 + [False]


def test_assign_command_refuses_an_unknown_crs(env, tmp_path):
    result = runner.invoke(app, ["assign", "in.csv", "out.csv", "--crs", "epsg:3857"])
    assert result.exit_code == 1 and "unknown crs" in result.output


def test_plan_list(env):
    result = runner.invoke(app, ["plan", "list"])
    assert result.exit_code == 0 and "active" in result.output


def test_plan_list_shows_what_the_api_lists(env, seeded_client):
    """`gridmap plan list` and GET /api/v1/plans are two doors to one list (plan_rows)."""
    from api.deps import get_principal
    from gridmap.auth.models import Role
    from gridmap.scope import Actor

    app_ = seeded_client.app
    app_.dependency_overrides[get_principal] = lambda: Actor(1, Role.planner, "350500")
    served = seeded_client.get("/api/v1/plans")
    assert served.status_code == 200, served.text
    result = runner.invoke(app, ["plan", "list"])
    assert result.exit_code == 0, result.output
    # "   1  active    1,234 cells  2025 grid plan (seed)  2025-01-01 00:00:00+00:00"
    line = re.compile(r"^\s*(\d+)  (\w+)\s+([\d,]+) cells  (.+?)(?:  (\S.*))?$")
    listed = [line.match(row).groups() for row in result.output.splitlines() if row.strip()]
    rows = [(int(i), s, int(n.replace(",", "")), name) for i, s, n, name, _ in listed]
    assert rows and rows == [(p["id"], p["status"], p["cells"], p["name"]) for p in served.json()]


def test_db_status_of_a_stopped_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_DB_PORT", "55999")
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 3 and "stopped" in result.output


def test_seed_export_refuses_an_unknown_format(tmp_path):
    result = runner.invoke(app, ["seed-export", str(tmp_path), "--format", "shp"])
    assert result.exit_code == 1 and "gpkg or parquet" in result.output


def test_db_start_url_status_stop_as_a_user_runs_them(tmp_path):
    """The README's `gridmap db start|url|status|stop`, each in a fresh process, on a data
    folder and port of their own: the cluster really starts, answers SQL with PostGIS, stops."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import psycopg

    from tests.helpers import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_DATABASE_URL"}
    env |= {"GRIDMAP_DATA_DIR": str(tmp_path), "GRIDMAP_DB_PORT": str(port)}
    tmp_path.chmod(0o755)

    def gridmap(*args):
        command = str(Path(sys.executable).parent / "gridmap")  # the installed command
        return subprocess.run([command, *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    started = gridmap("db", "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        # (as root, the cluster lives where the postgres user can reach it: see FACTS)
        assert started.stdout.startswith("running: ") and f"port {port}" in started.stdout
        url = gridmap("db", "url").stdout.strip()
        assert f"port={port}" in url
        status = gridmap("db", "status")
        assert status.returncode == 0 and "running" in status.stdout
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT postgis_version()").fetchone()[0]
    finally:
        stopped = gridmap("db", "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    after = gridmap("db", "status")
    assert after.returncode == 3 and "stopped" in after.stdout


def test_seed_shows_each_stage_as_it_goes(pg_cluster, tmp_path):
    """`gridmap seed` in a fresh process on an empty, migrated database: a line per
    generation stage (the city seed was silent for its first ~160 s), then the load."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gridmap.db import migrate

    pg_cluster.create_database("seed_cli")  # empty: the command migrates it, and says so
    url = pg_cluster.url("seed_cli")
    env = os.environ | {"GRIDMAP_DATABASE_URL": url, "GRIDMAP_DATA_DIR": str(tmp_path),
                        "COLUMNS": "200"}  # fmt: skip
    gridmap = str(Path(sys.executable).parent / "gridmap")
    r = subprocess.run([gridmap, "seed", "--scale", "demo", "--fraction", "0.05"], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"schema migrated to {migrate.head()} (was empty)" in r.stdout
    stages = [line.split(" in ")[0] for line in r.stdout.splitlines()
              if line.startswith("generated ")]  # fmt: skip
    expected = [
        "generated county outlines", "generated households' places", "generated buildings",
        "generated townships, villages and grid cells", "generated registry", "generated units",
        "generated incidents", "generated organisation",
    ]  # fmt: skip
    assert stages == expected
    # seed-export, as README shows it, is no longer silent while it generates
    r = subprocess.run([gridmap, "seed-export", str(tmp_path / "out"), "--format", "parquet",
                        "--fraction", "0.02"], env=env, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line.split(" in ")[0] for line in r.stdout.splitlines()
            if line.startswith("generated ")] == expected  # fmt: skip
    assert (tmp_path / "out" / "people.parquet").exists()
