"""Checking an uploaded plan before it becomes a draft: every problem with its cell and place.

A plan file (GeoPackage or GeoJSON) holds grid cells with a 15-digit ``code`` (and
optionally a ``name``). It replaces the cells of an area (a county, township or village —
or the whole city). Refused, each with the cell and a point to look at:

- a polygon that is not valid (self-intersection, a ring that does not close…);
- a code that is not 15 digits, appears twice, or names a village that does not exist or
  lies outside the area;
- a cell reaching outside its village (nested: a cell never crosses a village boundary);
- two cells overlapping;
- a gap: part of a village of the area that no cell covers (or a village with no cell).

Areas are measured in metres (a transverse Mercator centred on the file); slivers below
``MIN_AREA_M2`` are ignored, as digitising leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.errors import InvalidInput
from gridmap.rebalance.blocks import metric_crs


def village_of(code: str) -> str:
    """The village a cell code belongs to."""
    return codes.ancestor(code, AreaLevel.village)


MIN_AREA_M2 = 10.0


@dataclass
class PlanProblem:
    """One problem of an uploaded plan."""

    cell: str
    reason: str
    lon: float | None = None
    lat: float | None = None


def read_plan(path: Path) -> gpd.GeoDataFrame:
    """The cells of a plan file, WGS84."""
    if not path.exists():
        raise InvalidInput(f"{path} does not exist")
    if path.suffix.lower() not in (".gpkg", ".geojson", ".json"):
        raise InvalidInput(f"{path.name}: use a GeoPackage (.gpkg) or GeoJSON (.geojson)")
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio's own errors: not a readable file
        raise InvalidInput(f"{path.name} cannot be read: {exc}") from None
    if "code" not in frame:
        raise InvalidInput(f"{path.name} has no column 'code' (the 15-digit cell codes)")
    if frame.crs is None:
        frame = frame.set_crs(4326)  # GeoJSON (RFC 7946) is WGS84
    frame["code"] = frame["code"].astype(str)
    return frame.to_crs(4326)


def _at(geom: shapely.Geometry) -> tuple[float, float]:
    p = shapely.point_on_surface(geom)
    return round(float(p.x), 6), round(float(p.y), 6)


def validate(session: Session, cells: gpd.GeoDataFrame, area: str) -> list[PlanProblem]:
    """Every problem of ``cells`` as the new cells of ``area``; empty when it can be saved."""
    problems: list[PlanProblem] = []
    if len(area) > 12:
        raise InvalidInput("a plan replaces the cells of a village or a larger area, not a cell")
    prefix = codes.prefix(area)
    query = text(
        "SELECT code, ST_AsBinary(geom) AS wkb FROM area WHERE level = 'village' "
        "AND code LIKE :p ORDER BY code"
    )
    villages = pd.read_sql(query, session.connection(), params={"p": codes.like(area)})
    village_geom = dict(
        zip(villages["code"], shapely.from_wkb(villages["wkb"].map(bytes).to_numpy()), strict=True)
    )
    good = []
    seen: set[str] = set()
    for code, geom in zip(cells["code"], cells.geometry, strict=True):
        if not (len(code) == 15 and code.isdigit()):
            problems.append(PlanProblem(code, "the code is not 15 digits"))
            continue
        if code in seen:
            problems.append(PlanProblem(code, "the code appears twice"))
            continue
        seen.add(code)
        if not code.startswith(prefix):
            problems.append(PlanProblem(code, f"the cell is not in the area {area}"))
            continue
        if village_of(code) not in village_geom:
            problems.append(PlanProblem(code, f"there is no village {village_of(code)}"))
            continue
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(PlanProblem(code, "the cell has no polygon"))
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            where = reason.split("[")[-1].rstrip("]").split() if "[" in reason else None
            lon, lat = (float(where[0]), float(where[1])) if where else _at(geom)
            problems.append(PlanProblem(code, f"invalid polygon: {reason.split('[')[0]}",
                                        lon, lat))  # fmt: skip
            continue
        good.append((code, geom))
    if not good:
        return problems
    frame = gpd.GeoDataFrame({"code": [c for c, _ in good]}, geometry=[g for _, g in good],
                             crs=4326)  # fmt: skip
    crs = metric_crs(frame)
    metric = frame.to_crs(crs).geometry.to_numpy()
    vm = gpd.GeoSeries(list(village_geom.values()), index=list(village_geom), crs=4326).to_crs(crs)

    def wgs(geom: shapely.Geometry) -> tuple[float, float]:
        return _at(gpd.GeoSeries([geom], crs=crs).to_crs(4326).iloc[0])

    for (code, _), m in zip(good, metric, strict=True):
        outside = m.difference(vm[village_of(code)])
        if outside.area > MIN_AREA_M2:
            problems.append(PlanProblem(code, (
                f"reaches {outside.area:,.0f} m² outside its village {village_of(code)}"),
                *wgs(outside)))  # fmt: skip
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a < b:
            both = metric[a].intersection(metric[b])
            if both.area > MIN_AREA_M2:
                problems.append(PlanProblem(good[a][0], (
                    f"overlaps cell {good[b][0]} by {both.area:,.0f} m²"), *wgs(both)))  # fmt: skip
    by_village: dict[str, list[shapely.Geometry]] = {}
    for (code, _), m in zip(good, metric, strict=True):
        by_village.setdefault(village_of(code), []).append(m)
    for village, geom in vm.items():
        covered = by_village.get(str(village))
        if not covered:
            problems.append(PlanProblem(str(village), "the village has no cell", *wgs(geom)))
            continue
        gap = geom.difference(shapely.union_all(covered))
        for part in shapely.get_parts(gap):
            if part.area > MIN_AREA_M2:
                problems.append(PlanProblem(str(village), (
                    f"a gap of {part.area:,.0f} m² that no cell covers"), *wgs(part)))  # fmt: skip
    return problems
