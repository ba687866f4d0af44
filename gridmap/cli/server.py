"""``gridmap serve`` and ``gridmap demo``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from gridmap.cli.common import (
    check_database,
    console,
    ensure_database,
    friendly_errors,
    load_settings,
)
from gridmap.cli.seed import generate_and_load
from gridmap.errors import GridmapError
from gridmap.ops.metrics import multiprocess_dir


@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API and maps (uvicorn).

    X-Forwarded-For is believed only from GRIDMAP_TRUSTED_PROXIES (none by default).
    """
    import uvicorn

    settings = load_settings()
    check_database(settings)
    # the app (built in each worker) links to where it listens, unless GRIDMAP_PUBLIC_URL says
    os.environ["GRIDMAP_HOST"] = host or settings.host
    os.environ["GRIDMAP_PORT"] = str(port or settings.port)
    if settings.public_url is None and (host or settings.host) in ("0.0.0.0", "::"):
        console.print("GRIDMAP_PUBLIC_URL is not set: OGC and Open311 links will name "
                      f"{settings.base_url}; set it to the address clients use")  # fmt: skip
    # the workers write their metrics to files in one folder, made here and removed at exit,
    # so /metrics adds up every worker's counts whichever answers (gridmap/ops/metrics.py)
    with multiprocess_dir():
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=not settings.log_json,  # the JSON access line replaces uvicorn's
            **settings.server_options(),
        )


@friendly_errors
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when loaded")
    ] = True,
) -> None:
    """Start the database, migrate, load the demo seed once, create demo users, serve."""
    from gridmap.demo import DEMO_PASSWORD, has_seed, liven, load_demo
    from seed_data.generate import SeedConfig

    settings = load_settings()
    if settings.environment == "production":
        raise GridmapError(
            "gridmap demo creates accounts with a published password and is refused in "
            "production: load data with `gridmap seed` and add users with `gridmap user create`"
        )
    url = ensure_database(settings)
    if not has_seed(url):
        generate_and_load(SeedConfig(scale="demo"), settings)
        # the reference year moved to end now: the last weeks are live (gridmap/demo.py)
        liven(url=url, console=console, now=datetime.now(UTC))
    load_demo(url=url, console=console, settings=settings)
    if serve_after:
        base = f"http://{settings.host}:{settings.port}"
        console.print(
            f"ready: the dispatcher's map at {base}/maps/dispatch (sign in as fengze, password "
            f"{DEMO_PASSWORD}); API docs at {base}/docs — Ctrl-C to stop"
        )
        serve(host=None, port=None, workers=1)
