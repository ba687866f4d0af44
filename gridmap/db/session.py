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


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine with pre-ping, so a restarted database does not break the next request."""
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built after it)."""
    return sessionmaker(engine, expire_on_commit=False)
