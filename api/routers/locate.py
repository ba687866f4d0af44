"""Point lookup: ``GET /locate?lon=&lat=&crs=&category=``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import LocatorDep
from api.problems import responses
from gridmap.crs import CRS

router = APIRouter(tags=["locate"])


class AreaOut(BaseModel):
    """One level of the area hierarchy."""

    level: str
    code: str
    name: str


class UnitOut(BaseModel):
    """The responsible unit."""

    id: int
    code: str
    name: str
    type: str


class NearestOut(AreaOut):
    """The nearest cell to a point outside the jurisdiction."""

    distance_m: float


class PlanOut(BaseModel):
    """The boundary plan the answer was made under."""

    id: int
    name: str


class LocateOut(BaseModel):
    """Where a point is and who is responsible for it."""

    lon: float
    lat: float
    crs: CRS
    wgs84: tuple[float, float]
    inside: bool
    plan: PlanOut
    areas: list[AreaOut]
    nearest: NearestOut | None = None
    category: str | None = None
    unit: UnitOut | None = None
    routing_reason: str | None = None
    detail: str | None = None


@router.get("/locate", response_model=LocateOut, responses=responses(409))
async def locate(
    locator: LocatorDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude in `crs`")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude in `crs`")],
    crs: Annotated[
        CRS, Query(description="wgs84, cgcs2000, gcj02 (AMap/Tencent) or bd09 (Baidu)")
    ] = CRS.wgs84,
    category: Annotated[str | None, Query(description="Incident category, to route it")] = None,
) -> LocateOut:
    """The grid cell, village, township, county and city of a point.

    With a category, also the responsible unit and the rule that chose it. A point outside
    the jurisdiction is answered as outside, with the nearest cell and its distance.
    """
    found = locator.locate(lon, lat, crs, category)
    out = LocateOut(
        lon=lon, lat=lat, crs=crs, wgs84=(found.lon, found.lat), inside=found.inside,
        plan=PlanOut(id=locator.plan_id, name=locator.plan_name),
        areas=[AreaOut(level=a.level, code=a.code, name=a.name) for a in found.areas],
        category=category, routing_reason=found.routing_reason,
        unit=UnitOut(**found.unit.__dict__) if found.unit else None,
    )  # fmt: skip
    if found.nearest is not None and found.distance_m is not None:
        out.nearest = NearestOut(
            level="grid",
            code=found.nearest.code,
            name=found.nearest.name,
            distance_m=round(found.distance_m, 1),
        )
        out.detail = (
            f"the point is outside the jurisdiction, {found.distance_m:,.0f} m from the nearest "
            f"grid cell {found.nearest.code}"
        )
    return out
