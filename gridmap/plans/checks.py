"""The rules a draft's cells must keep before it is published: one function names them.

Balance (households within ``target × (1 ± tolerance)``), contiguity (a cell's blocks form
one piece) and nesting (a cell holds blocks of its own village only) are the engine's
rules, measured by :func:`gridmap.rebalance.engine.cell_table` over the draft's blocks —
the same table a rebalancing run reports, so the studio never computes them a second
way. (The geometric checks of a plan file — invalid polygons, overlaps, gaps, a cell
reaching outside its village — are :func:`gridmap.plans.validate.validate`'s, run when a
file becomes a draft.)

A cell out of the band is not held against a draft where no plan could bring it in: its
village's households divide into no allowed number of cells
(:func:`gridmap.rebalance.engine.cell_counts` is empty), or it is a single block heavier
than the band. Those are listed with ``blocking`` false; everything else stops
preparation and activation (:func:`refuse_problems`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

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


def cell_rows(
    rule: PlanDraft, data: VillageBlocks, cells: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The engine's figures of the draft's cells (all, or ``cells``) with their problems."""
    if len(data.frame) == 0:
        return []
    labels = data.frame["cell"].to_numpy(dtype=object)
    table = cell_table(data.blocks, labels, rule.target, rule.tolerance)
    wanted = None if cells is None else set(cells)
    village_load: dict[str, float] = defaultdict(float)
    for village, load in zip(data.blocks.village, data.blocks.load, strict=True):
        village_load[str(village)] += float(load)
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
            "problems": [p.read() for p in _problems(rule, row, village_load)],
        })  # fmt: skip
    return rows


def _own_village(row: dict[str, object]) -> bool:
    return str(row["village"]) == codes.ancestor(str(row["cell"]), AreaLevel.village)


def _problems(
    rule: PlanDraft, row: dict[str, object], village_load: dict[str, float]
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
        out.append(DraftProblem(cell, "balance", why, blocking=divides and not single_heavy))
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
    rows = cell_rows(rule, village_blocks(session, plan_id, None))
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
