"""``gridmap assign``: every point of a file to its grid cell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import console, friendly_errors, load_settings, transaction
from gridmap.errors import GridmapError


@friendly_errors
def assign(
    source: Annotated[Path, typer.Argument(help="GeoParquet, GeoPackage or CSV with lon/lat")],
    target: Annotated[Path, typer.Argument(help="Output file (.parquet, .gpkg or .csv)")],
    crs: Annotated[str, typer.Option(help="wgs84, cgcs2000, gcj02 or bd09")] = "wgs84",
    lon_col: Annotated[str, typer.Option(help="Longitude column (no geometry)")] = "lon",
    lat_col: Annotated[str, typer.Option(help="Latitude column (no geometry)")] = "lat",
    dask: Annotated[
        str | None,
        typer.Option(help="Run on Dask: a scheduler address, or 'local' for a local cluster"),
    ] = None,
) -> None:
    """Assign every point of a file to its grid cell (active plan); outside points are kept."""
    from rich.progress import Progress

    from gridmap import bulk
    from gridmap.crs import CRS
    from gridmap.locate import active_index

    if crs not in {c.value for c in CRS}:
        raise GridmapError(f"unknown crs {crs!r}: use wgs84, cgcs2000, gcj02 or bd09")
    bulk.file_format(target)
    settings = load_settings()
    with transaction(settings) as session:
        index = active_index(session, settings.data_dir / "index")
    if dask:
        frame = bulk.read(source, lon_col, lat_col)
        with console.status(f"assigning {len(frame):,} points on Dask…"):
            out = bulk.assign_dask(
                frame, index, scheduler=None if dask == "local" else dask, crs=crs
            )
        bulk.write(out, target)
    else:
        with Progress(console=console) as bar:
            task = bar.add_task("assigning", total=None)
            out = bulk.assign_file(
                source,
                target,
                index,
                crs=crs,
                lon_col=lon_col,
                lat_col=lat_col,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    inside = int(out["inside"].sum())
    unreadable = int((~out["readable"]).sum())
    outside = len(out) - inside - unreadable
    console.print(
        f"{len(out):,} points: {inside:,} in a cell, {outside:,} outside the jurisdiction "
        f"(kept, with the nearest cell), {unreadable:,} whose coordinates cannot be read "
        f"(kept, readable = false) → {target}"
    )
