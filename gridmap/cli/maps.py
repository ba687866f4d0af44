"""``gridmap map …``: standalone map files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gridmap.cli.common import console, friendly_errors, load_settings, transaction
from gridmap.errors import GridmapError

if TYPE_CHECKING:
    from gridmap.maps.layer import Catalogue

map_app = typer.Typer(help="Standalone map files (HTML, everything inside, opens offline).")


@map_app.command("dispatch")
@friendly_errors
def map_dispatch(
    out: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write")],
    area: Annotated[str, typer.Option(help="Area shown (default: the city)")] = "350500",
    as_user: Annotated[
        str | None, typer.Option("--as", help="Show what this user sees (default: everything)")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
    category: Annotated[str | None, typer.Option(help="Only this category")] = None,
    since: Annotated[str | None, typer.Option(help="Reported on or after (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="Reported before (YYYY-MM-DD)")] = None,
) -> None:
    """The dispatcher's map of an area, as one file that opens with no server."""
    from gridmap.incidents.filters import IncidentFilter
    from gridmap.maps.export import dispatch_file

    filters = IncidentFilter(category=category, since=_day(since), until=_day(until))
    settings = load_settings()
    with transaction(settings) as session:
        html = dispatch_file(session=session, settings=settings, catalogue=_catalogue(), area=area,
                             username=as_user, lang=_lang(lang), filters=filters)  # fmt: skip
    _write(out, html)


@map_app.command("grid")
@friendly_errors
def map_grid(
    code: Annotated[str, typer.Argument(help="Grid cell code (15 digits)")],
    out: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write")],
    as_user: Annotated[str | None, typer.Option("--as", help="As this user")] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """A grid worker's cell, as one file."""
    from gridmap.maps.export import grid_file

    settings = load_settings()
    with transaction(settings) as session:
        html = grid_file(session=session, settings=settings, catalogue=_catalogue(), code=code,
                         username=as_user, lang=_lang(lang))  # fmt: skip
    _write(out, html)


@map_app.command("plan")
@friendly_errors
def map_plan(
    plan_id: Annotated[int, typer.Argument(help="The plan")],
    out: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write")],
    compare: Annotated[int | None, typer.Option(help="Compare with this plan")] = None,
    target: Annotated[int, typer.Option(help="Households per cell aimed at")] = 400,
    area: Annotated[str, typer.Option(help="Only the cells of this area")] = "350500",
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """Two plans side by side, as one file."""
    from gridmap.maps.export import plan_file

    settings = load_settings()
    with transaction(settings) as session:
        html = plan_file(session=session, settings=settings, catalogue=_catalogue(),
                         plan_id=plan_id, compare=compare, target=target, area=area,
                         lang=_lang(lang))  # fmt: skip
    _write(out, html)


def _catalogue() -> Catalogue:
    """The declared map layers: the CLI registers them, as the API does at start-up."""
    from layers import LAYERS

    return LAYERS


def _lang(value: str) -> str:
    if value not in ("zh", "en"):
        raise GridmapError(f"unknown language {value!r}: use zh or en")
    return value


def _day(value: str | None) -> Any:
    from datetime import datetime

    from gridmap import timebounds
    from gridmap.calendar import CHINA_TZ

    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise GridmapError(f"{value!r} is not a date: write YYYY-MM-DD") from None
    return timebounds.check(day, name=value, event=False)


def _write(out: Path, html: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html.encode()) / 1024:,.0f} KB, opens with no server)")
