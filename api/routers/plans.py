"""Boundary plans (网格方案): list, one plan, the change impact of a draft, activation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from api.deps import PrincipalDep, SessionDep, require_roles
from api.problems import responses
from gridmap.areas.models import Area, Plan
from gridmap.auth.models import Role
from gridmap.errors import NotFound
from gridmap.plans import drafts, service
from gridmap.scope import Actor

router = APIRouter(tags=["plans"], responses=responses(401, 403, 404))
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PLANNERS = (Role.planner, Role.city_admin, Role.county_dispatcher)


class PlanRead(BaseModel):
    """A boundary plan and its number of cells."""

    id: int
    name: str
    status: str
    note: str | None
    cells: int
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


def _plans(session: Any, plan_id: int | None = None) -> list[dict[str, Any]]:
    query = (
        select(Plan, func.count(Area.id))
        .outerjoin(Area, Area.plan_id == Plan.id)
        .group_by(Plan.id)
        .order_by(Plan.id)
    )
    if plan_id is not None:
        query = query.where(Plan.id == plan_id)
    return [
        {"id": p.id, "name": p.name, "status": p.status.value, "note": p.note, "cells": n,
         "created_at": p.created_at, "activated_at": p.activated_at, "retired_at": p.retired_at}
        for p, n in session.execute(query)
    ]  # fmt: skip


@router.get("/plans", response_model=list[PlanRead])
def list_plans(session: SessionDep, principal: PrincipalDep) -> Any:
    """Every plan: the one in force, drafts, retired ones (boundaries are no secret)."""
    return _plans(session)


@router.get("/plans/{plan_id}", response_model=PlanRead)
def read_plan(plan_id: PlanId, session: SessionDep, principal: PrincipalDep) -> Any:
    """One plan."""
    rows = _plans(session, plan_id)
    if not rows:
        raise NotFound(f"there is no plan {plan_id}")
    return rows[0]


@router.get("/plans/{plan_id}/impact")
def plan_impact(
    plan_id: PlanId,
    session: SessionDep,
    principal: Annotated[Actor, Depends(require_roles(*PLANNERS))],
    against: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Default: in force")
    ] = None,
    area: Annotated[str, Query(pattern=r"^(\d{6}(\d{3}){0,2})?$")] = "",
) -> dict[str, Any]:
    """What changes if this plan replaces ``against`` (by default the plan in force).

    Cells added, removed and changed with their loads, households and people moved, grid
    workers' caseloads, how many open incidents change cell, and how many households due
    for a visit move to another cell (per pair of cells). Counts only: no household,
    person or incident is named. A county dispatcher sees their own county.
    """
    if principal.role == Role.county_dispatcher:
        area = area or principal.area_code
        principal.require_area(area)
    if against is None:
        active = session.scalar(select(Plan.id).where(Plan.status == "active"))
        if active is None:
            raise NotFound("no plan is in force to compare with")
        against = active
    report = drafts.impact(session, against, plan_id, area)
    report["open_incidents_moving"] = len(report["open_incidents_moving"])
    return report


@router.post("/plans/{plan_id}/activate", response_model=PlanRead)
def activate_plan(
    plan_id: PlanId,
    session: SessionDep,
    principal: Annotated[Actor, Depends(require_roles(Role.city_admin))],
) -> Any:
    """Put a plan in force and re-link the registry, in one transaction (city admin only)."""
    service.activate(session=session, plan_id=plan_id)
    session.flush()
    return _plans(session, plan_id)[0]
