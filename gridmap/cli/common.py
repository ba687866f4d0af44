"""What the commands share: the console, errors as messages, settings, the database session."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.db.cluster import Cluster
from gridmap.db.session import database_url, make_engine
from gridmap.errors import GridmapError
from gridmap.models import make_sessionmaker
from gridmap.settings import Settings

console = Console()


F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Print a GridmapError's message and exit 1, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GridmapError as exc:
            console.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    """The settings of this run (GRIDMAP_* variables), read when a command starts.

    A value that does not parse is a message naming the variable, not a traceback.
    """
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        raise GridmapError(settings_problem(exc)) from None


def settings_problem(exc: Any) -> str:
    """``GRIDMAP_PORT='abc': Input should be a valid integer…``, one line per bad variable."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"GRIDMAP_{field.upper()}" if field else "the GRIDMAP_* settings"
        given = error.get("input")
        shown = f"={given!r}" if isinstance(given, str | int | float) and field else ""
        lines.append(f"{name}{shown}: {error['msg']}")
    return "bad setting: " + "; ".join(lines)


def check_database(settings: Settings) -> str:
    """The URL of a database that answers and is migrated; else what to run, as an error.

    ``gridmap serve`` asks before it listens: a server on a stopped database would answer
    every request 503 while looking healthy at start.
    """
    from sqlalchemy.exc import OperationalError

    from gridmap.db import migrate

    if not settings.database_url:
        status = cluster(settings).status()
        if not status.running:
            raise GridmapError(
                f"the embedded PostGIS in {status.root} (port {status.port}) is not running: "
                "start it with `gridmap db start` (or `make demo`, which also loads the demo)"
            )
    url = database_url(settings)
    try:
        before = migrate.current(url)
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise GridmapError(
            f"cannot reach the database of GRIDMAP_DATABASE_URL: {first}; start it, or unset "
            "GRIDMAP_DATABASE_URL to use the embedded one (`gridmap db start`)"
        ) from None
    if before != migrate.head():
        raise GridmapError(
            f"the database schema is at {before or 'nothing (an empty database)'}, this "
            f"gridmap needs {migrate.head()}: run `gridmap migrate` first"
        )
    return url


def cluster(settings: Settings) -> Cluster:
    """The embedded PostGIS cluster of ``settings``' data folder and port."""
    archive = settings.backup_dir / "wal" if settings.backup_dir else None
    return Cluster(settings.data_dir, settings.db_port, archive_dir=archive)


def ensure_database(settings: Settings) -> str:
    """Start the embedded cluster unless an external database is configured; migrate it."""
    from gridmap.db import migrate

    if not settings.database_url:
        status = cluster(settings).start()
        console.print(f"embedded PostGIS running in {status.root} (port {status.port})")
    url = database_url(settings)
    before, head = migrate.current(url), migrate.head()
    if before != head:
        with console.status(f"migrating the schema from {before or 'empty'} to {head}…"):
            migrate.upgrade(url)
        console.print(f"schema migrated to {head} (was {before or 'empty'})")
    return url


@contextmanager
def database(settings: Settings | None = None) -> Iterator[Engine]:
    """An engine on the configured database for one command, disposed after it."""
    engine = make_engine(database_url(settings or load_settings()))
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(settings: Settings | None = None) -> Iterator[Session]:
    """One transaction on the configured database, committed when the block succeeds.

    Every command reads and writes through this (or, when it needs the engine itself or
    transactions of its own, through :func:`database`): one transaction per command.
    """
    with database(settings) as engine, make_sessionmaker(engine).begin() as session:
        yield session


def operator() -> dict[str, object]:
    """Who ran a command, for the audit log: the OS account and the host."""
    import getpass
    import socket

    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        import os

        os_user = f"uid {os.getuid()}"
    return {"os_user": os_user, "host": socket.gethostname(), "via": "cli"}


SHOWN_REFUSALS = 50  # rows a refused-rows table prints; the --report file holds them all


def print_refused(columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """The rows an import refused, as one table (the first :data:`SHOWN_REFUSALS`)."""
    if not rows:
        return
    from rich.table import Table

    table = Table(title=f"{len(rows):,} rows refused")
    for col in columns:
        table.add_column(col)
    for row in rows[:SHOWN_REFUSALS]:
        table.add_row(*(str(v) for v in row))
    console.print(table)
