"""Rebalance an area of the plan in force into a draft: the one use case behind two doors.

``gridmap plan rebalance --area … --draft …`` and ``POST /api/v1/plans/drafts`` (the
planner's studio, run as a background job) both call :func:`rebalance_area`: derive the
blocks of the area from the registry (:func:`gridmap.plans.blocks.derive_blocks`),
rebalance them (:func:`gridmap.rebalance.engine.rebalance`), save the cells as a draft
(:func:`gridmap.plans.drafts.draft_from_cells`). A file of blocks (the command's
``--blocks``) goes through :func:`balance`, the middle step, alone.

A long run reports each stage as it ends (``progress``) and asks between stages whether
it should stop (``cancelled``): a cancelled run raises :class:`Cancelled` before anything
is saved. The caller commits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.errors import Conflict, InvalidInput
from gridmap.rebalance import blocks as blk
from gridmap.rebalance.engine import Result, moved_share, rebalance


class Stage(enum.StrEnum):
    """The stages of a rebalancing run, in order."""

    blocks = "blocks"  # blocks derived from the registry
    balanced = "balanced"  # the engine drew the cells
    saved = "saved"  # the draft plan saved


class Cancelled(Conflict):
    """The run was cancelled before its draft was saved: nothing was saved."""

    code = "cancelled"
    title = "Cancelled"


@dataclass
class Balanced:
    """A rebalancing run: the blocks labelled with their new cell, the cells, the figures."""

    blocks: gpd.GeoDataFrame  # with ``new_cell``
    cells: gpd.GeoDataFrame  # code, households, village_code, deviation, polsby_popper
    result: Result
    moved: float | None  # share of households that change cell (None: no current cells)
    plan_id: int | None = None  # the draft, when saved

    @property
    def within(self) -> int:
        """Cells within the band."""
        return sum(bool(c["within"]) for c in self.result.cells)

    def summary(self, tolerance: float) -> str:
        """One line for a person: blocks, cells, within the band, moved, problems."""
        moved = "" if self.moved is None else f", {self.moved:.1%} of households change cell"
        return (
            f"{len(self.blocks):,} blocks → {len(self.result.cells):,} cells, {self.within:,} "
            f"within ±{tolerance:.0%}{moved}; {len(self.result.problems)} problems"
        )


def check_parameters(target: float, tolerance: float) -> None:
    """Refuse a target or tolerance the engine cannot use (the words name the argument)."""
    if not target > 0:
        raise InvalidInput(f"target is households per cell, more than 0 (got {target})")
    if not 0 < tolerance < 1:
        raise InvalidInput(f"tolerance is a fraction between 0 and 1, e.g. 0.1 (got {tolerance})")


def check_request(area: str, target: float, tolerance: float, locked: Iterable[str]) -> list[str]:
    """Refuse what a run of ``area`` cannot use before it starts; the locked cells, sorted.

    The studio's route asks this before it queues a job, and :func:`rebalance_area` again.
    """
    check_parameters(target, tolerance)
    cells = sorted(set(locked))
    prefix = codes.prefix(area)
    outside = [c for c in cells if len(c) != 15 or not c.isdigit() or not c.startswith(prefix)]
    if outside:
        raise InvalidInput(f"locked cells {outside[:5]} are not grid cells of {area}")
    return cells


def balance(
    frame: gpd.GeoDataFrame, *, target: float, tolerance: float, locked: Iterable[str] = (),
    seed: int = 0, current_col: str | None = None,
) -> Balanced:  # fmt: skip
    """Rebalance a frame of blocks (block_id, village_code, households[, current cell])."""
    check_parameters(target, tolerance)
    data = blk.to_blocks(frame, current_col)
    result = rebalance(data, target, tolerance=tolerance, locked=set(locked), seed=seed)
    labelled, cells = blk.cells_of(frame, result)
    moved = moved_share(data, result.labels) if current_col else None
    return Balanced(labelled, cells, result, moved)


def rebalance_area(
    session: Session, *, area: str, target: float, tolerance: float = 0.1,
    locked: Iterable[str] = (), seed: int = 0, draft: str | None = None,
    note: str | None = None, progress: Callable[[Stage], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Balanced:  # fmt: skip
    """Rebalance the cells of ``area`` in the plan in force; with ``draft``, save a draft.

    Parameters
    ----------
    session
        Reads the plan in force and the registry; the draft is added to it (not committed).
    area
        A township or village code (any level works; a county takes minutes).
    target, tolerance
        Households per cell and the band around it (0.1 for ±10%).
    locked
        Cells (15-digit codes of ``area``) the engine must not touch.
    seed
        The engine's seed (same input and seed, same cells).
    draft, note
        The draft plan's name (``None`` saves nothing) and its note.
    progress, cancelled
        Told each :class:`Stage` as it ends; asked before each stage whether to stop.

    Raises
    ------
    InvalidInput
        A bad target or tolerance, an area without cells, a locked cell outside the area.
    Cancelled
        ``cancelled()`` answered true before the draft was saved.
    """
    locked = check_request(area, target, tolerance, locked)
    report = progress or (lambda stage: None)
    stop = cancelled or (lambda: False)

    def step(stage: Stage) -> None:
        if stop():
            raise Cancelled(f"the rebalance of {area} was cancelled before {stage.value}")

    from gridmap.plans.blocks import derive_blocks
    from gridmap.plans.draft_blocks import store_blocks
    from gridmap.plans.drafts import draft_from_cells

    step(Stage.blocks)
    frame = derive_blocks(session, area)
    unknown = sorted(set(locked) - set(frame["cell"]))
    if unknown:
        raise InvalidInput(f"locked cells {unknown[:5]} are not cells of {area} in force")
    report(Stage.blocks)
    step(Stage.balanced)
    run = balance(
        frame, target=target, tolerance=tolerance, locked=locked, seed=seed, current_col="cell"
    )
    report(Stage.balanced)
    if draft is None:
        return run
    step(Stage.saved)
    note = note or f"rebalanced {area}: target {target:g}, tolerance {tolerance:g}"
    plan = draft_from_cells(session, draft, area, run.cells.to_crs(4326), note=note)
    # the draft remembers its blocks and rule, for hand edits in the studio
    store_blocks(session, plan_id=plan.id, area=area, blocks=run.blocks, cell_col="new_cell",
                 target=target, tolerance=tolerance, locked=locked)  # fmt: skip
    run.plan_id = plan.id
    report(Stage.saved)
    return run


def summary(run: Balanced, tolerance: float) -> dict[str, object]:
    """A run's figures for a page: counts, moved share, problems and the per-cell table."""
    return {
        "blocks": len(run.blocks),
        "cells": len(run.result.cells),
        "within": run.within,
        "tolerance": tolerance,
        "moved": None if run.moved is None else round(run.moved, 4),
        "problems": [
            {"village": p.village, "cell": p.cell, "reason": p.reason} for p in run.result.problems
        ],
        "table": [
            {
                "cell": str(c["cell"]),
                "households": round(float(c["load"])),  # type: ignore[arg-type]
                "deviation": round(float(c["deviation"]), 4),  # type: ignore[arg-type]
                "within": bool(c["within"]),
                "contiguous": bool(c["contiguous"]),
                "nested": bool(c["nested"]),
            }
            for c in run.result.cells
        ],
    }
