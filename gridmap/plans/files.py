"""A plan's cells as a file, for QGIS or a later ``gridmap plan import`` (validate.read_plan)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.areas import codes as area_codes
from gridmap.errors import NotFound


def plan_cells(session: Session, plan_id: int, area: str = "") -> gpd.GeoDataFrame:
    """The cells of plan ``plan_id`` (code, name, outline in WGS84), of ``area`` when given."""
    prefix = area_codes.prefix(area) if area else ""
    rows = pd.read_sql(text(
        "SELECT code, name, ST_AsBinary(geom) AS wkb FROM area WHERE plan_id = :plan "
        "AND code LIKE :p ORDER BY code"), session.connection(),
        params={"plan": plan_id, "p": area_codes.like(prefix)})  # fmt: skip
    if rows.empty:
        raise NotFound(f"plan {plan_id} has no cells{' in ' + area if area else ''}")
    geometry = shapely.from_wkb(rows["wkb"].map(bytes).to_numpy())
    return gpd.GeoDataFrame(rows.drop(columns="wkb"), crs=4326, geometry=geometry)


def write_cells(frame: gpd.GeoDataFrame, out: Path) -> None:
    """GeoJSON for a ``.geojson``/``.json`` name, else a GeoPackage; ``out`` is replaced."""
    if out.exists():
        out.unlink()
    frame.to_file(out, driver="GeoJSON" if out.suffix.lower() in (".geojson", ".json") else "GPKG")
