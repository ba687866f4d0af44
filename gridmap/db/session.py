"""Engine and session factory for a database URL."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

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


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built after it).

    Every model is imported first: a mapper whose foreign keys name a table no one imported
    (``app_user.department_id`` → ``department``) cannot be configured, so a command that
    touched only one domain used to crash.
    """
    import gridmap.models  # noqa: F401

    return sessionmaker(engine, expire_on_commit=False)
