"""Cutting a polygon into cells around seed points (Voronoi, clipped) and choosing the seeds.

Used by the seed generator to cut counties into townships, townships into villages and
villages into grid cells, and by planners to draft balanced grid plans: weighted k-means
puts one seed per cell so that each cell carries a similar weight (households), and the
clipped Voronoi diagram turns the seeds into cells that cover the parent with no gap.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.random import Generator
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

# Degrees of longitude are shorter than degrees of latitude; at Quanzhou's latitude
# (~25°N) this factor makes k-means distances roughly metric.
LON_SCALE = float(np.cos(np.radians(25.0)))


def weighted_kmeans(
    rng: Generator,
    points: NDArray[np.float64],
    k: int,
    weights: NDArray[np.float64] | None = None,
    iterations: int = 15,
) -> NDArray[np.float64]:
    """Seeds for ``k`` cells of similar total weight over lon/lat ``points`` (n × 2).

    Returns ``k`` lon/lat seeds, each moved onto the nearest of its own points, so every
    seed lies inside the polygon the points were drawn from.
    """
    n = len(points)
    if n == 0:
        raise ValueError("weighted_kmeans needs at least one point")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    scaled = points * np.array([LON_SCALE, 1.0])
    k = min(k, n)
    centres = scaled[rng.choice(n, k, replace=False, p=w / w.sum())]
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        labels = _nearest(scaled, centres)
        sums = np.zeros((k, 2))
        np.add.at(sums, labels, scaled * w[:, None])
        mass = np.bincount(labels, weights=w, minlength=k)
        empty = mass == 0
        centres[~empty] = sums[~empty] / mass[~empty, None]
        if empty.any():  # re-seed empty clusters on random points
            centres[empty] = scaled[rng.choice(n, int(empty.sum()), replace=False)]
    labels = _nearest(scaled, centres)
    # Move each seed onto its cluster's point nearest the centroid (so it lies inside the
    # parent), then make the seeds distinct: Voronoi needs distinct sites.
    d = ((scaled - centres[labels]) ** 2).sum(axis=1)
    order = np.lexsort((d, labels))
    _, first = np.unique(labels[order], return_index=True)
    chosen = list(dict.fromkeys(map(tuple, points[order[first]])))
    candidates = np.unique(points, axis=0)
    for index in rng.permutation(len(candidates)):
        if len(chosen) >= k:
            break
        candidate = tuple(candidates[index])
        if candidate not in chosen:
            chosen.append(candidate)
    return np.array(chosen[:k], dtype=float)


def _nearest(points: NDArray[np.float64], centres: NDArray[np.float64]) -> NDArray[np.int64]:
    out = np.empty(len(points), dtype=np.int64)
    step = max(1, 4_000_000 // max(1, len(centres)))
    for start in range(0, len(points), step):
        chunk = points[start : start + step]
        d = ((chunk[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        out[start : start + step] = d.argmin(axis=1)
    return out


def voronoi_cells(parent: BaseGeometry, seeds: NDArray[np.float64]) -> list[BaseGeometry]:
    """Cut ``parent`` into one cell per seed (nearest seed), cells in seed order.

    Cells share their edges exactly and together cover the parent. A cell may be a
    MultiPolygon where the parent's outline (a bay, an island) cuts it in parts.
    """
    if len(seeds) == 1:
        return [parent]
    diagram = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=parent.envelope.buffer(0.1), ordered=True
    )
    cells = shapely.intersection(np.asarray(diagram.geoms), parent)
    return [_polygonal(c) for c in cells]


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Drop the points and lines an intersection can leave along shared edges."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in shapely.get_parts(geometry) if g.geom_type == "Polygon"]
    return shapely.multipolygons(parts) if parts else shapely.Polygon()


def as_multipolygon(geometry: BaseGeometry) -> BaseGeometry:
    """Every area is stored as a MultiPolygon."""
    geometry = _polygonal(geometry)
    if geometry.geom_type == "Polygon":
        return shapely.MultiPolygon([geometry])
    return geometry


SLIVER_DEG2 = 1e-9  # ~10 m²: smaller faces between cells are gaps of rounding, not land


def exact_coverage(cells: list[BaseGeometry] | NDArray[np.object_]) -> list[BaseGeometry]:
    """Make nearly-matching cells an exact coverage: shared edges identical, no gap, no overlap.

    Cells cut separately (each village's grid cells clipped to that village) meet along
    edges whose crossing points were computed twice and may differ in the last bit. All
    edges are noded together and polygonised into faces; each face goes to the cell that
    contains it (rounding slivers to the nearest cell), and each cell is rebuilt from its
    faces. Parents rebuilt as unions of such cells then contain them exactly.
    """
    geoms = np.asarray(cells)
    linework = shapely.union_all(shapely.boundary(geoms))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    tree = shapely.STRtree(geoms)
    face_idx, cell_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    owner = np.full(len(faces), -1, dtype=np.int64)
    owner[face_idx[::-1]] = cell_idx[::-1]  # the first cell wins where cells overlap
    loose = np.flatnonzero((owner < 0) & (shapely.area(faces) < SLIVER_DEG2))
    if len(loose):
        near_face, near_cell = tree.query_nearest(faces[loose], all_matches=False)
        owner[loose[near_face]] = near_cell
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(geoms) + 1))
    out = []
    for i in range(len(geoms)):
        mine = faces[order[bounds[i] : bounds[i + 1]]]
        out.append(shapely.coverage_union_all(mine) if len(mine) else shapely.Polygon())
    return out
