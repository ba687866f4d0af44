"""``gridmap worker``: the scheduled jobs (engine: gridmap/ops/jobs.py)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from gridmap.cli.common import check_database, console, friendly_errors, load_settings
from gridmap.db.session import make_engine
from gridmap.ops import jobs, logs


@friendly_errors
def worker(
    once: Annotated[bool, typer.Option(help="Run the due jobs once and exit")] = False,
) -> None:
    """Run the reminder sweep and the backups on schedule (one process; safe to run two)."""
    settings = load_settings()
    url = check_database(settings)
    if settings.log_json:
        logs.configure(settings.log_level)
    engine = make_engine(url, pool_size=2, max_overflow=2)
    runner = jobs.Worker(settings, engine)
    try:
        if once:
            for line in runner.run_due():
                console.print(line)
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        runner.serve(stop)
    finally:
        runner.close()
        engine.dispose()
