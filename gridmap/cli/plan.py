"""``gridmap plan …``: boundary plans (网格方案)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import console, database, friendly_errors, load_settings, transaction
from gridmap.errors import GridmapError
from gridmap.models import make_sessionmaker

plan_app = typer.Typer(help="Boundary plans (网格方案).")


@plan_app.command("list")
@friendly_errors
def plan_list() -> None:
    """List boundary plans."""
    from gridmap.plans.service import plan_rows

    with transaction() as session:
        rows = plan_rows(session)
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
    from gridmap.plans.rebalancing import balance, rebalance_area
    from gridmap.rebalance import blocks as blk

    if (blocks_file is None) == (area is None):
        raise GridmapError("give --blocks FILE or --area CODE (one of them)")
    if draft and area is None:
        raise GridmapError("--draft needs --area: a draft replaces the cells of an area")
    if not 0 < tolerance < 1:
        raise GridmapError("--tolerance is a fraction between 0 and 1, e.g. 0.1")
    locked = lock or []
    if blocks_file is not None:
        frame = blk.read_blocks(blocks_file, current_col)
        run = balance(frame, target=target, tolerance=tolerance, locked=locked,
                      seed=seed_value, current_col=current_col)  # fmt: skip
        blk.write_result(out, run.cells, run.blocks)
    else:
        # one use case with the studio's POST /plans/drafts (gridmap/plans/rebalancing.py)
        with transaction() as session:
            note = f"gridmap plan rebalance --area {area} --target {target}"
            run = rebalance_area(
                session, area=area or "", target=target, tolerance=tolerance, locked=locked,
                seed=seed_value, draft=draft, note=note,
            )  # fmt: skip
            blk.write_result(out, run.cells, run.blocks)
    console.print(f"{run.summary(tolerance)} → {out}")
    for p in run.result.problems[:30]:
        console.print(f"  {p.village} {p.cell or ''}: {p.reason}")
    if run.plan_id is not None:
        console.print(f"draft plan {run.plan_id} saved: gridmap plan diff <active> {run.plan_id}")


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
    with transaction() as session:
        problems = validate(session, cells, area)
        if not problems:
            plan = draft_from_cells(session, name, area, cells, note=f"imported from {source.name}")
            plan_id = plan.id
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
    """Write a plan's cells (code, name, outline) for QGIS or a later import."""
    from gridmap.plans.files import plan_cells, write_cells

    with transaction() as session:
        frame = plan_cells(session, plan_id, area)
    write_cells(frame, out)
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

    with transaction() as session:
        report = impact(session, before, after, area)
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

    settings = load_settings()
    start = time.perf_counter()
    with transaction(settings) as session, console.status("assigning the registry…"):
        moves = prepare(session=session, plan_id=plan_id, cache_dir=settings.data_dir / "index")
    moved = ", ".join(f"{t} {moves.moved[t]:,} of {moves.items[t]:,}" for t in moves.items)
    console.print(
        f"plan {plan_id} prepared in {time.perf_counter() - start:.1f} s; would move: {moved}; "
        f"{moves.outside:,} outside every cell. Activate with: gridmap plan activate {plan_id}"
    )


@plan_app.command("activate")
@friendly_errors
def plan_activate(plan_id: int) -> None:
    """Activate a plan: the switch (seconds), then the registry catches up behind it."""
    import time

    from gridmap.plans.service import activate, follow

    settings = load_settings()
    start = time.perf_counter()
    with database(settings) as engine:  # the switch in one transaction, then followers in theirs
        factory = make_sessionmaker(engine)
        with factory.begin() as session, console.status("switching plans…"):
            cache_dir = settings.data_dir / "index"
            counts = activate(session=session, plan_id=plan_id, cache_dir=cache_dir)
        switched = time.perf_counter() - start
        how = (
            "prepared"
            if counts.pop("prepared")
            else "not prepared: assigned the whole registry now"
        )
        console.print(
            f"plan {plan_id} is active in {switched:.1f} s ({how}); to catch up: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        with console.status("the registry catching up…"):
            followed = follow(factory, plan_id)
    console.print(
        f"followed in {time.perf_counter() - start - switched:.1f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in followed.items())
    )


@plan_app.command("follow")
@friendly_errors
def plan_follow(plan_id: int) -> None:
    """Finish an interrupted catch-up: moved rows, then houses and people (restartable)."""
    from gridmap.plans.service import follow

    with database() as engine:
        followed = follow(make_sessionmaker(engine), plan_id)
    console.print("followed: " + ", ".join(f"{k} {v:,}" for k, v in followed.items()))
