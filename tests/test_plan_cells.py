"""A plan's cells simplified for a zoom (gridmap/maps/plan_cells.py), on hand-drawn cells.

Two cells share a zigzag edge of 40 teeth 20 m deep, finer than a pixel at county zoom; a
third cell beside them shares a straight edge with both.
"""

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box, shape

from gridmap.locate import PlanCells
from gridmap.maps.plan_cells import (
    DrawnCellCache,
    changes,
    decimals_at,
    pixel_degrees,
    simplified,
    tolerance_at,
)

X0, Y0, D = 118.60, 24.90, 0.01
TEETH = 40


def zigzag() -> list[tuple[float, float]]:
    """The shared edge, west to east, at y = Y0 + D ± 0.0002° (about 20 m)."""
    xs = np.linspace(X0, X0 + D, 2 * TEETH + 1)
    return [(float(x), Y0 + D + (0.0002 if i % 2 else 0.0)) for i, x in enumerate(xs)]


def cells() -> np.ndarray:
    edge = zigzag()
    south = Polygon([(X0, Y0), (X0 + D, Y0), *edge[::-1]])
    north = Polygon([*edge, (X0 + D, Y0 + 2 * D), (X0, Y0 + 2 * D)])
    # the east cell: its west edge carries every vertex the others have on x = X0 + D
    east = Polygon([(X0 + D, Y0), (X0 + 2 * D, Y0), (X0 + 2 * D, Y0 + 2 * D),
                    (X0 + D, Y0 + 2 * D), (X0 + D, Y0 + D), (X0 + D, Y0)])  # fmt: skip
    return np.array([south.normalize(), north.normalize(), east.normalize()], dtype=object)


def plan(geoms: np.ndarray, codes: list[str] | None = None) -> PlanCells:
    codes = codes or ["350503001001001", "350503001001002", "350503001002001"]
    return PlanCells(1, "350503", codes, codes, geoms, "digest-" + "-".join(codes))


def gaps_and_overlaps(drawn: list[Polygon], stored: np.ndarray) -> tuple[float, float]:
    """Area in the stored cells that no drawn cell covers, and area two drawn cells cover."""
    union = shapely.union_all(drawn)
    overlap = sum(p.area for p in drawn) - union.area
    gap = shapely.union_all(stored).difference(union).area
    return gap, overlap


def test_the_tolerance_is_half_a_pixel_and_coordinates_a_tenth():
    assert pixel_degrees(10) == pytest.approx(360 / 256 / 1024)
    assert tolerance_at(10) == pixel_degrees(10) / 2
    assert 10 ** -decimals_at(10) <= pixel_degrees(10) / 10
    assert pixel_degrees(3) == pixel_degrees(6) and pixel_degrees(22) == pixel_degrees(18)


def test_shared_edges_stay_shared_when_simplified():
    stored = cells()
    drawn = [shape(json.loads(g)) for g in simplified(stored, 11)]
    assert all(p.is_valid for p in drawn)
    # the zigzag is gone at county zoom ...
    assert shapely.get_num_coordinates(drawn[0]) < shapely.get_num_coordinates(stored[0]) / 4
    # ... and the two cells still meet along one edge: no gap, no overlap
    gap, overlap = gaps_and_overlaps(drawn, stored)
    assert gap < 1e-12 and abs(overlap) < 1e-12
    shared = drawn[0].intersection(drawn[1]).length
    assert D <= shared < 0.6 * stored[0].intersection(stored[1]).length
    # the area's outer boundary is kept as stored (the next area's cells meet it)
    outline = shapely.union_all(stored).boundary
    assert shapely.union_all(drawn).boundary.hausdorff_distance(outline) <= 10 ** -decimals_at(11)


def test_the_area_outline_is_kept_so_the_next_area_meets_it():
    """Two areas drawn by two requests share the boundary between them: neither simplifies
    it, so they meet exactly (the next area's cells are simplified in another request)."""
    edge = zigzag()
    lower = Polygon([(X0, Y0), (X0 + D, Y0), *edge[::-1]]).normalize()
    upper = Polygon([*edge, (X0 + D, Y0 + 2 * D), (X0, Y0 + 2 * D)]).normalize()
    # each area alone: the zigzag is its outer boundary
    drawn_lower = shape(json.loads(simplified(np.array([lower], dtype=object), 11)[0]))
    drawn_upper = shape(json.loads(simplified(np.array([upper], dtype=object), 11)[0]))
    assert shapely.get_num_coordinates(drawn_lower) == shapely.get_num_coordinates(lower)
    assert abs(drawn_lower.intersection(drawn_upper).area) < 1e-12
    assert drawn_lower.union(drawn_upper).difference(lower.union(upper)).area < 1e-12
    assert lower.union(upper).difference(drawn_lower.union(drawn_upper)).area < 1e-12


def test_each_cell_simplified_alone_would_leave_gaps_and_overlaps():
    """What the test above guards against: ST_SimplifyPreserveTopology one cell at a time."""
    stored = cells()
    alone = list(shapely.simplify(stored, tolerance_at(11), preserve_topology=True))
    gap, overlap = gaps_and_overlaps(alone, stored)
    assert gap > 1e-9 or overlap > 1e-9


def test_close_in_the_outlines_are_as_stored():
    stored = cells()
    drawn = [shape(json.loads(g)) for g in simplified(stored, 18)]
    for got, want in zip(drawn, stored, strict=True):
        assert shapely.get_num_coordinates(got) == shapely.get_num_coordinates(want)
        assert got.hausdorff_distance(want) <= 10 ** -decimals_at(18)


def test_gcj02_shifts_after_simplifying_so_shared_vertices_shift_alike():
    stored = cells()
    drawn = [shape(json.loads(g)) for g in simplified(stored, 11, "gcj02")]
    assert drawn[0].centroid.distance(stored[0].centroid) > 0.001  # moved several hundred m
    union = shapely.union_all(drawn)
    assert abs(sum(p.area for p in drawn) - union.area) < 1e-12


def test_changes_are_decided_on_the_stored_outlines():
    stored = cells()
    # the same outlines (another vertex order), one cell moved by a millimetre, one new code
    before = plan(np.array([stored[0].reverse(), stored[1], stored[2]], dtype=object))
    nudged = shapely.affinity.translate(stored[1], 1e-8, 0)
    after = plan(np.array([stored[0], nudged, box(X0, Y0, X0 + D, Y0 + D)], dtype=object),
                 ["350503001001001", "350503001001002", "350503001002009"])  # fmt: skip
    assert changes(after, before) == {
        "350503001001001": "same",
        "350503001001002": "changed",  # finer than any pixel, and still a change
        "350503001002009": "added",
    }


def test_drawn_cells_are_kept_by_fingerprint_zoom_and_crs():
    cache = DrawnCellCache(size=2)
    first = cache.get(plan(cells()), 11)
    assert cache.get(plan(cells()), 11) is first
    assert cache.get(plan(cells()), 12) is not first
    assert cache.get(plan(cells()), 3) is cache.get(plan(cells()), 6)  # the same tolerance
    edited = plan(cells(), ["350503001001001", "350503001001002", "350503001002002"])
    assert cache.get(edited, 11) is not first
    assert len(cache._kept) == 2
    assert list(first.in_view((X0 + 1.5 * D, Y0, X0 + 3 * D, Y0 + D))) == [2]
