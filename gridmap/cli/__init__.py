"""The ``gridmap`` command line: database, migrations, server, users, seed.

One module per command group; this one builds the typer ``app`` (the ``gridmap`` entry
point) from them.
"""

from __future__ import annotations

import typer

from gridmap.cli import (
    assign,
    backup,
    db,
    incidents,
    maps,
    open311,
    plan,
    registry,
    seed,
    server,
    user,
    worker,
)

app = typer.Typer(
    help="gridmap: grid management for social-governance centres.", no_args_is_help=True
)
app.add_typer(db.db_app, name="db")
app.add_typer(backup.backup_app, name="backup")
app.command()(backup.restore)
app.add_typer(user.user_app, name="user")
app.add_typer(open311.open311_app, name="open311")
app.add_typer(plan.plan_app, name="plan")
app.add_typer(incidents.incidents_app, name="incidents")
app.add_typer(maps.map_app, name="map")
app.add_typer(registry.registry_app, name="registry")
app.command()(db.migrate)
app.command()(server.serve)
app.command()(seed.seed)
app.command("seed-export")(seed.seed_export)
app.command()(registry.export)
app.command()(assign.assign)
app.command()(server.demo)
app.command()(worker.worker)

__all__ = ["app"]
