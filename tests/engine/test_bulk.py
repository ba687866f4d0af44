"""Bulk files and Dask: the same engine, the same answers."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import bulk
from gridmap.assign import AssignmentIndex
from gridmap.errors import InvalidInput
from tests.engine.test_assign import CELLS, X0, Y0, D


def codes(series):
    out = series.to_numpy(dtype=object)
    out[pd.isna(out)] = None
    return out


@pytest.fixture(scope="module")
def index():
    return AssignmentIndex.build(list(CELLS.values()), list(CELLS), pixel=0.001, plan_id=3)


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(5)
    n = 20_000
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.uniform(X0 - D, X0 + 9 * D, n),
            "y": rng.uniform(Y0 - D, Y0 + 3 * D, n),
        }
    )


def test_csv_in_parquet_out(tmp_path, index, points):
    src = tmp_path / "in.csv"
    bad = pd.DataFrame({"id": [-1], "x": ["not a number"], "y": [24.9]})
    pd.concat([points, bad]).to_csv(src, index=False)
    out = bulk.assign_file(
        src, tmp_path / "out.parquet", index, lon_col="x", lat_col="y", chunk=7000
    )
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert len(back) == len(points) + 1  # nothing dropped, the bad row included
    expected = index.codes_of(index.assign(points["x"], points["y"], nearest=False).cell)
    assert (codes(back["grid_code"])[:-1] == expected).all()
    assert back["plan_id"].eq(3).all()
    row = back.iloc[-1]
    assert row["inside"] == False and pd.isna(row["grid_code"]) and np.isnan(row["distance_m"])  # noqa: E712
    outside = back[~back["inside"] & back["id"].ge(0)]
    assert outside["nearest_grid_code"].notna().all() and (outside["distance_m"] > 0).all()
    inside = back[back["inside"]]
    assert (inside["village_code"] == inside["grid_code"].str[:12]).all()
    assert len(out) == len(back)


def test_geoparquet_in_geopackage_out(tmp_path, index, points):
    gdf = gpd.GeoDataFrame(
        points[["id"]], geometry=shapely.points(points[["x", "y"]].to_numpy()), crs=4326
    )
    gdf.to_parquet(tmp_path / "in.parquet")
    bulk.assign_file(tmp_path / "in.parquet", tmp_path / "out.gpkg", index)
    back = gpd.read_file(tmp_path / "out.gpkg")
    assert len(back) == len(points) and back.geometry.geom_type.eq("Point").all()
    expected = index.codes_of(index.assign(points["x"], points["y"], nearest=False).cell)
    assert (codes(back.sort_values("id")["grid_code"]) == expected).all()


def test_bad_files_say_what_is_wrong(tmp_path, index, points):
    with pytest.raises(InvalidInput, match="unknown file type"):
        bulk.file_format(tmp_path / "x.xlsx")
    points.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InvalidInput, match="--lon-col"):
        bulk.assign_file(tmp_path / "p.csv", tmp_path / "o.csv", index)
    with pytest.raises(InvalidInput, match="does not exist"):
        bulk.read(tmp_path / "missing.csv")


def test_dask_local_cluster_gives_identical_results(index, points):
    frame = bulk.with_lon_lat(points, "x", "y")
    single = bulk.assign_frame(frame, index)
    distributed = bulk.assign_dask(frame, index, partitions=4).sort_index()
    pd.testing.assert_frame_equal(single, distributed, check_dtype=False)
