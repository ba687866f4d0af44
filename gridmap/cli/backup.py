"""``gridmap backup …`` and ``gridmap restore`` (engine: gridmap/ops/backup.py)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import cluster, console, friendly_errors, load_settings
from gridmap.errors import GridmapError
from gridmap.ops import backup as engine
from gridmap.settings import Settings

backup_app = typer.Typer(
    help="Base backups and the WAL archive of the embedded cluster (GRIDMAP_BACKUP_DIR)."
)


def _root(settings: Settings, to: Path | None = None) -> Path:
    root = to or settings.backup_dir
    if root is None:
        raise GridmapError(
            "no backup folder: set GRIDMAP_BACKUP_DIR (then restart the database so it archives "
            "its WAL there) or pass --dir"
        )
    if settings.database_url:
        raise GridmapError(
            "GRIDMAP_DATABASE_URL is set: back up that PostGIS with pgBackRest or Barman "
            "(docs/operations.md); gridmap backup drives the embedded cluster only"
        )
    return root


DirOption = Annotated[Path | None, typer.Option("--dir", help="Backup folder (GRIDMAP_BACKUP_DIR)")]


@backup_app.callback(invoke_without_command=True)
@friendly_errors
def take(ctx: typer.Context, to: DirOption = None) -> None:
    """Take a base backup now (and copy the data folder's new files)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    root = _root(settings, to)
    made = engine.backup(cluster=cluster(settings), data_dir=settings.data_dir, root=root)
    console.print(f"backup {made.name}: {sum(made.rows.values()):,} rows, "
                  f"{made.size_bytes / 2**20:,.1f} MB in {root}")  # fmt: skip


@backup_app.command("list")
@friendly_errors
def list_(to: DirOption = None) -> None:
    """The base backups, oldest first."""
    for row in engine.describe(engine.list_backups(_root(load_settings(), to))):
        print(f"{row['name']}  finished {row['finished_at']}  {row['rows']:,} rows  "
              f"{row['size_mb']} MB")  # one line each, for scripts  # fmt: skip


@backup_app.command("verify")
@friendly_errors
def verify(to: DirOption = None) -> None:
    """Restore the newest backup into a scratch folder and compare its row counts."""
    result = engine.verify(_root(load_settings(), to))
    if not result.ok:
        for table, (expected, found) in result.differences.items():
            console.print(f"[red]{table}[/red]: {expected:,} rows at backup, {found:,} restored")
        raise typer.Exit(1)
    console.print(f"backup {result.backup} verified: {result.tables} tables, the same row "
                  f"counts, restored in {result.seconds:.1f} s")  # fmt: skip


@backup_app.command("prune")
@friendly_errors
def prune(
    keep: Annotated[int | None, typer.Option(help="Backups kept (GRIDMAP_BACKUP_KEEP)")] = None,
    to: DirOption = None,
) -> None:
    """Delete all but the newest base backups, and the WAL only they needed."""
    settings = load_settings()
    removed = engine.prune(_root(settings, to), keep or settings.backup_keep)
    console.print(f"removed {len(removed)} backup(s): {', '.join(removed) or 'none'}")


@friendly_errors
def restore(
    into: Annotated[Path, typer.Option(help="A new, empty data folder")],
    to: Annotated[
        str | None, typer.Option("--to", help="ISO time (without offset: China time)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port of the restored database")] = None,
    backup_dir: DirOption = None,
    start: Annotated[bool, typer.Option(help="Start it and wait for recovery")] = True,
) -> None:
    """Restore the backups into a new data folder, as at --to (default: the latest)."""
    settings = load_settings()
    root = _root(settings, backup_dir)
    moment = engine.parse_time(to) if to else None
    copy = engine.restore(root=root, into=into, port=port or _free_port(), to=moment)
    if start:
        photos = engine.finish(copy, root)
        console.print(f"restored into {into} (port {copy.port}), {photos} photos; serve it with "
                      f"GRIDMAP_DATA_DIR={into} GRIDMAP_DB_PORT={copy.port}")  # fmt: skip
    else:
        console.print(f"prepared {into}: `GRIDMAP_DATA_DIR={into} gridmap db start` replays it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
