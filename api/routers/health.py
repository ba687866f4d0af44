"""Liveness and readiness: is the database there, which PostGIS, which plan is active."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.deps import ProbeSessionDep, SettingsDep, probe
from api.problems import responses
from gridmap import __version__
from gridmap.areas.active import current_plan
from gridmap.areas.models import Plan
from gridmap.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


class ActivePlan(BaseModel):
    """The boundary plan in force."""

    id: int
    name: str


class Health(BaseModel):
    """Health report (versions are not told in production)."""

    status: str
    version: str | None
    database: str
    postgis_version: str | None
    active_plan: ActivePlan | None


@router.get("/health", response_model=Health, responses=responses(503))
async def health(request: Request, session: ProbeSessionDep, settings: SettingsDep) -> Health:
    """Report whether the database is reachable, its PostGIS version and the active plan.

    Answered outside the request slots, on the side pool and threads of its own, so it
    tells the truth during a burst instead of queueing behind it (api/capacity.py).
    """

    def read() -> tuple[str, Plan | None]:
        postgis = session.scalar(text("SELECT postgis_full_version()")) or ""
        return postgis, current_plan(session)

    try:
        postgis, plan = await probe(request, read)
    except OperationalError as exc:
        raise ServiceUnavailable("the database is not reachable: try again shortly") from exc
    public = settings.environment != "production"
    return Health(
        status="ok",
        version=__version__ if public else None,
        database="ok",
        postgis_version=(postgis.split('"')[1] if '"' in postgis else postgis) if public else None,
        active_plan=ActivePlan(id=plan.id, name=plan.name) if plan else None,
    )
