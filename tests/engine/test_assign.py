"""The assignment engine on hand-drawn cells whose answers are obvious."""

import itertools

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from gridmap.assign import AssignmentIndex, assign_points, covering_codes
from gridmap.crs import from_wgs84

X0, Y0, D = 118.60, 24.90, 0.01  # cells of about 1 km

# A 2 × 2 block of cells, a cell with a hole, and a cell in two parts.
CELLS = {
    "350503001001001": box(X0, Y0, X0 + D, Y0 + D),  # south-west
    "350503001001002": box(X0 + D, Y0, X0 + 2 * D, Y0 + D),  # south-east
    "350503001001003": box(X0, Y0 + D, X0 + D, Y0 + 2 * D),  # north-west
    "350503001001004": box(X0 + D, Y0 + D, X0 + 2 * D, Y0 + 2 * D),  # north-east
    "350503001002001": Polygon(
        box(X0 + 3 * D, Y0, X0 + 4 * D, Y0 + D).exterior.coords,
        [box(X0 + 3.4 * D, Y0 + 0.4 * D, X0 + 3.6 * D, Y0 + 0.6 * D).exterior.coords],
    ),
    "350503001002002": MultiPolygon(
        [box(X0 + 5 * D, Y0, X0 + 6 * D, Y0 + D), box(X0 + 7 * D, Y0, X0 + 8 * D, Y0 + D)]
    ),
}
CODES = list(CELLS)


@pytest.fixture(scope="module")
def index():
    return AssignmentIndex.build(list(CELLS.values()), CODES, pixel=0.001)


def code_at(index, lon, lat):
    cell = index.assign([lon], [lat]).cell[0]
    return None if cell < 0 else index.codes[cell]


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (X0 + 0.5 * D, Y0 + 0.5 * D, "350503001001001"),
        (X0 + 1.5 * D, Y0 + 1.5 * D, "350503001001004"),
        (X0 + 3.2 * D, Y0 + 0.2 * D, "350503001002001"),  # in the holed cell
        (X0 + 7.5 * D, Y0 + 0.5 * D, "350503001002002"),  # second part of a multipolygon
    ],
)
def test_interior_points(index, lon, lat, code):
    assert code_at(index, lon, lat) == code
    assert index.codes[index.locate(lon, lat)] == code


def test_shared_edge_goes_to_the_smallest_code(index):
    # on the edge between 001 (west) and 002 (east)
    assert code_at(index, X0 + D, Y0 + 0.5 * D) == "350503001001001"
    # on the edge between 002 (south) and 004 (north)
    assert code_at(index, X0 + 1.5 * D, Y0 + D) == "350503001001002"


def test_vertex_shared_by_four_cells_goes_to_the_smallest_code(index):
    assert code_at(index, X0 + D, Y0 + D) == "350503001001001"
    assert index.codes[index.locate(X0 + D, Y0 + D)] == "350503001001001"


def test_outer_edge_belongs_to_its_cell(index):
    assert code_at(index, X0, Y0 + 0.5 * D) == "350503001001001"


def test_hole_is_outside_with_nearest_cell_and_distance(index):
    r = index.assign([X0 + 3.5 * D], [Y0 + 0.5 * D])
    assert r.cell[0] == -1
    assert index.codes[r.nearest[0]] == "350503001002001"
    # 0.1 D of latitude to the hole's edge: ~110 m
    assert 100 < r.distance_m[0] < 115


def test_outside_everything_reports_nearest_and_metres(index):
    lon, lat = X0 - 0.5 * D, Y0 + 0.5 * D  # 0.005° west of the block at 24.9°N ≈ 505 m
    r = index.assign([lon], [lat])
    assert r.cell[0] == -1 and not r.inside[0]
    assert index.codes[r.nearest[0]] == "350503001001001"
    assert r.distance_m[0] == pytest.approx(0.005 * 111_320 * np.cos(np.radians(24.905)), rel=0.01)
    assert index.nearest(lon, lat)[0] == r.nearest[0]


def test_far_away_and_invalid_points(index):
    r = index.assign([0.0, np.nan, 200.0], [0.0, 24.9, 24.9])
    assert (r.cell == -1).all()
    assert r.nearest[0] >= 0 and r.distance_m[0] > 1e6
    assert np.isnan(r.distance_m[1]) and r.nearest[1] == -1
    assert index.locate(0.0, 0.0) == -1


