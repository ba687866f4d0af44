"""The rules a draft's cells must keep before it is published: one function names them.

Balance (households within ``target × (1 ± tolerance)``), contiguity (a cell's blocks form
one piece) and nesting (a cell holds blocks of its own village only) are the engine's
rules, measured by :func:`gridmap.rebalance.engine.cell_table` over the draft's blocks —
the same table a rebalancing run reports, so the studio never computes them a second
way. (The geometric checks of a plan file — invalid polygons, overlaps, gaps, a cell
reaching outside its village — are :func:`gridmap.plans.validate.validate`'s, run when a
file becomes a draft.)

A cell out of the band stops publishing when a hand edit made it so: a cell moved into or
out of by a move still done. A cell the rebalancing left out of the band and no edit has
touched is listed, not held against the draft — the engine keeps ≥ 99 % of feasible cells
in the band, not all, and its drafts were published so before hand edits existed — nor is
a cell no plan could bring in: its village's households divide into no allowed number of
cells (:func:`gridmap.rebalance.engine.cell_counts` is empty), or it is a single block
heavier than the band. Those are listed with ``blocking`` false; everything else (every
cell in pieces or crossing its village) stops preparation and activation
(:func:`refuse_problems`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.errors import Conflict
from gridmap.plans.draft_blocks import VillageBlocks, village_blocks
from gridmap.plans.models import PlanDraft
from gridmap.rebalance.engine import cell_counts, cell_table


@dataclass(frozen=True)
class DraftProblem:
    """A cell of a draft breaking a rule, and why in words."""

    cell: str
    rule: str  # balance, contiguity or nesting
    reason: str
    blocking: bool = True

    def read(self) -> dict[str, Any]:
        """As the API answers it."""
        return asdict(self)


def edited_cells(session: Session, plan_id: int) -> set[str]:
    """Cells a move still done (not undone) took a block out of or into."""
    rows = session.execute(
        text(
            "SELECT from_cell, to_cell FROM plan_edit WHERE plan_id = :p AND kind = 'move' "
            "AND state = 'done'"
        ),
        {"p": plan_id},
    ).all()
    return {str(c) for row in rows for c in row if c}


def cell_rows(
    rule: PlanDraft, data: VillageBlocks, cells: Iterable[str] | None = None,
    *, edited: set[str],
) -> list[dict[str, Any]]:  # fmt: skip
    """The engine's figures of the draft's cells (all, or ``cells``) with their problems.

    ``edited``: the cells hand edits changed (:func:`edited_cells`), whose balance counts.
    """
    if len(data.frame) == 0:
        return []
    labels = data.frame["cell"].to_numpy(dtype=object)
    table = cell_table(data.blocks, labels, rule.target, rule.tolerance)
    wanted = None if cells is None else set(cells)
    village_load = data.village_load
    rows = []
    for row in table:
        if wanted is not None and row["cell"] not in wanted:
            continue
        rows.append({
            "cell": row["cell"], "households": round(float(row["load"])),  # type: ignore[arg-type]
            "deviation": round(float(row["deviation"]), 4),  # type: ignore[arg-type]
            "within": bool(row["within"]), "contiguous": bool(row["contiguous"]),
            "nested": bool(row["nested"]) and _own_village(row),
            "blocks": int(row["blocks"]),  # type: ignore[call-overload]
            "problems": [p.read() for p in _problems(rule, row, village_load, edited)],
        })  # fmt: skip
    return rows


def _own_village(row: dict[str, object]) -> bool:
    return str(row["village"]) == codes.ancestor(str(row["cell"]), AreaLevel.village)


def _problems(
    rule: PlanDraft, row: dict[str, object], village_load: dict[str, float], edited: set[str]
) -> list[DraftProblem]:
    cell, load = str(row["cell"]), float(row["load"])  # type: ignore[arg-type]
    out = []
    if not row["within"]:
        lo, hi = rule.target * (1 - rule.tolerance), rule.target * (1 + rule.tolerance)
        village = str(row["village"])
        divides = len(cell_counts(village_load[village], rule.target, rule.tolerance)) > 0
        single_heavy = row["blocks"] == 1 and load > hi
        why = (
            f"{load:,.0f} households, {float(row['deviation']):+.1%} from the target "  # type: ignore[arg-type]
            f"{rule.target:,.0f}: outside the band {lo:,.0f}–{hi:,.0f} (±{rule.tolerance:.0%})"
        )
        if not divides:
            why += f" — village {village}'s households divide into no number of cells in the band"
        elif single_heavy:
            why += " — a single block heavier than the band"
        elif cell not in edited:
            why += " — as the rebalancing left it (no hand edit changed it)"
        blocking = divides and not single_heavy and cell in edited
        out.append(DraftProblem(cell, "balance", why, blocking=blocking))
    if not row["contiguous"]:
        out.append(DraftProblem(cell, "contiguity", "its blocks do not form one piece"))
    if not (row["nested"] and _own_village(row)):
        out.append(DraftProblem(cell, "nesting", (
            f"it holds blocks outside its village "
            f"{codes.ancestor(cell, AreaLevel.village)}")))  # fmt: skip
    return out


def draft_problems(session: Session, plan_id: int) -> list[DraftProblem]:
    """Every cell of a draft breaking a rule, and why; empty for a draft without blocks."""
    rule = session.get(PlanDraft, plan_id)
    if rule is None:
        return []
    rows = cell_rows(
        rule, village_blocks(session, plan_id, None), edited=edited_cells(session, plan_id)
    )
    return [DraftProblem(**p) for r in rows for p in r["problems"]]


def refuse_problems(session: Session, plan_id: int) -> None:
    """Refuse (409) to prepare or activate a draft a cell of which breaks a rule."""
    blocking = [p for p in draft_problems(session, plan_id) if p.blocking]
    if blocking:
        named = "; ".join(f"cell {p.cell} ({p.rule}): {p.reason}" for p in blocking[:3])
        more = f"; and {len(blocking) - 3} more" if len(blocking) > 3 else ""
        raise Conflict(
            f"draft {plan_id} breaks a rule and cannot be published: {named}{more}",
            problems=[p.read() for p in blocking[:50]],
        )
