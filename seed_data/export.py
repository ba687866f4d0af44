"""Write a generated seed as files for QGIS and notebooks (GeoPackage or GeoParquet).

Exports are byte-for-byte reproducible for a given seed: GeoPackage's last-change stamp
is pinned (GDAL's ``OGR_CURRENT_DATE``), and Parquet carries no timestamps. Personal data
(resident IDs, phones) is masked, as in every gridmap output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gridmap.privacy import mask_array
from seed_data.generate import Seed

FIXED_DATE = "2025-12-31T00:00:00Z"


def tables(seed: Seed) -> dict[str, pd.DataFrame]:
    """The exported tables, geometry as WGS84 where the table has one."""

    def located(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        geometry = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        return gpd.GeoDataFrame(
            frame.drop(columns=["lon", "lat"]), geometry=geometry, crs="EPSG:4326"
        )

    people = seed.people.assign(
        id_number=mask_array(seed.people["id_number"].to_numpy(), "id_number"),
        phone=mask_array(seed.people["phone"].to_numpy(), "phone"),
    )
    buildings = located(seed.buildings.drop(columns=["footprint"]))
    incidents = located(seed.incidents.drop(columns=["reporter_phone", "reporter_name", "path"]))
    for col in (
        "reported_at",
        "sign_due_at",
        "resolve_due_at",
        "signed_at",
        "resolved_at",
        "closed_at",
    ):
        incidents[col] = pd.to_datetime(incidents[col]).dt.tz_localize("UTC")
    return {
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
        "people": people.assign(
            birth_date=pd.to_datetime(people["birth_date"]).dt.date.astype(str)
        ),
    }


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
