"""Shared fixtures: a throwaway PostGIS cluster for the whole run, a transaction per test.

The cluster lives in a fresh folder under /tmp on a free port: never the dev cluster, never
a server on 5432. When PostgreSQL or PostGIS is missing the fixture fails with the package
to install; it never skips.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from gridmap.db import migrate
from gridmap.db.cluster import Cluster
from gridmap.db.session import make_engine
from gridmap.settings import Settings
from tests.helpers import TEST_SECRET, free_port, override_for_test


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="gridmap-test-"))
    folder.chmod(0o755)
    cluster = Cluster(folder, free_port(), dbname="gridmap_test")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def db_url(pg_cluster: Cluster) -> str:
    """The test database, migrated to head (the migrations themselves are under test)."""
    url = pg_cluster.url()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as s:
            yield s
        transaction.rollback()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # rate limits are off here (their counters live outside the test's transaction and
    # would add up across tests); tests/api/test_abuse.py turns them on and checks them
    return Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path,
        secret_key=TEST_SECRET,
        rate_limits_enabled=False,
        notification_poll_seconds=0.1,
        notification_stream_seconds=1,
    )


@pytest.fixture
def app(settings: Settings, session: Session) -> FastAPI:
    """The API, its requests running inside the test's rolled-back transaction."""
    return override_for_test(create_app(settings), session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def seeded(pg_cluster: Cluster):
    """A separate database holding a small demo seed (read-only for tests): (url, seed)."""
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    pg_cluster.create_database("seeded")
    url = pg_cluster.url("seeded")
    migrate.upgrade(url)
    data = generate(SeedConfig(scale="demo", population_fraction=0.01, seed=5))
    engine = make_engine(url)
    load(data, engine)
    engine.dispose()
    return url, data


@pytest.fixture(scope="session")
def fresh(pg_cluster):
    """A writable database of its own with a small demo seed, for commands: (url, seed)."""
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    pg_cluster.create_database("registry_cli")
    url = pg_cluster.url("registry_cli")
    migrate.upgrade(url)
    data = generate(SeedConfig(scale="demo", population_fraction=0.005, seed=11))
    engine = make_engine(url)
    load(data, engine)
    engine.dispose()
    yield url, data
    pg_cluster.drop_database("registry_cli")


@pytest.fixture
def seeded_client(seeded, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the seeded database (requests commit for real: read-only tests only)."""
    url, _ = seeded
    settings = Settings(
        environment="test",
        database_url=url,
        data_dir=tmp_path,
        secret_key=TEST_SECRET,
        rate_limits_enabled=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(session):
    """The hand-drawn world of tests/world.py, in the test's transaction."""
    from tests.world import build_world

    return build_world(session)
