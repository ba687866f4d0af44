"""``gridmap incidents import``: a 12345-hotline export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap import csvsafe
from gridmap.cli.common import (
    console,
    friendly_errors,
    load_settings,
    print_refused,
    transaction,
)
from gridmap.errors import GridmapError

incidents_app = typer.Typer(help="Incidents (事件).")


@incidents_app.command("import")
@friendly_errors
def incidents_import(
    source: Annotated[Path, typer.Argument(help="12345-hotline export (CSV, UTF-8)")],
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Write the refused rows here")
    ] = None,
) -> None:
    """Import a hotline export: bad rows are listed with their reason, good rows loaded together."""
    import csv

    from gridmap.calendar import WorkingCalendar
    from gridmap.incidents.importer import import_hotline
    from gridmap.locate import Locator

    if not source.exists():
        raise GridmapError(f"{source} does not exist")
    settings = load_settings()
    # a year more of the past than the API's: exports carry older reports
    calendar = WorkingCalendar.configured(settings.calendar_file)
    with transaction(settings) as session:
        locator = Locator.from_database(session, settings.data_dir / "index")
        result = import_hotline(session=session, locator=locator, calendar=calendar, path=source)
    print_refused(("row", "工单编号", "reason"),
                  [(p.row, p.external_id, p.reason) for p in result.problems])  # fmt: skip
    if report_file:
        with report_file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "external_id", "reason"])
            writer.writerows(
                (p.row, csvsafe.cell(p.external_id), csvsafe.cell(p.reason))
                for p in result.problems
            )
    console.print(
        f"{result.total} rows: {len(result.loaded)} loaded, {len(result.problems)} refused"
    )
