"""``gridmap registry import`` and ``gridmap export``: the registry in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap import csvsafe
from gridmap.cli.common import (
    console,
    friendly_errors,
    load_settings,
    operator,
    print_refused,
    transaction,
)
from gridmap.errors import GridmapError

registry_app = typer.Typer(help="The registry (人房楼企): import residents.")


@friendly_errors
def export(
    area: Annotated[str, typer.Argument(help="Area code at any level (city, county … cell)")],
    out: Annotated[Path, typer.Argument(help="Folder to write into")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg or csv")] = "gpkg",
    unmask: Annotated[
        str | None,
        typer.Option(help="Write ID numbers and phones in full; the reason goes to the audit log"),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="The user the unmasked export is for (required with --unmask)"),
    ] = None,
) -> None:
    """Export an area's registry from the database, masked unless --unmask gives a reason.

    Cells, buildings, houses, households, people and work units of the area (any level).
    An unmasked export names the user it is for (--by), who must be allowed to read the
    area's people unmasked; the audit row records them, the reason and the OS account.
    """
    from gridmap import audit
    from gridmap.auth.service import actor_of
    from gridmap.registry.export import export_area, export_unmasked

    if unmask is not None and len(unmask.strip()) < audit.MIN_REASON:
        raise GridmapError(
            f"--unmask needs a reason of at least {audit.MIN_REASON} characters (it is audited)"
        )
    if unmask is not None and not by:
        raise GridmapError("--unmask needs --by USER: the audit log must say who it is for")
    with transaction() as session, console.status(f"exporting {area}…"):
        if unmask is None:
            counts = export_area(session, area, out, fmt)
        else:
            counts = export_unmasked(session, area, out, fmt, actor=actor_of(session, by or ""),
                                     reason=unmask, detail=operator())  # fmt: skip
    console.print(
        f"{area} → {out} ({fmt}{', unmasked' if unmask else ', masked'}): "
        + ", ".join(f"{name} {n:,}" for name, n in counts.items())
    )


@registry_app.command("import")
@friendly_errors
def registry_import(
    source: Annotated[Path, typer.Argument(help="Residents: CSV (UTF-8) or GeoPackage")],
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Write the refused rows (CSV) here")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Load nothing when any row is refused")] = False,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Import as this user: rows outside their area are refused"),
    ] = None,
) -> None:
    """Import residents, one person per row: rows linked to cells, bad rows listed with reasons."""
    from gridmap.auth.service import actor_of
    from gridmap.locate import active_index
    from gridmap.registry.importer import import_registry

    settings = load_settings()
    with transaction(settings) as session:
        index = active_index(session, settings.data_dir / "index")
        actor = actor_of(session, by) if by else None
        result = import_registry(session, index, source, actor=actor, strict=strict)
    print_refused(("row", "household", "reason"),
                  [(p.row, p.household, p.reason) for p in result.problems])  # fmt: skip
    if report_file:
        csvsafe.frame(result.as_frame()).to_csv(report_file, index=False)
    loaded = (
        f"{len(result.households):,} households ({result.people:,} people) loaded"
        if result.loaded
        else "nothing loaded (--strict)"
    )
    console.print(f"{result.rows:,} rows: {loaded}, {len(result.problems):,} refused")
    if not result.loaded:
        raise typer.Exit(code=1)
