"""The database URL and an engine for it (sessions: :func:`gridmap.models.make_sessionmaker`)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from gridmap.db.cluster import Cluster
from gridmap.settings import Settings


def database_url(settings: Settings) -> str:
    """The configured PostGIS URL, or the embedded cluster's when none is set."""
    if settings.database_url:
        return settings.database_url
    return Cluster(settings.data_dir, settings.db_port).url()


POOL_SIZE = 20  # kept open: a new PostgreSQL backend costs ~30 ms before PostGIS plans fast
MAX_OVERFLOW = 20


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine with a pool as large as the API's worker threads; pre-ping unless told.

    Pre-ping is the default for commands and scripts: a restarted database does not break
    their next statement. The API turns it off (``api/app.py``): there one request after a
    restart answers 503 and the pool is renewed, instead of every request paying a round
    trip. Pool size: under load connections are reused, never opened and closed per request.
    """
    options: dict[str, object] = {
        "pool_pre_ping": True,
        "pool_size": POOL_SIZE,
        "max_overflow": MAX_OVERFLOW,
    }
    return create_engine(url, **(options | kwargs))
