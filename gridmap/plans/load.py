"""The load of each cell of a plan: households per cell, for balance and the planner map."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.locate import build_index

if TYPE_CHECKING:
    from gridmap.maps.features import MapData

_CACHE: dict[int, tuple[float, dict[str, int]]] = {}
TTL = 300.0


def cell_loads(
    session: Session, plan_id: int, *, active: int, cache: MapData | None = None
) -> dict[str, int]:
    """Households per cell of ``plan_id``.

    The active plan's come from the registry's links; another plan's are counted by
    assigning every household's point to that plan's cells with the assignment engine.
    """
    if plan_id == active and cache is not None:
        return cache.households(session, plan_id)
    hit = _CACHE.get(plan_id)
    if hit is not None and time.monotonic() - hit[0] < TTL:
        return hit[1]
    index = build_index(session, plan_id)
    rows = session.execute(text("SELECT ST_X(location), ST_Y(location) FROM household")).all()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    cells = index.assign(xy[:, 0], xy[:, 1], nearest=False).cell
    counts = np.bincount(cells[cells >= 0], minlength=len(index.codes))
    loads = {str(code): int(n) for code, n in zip(index.codes, counts, strict=True)}
    _CACHE[plan_id] = (time.monotonic(), loads)
    return loads