def test_input_in_gcj02_and_bd09(index):
    lon, lat = X0 + 1.5 * D, Y0 + 0.5 * D
    for crs in ("gcj02", "bd09"):
        g_lon, g_lat = from_wgs84(lon, lat, crs)
        assert index.codes[index.assign([g_lon], [g_lat], crs).cell[0]] == "350503001001002"


def test_save_and_load_give_the_same_answers(index, tmp_path):
    path = tmp_path / "plan.npz"
    index.save(path)
    loaded = AssignmentIndex.load(path)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(X0 - D, X0 + 9 * D, 5000), rng.uniform(Y0 - D, Y0 + 3 * D, 5000)
    assert (loaded.assign(x, y).cell == index.assign(x, y).cell).all()


def test_an_index_of_another_format_is_refused(index, tmp_path):
    path = tmp_path / "plan.npz"
    index.save(path)
    # as format 1 wrote it: no format entry, no tiles
    with np.load(path, allow_pickle=True) as data:
        arrays = {k: data[k] for k in data.files if k not in ("format", "tiles")}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="format 1; this version reads format 2"):
        AssignmentIndex.load(path)


def reference(cells, codes, x, y):
    """Plain GEOS covers with the tie rule: what the engine must reproduce."""
    codes = np.asarray(codes)
    tree = shapely.STRtree(cells)
    p, c = tree.query(shapely.points(x, y), predicate="covered_by")
    out = np.full(len(x), None, dtype=object)
    order = np.lexsort((codes[c], p))
    first = np.unique(p[order], return_index=True)[1]
    out[p[order][first]] = codes[c[order][first]]
    return out


def test_agrees_with_covers_on_random_and_boundary_points(index):
    rng = np.random.default_rng(2)
    x = rng.uniform(X0 - D, X0 + 9 * D, 50_000)
    y = rng.uniform(Y0 - D, Y0 + 3 * D, 50_000)
    verts = shapely.get_coordinates(list(CELLS.values()))
    x, y = np.r_[x, verts[:, 0]], np.r_[y, verts[:, 1]]
    got = index.codes_of(index.assign(x, y, nearest=False).cell)
    assert (got == reference(list(CELLS.values()), CODES, x, y)).all()


def test_the_tree_without_a_raster_gives_the_index_answers(index):
    """covering_codes (an area's households against a draft) is the index's rule: ties on
    shared edges and vertices to the smallest code, holes and gaps outside, whatever order
    the cells come in."""
    rng = np.random.default_rng(5)
    x = rng.uniform(X0 - D, X0 + 9 * D, 20_000)
    y = rng.uniform(Y0 - D, Y0 + 3 * D, 20_000)
    verts = shapely.get_coordinates(list(CELLS.values()))
    x, y = np.r_[x, verts[:, 0]], np.r_[y, verts[:, 1]]
    expected = index.codes_of(index.assign(x, y, nearest=False).cell)
    shuffled = rng.permutation(len(CODES))
    got = covering_codes(np.array(list(CELLS.values()))[shuffled], np.array(CODES)[shuffled], x, y)
    assert (got == expected).all()
    assert got[-len(verts) :].tolist().count(None) == 0  # every vertex is some cell's
    assert (
        covering_codes(list(CELLS.values()), CODES, np.array([X0 + D]), np.array([Y0 + D]))[0]
        == "350503001001001"
    )  # the vertex four cells share


@settings(max_examples=300, deadline=None)
@given(st.floats(X0 - D, X0 + 9 * D), st.floats(Y0 - D, Y0 + 3 * D))
def test_single_point_equals_bulk(index, lon, lat):
    assert index.locate(lon, lat) == index.assign([lon], [lat], nearest=False).cell[0]


def test_assign_points_helper():
    codes = assign_points(
        list(CELLS.values()), CODES, np.array([X0 + 0.5 * D, 0.0]), np.array([Y0 + 0.5 * D, 0.0])
    )
    assert list(codes) == ["350503001001001", None]


def test_duplicate_codes_are_refused():
    with pytest.raises(ValueError, match="unique"):
        AssignmentIndex.build([box(0, 0, 1, 1), box(1, 0, 2, 1)], ["a", "a"])


