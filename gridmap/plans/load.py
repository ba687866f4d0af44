"""The load of each cell of a plan: households per cell, for balance and the planner map."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from gridmap.locate import build_index
from gridmap.registry.counts import household_points, households_per_cell


def cell_loads(session: Session, plan_id: int, *, active: int) -> dict[str, int]:
    """Households per cell of ``plan_id``, counted now (the map keeps them a while).

    The households are the ones :mod:`gridmap.registry.counts` defines (active ones). The
    active plan's come from the registry's links to its cells; another plan's are counted
    by assigning every such household's point to that plan's cells with the assignment
    engine. Cells without households are 0 (the active plan's: absent).
    """
    if plan_id == active:
        return {str(code): int(n) for code, n in session.execute(households_per_cell())}
    index = build_index(session, plan_id)
    rows = session.execute(household_points()).all()
    xy = np.array([(r[2], r[3]) for r in rows], dtype=float).reshape(-1, 2)
    cells = index.assign(xy[:, 0], xy[:, 1], nearest=False).cell
    counts = np.bincount(cells[cells >= 0], minlength=len(index.codes))
    return {str(code): int(n) for code, n in zip(index.codes, counts, strict=True)}
