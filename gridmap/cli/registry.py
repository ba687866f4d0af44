"""``gridmap registry import`` and ``gridmap export``: the registry in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap import csvsafe
from gridmap.cli.common import _settings, console, friendly_errors, operator
from gridmap.db.session import database_url, make_engine
from gridmap.errors import GridmapError
from gridmap.models import make_sessionmaker

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
    from gridmap.registry.export import export_area, require_unmasked_export

    if unmask is not None and len(unmask.strip()) < audit.MIN_REASON:
        raise GridmapError(
            f"--unmask needs a reason of at least {audit.MIN_REASON} characters (it is audited)"
        )
    if unmask is not None and not by:
        raise GridmapError("--unmask needs --by USER: the audit log must say who it is for")
    engine = make_engine(database_url(_settings()))
    with make_sessionmaker(engine).begin() as session, console.status(f"exporting {area}…"):
        actor = actor_of(session, by) if unmask is not None and by else None
        if actor is not None:
            require_unmasked_export(actor, area)
        counts = export_area(session, area, out, fmt, unmask=unmask is not None)
        if unmask is not None:
            audit.record(session, actor=actor, action="export_unmasked", object_type="area",
                         object_id=area, detail={"rows": counts, "out": str(out), **operator()},
                         reason=unmask.strip())  # fmt: skip
    engine.dispose()
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
    from rich.table import Table
    from sqlalchemy import select

    from gridmap.areas.models import Plan, PlanStatus
    from gridmap.auth.service import actor_of
    from gridmap.locate import cached_index
    from gridmap.registry.importer import import_registry

    settings = _settings()
    engine = make_engine(database_url(settings))
    with make_sessionmaker(engine).begin() as session:
        plan = session.scalar(select(Plan).where(Plan.status == PlanStatus.active))
        if plan is None:
            raise GridmapError("no boundary plan is active: load a seed or activate a plan first")
        index = cached_index(session, plan, settings.data_dir / "index")
        actor = actor_of(session, by) if by else None
        result = import_registry(session, index, source, actor=actor, strict=strict)
    engine.dispose()
    if result.problems:
        table = Table(title=f"{len(result.problems)} rows refused")
        for col in ("row", "household", "reason"):
            table.add_column(col)
        for p in result.problems[:50]:
            table.add_row(str(p.row), p.household, p.reason)
        console.print(table)
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
