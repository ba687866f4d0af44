"""Blocks of an area derived from the registry, for the rebalancing engine.

Blocks of the seed (and of any city loaded into gridmap) are derived from the registry: a
Voronoi diagram of the buildings of each current cell, clipped to that cell, so every
block lies in one cell and one village; a block's load is the households of its building.
The cells are those of the active plan; polygons are cut in metres
(:func:`gridmap.rebalance.blocks.metric_crs`) and returned as WGS84.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.errors import InvalidInput
from gridmap.rebalance.blocks import metric_crs


def derive_blocks(session: Session, area: str) -> gpd.GeoDataFrame:
    """Blocks of ``area`` (any level) from the registry under the active plan (WGS84).

    One per building: a Voronoi cell of the buildings of its grid cell, clipped to the grid
    cell; a grid cell without buildings is one block of 0 households.
    """
    rows_ = pd.read_sql(text(
        "SELECT a.code, ST_AsBinary(a.geom) AS wkb FROM area a JOIN plan p ON p.id = a.plan_id "
        "WHERE p.status = 'active' AND a.level = 'grid' AND a.code LIKE :p ORDER BY a.code"),
        session.connection(), params={"p": area_codes.like(area)})  # fmt: skip
    if rows_.empty:
        raise InvalidInput(f"area {area} has no grid cells in the active plan")
    cells = gpd.GeoDataFrame(
        rows_.drop(columns="wkb"),
        geometry=shapely.from_wkb(rows_["wkb"].map(bytes).to_numpy()),
        crs=4326,
    )
    buildings = pd.read_sql(text(
        "SELECT id, grid_code, households, ST_X(location) AS x, ST_Y(location) AS y "
        "FROM building WHERE grid_code LIKE :p ORDER BY id"), session.connection(),
        params={"p": area_codes.like(area)})  # fmt: skip
    crs = metric_crs(cells)
    cells_m = cells.to_crs(crs)
    pts = gpd.GeoSeries(shapely.points(buildings["x"], buildings["y"]), crs=4326).to_crs(crs)
    buildings["px"], buildings["py"] = pts.x.to_numpy(), pts.y.to_numpy()
    rows = []
    by_cell = dict(list(buildings.groupby("grid_code")))
    for code, geom in zip(cells_m["code"], cells_m.geometry, strict=True):
        group = by_cell.get(code)
        if group is None or len(group) == 0:
            rows.append((f"c{code}", code, 0, geom))
            continue
        # buildings on one spot (to 10 cm) make one block, holding all their households
        group = (
            group.assign(kx=group["px"].round(1), ky=group["py"].round(1))
            .groupby(["kx", "ky"], sort=False)
            .agg(id=("id", "first"), households=("households", "sum"), px=("px", "first"),
                 py=("py", "first"))
            .reset_index(drop=True)
        )  # fmt: skip
        if len(group) == 1:
            rows.append((f"b{group['id'].iloc[0]}", code, int(group["households"].sum()), geom))
            continue
        regions = shapely.voronoi_polygons(
            shapely.multipoints(group[["px", "py"]].to_numpy()), extend_to=geom, ordered=True
        )
        parts = _clip(shapely.get_parts(regions), geom)
        for bid, households, part in zip(group["id"], group["households"], parts, strict=True):
            part = _polygonal(part)
            if part is not None:
                rows.append((f"b{bid}", code, int(households), part))
    frame = gpd.GeoDataFrame(rows, columns=["block_id", "cell", "households", "geometry"],
                             geometry="geometry", crs=crs)  # fmt: skip
    frame["village_code"] = area_codes.ancestor_series(frame["cell"], AreaLevel.village)
    return frame.to_crs(4326)


def _clip(regions: np.ndarray, geom: shapely.Geometry) -> np.ndarray:
    """Voronoi regions clipped to their cell; robustly where the exact overlay fails.

    Near-collinear buildings give regions GEOS cannot intersect exactly ("side location
    conflict"): those are intersected again with snap-rounding to 1 mm, after repairing
    the cell if reprojection made it invalid.
    """
    try:
        return np.asarray(shapely.intersection(regions, geom))
    except shapely.errors.GEOSException:
        fixed = shapely.make_valid(geom)
        return np.asarray(shapely.intersection(shapely.make_valid(regions), fixed, grid_size=1e-3))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The largest polygon of a clipped Voronoi region (slivers dropped)."""
    if geom is None or geom.is_empty:
        return None
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
    return max(parts, key=lambda g: g.area) if parts else None
