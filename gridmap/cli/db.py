"""``gridmap db …`` (the embedded PostGIS cluster) and ``gridmap migrate``."""

from __future__ import annotations

import typer

from gridmap.cli.common import cluster, console, ensure_database, friendly_errors, load_settings
from gridmap.db.session import database_url

db_app = typer.Typer(help="The embedded PostGIS cluster (used when GRIDMAP_DATABASE_URL is unset).")


@db_app.command("start")
@friendly_errors
def db_start() -> None:
    """Initialise (first time) and start the embedded cluster; create the database + PostGIS."""
    status = cluster(load_settings()).start()
    console.print(f"running: {status.root} port {status.port} pid {status.pid}")


@db_app.command("stop")
@friendly_errors
def db_stop() -> None:
    """Stop the embedded cluster."""
    status = cluster(load_settings()).stop()
    console.print("stopped" if not status.running else "still running")


@db_app.command("status")
@friendly_errors
def db_status() -> None:
    """Say whether the embedded cluster runs, where, and on which port."""
    status = cluster(load_settings()).status()
    state = "[green]running[/green]" if status.running else "[yellow]stopped[/yellow]"
    console.print(f"{state} folder={status.root} port={status.port} pid={status.pid}")
    if not status.running:
        raise typer.Exit(3)


@db_app.command("url")
@friendly_errors
def db_url() -> None:
    """Print the SQLAlchemy URL gridmap uses."""
    print(database_url(load_settings()))


@friendly_errors
def migrate() -> None:
    """Apply database migrations (start the embedded cluster first if it is the default)."""
    ensure_database(load_settings())
    console.print("database is at the latest schema")
