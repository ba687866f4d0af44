"""Probes and metrics for the orchestrator and Prometheus: ``/livez``, ``/readyz``, ``/metrics``.

At the root (not under /api/v1), where probes and scrapers look by convention; outside the
request slots (api/capacity.py), on the probes' threads and side pool, so they tell the
truth during a burst.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from api.deps import (
    OptionalPrincipalDep,
    ProbeSessionDep,
    SettingsDep,
    client_address,
    get_locator,
    probe,
)
from api.problems import responses
from gridmap.db import migrate
from gridmap.errors import GridmapError, NotAuthenticated, ServiceUnavailable
from gridmap.ops import metrics, readiness
from gridmap.scope import require_operations

router = APIRouter(tags=["operations"])


class Alive(BaseModel):
    """The process answers."""

    status: str


class Ready(BaseModel):
    """Every readiness check passed (their names)."""

    status: str
    checks: list[str]


class NotReady(ServiceUnavailable):
    """A readiness check failed: send this process no traffic yet (or any more)."""

    code = "not_ready"
    title = "Not ready"


@router.get("/livez", response_model=Alive)
async def livez() -> Alive:
    """The process is alive (no database asked: a database outage must not restart it)."""
    return Alive(status="alive")


@router.get("/readyz", response_model=Ready, responses=responses(503))
async def readyz(request: Request, session: ProbeSessionDep) -> Ready:
    """Ready: database reachable, migrations at head, assignment index loaded, not stopping."""
    state = request.app.state
    revision, error = await probe(request, lambda: readiness.read_revision(session))
    plan_active = False
    if error is None and getattr(state, "locator", None) is None:
        try:  # a plan activated since start-up: load its index now, as a request would
            await get_locator(request)
        except GridmapError:  # no plan is active: nothing to load
            pass
        except OperationalError:
            plan_active = True
    index_loaded = getattr(state, "locator", None) is not None
    facts = readiness.Facts(
        database_error=error,
        revision=revision,
        head=_head(request),
        index_loaded=index_loaded,
        plan_active=index_loaded or plan_active,
        shutting_down=getattr(state, "shutting_down", False),
    )
    failed = readiness.refusals(facts)
    if failed:
        raise NotReady("; ".join(failed.values()), failed=sorted(failed))
    return Ready(status="ready", checks=[name for name, _ in readiness.CHECKS])


def _head(request: Request) -> str:
    """The code's newest migration, read once per process."""
    state = request.app.state
    if getattr(state, "migration_head", None) is None:
        state.migration_head = migrate.head()
    return str(state.migration_head)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **responses(401, 403)},
)
async def scrape(
    request: Request, session: ProbeSessionDep, settings: SettingsDep,
    actor: OptionalPrincipalDep,
) -> Response:  # fmt: skip
    """Prometheus metrics of every worker process (requests, latency, domain counts).

    Read by a scraper from GRIDMAP_METRICS_NETWORKS, or by a signed-in city administrator.
    """
    if not settings.metrics_allowed(client_address(request)):
        if actor is None:
            raise NotAuthenticated(
                "metrics are for the operators: sign in as a city administrator, or scrape "
                "from an address in GRIDMAP_METRICS_NETWORKS"
            )
        require_operations(actor)
    gauges: metrics.DomainGauges = request.app.state.domain_gauges
    families = await probe(request, lambda: gauges.families(session))
    return Response(metrics.render(families), media_type=metrics.CONTENT_TYPE)
