"""Uploaded plans: a broken file gets every problem with its cell and place; a good one
becomes a draft; export and import round-trip through the command line."""

import geopandas as gpd
import shapely
from typer.testing import CliRunner

from gridmap.cli import app
from gridmap.plans.validate import validate
from tests.world import T1, V1, X0, Y0, D

runner = CliRunner()


def frame(cells):
    return gpd.GeoDataFrame({"code": [c for c, _ in cells]}, geometry=[g for _, g in cells],
                            crs=4326)  # fmt: skip


def test_a_broken_plan_gets_each_problem_with_its_cell_and_place(session, world):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + D, Y0 + D), (X0 + D, Y0), (X0, Y0 + D)])
    cells = frame([
        (V1 + "001", shapely.box(X0, Y0, X0 + 0.6 * D, Y0 + D)),          # overlaps 002
        (V1 + "002", shapely.box(X0 + 0.5 * D, Y0, X0 + D, Y0 + D)),
        (V1 + "003", shapely.box(X0, Y0 + D, X0 + D, Y0 + 1.8 * D)),      # leaves a gap north
        (V1 + "004", shapely.box(X0 + 0.9 * D, Y0 + 1.8 * D, X0 + 1.3 * D, Y0 + 2 * D)),  # outside
        (V1 + "005", bowtie),                                               # invalid
        (V1 + "001", shapely.box(X0, Y0, X0 + D, Y0 + D)),                  # twice
        ("35050300100", shapely.box(X0, Y0, X0 + D, Y0 + D)),               # 11 digits
        ("350503009009001", shapely.box(X0, Y0, X0 + D, Y0 + D)),           # another township
    ])  # fmt: skip
    problems = validate(session, cells, T1)
    by = {(p.cell, p.reason.split(":")[0].split(" by ")[0].split(" of ")[0]) for p in problems}
    assert (V1 + "001", "overlaps cell 350503001001002") in by
    reasons = {p.cell: [] for p in problems}
    for p in problems:
        reasons[p.cell].append(p.reason)
    assert any(r.startswith("reaches") and f"outside its village {V1}" in r
               for r in reasons[V1 + "004"])  # fmt: skip
    assert reasons[V1 + "005"] == ["invalid polygon: Self-intersection"]
    assert "the code appears twice" in reasons[V1 + "001"]
    assert reasons["35050300100"] == ["the code is not 15 digits"]
    assert reasons["350503009009001"] == ["the cell is not in the area 350503001"]
    gaps = [r for r in reasons.get(V1, []) if r.startswith("a gap of")]
    assert gaps, problems
    located = [p for p in problems if p.lon is not None]
    assert all(X0 - D < p.lon < X0 + 2 * D and Y0 - D < p.lat < Y0 + 3 * D for p in located)
    assert all(p.lon is not None for p in problems if p.reason.startswith(("overlaps", "a gap")))


def test_a_good_plan_has_no_problem(session, world):
    cells = frame([(V1 + "001", shapely.box(X0, Y0, X0 + D, Y0 + 1.2 * D)),
                   (V1 + "002", shapely.box(X0, Y0 + 1.2 * D, X0 + D, Y0 + 2 * D))])  # fmt: skip
    assert validate(session, cells, T1) == []


def test_export_then_import_a_township_through_the_commands(fresh, tmp_path, monkeypatch):
    url, data = fresh
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    township = data.areas[data.areas.level == "township"].code.iloc[2]
    out = tmp_path / "cells.geojson"
    result = runner.invoke(app, ["plan", "export", "1", "--area", township, "-o", str(out)])
    assert result.exit_code == 0, result.output
    cells = gpd.read_file(out)
    expected = data.areas[(data.areas.level == "grid") & data.areas.code.str.startswith(township)]
    assert sorted(cells["code"]) == sorted(expected.code)
    result = runner.invoke(app, ["plan", "import", str(out), "--name", "same again",
                                 "--area", township])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{len(cells):,} cells checked; draft plan" in result.output
    # one cell dropped: its village has a gap (or no cell at all), and nothing is saved
    cells.iloc[1:].to_file(tmp_path / "holey.geojson", driver="GeoJSON")
    result = runner.invoke(app, ["plan", "import", str(tmp_path / "holey.geojson"), "--name",
                                 "holey", "--area", township])  # fmt: skip
    assert result.exit_code == 1
    assert "a gap of" in result.output or "the village has no cell" in result.output
    assert "nothing saved" in result.output
