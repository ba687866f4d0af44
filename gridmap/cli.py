"""The ``gridmap`` command line: database, migrations, server, users, seed."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from gridmap import csvsafe
from gridmap.auth.models import Role
from gridmap.db.cluster import Cluster
from gridmap.db.session import database_url, make_engine
from gridmap.errors import GridmapError
from gridmap.models import make_sessionmaker
from gridmap.settings import Settings

app = typer.Typer(
    help="gridmap: grid management for social-governance centres.", no_args_is_help=True
)
db_app = typer.Typer(help="The embedded PostGIS cluster (used when GRIDMAP_DATABASE_URL is unset).")
user_app = typer.Typer(help="User accounts.")
plan_app = typer.Typer(help="Boundary plans (网格方案).")
incidents_app = typer.Typer(help="Incidents (事件).")
registry_app = typer.Typer(help="The registry (人房楼企): import residents.")
open311_app = typer.Typer(help="The Open311 GeoReport v2 port: registered clients.")
open311_client_app = typer.Typer(help="Clients that post reports (each has an api_key).")
map_app = typer.Typer(help="Standalone map files (HTML, everything inside, opens offline).")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(open311_app, name="open311")
open311_app.add_typer(open311_client_app, name="client")
app.add_typer(plan_app, name="plan")
app.add_typer(incidents_app, name="incidents")
app.add_typer(map_app, name="map")
app.add_typer(registry_app, name="registry")
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


def _settings() -> Settings:
    return Settings()


def _cluster(settings: Settings) -> Cluster:
    return Cluster(settings.data_dir, settings.db_port)


def ensure_database(settings: Settings) -> str:
    """Start the embedded cluster unless an external database is configured; migrate it."""
    from gridmap.db import migrate

    if not settings.database_url:
        status = _cluster(settings).start()
        console.print(f"embedded PostGIS running in {status.root} (port {status.port})")
    url = database_url(settings)
    migrate.upgrade(url)
    return url


@db_app.command("start")
@friendly_errors
def db_start() -> None:
    """Initialise (first time) and start the embedded cluster; create the database + PostGIS."""
    status = _cluster(_settings()).start()
    console.print(f"running: {status.root} port {status.port} pid {status.pid}")


@db_app.command("stop")
@friendly_errors
def db_stop() -> None:
    """Stop the embedded cluster."""
    status = _cluster(_settings()).stop()
    console.print("stopped" if not status.running else "still running")


@db_app.command("status")
@friendly_errors
def db_status() -> None:
    """Say whether the embedded cluster runs, where, and on which port."""
    status = _cluster(_settings()).status()
    state = "[green]running[/green]" if status.running else "[yellow]stopped[/yellow]"
    console.print(f"{state} folder={status.root} port={status.port} pid={status.pid}")
    if not status.running:
        raise typer.Exit(3)


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL gridmap uses."""
    print(database_url(_settings()))


@app.command()
@friendly_errors
def migrate() -> None:
    """Apply database migrations (start the embedded cluster first if it is the default)."""
    ensure_database(_settings())
    console.print("database is at the latest schema")


@app.command()
@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API and maps (uvicorn).

    X-Forwarded-For is believed only from GRIDMAP_TRUSTED_PROXIES (none by default).
    """
    import uvicorn

    settings = _settings()
    # the app (built in each worker) links to where it listens, unless GRIDMAP_PUBLIC_URL says
    os.environ["GRIDMAP_HOST"] = host or settings.host
    os.environ["GRIDMAP_PORT"] = str(port or settings.port)
    if settings.public_url is None and (host or settings.host) in ("0.0.0.0", "::"):
        console.print("GRIDMAP_PUBLIC_URL is not set: OGC and Open311 links will name "
                      f"{settings.base_url}; set it to the address clients use")  # fmt: skip
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        **settings.server_options(),
    )


@user_app.command("create")
@friendly_errors
def user_create(
    username: str,
    role: Annotated[Role, typer.Option(help="Role")],
    area: Annotated[
        str,
        typer.Option(
            help="Area code the user works in (e.g. 350503001); a department "
            "handler's defaults to the department's"
        ),
    ] = "",
    department: Annotated[
        str | None, typer.Option(help="Unit code of a department handler's department")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="≥ 10 characters, letters with digits or symbols",
        ),
    ] = "",
    full_name: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a user account."""
    from gridmap.auth.service import create_user, department_id_of

    with _session() as session:
        user = create_user(
            session=session,
            username=username,
            password=password,
            role=role,
            area_code=area,
            full_name=full_name,
            department_id=department_id_of(session, department),
        )
        console.print(
            f"created user {user.username} (id {user.id}, {role.value}, area {user.area_code})"
        )


