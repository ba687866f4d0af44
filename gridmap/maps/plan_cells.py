"""A plan's cells for a map: a county's comparison drawn at the zoom it is seen at.

The ``plan_cells`` layer (the studio's two maps, the ``/maps/plans`` page, the standalone
``gridmap map plan`` file) answers for one area at a time, and its first answer used to
cost half a minute (issue 28): counting a draft's households per cell built the assignment
index of the whole city. Now:

- only the area's cells are read, drawn and counted (a county's households against its
  cells: :func:`gridmap.plans.load.cell_loads`);
- the outlines are simplified for the zoom as one **coverage** (``shapely.coverage_simplify``,
  GEOS): an edge two cells share is simplified once, for both, so neighbours never show
  slivers of gap or overlap — which simplifying each cell on its own does. The area's outer
  boundary is kept as stored: it is a village, township or county boundary, the same in
  every plan and every request, so cells of the next area, drawn by another request, still
  meet them exactly;
- coordinates are rounded to a tenth of a pixel at that zoom (a shared vertex rounds the
  same way in both cells);
- whether a cell changed is decided on the stored outlines, never the simplified ones
  (``ST_Equals``' rule: the same point set);
- simplified outlines are kept per fingerprint of the cells (:class:`PlanCells.digest`),
  zoom and display CRS: a hand edit of a draft changes the fingerprint, and a county no
  draft touched is simplified once for every plan that shares its cells.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.crs import from_wgs84
from gridmap.locate import PlanCells

MIN_ZOOM, MAX_ZOOM = 6, 18  # below: a city in a few pixels; above: outlines as stored
MAX_DECIMALS = 7  # ~1 cm


def pixel_degrees(zoom: int) -> float:
    """Longitude degrees one screen pixel spans at ``zoom`` (256-pixel Web Mercator tiles)."""
    return 360.0 / (256 * 2 ** min(max(zoom, MIN_ZOOM), MAX_ZOOM))


def tolerance_at(zoom: int) -> float:
    """Simplification tolerance at ``zoom``: half a pixel (what is removed cannot be seen)."""
    return pixel_degrees(zoom) / 2


def decimals_at(zoom: int) -> int:
    """Decimals kept at ``zoom``: a tenth of a pixel or finer."""
    return min(MAX_DECIMALS, math.ceil(-math.log10(pixel_degrees(zoom) / 10)))


def simplified(geoms: np.ndarray, zoom: int, crs: str = "wgs84") -> list[str]:
    """GeoJSON geometries of ``geoms`` (a coverage) simplified together for ``zoom``.

    The coverage's outer boundary is kept; ``crs`` ``gcj02`` shifts every coordinate to sit
    on AMap/Tencent base maps (after simplifying, so shared vertices shift alike).
    """
    if len(geoms) == 0:
        return []
    out = shapely.coverage_simplify(geoms, tolerance_at(zoom), simplify_boundary=False)
    decimals = decimals_at(zoom)

    def moved(xy: np.ndarray) -> np.ndarray:
        if crs != "wgs84":
            xy = np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs))
        return np.round(xy, decimals)

    out = shapely.remove_repeated_points(shapely.transform(out, moved))
    return [str(g) for g in shapely.to_geojson(out)]


def changes(cells: PlanCells, other: PlanCells) -> dict[str, str]:
    """Per cell of ``cells``: added, changed or same, on the stored outlines.

    ``added``: ``other`` has no cell of its code; ``same``: the same point set as
    ``other``'s cell (``ST_Equals``' rule); else ``changed``.
    """
    theirs = dict(zip(other.codes, other.geoms, strict=True))
    paired = [i for i, code in enumerate(cells.codes) if code in theirs]
    counterparts = np.array([theirs[cells.codes[i]] for i in paired], dtype=object)
    same = shapely.equals(cells.geoms[paired], counterparts) if paired else []
    out = dict.fromkeys(cells.codes, "added")
    for i, equal in zip(paired, same, strict=True):
        out[cells.codes[i]] = "same" if equal else "changed"
    return out


@dataclass(frozen=True)
class DrawnCells:
    """A plan's cells of an area as a map draws them at one zoom."""

    geojson: list[str]
    bounds: np.ndarray  # (n, 4), of the stored outlines

    def in_view(self, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
        """Positions of the cells whose bounds meet ``bbox`` (all without one)."""
        if bbox is None:
            return np.arange(len(self.geojson))
        x0, y0, x1, y1 = bbox
        b = self.bounds
        return np.flatnonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))


class DrawnCellCache:
    """Simplified outlines by (fingerprint of the cells, zoom, CRS): the last ``size`` kept."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, int, str], DrawnCells] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cells: PlanCells, zoom: int, crs: str = "wgs84") -> DrawnCells:
        """``cells`` drawn at ``zoom`` (simplified now, or as kept)."""
        key = (cells.digest, min(max(zoom, MIN_ZOOM), MAX_ZOOM), crs)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                self._kept.move_to_end(key)
                return hit
        bounds = shapely.bounds(cells.geoms).reshape(-1, 4) if cells.codes else np.empty((0, 4))
        drawn = DrawnCells(simplified(cells.geoms, key[1], crs), bounds)
        with self._lock:
            self._kept[key] = drawn
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return drawn
