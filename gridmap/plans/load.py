"""The load of each cell of a plan: households per cell, for balance and the planner map."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sqlalchemy.orm import Session

from gridmap.assign import covering_codes
from gridmap.locate import build_index, read_cells
from gridmap.registry.counts import household_xy, households_per_cell


def cell_loads(session: Session, plan_id: int, *, active: int, area: str = "") -> dict[str, int]:
    """Households per cell of ``plan_id`` (of ``area``'s cells only, when given), counted now.

    The households are the ones :mod:`gridmap.registry.counts` defines (active ones). The
    active plan's come from the registry's links to its cells; another plan's are counted
    by assigning every such household's point to that plan's cells: city-wide with the
    assignment engine's index, within an area (a county's comparison) with a tree of the
    area's cells and the same rule (:func:`gridmap.assign.covering_codes`), which spares
    the seconds an index of the area would take to build. Cells of a plan nest in the
    villages, so an area's households are the ones the plan in force puts in it. Cells
    without households are 0 (the active plan's: absent).
    """
    if plan_id == active:
        return {str(code): int(n) for code, n in session.execute(households_per_cell(area))}
    xy = household_xy(session, area)
    if area:
        cells = read_cells(session, plan_id, area)
        found = covering_codes(cells.geoms, cells.codes, xy[:, 0], xy[:, 1])
        counted = Counter(code for code in found.tolist() if code is not None)
        return {code: counted.get(code, 0) for code in cells.codes}
    index = build_index(session, plan_id)
    cells_of = index.assign(xy[:, 0], xy[:, 1], nearest=False).cell
    bins = np.bincount(cells_of[cells_of >= 0], minlength=len(index.codes))
    return {str(code): int(n) for code, n in zip(index.codes, bins, strict=True)}
