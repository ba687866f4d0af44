"""Areas: one area at any level, with its outline and what lies in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.deps import PrincipalDep, SessionDep
from api.params import AreaCode
from api.problems import responses
from gridmap.areas.lookup import get_area
from gridmap.registry.summary import summary

router = APIRouter(tags=["areas"], responses=responses(401, 404))


class AreaRef(BaseModel):
    """Another area, by code and name."""

    code: str
    name: str
    level: str | None = None


class AreaRead(BaseModel):
    """An area with its parent, children, outline (GeoJSON) and counts."""

    code: str
    name: str
    name_en: str | None
    level: str
    parent: AreaRef | None
    children: list[AreaRef]
    geometry: dict[str, Any] | None
    counts: dict[str, int]
    counted_at: datetime | None = Field(
        default=None,
        description="Above a grid cell, registry counts come from a per-cell table at most a "
        "minute old: when it was counted. A cell is counted live (null).",
    )
    grid_workers: list[dict[str, str]]


@router.get("/areas/{code}", response_model=AreaRead)
def read_area(
    code: AreaCode,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
) -> dict[str, Any]:
    """An area at any level (404 outside the user's own area)."""
    area = get_area(session, code, principal)
    return summary(
        session, area, principal, datetime.now(UTC), rollup=request.app.state.cell_counts
    )
