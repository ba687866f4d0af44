"""Write a generated seed as files for QGIS and notebooks (GeoPackage or GeoParquet).

Exports are byte-for-byte reproducible for a given seed: GeoPackage's last-change stamp
is pinned (GDAL's ``OGR_CURRENT_DATE``), and Parquet carries no timestamps. Personal data
is masked, as in every gridmap output: names, resident IDs and phones by their field's
rule, the text of names, addresses, titles, descriptions and notes by the free-text masker;
an incident's columns as the API's view masks them (``gridmap.incidents.views.MASKED``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gridmap.incidents import views as incident_views
from gridmap.privacy import Kind, mask_array
from seed_data.generate import Seed

FIXED_DATE = "2025-12-31T00:00:00Z"
# the columns masked per table, by kind (the registry's export, gridmap/registry/export.py,
# masks the same columns of the tables both write)
MASKED: dict[str, tuple[tuple[str, Kind | Literal["text"]], ...]] = {
    "people": (("name", "name"), ("id_number", "id_number"), ("phone", "phone")),
    "work_units": (("name", "text"), ("address", "text"), ("contact_phone", "phone")),
    "buildings": (("name", "text"), ("address", "text")),
    "incidents": tuple(incident_views.MASKED.items()),
    "incident_events": (("note", "text"),),
}


def tables(seed: Seed) -> dict[str, pd.DataFrame]:
    """The exported tables, geometry as WGS84 where the table has one."""

    def located(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        geometry = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        return gpd.GeoDataFrame(
            frame.drop(columns=["lon", "lat"]), geometry=geometry, crs="EPSG:4326"
        )

    buildings = located(seed.buildings.drop(columns=["footprint"]))
    incidents = located(seed.incidents.drop(columns=["path"]))
    for col in (
        "reported_at",
        "sign_due_at",
        "resolve_due_at",
        "signed_at",
        "resolved_at",
        "closed_at",
    ):
        incidents[col] = pd.to_datetime(incidents[col]).dt.tz_localize("UTC")
    out = {
        "areas": seed.areas,
        "departments": seed.departments,
        "buildings": buildings,
        "households": located(seed.households),
        "work_units": located(seed.work_units),
        "incidents": incidents,
        "incident_events": seed.events.assign(
            at=pd.to_datetime(seed.events["at"]).dt.tz_localize("UTC")
        ),
        "routing_rules": seed.routing_rules,
        "houses": seed.houses,
        "people": seed.people.assign(
            birth_date=pd.to_datetime(seed.people["birth_date"]).dt.date.astype(str)
        ),
    }
    for name, columns in MASKED.items():
        present = {c: mask_array(out[name][c].to_numpy(), kind) for c, kind in columns
                   if c in out[name]}  # fmt: skip
        out[name] = out[name].assign(**present)
    return out


def export(seed: Seed, out: Path, fmt: Literal["gpkg", "parquet"]) -> list[Path]:
    """Write ``seed`` under ``out`` (a folder); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt == "parquet":
        for name, frame in tables(seed).items():
            path = out / f"{name}.parquet"
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_parquet(path, index=False, write_covering_bbox=False)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
        return written
    path = out / "gridmap-seed.gpkg"
    path.unlink(missing_ok=True)
    previous = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = FIXED_DATE
    try:
        for name, frame in tables(seed).items():
            if not isinstance(frame, gpd.GeoDataFrame):
                frame = pd.DataFrame(frame)
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", append=path.exists())
    finally:
        if previous is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = previous
    return [path]
