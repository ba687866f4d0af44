"""Helpers shared by test modules: import them from here, never from another test module.

Fixtures stay in the conftest files; these are plain functions and constants.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_locator, get_probe_session, get_session
from gridmap.locate import Locator

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_problem(r: Any, status: int, code: str) -> Any:
    """``r`` is an RFC 9457 problem of ``status`` and ``code``, with a title and detail; its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code) and body["title"] and body["detail"]
    return body


def override_for_test(application: FastAPI, session: Session) -> FastAPI:
    """Run ``application``'s requests inside the test's rolled-back transaction."""

    def test_session() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    def test_locator() -> Locator:
        # the real get_locator opens its own connection, which cannot see the test's
        # uncommitted transaction; build the same Locator from the test session instead
        if not hasattr(application.state, "test_locator"):
            application.state.test_locator = Locator.from_database(session)
        return application.state.test_locator

    async def test_probe_session() -> AsyncIterator[Session]:
        yield session  # health probes read the test's transaction too

    application.dependency_overrides[get_session] = test_session
    application.dependency_overrides[get_probe_session] = test_probe_session
    application.dependency_overrides[get_locator] = test_locator
    # refused attempts are audited in a transaction of their own: here, a savepoint of the
    # test's transaction, so the rows are visible to the test and rolled back after it
    application.state.audit_sessionmaker = sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint"
    )
    application.state.jobs_sessionmaker = application.state.audit_sessionmaker
    return application


@contextmanager
def demo_database(pg_cluster: Any, data: Any, name: str) -> Iterator[tuple[str, Any]]:
    """A database ``name`` with the seed ``data`` and the demo's users, dropped after.

    Yields its URL and the Fengze buildings' points (lon, lat), where the demo users may
    report: for tests that run traffic against a real server (burst, migration under load).
    """
    from rich.console import Console

    from gridmap.db import migrate
    from gridmap.db.session import make_engine
    from gridmap.demo import load_demo
    from gridmap.settings import Settings
    from seed_data.load import load

    pg_cluster.create_database(name)
    try:
        url = pg_cluster.url(name)
        migrate.upgrade(url)
        engine = make_engine(url)
        load(data, engine)
        engine.dispose()
        load_demo(url=url, console=Console(quiet=True), settings=Settings(environment="test"))
        fengze = data.buildings["grid_code"].str.startswith("350503").to_numpy()
        yield url, data.buildings.loc[fengze, ["lon", "lat"]].to_numpy()
    finally:
        pg_cluster.drop_database(name)
