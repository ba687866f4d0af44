"""The app factory: ``create_app(settings)`` builds a FastAPI app; nothing runs at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import openapi, problems
from api.capacity import (
    POOL_TIMEOUT,
    PROBE_THREADS,
    SIDE_OVERFLOW,
    SIDE_POOL,
    STREAM_THREADS,
    Gate,
    Sizes,
)
from api.deps import preload_locator
from api.live import Changes
from api.middleware import RequestGuard, RequestLog, SecurityHeaders
from api.routers import (
    areas,
    auth,
    changes,
    health,
    incidents,
    locate,
    maps,
    notifications,
    ogc,
    open311,
    ops,
    organisation,
    plans,
    registry,
    users,
    workbench,
)
from gridmap import __version__
from gridmap.auth.lockout import SignInGuard, SignInPolicy
from gridmap.db.session import database_url, make_engine
from gridmap.maps import pages
from gridmap.models import make_sessionmaker
from gridmap.ops import logs
from gridmap.ops.metrics import DomainGauges
from gridmap.plans.impacts import ImpactReports
from gridmap.plans.jobs import DraftJobs
from gridmap.ratelimit import PostgresStorage, RateLimiter, Rules
from gridmap.registry.rollup import CellCounts
from gridmap.settings import Settings, with_local_secret
from layers import LAYERS

API_PREFIX = "/api/v1"
DESCRIPTION = (
    "Grid management (网格化管理) for social-governance centres: areas, registry, incidents "
    "and their workflow, KPIs, maps. Every error is RFC 9457 problem details."
)


GZIP_MIN_BYTES = 1024  # below this, compressing costs more than it saves


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gridmap API for ``settings`` (read from the environment when omitted)."""
    settings = with_local_secret(settings or Settings())
    if settings.log_json and settings.environment != "test":  # tests build hundreds of apps
        logs.configure(settings.log_level)

    sizes = Sizes.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # resources sized together (api/capacity.py): slots, threads, pooled connections
        to_thread.current_default_thread_limiter().total_tokens = sizes.threads
        url = database_url(settings)
        # no pre-ping per request: after a database restart one request answers 503 and
        # the pool is renewed, instead of every request paying a round trip
        engine = make_engine(
            url, pool_pre_ping=False, pool_size=sizes.pool,
            max_overflow=sizes.pool_overflow, pool_timeout=POOL_TIMEOUT,
        )  # fmt: skip
        # the side pool: short work a request needs besides its own transaction
        side = make_engine(url, pool_pre_ping=False, pool_size=SIDE_POOL,
                           max_overflow=SIDE_OVERFLOW, pool_timeout=POOL_TIMEOUT)  # fmt: skip
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.side_sessionmaker = make_sessionmaker(side)
        app.state.changes = Changes(url)  # listens once a page subscribes (api/live.py)
        app.state.probe_limiter = CapacityLimiter(PROBE_THREADS)
        app.state.stream_limiter = CapacityLimiter(STREAM_THREADS)
        if not hasattr(app.state, "audit_sessionmaker"):  # tests bind it to their transaction
            app.state.audit_sessionmaker = app.state.side_sessionmaker
        if not hasattr(app.state, "jobs_sessionmaker"):  # background work, e.g. preparing plans
            app.state.jobs_sessionmaker = app.state.sessionmaker
        app.state.limiter = RateLimiter(PostgresStorage(side), enabled=settings.rate_limits_enabled)
        app.state.sign_in_guard = SignInGuard(
            side, SignInPolicy.from_settings(settings), enabled=settings.rate_limits_enabled
        )
        # the active plan's assignment index, loaded before the first request is served
        await run_in_threadpool(preload_locator, app)
        try:
            yield
        finally:
            app.state.shutting_down = True  # /readyz answers 503 from here on
            await app.state.changes.stop()
            engine.dispose()
            side.dispose()

    common: dict[str, Any] = {
        "title": "gridmap",
        "summary": "Grid management (网格化管理) for social-governance centres.",
        "description": DESCRIPTION,
        "lifespan": lifespan,
        "responses": problems.responses(*problems.COMMON),
    }
    app: FastAPI
    if settings.docs_enabled:
        # API docs with Swagger UI served from the package, not a CDN: intranets are offline
        app = FastAPIOffline(version=__version__, **common)
    else:  # production: no public docs, schema or version numbers
        app = FastAPI(
            version="",
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
            **common,
        )
    app.state.settings = settings
    app.state.catalogue = LAYERS  # the map layers, registered here: the engine is handed them
    app.state.cell_counts = CellCounts()
    app.state.domain_gauges = DomainGauges()
    app.state.rate_rules = Rules.from_settings(settings)
    app.state.plan_jobs = DraftJobs()  # the studio's rebalancing jobs, one at a time
    app.state.plan_impacts = ImpactReports(
        slots=settings.plan_impact_slots, ttl=settings.plan_impact_cache_seconds
    )
    problems.install(app)
    openapi.install(app, problems.Problem, maps.FeatureCollection)
    app.include_router(ops.router)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(auth.router, prefix=API_PREFIX)
    app.include_router(users.router, prefix=API_PREFIX)
    app.include_router(locate.router, prefix=API_PREFIX)
    app.include_router(changes.router, prefix=API_PREFIX)  # before /incidents/{code}
    app.include_router(workbench.router, prefix=API_PREFIX)
    app.include_router(incidents.router, prefix=API_PREFIX)
    app.include_router(notifications.router, prefix=API_PREFIX)
    app.include_router(areas.router, prefix=API_PREFIX)
    app.include_router(organisation.router, prefix=API_PREFIX)
    app.include_router(registry.router, prefix=API_PREFIX)
    app.include_router(plans.router, prefix=API_PREFIX)
    app.include_router(ogc.router)
    app.include_router(open311.router)
    app.include_router(maps.router)
    app.mount(pages.ASSET_PREFIX, StaticFiles(directory=pages.STATIC), name="map-assets")
    # innermost first (the last added is the outermost): each request is logged and
    # counted with the answer it got, whatever layer gave it; every answer carries the security
    # headers (the guard's and the gate's refusals too); a body arrives under the guard
    # before its request takes a slot; JSON, GeoJSON and HTML are compressed inside the
    # slot (Starlette's GZip leaves event streams and images alone: a stream is neither
    # compressed nor buffered)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    app.add_middleware(
        Gate,
        sizes=sizes,
        bypass=(f"{API_PREFIX}/health", "/livez", "/readyz", "/metrics"),
        stream_paths=(f"{API_PREFIX}/notifications/stream", f"{API_PREFIX}/incidents/changes"),
    )
    app.add_middleware(
        RequestGuard,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        body_seconds=settings.body_seconds,
    )
    app.add_middleware(
        SecurityHeaders,
        img_sources=tile_origin(settings.tile_url),
    )
    app.add_middleware(RequestLog)  # outermost: it sees every answer, refusals included
    return app


def tile_origin(url: str | None) -> str:
    """The origin a configured tile URL template loads images from, for the page's CSP.

    ``https://t{s}.example.cn/{z}/{x}/{y}.png`` → ``https://*.example.cn``.
    """
    if not url:
        return ""
    parsed = urlparse(url.replace("{s}", "a"))
    if not parsed.netloc:
        return ""
    host = parsed.netloc
    if "{s}" in url.split("/")[2] and "." in host:
        host = "*." + host.split(".", 1)[1]
    return f"{parsed.scheme}://{host}"
