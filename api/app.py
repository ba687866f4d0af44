"""The app factory: ``create_app(settings)`` builds a FastAPI app; nothing runs at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import problems
from api.routers import auth, health, incidents, locate
from gridmap import __version__
from gridmap.db.session import database_url, make_engine, make_sessionmaker
from gridmap.settings import Settings, with_local_secret

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gridmap API for ``settings`` (read from the environment when omitted)."""
    settings = with_local_secret(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # no pre-ping per request: after a database restart one request answers 503 and
        # the pool is renewed, instead of every request paying a round trip
        engine = make_engine(database_url(settings), pool_pre_ping=False)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            yield
        finally:
            engine.dispose()

    # API docs with Swagger UI served from the package, not a CDN: intranets are offline
    app = FastAPIOffline(
        title="gridmap",
        version=__version__,
        summary="Grid management (网格化管理) for social-governance centres.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(auth.router, prefix=API_PREFIX)
    app.include_router(locate.router, prefix=API_PREFIX)
    app.include_router(incidents.router, prefix=API_PREFIX)
    return app