@user_app.command("list")
@friendly_errors
def user_list(
    role: Annotated[Role | None, typer.Option(help="Only this role")] = None,
    area: Annotated[str | None, typer.Option(help="Only users in this area")] = None,
    inactive: Annotated[bool, typer.Option(help="Only disabled accounts")] = False,
) -> None:
    """List user accounts."""
    from rich.table import Table

    from gridmap.auth.service import list_users
    from gridmap.units.models import Department

    with _session() as session:
        users = list_users(session, within=area, role=role, active=False if inactive else None)
        table = Table(title=f"{len(users)} users")
        for col in ("username", "role", "area", "department", "active", "password changed"):
            table.add_column(col)
        for u in users:
            dept = session.get(Department, u.department_id) if u.department_id else None
            table.add_row(
                u.username, u.role.value, u.area_code, dept.code if dept else "",
                "yes" if u.is_active else "[red]no[/red]",
                f"{u.password_changed_at:%Y-%m-%d}" if u.password_changed_at else "",
            )  # fmt: skip
        console.print(table)


@user_app.command("disable")
@friendly_errors
def user_disable(username: str) -> None:
    """Disable an account: it cannot sign in, and its tokens stop working at once."""
    _user_change(username, is_active=False)


@user_app.command("enable")
@friendly_errors
def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    _user_change(username, is_active=True)


@user_app.command("set")
@friendly_errors
def user_set(
    username: str,
    role: Annotated[Role | None, typer.Option(help="New role")] = None,
    area: Annotated[str | None, typer.Option(help="New area code")] = None,
    department: Annotated[str | None, typer.Option(help="New department (unit code)")] = None,
) -> None:
    """Change a user's role, area or department (their tokens stop working)."""
    from gridmap.auth.service import KEEP, department_id_of

    with _session() as session:
        dept = department_id_of(session, department) if department else KEEP
    _user_change(username, role=role, area_code=area, department_id=dept)