def test_nearest_cell_is_nearest_on_the_ground_not_in_degrees():
    """At 60°N a degree of longitude is half a degree of latitude on the ground: the cell
    0.9° east (about 50 km) is nearer than the one 0.6° north (about 67 km)."""
    from pyproj import Geod
    from shapely.geometry import box

    from gridmap.assign import AssignmentIndex

    east = box(0.9, 59.5, 1.9, 60.5)
    north = box(-0.5, 60.6, 0.5, 61.6)
    index = AssignmentIndex.build([north, east], ["n", "e"])
    cell, metres = index.nearest(0.0, 60.0)
    assert index.codes[cell] == "e"
    expected = Geod(ellps="WGS84").inv(0.0, 60.0, 0.9, 60.0)[2]
    assert metres == pytest.approx(expected, rel=1e-6)
    assert metres < Geod(ellps="WGS84").inv(0.0, 60.0, 0.0, 60.6)[2]


def test_only_points_near_a_boundary_get_an_exact_test(index):
    """A fine pixel holds a list only if a boundary passes within 1.25 of its widths.

    (A piece of an edge is at most half a fine pixel long, and marks the pixels its box
    reaches: their centres are at most (√2/2 + 1/2) widths from the piece.)
    """
    tile, row, col = np.nonzero(index.tiles <= -2)
    pixel = np.flatnonzero((index.raster <= -2).ravel())[tile]
    fx = pixel % index.raster.shape[1] * index.refine + col
    fy = pixel // index.raster.shape[1] * index.refine + row
    centres = shapely.points(index.x0 + (fx + 0.5) * index.fine, index.y0 + (fy + 0.5) * index.fine)
    edges = shapely.union_all(shapely.boundary(index.cells))
    assert len(centres) > 100
    assert shapely.distance(centres, edges).max() <= 1.25 * index.fine


def candidates_at(index, lon, lat):
    """The candidate list a point's fine pixel holds (white box: which tests it gets)."""
    list_id = -(index.stored([lon], [lat])[0] + 2)
    first, end = index.cand_offsets[list_id], index.cand_offsets[list_id + 1]
    return [None if c < 0 else str(index.codes[c]) for c in index.cand_cells[first:end]]


def test_the_last_candidate_is_untested_only_inside_the_grid(index):
    # between two cells: the grid on both sides, so failing 001 means 002
    assert candidates_at(index, X0 + D, Y0 + 0.5 * D) == ["350503001001001", "350503001001002"]
    # on the block's outer edge and the hole's: failing the cell means outside
    assert candidates_at(index, X0, Y0 + 0.5 * D) == ["350503001001001", None]
    assert candidates_at(index, X0 + 3.4 * D, Y0 + 0.5 * D) == ["350503001002001", None]


def gap_and_t_junction_cells(bottom, top):
    """A row of cells with gaps between some, and a row above split elsewhere (T-junctions)."""
    cells, x = [], X0
    for width, gap in bottom:
        cells.append(box(x, Y0, x + width * D, Y0 + D))
        x += width * D + gap
    cuts = X0 + (x - X0) * np.cumsum([0.0, *top]) / sum(top)
    cells += [box(a, Y0 + D, b, Y0 + 2 * D) for a, b in itertools.pairwise(cuts)]
    return cells


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.2, 1.0), st.sampled_from([0.0, 0.0, 1e-9, 1e-7, 1e-4])),
        min_size=2,
        max_size=4,
    ),
    st.lists(st.floats(0.2, 1.0), min_size=1, max_size=3),
)
def test_agrees_with_covers_across_gaps_and_t_junctions(bottom, top):
    """Edges that do not match exactly (a gap, a T-junction) keep their tests."""
    cells = gap_and_t_junction_cells(bottom, top)
    codes = [f"c{i:02d}" for i in range(len(cells))]
    index = AssignmentIndex.build(cells, codes, pixel=0.002)
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = shapely.total_bounds(cells)
    verts = shapely.get_coordinates(cells)
    near = np.repeat(verts, 4, axis=0) + rng.choice([-1e-9, 1e-9, -2e-8, 2e-8], (len(verts) * 4, 2))
    x = np.r_[rng.uniform(xmin - D, xmax + D, 5000), verts[:, 0], near[:, 0]]
    y = np.r_[rng.uniform(ymin - D, ymax + D, 5000), verts[:, 1], near[:, 1]]
    got = index.codes_of(index.assign(x, y, nearest=False).cell)
    assert (got == reference(cells, codes, x, y)).all()
    single = [index.locate(a, b) for a, b in zip(x[::7], y[::7], strict=True)]
    assert (np.array(single) == index.assign(x[::7], y[::7], nearest=False).cell).all()
