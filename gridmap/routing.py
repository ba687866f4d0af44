"""Routing: which responsible unit handles an incident of a category at a place.

The routing rule of the category decides:

- territorial (属地): the governance centre of the village where it happened (矛盾不上交:
  the lowest level first);
- functional (属事): the department of the rule's type whose jurisdiction covers the point;
  where several do (a police station and the county bureau), the most local one wins;
- fallback (属地兜底): when no department of that type covers the point, the township
  centre takes it.

Vectorised over arrays of incidents; a single incident is an array of one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

LEVEL_RANK = {"city": 0, "county": 1, "township": 2, "village": 3, "grid": 4}


def route(
    *,
    categories: NDArray[np.str_],
    grid_codes: NDArray[np.str_],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    rules: pd.DataFrame,
    departments: pd.DataFrame,
) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """The unit code and the reason for each incident.

    Parameters
    ----------
    categories, grid_codes, lon, lat
        One entry per incident (WGS84); ``grid_codes`` from the assignment engine.
    rules
        Routing rules indexed by category, with ``mode`` and ``department_type``.
    departments
        ``code``, ``type``, ``level``, and a shapely ``jurisdiction`` per department.
    """
    n = len(categories)
    unit = np.empty(n, dtype=object)
    reason = np.empty(n, dtype=object)
    rule = rules.loc[categories]
    mode = rule["mode"].to_numpy()
    dept_type = rule["department_type"].to_numpy()
    village_centre = np.char.add("centre-", grid_codes.astype("U12"))
    known = set(departments["code"])
    territorial = mode == "territorial"
    unit[territorial] = village_centre[territorial]
    reason[territorial] = "territorial: village centre"
    for kind in np.unique(dept_type[~territorial].astype(str)):
        wanted = np.flatnonzero((dept_type == kind) & ~territorial)
        of_kind = departments[departments["type"] == kind]
        found = _most_local(of_kind, lon[wanted], lat[wanted])
        hit = found >= 0
        unit[wanted[hit]] = of_kind["code"].to_numpy()[found[hit]]
        reason[wanted[hit]] = f"functional: {kind}, jurisdiction covers the point"
        miss = wanted[~hit]
        unit[miss] = np.char.add("centre-", grid_codes[miss].astype("U9"))
        reason[miss] = f"fallback: township centre (no {kind} jurisdiction covers the point)"
    missing = np.array([u not in known for u in unit])
    if missing.any():  # e.g. a village without its own centre: its township's takes it
        unit[missing] = np.char.add("centre-", grid_codes[missing].astype("U9"))
        reason[missing] = "fallback: township centre"
    return unit.astype(str), reason.astype(str)


def _most_local(
    departments: pd.DataFrame, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Row index (in ``departments``) of the most local jurisdiction covering each point."""
    best = np.full(len(lon), -1, dtype=np.int64)
    if len(departments) == 0 or len(lon) == 0:
        return best
    geoms = departments["jurisdiction"].to_numpy()
    tree = shapely.STRtree(geoms)
    pt, dep = tree.query(shapely.points(lon, lat), predicate="covered_by")
    if len(pt) == 0:
        return best
    rank = departments["level"].map(LEVEL_RANK).to_numpy()[dep]
    area = shapely.area(geoms[dep])
    order = np.lexsort((area, -rank, pt))  # per point: most local level, then smallest area
    first = np.unique(pt[order], return_index=True)[1]
    best[pt[order][first]] = dep[order][first]
    return best
