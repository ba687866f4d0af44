"""A real uvicorn server and a real Chromium (Debian's, driven by Playwright), offline."""

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import uvicorn

from api.app import create_app
from tests.conftest import free_port


@pytest.fixture(scope="module")
def live_server(db_url, tmp_path_factory) -> Iterator[str]:
    from gridmap.settings import Settings
    from tests.conftest import TEST_SECRET

    settings = Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key=TEST_SECRET,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def offline_page(browser):
    """A page whose requests beyond loopback are refused and recorded."""
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []

    def guard(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.outside_requests = outside
    yield page
    context.close()
