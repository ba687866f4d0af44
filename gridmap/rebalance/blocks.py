"""Blocks for the rebalancing engine: from a file, or a lattice.

Polygons are projected to metres (a transverse Mercator centred on the data, through
pyproj) before adjacency, areas and perimeters are measured; results go back as WGS84.
Blocks derived from the database are made in ``gridmap/plans/blocks.py`` (the engine
runs no SQL).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.errors import InvalidInput
from gridmap.rebalance.engine import Blocks, Result

REQUIRED = ("block_id", "village_code", "households")


SIDE = 20_000.0  # metres: the square of random_blocks


def random_blocks(n: int, seed: int = 1) -> tuple[Blocks, np.ndarray]:
    """Synthetic blocks: a Voronoi diagram of ``n`` random points in a 20 km square.

    Villages are a coarser Voronoi diagram over the same square (one per ~60 blocks),
    households per block log-normal (median 25, a long tail). The benchmark's and the
    tests' stand-in for a city's blocks.
    """
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, SIDE, (n, 2))
    box = shapely.box(0, 0, SIDE, SIDE)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box,
                                                        ordered=True))  # fmt: skip
    polys = shapely.intersection(cells, box)
    vseeds = rng.uniform(0, SIDE, (max(1, n // 60), 2))
    centres = shapely.centroid(polys)
    xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    nearest = np.argmin(((xy[:, None, :] - vseeds[None, :, :]) ** 2).sum(-1), axis=1)
    villages = [f"350503{v:06d}" for v in nearest]
    load = np.round(rng.lognormal(np.log(25), 0.7, n))
    return Blocks.from_polygons(list(range(n)), villages, list(load), polys), polys


def grow(blocks: Blocks, current: np.ndarray, seed: int = 7) -> Blocks:
    """The blocks after growth, with ``current`` as the plan in force.

    3% of blocks gain 100–250 households and 5% lose 30% (the issue's scenario).
    """
    rng = np.random.default_rng(seed)
    n = len(blocks)
    load = blocks.load.copy()
    up = rng.choice(n, int(0.03 * n), replace=False)
    down = rng.choice(np.setdiff1d(np.arange(n), up), int(0.05 * n), replace=False)
    load[up] += rng.integers(100, 251, len(up))
    load[down] = np.round(load[down] * 0.7)
    b = blocks
    return Blocks(b.ids, b.village, load, b.x, b.y, b.area, b.perimeter, b.neighbours,
                  current=np.asarray(current).copy())  # fmt: skip


def metric_crs(frame: gpd.GeoDataFrame) -> str:
    """A transverse Mercator centred on ``frame`` (metres, little distortion nearby).

    Centred on the middle of its bounds: a union of every polygon only to find its centre
    is slow (the studio measures blocks on every hand edit) and failed on the blocks of a
    plan drawn by rebalancing ("unable to assign free hole to a shell").
    """
    if not len(frame):
        return _tmerc(118.6)
    x0, _, x1, _ = frame.to_crs(4326).total_bounds
    return _tmerc((float(x0) + float(x1)) / 2)


def _tmerc(lon: float) -> str:
    return f"+proj=tmerc +lon_0={lon:.4f} +lat_0=0 +k=1 +x_0=500000 +ellps=GRS80 +units=m"


def read_blocks(path: Path, current_col: str | None = None) -> gpd.GeoDataFrame:
    """Blocks from a GeoPackage or GeoParquet, checked.

    Columns ``block_id``, ``village_code``, ``households`` (and the current cell in
    ``current_col`` when given); polygons valid; a CRS. From a GeoPackage of several layers
    the one named ``blocks`` is read: the file ``gridmap plan rebalance -o`` writes can be
    read back (its blocks carry their new cell in ``new_cell``).
    """
    if not path.exists():
        raise InvalidInput(f"{path} does not exist")
    if path.suffix.lower() == ".parquet":
        frame = gpd.read_parquet(path)
    elif path.suffix.lower() == ".gpkg":
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        frame = pyogrio.read_dataframe(path, layer="blocks" if "blocks" in layers else None)
    else:
        raise InvalidInput(f"{path.name}: use a GeoPackage (.gpkg) or GeoParquet (.parquet)")
    missing = [c for c in (*REQUIRED, *([current_col] if current_col else [])) if c not in frame]
    if missing:
        raise InvalidInput(f"{path.name} has no column {', '.join(missing)}")
    if frame.crs is None:
        raise InvalidInput(f"{path.name} has no CRS: write it with one (EPSG:4326, 4490…)")
    bad = ~frame.geometry.is_valid | frame.geometry.is_empty
    if bad.any():
        first = frame.loc[bad, "block_id"].head(5).tolist()
        raise InvalidInput(f"{int(bad.sum())} blocks have invalid or empty polygons: {first}")
    if frame["households"].isna().any() or (frame["households"] < 0).any():
        raise InvalidInput("households must be a count (0 or more) for every block")
    if frame["block_id"].duplicated().any():
        raise InvalidInput("block_id must be unique")
    return frame


def to_blocks(frame: gpd.GeoDataFrame, current_col: str | None = None) -> Blocks:
    """Engine input from a frame of blocks (any CRS)."""
    metric = frame.to_crs(metric_crs(frame))
    current = None
    if current_col:
        current = [None if pd.isna(c) else str(c) for c in frame[current_col]]
    return Blocks.from_polygons(
        frame["block_id"].tolist(), frame["village_code"].astype(str).tolist(),
        frame["households"].astype(float).tolist(), metric.geometry.to_numpy(), current,
    )  # fmt: skip


def cells_of(frame: gpd.GeoDataFrame, result: Result) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The blocks labelled with their new cell (``new_cell``), and the cells drawn from them.

    A cell is the union of its blocks, with their households summed, its village, and the
    engine's deviation from the target (4 decimals) and Polsby–Popper compactness (3).
    """
    frame = frame.assign(new_cell=result.labels)
    how = {"households": "sum", "village_code": "first"}
    try:
        cells = frame.dissolve(by="new_cell", aggfunc=how)
    except shapely.errors.GEOSException:
        # blocks cut from cells that were themselves unions of blocks (a plan drawn by
        # rebalancing) can meet at nearly coincident vertices GEOS cannot node: union them
        # snapped to 1e-7 (a centimetre in degrees, a tenth of a micron in metres)
        snapped = shapely.set_precision(shapely.make_valid(frame.geometry.to_numpy()), 1e-7)
        snapped_frame = frame.set_geometry(gpd.GeoSeries(snapped, index=frame.index, crs=frame.crs))
        cells = snapped_frame.dissolve(by="new_cell", aggfunc=how)
        polygons = [shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
                    for g in cells.geometry]  # fmt: skip
        cells = cells.set_geometry(gpd.GeoSeries(polygons, index=cells.index, crs=cells.crs))
    table = {c["cell"]: c for c in result.cells}
    cells["deviation"] = [round(float(table[c]["deviation"]), 4) for c in cells.index]  # type: ignore[arg-type]
    cells["polsby_popper"] = [round(float(table[c]["polsby_popper"]), 3) for c in cells.index]  # type: ignore[arg-type]
    cells = cells.reset_index().rename(columns={"new_cell": "code"})
    return frame, cells


def write_result(out: Path, cells: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> None:
    """The cells and the labelled blocks as the two layers of a GeoPackage (replacing ``out``)."""
    if out.exists():
        out.unlink()
    pyogrio.write_dataframe(cells, out, layer="cells", driver="GPKG")
    pyogrio.write_dataframe(gpd.GeoDataFrame(blocks), out, layer="blocks", driver="GPKG")


def lattice(
    nx: int, ny: int, loads: np.ndarray | float = 1.0, *, size: float = 100.0,
    village: str | np.ndarray = "350503001001", current: list[str | None] | None = None,
) -> tuple[Blocks, np.ndarray]:  # fmt: skip
    """An ``nx`` × ``ny`` lattice of square blocks (row by row from the south-west)."""
    polys = np.array([shapely.box(i * size, j * size, (i + 1) * size, (j + 1) * size)
                      for j in range(ny) for i in range(nx)], dtype=object)  # fmt: skip
    n = nx * ny
    villages = np.full(n, village, dtype=object) if isinstance(village, str) else village
    load = np.broadcast_to(np.asarray(loads, dtype=float), (n,))
    return Blocks.from_polygons(list(range(n)), list(villages), list(load), polys, current), polys
