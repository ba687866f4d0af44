"""Point → grid cell assignment (入网入格).

Rule for shared edges (documented in docs/decisions.md): a point covered by several cells
(on a shared edge or vertex) belongs to the cell with the smallest code. A point covered
by no cell is outside the jurisdiction and is reported as such (code ``None``).
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry


def assign_points(
    cells: NDArray[np.object_] | list[BaseGeometry],
    codes: NDArray[np.str_] | list[str],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
) -> NDArray[np.object_]:
    """The code of the cell covering each point (smallest code on ties), None outside."""
    geoms = np.asarray(cells)
    code_arr = np.asarray(codes, dtype=object)
    tree = shapely.STRtree(geoms)
    point_idx, cell_idx = tree.query(shapely.points(lon, lat), predicate="covered_by")
    out = np.full(len(lon), None, dtype=object)
    if len(point_idx):
        order = np.lexsort((code_arr[cell_idx].astype(str), point_idx))
        first = np.unique(point_idx[order], return_index=True)[1]
        out[point_idx[order][first]] = code_arr[cell_idx[order][first]]
    return out
