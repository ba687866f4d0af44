"""``gridmap seed`` and ``gridmap seed-export``: the synthetic Quanzhou."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from gridmap.cli.common import console, database, ensure_database, friendly_errors, load_settings
from gridmap.errors import GridmapError
from gridmap.settings import Settings


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
    """Generate the Quanzhou seed and load it, replacing any earlier seed.

    Accounts, Open311 clients and the audit log are kept (an account whose area or unit
    the new seed lacks is disabled).
    """
    from seed_data.generate import SeedConfig

    settings = load_settings()
    ensure_database(settings)
    config = SeedConfig(scale=_scale(scale), seed=seed_value, population_fraction=fraction)
    generate_and_load(config, settings)


def _scale(value: str) -> Literal["demo", "city"]:
    if value not in ("demo", "city"):
        raise GridmapError(f"unknown scale {value!r}: use demo or city")
    return value  # type: ignore[return-value]


def generate_and_load(config: Any, settings: Settings) -> None:
    """Generate the seed of ``config`` and load it, showing each stage and table as it goes."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from seed_data.load import load

    t0 = time.perf_counter()
    data = generate_showing(config)
    columns = (
        TextColumn("loading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    load_times: dict[str, float] = {}
    with database(settings) as engine, Progress(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}
        started = time.perf_counter()
        finishing = bar.add_task("", total=None, visible=False)

        def progress(table: str, done: int, total: int) -> None:
            nonlocal started
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
                started = time.perf_counter()
            bar.update(tasks[table], completed=done)
            load_times[table] = time.perf_counter() - started

        def stage(what: str) -> None:  # after the copies: what the minutes go on
            bar.update(finishing, description=what, visible=True)

        load(data, engine, progress=progress, stage=stage)
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


def generate_showing(config: Any) -> Any:
    """Generate the seed of ``config``, a line per stage as it finishes, the current spinning."""
    import time

    from seed_data.generate import generate

    with console.status("generating…") as status:
        begun: list[tuple[str, float]] = []

        def show(stage: str) -> None:
            if begun:
                name, at = begun[-1]
                console.print(f"generated {name} in {time.perf_counter() - at:.1f} s")
            begun.append((stage, time.perf_counter()))
            status.update(f"generating {stage}…")

        data = generate(config, progress=show)
        if begun:
            console.print(f"generated {begun[-1][0]} in {time.perf_counter() - begun[-1][1]:.1f} s")
    return data


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
    from seed_data.generate import SeedConfig

    if fmt not in ("gpkg", "parquet"):
        raise GridmapError(f"unknown format {fmt!r}: use gpkg or parquet")
    data = generate_showing(
        SeedConfig(scale=_scale(scale), seed=seed_value, population_fraction=fraction)
    )
    for path in write(data, out, fmt):  # type: ignore[arg-type]
        console.print(f"wrote {path}")
