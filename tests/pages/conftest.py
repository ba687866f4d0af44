"""A real uvicorn server and a real Chromium (Debian's, driven by Playwright), offline."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from api.app import create_app
from tests.helpers import TEST_SECRET, free_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serve(url: str, data_dir, **overrides) -> Iterator[str]:
    """A uvicorn server on loopback for the database at ``url``; yields its base URL."""
    from gridmap.settings import Settings

    settings = Settings(environment="test", database_url=url, data_dir=data_dir,
                        secret_key=TEST_SECRET, rate_limits_enabled=False, **overrides)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class DemoSite:
    """A served demo database of its own: the seed's data, users' tokens and areas by name."""

    base: str
    url: str
    data: Any
    tokens: dict[str, str]
    areas: dict[str, str]


@contextmanager
def demo_site(
    pg_cluster, tmp_path_factory, name: str, seed: int,
    people: Callable[[Any], dict[str, tuple[Any, str]]],
) -> Iterator[DemoSite]:  # fmt: skip
    """A writable demo database (0.5 % of its people, ``seed``) served for real.

    For the pages whose tests change data (workbench, field app, studio): the users
    ``people(data)`` names — ``{username: (role, area code)}`` — are created with tokens;
    the database is dropped after.
    """
    from gridmap.auth.security import create_token
    from gridmap.auth.service import create_user
    from gridmap.db import migrate
    from gridmap.db.session import make_engine
    from gridmap.models import make_sessionmaker
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    pg_cluster.create_database(name)
    try:
        url = pg_cluster.url(name)
        migrate.upgrade(url)
        data = generate(SeedConfig(scale="demo", population_fraction=0.005, seed=seed))
        engine = make_engine(url)
        load(data, engine)
        who = people(data)
        tokens = {}
        with make_sessionmaker(engine).begin() as session:
            for username, (role, area) in who.items():
                user = create_user(session=session, username=username, role=role,
                                   password=f"{name}-tests-2025", area_code=area)  # fmt: skip
                tokens[username] = create_token(secret=TEST_SECRET, user_id=user.id,
                                                username=username, role=role, area_code=area,
                                                minutes=120)  # fmt: skip
        engine.dispose()
        with serve(url, tmp_path_factory.mktemp(name)) as base:
            yield DemoSite(base, url, data, tokens, {k: v[1] for k, v in who.items()})
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def live_server(db_url, tmp_path_factory) -> Iterator[str]:
    with serve(db_url, tmp_path_factory.mktemp("data")) as base:
        yield base


@dataclass
class MapWorld:
    """A server on the seeded demo, and users placed in it: tokens by name, their areas."""

    base: str
    url: str
    tokens: dict[str, str]
    areas: dict[str, str]


@pytest.fixture(scope="module")
def map_world(seeded, tmp_path_factory) -> Iterator[MapWorld]:
    """The seeded demo served for real, with a county, a township and a grid-worker user."""
    from gridmap.auth.models import Role
    from gridmap.auth.security import create_token
    from gridmap.auth.service import create_user
    from gridmap.db.session import make_engine
    from gridmap.models import make_sessionmaker

    url, data = seeded
    areas = data.areas
    township = areas[(areas.level == "township") & areas.code.str.startswith("350503")].code.iloc[0]
    counts = data.incidents.groupby("grid_code").size()
    cells = [c for c in counts.sort_values(ascending=False).index if c.startswith(township)]
    people = {
        "map-county": (Role.county_dispatcher, "350503"),
        "map-township": (Role.township_dispatcher, township),
        "map-grid": (Role.grid_worker, cells[0]),
        "map-other-grid": (Role.grid_worker, cells[1]),
    }
    engine = make_engine(url)
    tokens = {}
    with make_sessionmaker(engine).begin() as session:
        for name, (role, area) in people.items():
            user = create_user(session=session, username=name, password="Map-tests-2025",
                               role=role, area_code=area)  # fmt: skip
            tokens[name] = create_token(secret=TEST_SECRET, user_id=user.id, username=name,
                                        role=role, area_code=area, minutes=120)  # fmt: skip
    engine.dispose()
    try:
        with serve(url, tmp_path_factory.mktemp("maps")) as base:
            yield MapWorld(base, url, tokens, {k: v[1] for k, v in people.items()})
    finally:
        cleanup = create_engine(url)
        with cleanup.begin() as conn:
            conn.execute(text("DELETE FROM app_user WHERE username LIKE 'map-%'"))
        cleanup.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def guarded(context, allow=("127.0.0.1", "localhost")):
    """A page whose requests beyond ``allow`` are refused and recorded; errors recorded."""
    page = context.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def guard(route):
        url = route.request.url
        host = urlparse(url).hostname
        if host in allow or url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.outside_requests = outside
    page.errors = errors
    return page


def clean(page) -> bool:
    """No request left the machine and no script failed (nor any request the page made)."""
    return page.outside_requests == [] and page.errors == []


@pytest.fixture
def offline_page(browser):
    """A page whose requests beyond loopback are refused and recorded."""
    context = browser.new_context()
    page = guarded(context)
    yield page
    context.close()