@user_app.command("reset-password")
@friendly_errors
def user_reset_password(
    username: str,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Set a new password (the policy applies); the user's tokens stop working."""
    from gridmap.auth.service import get_user, reset_password

    with _session() as session:
        reset_password(session, get_user(session, username), password)
    console.print(f"password of {username} reset; sessions signed in before are signed out")


@user_app.command("unlock")
@friendly_errors
def user_unlock(username: str) -> None:
    """Let an account sign in again at once, after failed sign-ins locked or delayed it."""
    from gridmap.auth.lockout import SignInGuard, SignInPolicy
    from gridmap.auth.service import unlock_sign_in

    settings = _settings()
    engine = make_engine(database_url(settings))
    try:
        guard = SignInGuard(engine, SignInPolicy.from_settings(settings))
        n = unlock_sign_in(make_sessionmaker(engine), guard, username, actor=None,
                           detail=operator())  # fmt: skip
    finally:
        engine.dispose()
    console.print(f"{username} unlocked (failed sign-ins from {n} addresses forgotten)")


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


def _user_change(username: str, **changes: Any) -> None:
    from gridmap.auth.service import get_user, update_user

    with _session() as session:
        user = update_user(session, get_user(session, username), **changes)
        state = "active" if user.is_active else "disabled"
        console.print(f"{user.username}: {user.role.value}, area {user.area_code}, {state}")


@open311_client_app.command("add")
@friendly_errors
def open311_client_add(
    name: str,
    contact: Annotated[str | None, typer.Option(help="Who runs the client")] = None,
) -> None:
    """Register a client; its api_key is printed once (only its hash is kept)."""
    from gridmap.open311.clients import create_client

    with _session() as session:
        client, key = create_client(session, name, contact=contact)
    console.print(f"client {client.name} registered; its api_key (shown once): {key}")


@open311_client_app.command("list")
@friendly_errors
def open311_client_list() -> None:
    """The registered clients."""
    from rich.table import Table

    from gridmap.open311.clients import list_clients

    table = Table("name", "active", "contact", "registered")
    with _session() as session:
        for c in list_clients(session):
            table.add_row(c.name, "yes" if c.is_active else "no", c.contact or "",
                          f"{c.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
    console.print(table)


@open311_client_app.command("disable")
@friendly_errors
def open311_client_disable(name: str) -> None:
    """Disable a client: its api_key stops working at once."""
    from gridmap.open311.clients import set_active

    with _session() as session:
        set_active(session, name, False)
    console.print(f"client {name} disabled")


@open311_client_app.command("enable")
@friendly_errors
def open311_client_enable(name: str) -> None:
    """Enable a disabled client again."""
    from gridmap.open311.clients import set_active

    with _session() as session:
        set_active(session, name, True)
    console.print(f"client {name} enabled")


@contextmanager
def _session() -> Iterator[Session]:
    """One transaction on the configured database, committed when the block succeeds."""
    engine = make_engine(database_url(_settings()))
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


@app.command()
@friendly_errors
def seed(
    scale: Annotated[
        str, typer.Option(help="demo (Licheng + Fengze) or city (all Quanzhou)")
    ] = "demo",
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: same seed, same data")
    ] = 20251231,
    fraction: Annotated[float, typer.Option(help="Share of the population to generate")] = 1.0,
) -> None:
    """Generate the Quanzhou seed and load it, replacing any earlier seed (and its users)."""
    from seed_data.generate import SeedConfig

    settings = _settings()
    url = ensure_database(settings)
    config = SeedConfig(scale=_scale(scale), seed=seed_value, population_fraction=fraction)
    _generate_and_load(config, url)


def _scale(value: str) -> Literal["demo", "city"]:
    if value not in ("demo", "city"):
        raise GridmapError(f"unknown scale {value!r}: use demo or city")
    return value  # type: ignore[return-value]


def _generate_and_load(config: Any, url: str) -> None:
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from seed_data.generate import generate
    from seed_data.load import load

    t0 = time.perf_counter()
    with console.status("generating…") as status:
        begun: list[tuple[str, float]] = []

        def show(stage: str) -> None:  # a line per finished stage, the current one spinning
            if begun:
                name, at = begun[-1]
                console.print(f"generated {name} in {time.perf_counter() - at:.1f} s")
            begun.append((stage, time.perf_counter()))
            status.update(f"generating {stage}…")

        data = generate(config, progress=show)
        if begun:
            console.print(f"generated {begun[-1][0]} in {time.perf_counter() - begun[-1][1]:.1f} s")
    engine = make_engine(url)
    columns = (
        TextColumn("loading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    load_times: dict[str, float] = {}
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}
        started = time.perf_counter()

        def progress(table: str, done: int, total: int) -> None:
            nonlocal started
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
                started = time.perf_counter()
            bar.update(tasks[table], completed=done)
            load_times[table] = time.perf_counter() - started

        load(data, engine, progress=progress)
    engine.dispose()
    table = Table(title=f"seed {config.scale} (seed {config.seed})")
    table.add_column("what")
    table.add_column("rows", justify="right")
    for name, count in data.counts().items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in data.timings.items())
    console.print(
        f"generate: {stages}; load: {sum(load_times.values()):.1f}s; "
        f"total {time.perf_counter() - t0:.1f}s"
    )


@app.command("seed-export")
@friendly_errors
def seed_export(
    out: Annotated[Path, typer.Argument(help="Folder to write into")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg or parquet")] = "gpkg",
    scale: Annotated[str, typer.Option(help="demo or city")] = "demo",
    seed_value: Annotated[int, typer.Option("--seed")] = 20251231,
    fraction: Annotated[float, typer.Option()] = 1.0,
) -> None:
    """Write a generated seed as files (no database needed), for QGIS and notebooks."""
    from seed_data.export import export as write
    from seed_data.generate import SeedConfig, generate

    if fmt not in ("gpkg", "parquet"):
        raise GridmapError(f"unknown format {fmt!r}: use gpkg or parquet")
    data = generate(SeedConfig(scale=_scale(scale), seed=seed_value, population_fraction=fraction))
    for path in write(data, out, fmt):  # type: ignore[arg-type]
        console.print(f"wrote {path}")


@app.command()
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


@app.command()
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
    from sqlalchemy import select

    from gridmap import bulk
    from gridmap.areas.models import Plan, PlanStatus
    from gridmap.crs import CRS
    from gridmap.locate import cached_index

    if crs not in {c.value for c in CRS}:
        raise GridmapError(f"unknown crs {crs!r}: use wgs84, cgcs2000, gcj02 or bd09")
    bulk.file_format(target)
    settings = _settings()
    engine = make_engine(database_url(settings))
    with make_sessionmaker(engine)() as session:
        plan = session.scalar(select(Plan).where(Plan.status == PlanStatus.active))
        if plan is None:
            raise GridmapError("no boundary plan is active: load a seed or activate a plan first")
        index = cached_index(session, plan, settings.data_dir / "index")
    engine.dispose()
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
    console.print(
        f"{len(out):,} points: {inside:,} in a cell, {len(out) - inside:,} outside the "
        f"jurisdiction (kept, with the nearest cell) → {target}"
    )


@plan_app.command("list")
@friendly_errors
def plan_list() -> None:
    """List boundary plans."""
    from gridmap.plans.service import plan_rows

    engine = make_engine(database_url(_settings()))
    with make_sessionmaker(engine)() as session:
        rows = plan_rows(session)
    engine.dispose()
    for p in rows:
        console.print(
            f"{p['id']:>4}  {p['status']:<8} {p['cells']:>7,} cells  {p['name']}  "
            f"{p['activated_at'] or ''}"
        )


@plan_app.command("rebalance")
@friendly_errors
def plan_rebalance(
    out: Annotated[Path, typer.Option("-o", "--out", help="GeoPackage to write: cells, blocks")],
    blocks_file: Annotated[
        Path | None,
        typer.Option(
            "--blocks", help="Blocks (.gpkg/.parquet): block_id, village_code, households"
        ),
    ] = None,
    area: Annotated[
        str | None, typer.Option(help="Or derive the blocks of this area from the database")
    ] = None,
    target: Annotated[float, typer.Option(help="Households per cell")] = 400.0,
    tolerance: Annotated[float, typer.Option(help="Allowed deviation, e.g. 0.1 for ±10%")] = 0.1,
    current_col: Annotated[
        str | None, typer.Option("--current-col", help="Column with each block's current cell")
    ] = None,
    lock: Annotated[list[str] | None, typer.Option(help="A cell not to touch (repeatable)")] = None,
    seed_value: Annotated[int, typer.Option("--seed")] = 0,
    draft: Annotated[
        str | None, typer.Option(help="With --area: save the result as a draft plan of this name")
    ] = None,
) -> None:
    """Draw balanced, contiguous, nested cells from blocks, close to the current plan."""
    import geopandas as gpd
    import pyogrio

    from gridmap.plans.blocks import derive_blocks
    from gridmap.rebalance import blocks as blk
    from gridmap.rebalance.engine import moved_share, rebalance

    if (blocks_file is None) == (area is None):
        raise GridmapError("give --blocks FILE or --area CODE (one of them)")
    if draft and area is None:
        raise GridmapError("--draft needs --area: a draft replaces the cells of an area")
    if not 0 < tolerance < 1:
        raise GridmapError("--tolerance is a fraction between 0 and 1, e.g. 0.1")
    if blocks_file is not None:
        frame = blk.read_blocks(blocks_file, current_col)
    else:
        engine = make_engine(database_url(_settings()))
        with make_sessionmaker(engine)() as session:
            frame = derive_blocks(session, area or "")
        engine.dispose()
        current_col = "cell"
    data = blk.to_blocks(frame, current_col)
    result = rebalance(data, target, tolerance=tolerance, locked=set(lock or []), seed=seed_value)
    frame = frame.assign(new_cell=result.labels)
    cells = frame.dissolve(by="new_cell", aggfunc={"households": "sum", "village_code": "first"})
    table = {c["cell"]: c for c in result.cells}
    cells["deviation"] = [round(float(table[c]["deviation"]), 4) for c in cells.index]  # type: ignore[arg-type]
    cells["polsby_popper"] = [round(float(table[c]["polsby_popper"]), 3) for c in cells.index]  # type: ignore[arg-type]
    cells = cells.reset_index().rename(columns={"new_cell": "code"})
    if out.exists():
        out.unlink()
    pyogrio.write_dataframe(cells, out, layer="cells", driver="GPKG")
    pyogrio.write_dataframe(gpd.GeoDataFrame(frame), out, layer="blocks", driver="GPKG")
    within = sum(bool(c["within"]) for c in result.cells)
    moved = (
        f", {moved_share(data, result.labels):.1%} of households change cell" if current_col else ""
    )
    console.print(
        f"{len(frame):,} blocks → {len(result.cells):,} cells, {within:,} within ±{tolerance:.0%}"
        f"{moved}; {len(result.problems)} problems → {out}"
    )
    for p in result.problems[:30]:
        console.print(f"  {p.village} {p.cell or ''}: {p.reason}")
    if draft:
        from gridmap.plans.drafts import draft_from_cells

        engine = make_engine(database_url(_settings()))
        with make_sessionmaker(engine).begin() as session:
            note = f"gridmap plan rebalance --area {area} --target {target}"
            plan = draft_from_cells(session, draft, area or "", cells.to_crs(4326), note=note)
            plan_id = plan.id
        engine.dispose()
        console.print(f"draft plan {plan_id} saved: gridmap plan diff <active> {plan_id}")


@plan_app.command("import")
@friendly_errors
def plan_import(
    source: Annotated[Path, typer.Argument(help="Cells (.gpkg/.geojson) with a 15-digit code")],
    name: Annotated[str, typer.Option(help="The draft's name")],
    area: Annotated[str, typer.Option(help="The area whose cells the file replaces")] = "350500",
) -> None:
    """Check a plan file and save it as a draft; every problem listed with its cell and place."""
    from gridmap.plans.drafts import draft_from_cells
    from gridmap.plans.validate import read_plan, validate

    cells = read_plan(source)
    engine = make_engine(database_url(_settings()))
    with make_sessionmaker(engine).begin() as session:
        problems = validate(session, cells, area)
        if not problems:
            plan = draft_from_cells(session, name, area, cells, note=f"imported from {source.name}")
            plan_id = plan.id
    engine.dispose()
    if problems:
        for p in problems[:100]:
            where = f" near {p.lon}, {p.lat}" if p.lon is not None else ""
            console.print(f"  {p.cell}: {p.reason}{where}")
        console.print(f"{len(problems)} problems: nothing saved")
        raise typer.Exit(code=1)
    console.print(f"{len(cells):,} cells checked; draft plan {plan_id} saved")


@plan_app.command("export")
@friendly_errors
def plan_export(
    plan_id: int,
    out: Annotated[Path, typer.Option("-o", help="GeoPackage or GeoJSON to write")],
    area: Annotated[str, typer.Option(help="Only the cells of this area")] = "",
) -> None:
    """Write a plan's cells (code, name, households now) for QGIS or a later import."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from sqlalchemy import text

    from gridmap.areas import codes as area_codes

    prefix = area_codes.prefix(area) if area else ""
    engine = make_engine(database_url(_settings()))
    with make_sessionmaker(engine)() as session:
        rows = pd.read_sql(text(
            "SELECT code, name, ST_AsBinary(geom) AS wkb FROM area WHERE plan_id = :plan "
            "AND code LIKE :p ORDER BY code"), session.connection(),
            params={"plan": plan_id, "p": prefix + "%"})  # fmt: skip
    engine.dispose()
    if rows.empty:
        raise GridmapError(f"plan {plan_id} has no cells{' in ' + area if area else ''}")
    geometry = shapely.from_wkb(rows["wkb"].map(bytes).to_numpy())
    frame = gpd.GeoDataFrame(rows.drop(columns="wkb"), crs=4326, geometry=geometry)
    if out.exists():
        out.unlink()
    frame.to_file(out, driver="GeoJSON" if out.suffix.lower() in (".geojson", ".json") else "GPKG")
    console.print(f"{len(frame):,} cells of plan {plan_id} → {out}")


@plan_app.command("diff")
@friendly_errors
def plan_diff(
    before: int,
    after: int,
    area: Annotated[str, typer.Option(help="Only this area (a code prefix)")] = "",
    out: Annotated[Path | None, typer.Option("-o", help="Write the full report (JSON)")] = None,
) -> None:
    """Change impact of replacing plan BEFORE by AFTER: cells, households, grid workers."""
    import json

    from gridmap.plans.drafts import impact

    engine = make_engine(database_url(_settings()))
    with make_sessionmaker(engine)() as session:
        report = impact(session, before, after, area)
    engine.dispose()
    console.print(
        f"cells: {len(report['cells_added'])} added, {len(report['cells_removed'])} removed, "
        f"{len(report['cells_changed'])} changed; households moved "
        f"{report['households_moved']:,} of {report['households']:,} "
        f"({report['people_moved']:,} people); grid workers affected "
        f"{len(report['grid_workers'])}; open incidents changing cell "
        f"{len(report['open_incidents_moving'])}; households due for a visit changing cell "
        f"{report['visits_due_moving']:,}"
    )
    for w in report["grid_workers"][:20]:
        console.print(
            f"  {w['username']} ({w['cell']}): {w['households_before']} → {w['households_after']}"
            f" households (−{w['leaving']} +{w['joining']})"
            + (", cell removed" if w["cell_removed"] else "")
        )
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


@plan_app.command("prepare")
@friendly_errors
def plan_prepare(plan_id: int) -> None:
    """Prepare a draft: store the moves it would make, save its index; the registry stays open."""
    import time

    from gridmap.plans.service import prepare

    settings = _settings()
    engine = make_engine(database_url(settings))
    start = time.perf_counter()
    with make_sessionmaker(engine).begin() as session, console.status("assigning the registry…"):
        moves = prepare(session=session, plan_id=plan_id, cache_dir=settings.data_dir / "index")
    engine.dispose()
    moved = ", ".join(f"{t} {moves.moved[t]:,} of {moves.items[t]:,}" for t in moves.items)
    console.print(
        f"plan {plan_id} prepared in {time.perf_counter() - start:.1f} s; would move: {moved}; "
        f"{moves.outside:,} outside every cell. Activate with: gridmap plan activate {plan_id}"
    )


@plan_app.command("activate")
@friendly_errors
def plan_activate(plan_id: int) -> None:
    """Activate a plan: retire the one in force, move what changes cell; people follow."""
    import time

    from gridmap.plans.service import activate, follow

    settings = _settings()
    engine = make_engine(database_url(settings))
    start = time.perf_counter()
    factory = make_sessionmaker(engine)
    with factory.begin() as session, console.status("switching plans…"):
        counts = activate(session=session, plan_id=plan_id, cache_dir=settings.data_dir / "index")
    switched = time.perf_counter() - start
    how = "prepared" if counts.pop("prepared") else "not prepared: assigned the whole registry now"
    console.print(
        f"plan {plan_id} is active in {switched:.1f} s ({how}); moved: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    with console.status("houses and people following…"):
        followed = follow(factory, plan_id)
    engine.dispose()
    console.print(
        f"followed in {time.perf_counter() - start - switched:.1f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in followed.items())
    )


@plan_app.command("follow")
@friendly_errors
def plan_follow(plan_id: int) -> None:
    """Finish an interrupted activation: houses and people follow their moved parents."""
    from gridmap.plans.service import follow

    engine = make_engine(database_url(_settings()))
    followed = follow(make_sessionmaker(engine), plan_id)
    engine.dispose()
    console.print("followed: " + ", ".join(f"{k} {v:,}" for k, v in followed.items()))


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
    from datetime import date

    from rich.table import Table

    from gridmap.calendar import WorkingCalendar
    from gridmap.incidents.importer import import_hotline
    from gridmap.locate import Locator

    if not source.exists():
        raise GridmapError(f"{source} does not exist")
    settings = _settings()
    engine = make_engine(database_url(settings))
    year = date.today().year
    calendar = (
        WorkingCalendar.from_file(settings.calendar_file)
        if settings.calendar_file
        else WorkingCalendar.chinese(year - 3, year + 2)
    )
    with make_sessionmaker(engine).begin() as session:
        locator = Locator.from_database(session, settings.data_dir / "index")
        result = import_hotline(session=session, locator=locator, calendar=calendar, path=source)
    engine.dispose()
    if result.problems:
        table = Table(title=f"{len(result.problems)} rows refused")
        for col in ("row", "工单编号", "reason"):
            table.add_column(col)
        for p in result.problems[:50]:
            table.add_row(str(p.row), p.external_id, p.reason)
        console.print(table)
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


@app.command()
@friendly_errors
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when loaded")
    ] = True,
) -> None:
    """Start the database, migrate, load the demo seed once, create demo users, serve."""
    from gridmap.demo import has_seed, load_demo
    from seed_data.generate import SeedConfig

    settings = _settings()
    if settings.environment == "production":
        raise GridmapError(
            "gridmap demo creates accounts with a published password and is refused in "
            "production: load data with `gridmap seed` and add users with `gridmap user create`"
        )
    url = ensure_database(settings)
    if not has_seed(url):
        _generate_and_load(SeedConfig(scale="demo"), url)
    load_demo(url=url, console=console, settings=settings)
    if serve_after:
        console.print(
            f"serving on http://{settings.host}:{settings.port} "
            f"(API docs at /docs) — Ctrl-C to stop"
        )
        serve(host=None, port=None, workers=1)


Lang = Literal["zh", "en"]


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
    from layers import LAYERS

    filters = IncidentFilter(category=category, since=_day(since), until=_day(until))
    with _session() as session:
        html = dispatch_file(session=session, settings=_settings(), catalogue=LAYERS, area=area,
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
    from layers import LAYERS

    with _session() as session:
        html = grid_file(session=session, settings=_settings(), catalogue=LAYERS, code=code,
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
    from layers import LAYERS

    with _session() as session:
        html = plan_file(session=session, settings=_settings(), catalogue=LAYERS, plan_id=plan_id,
                         compare=compare, target=target, area=area, lang=_lang(lang))  # fmt: skip
    _write(out, html)


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
