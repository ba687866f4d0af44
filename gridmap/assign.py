"""The assignment engine: any point → its grid cell (入网入格), for one point or millions.

How it works. The plan's cells are cut into a raster of lon/lat pixels. A pixel that no
cell boundary touches lies wholly inside one cell (or wholly outside every cell), so its
answer is stored; points in such pixels are answered by one array lookup. A pixel a
boundary touches is cut again into ``refine`` × ``refine`` fine pixels (a *tile*), stored
the same way. Only for the few fine pixels a boundary touches does the tile hold a short
list of the cells that may cover them, and those points get an exact point-in-polygon
test (GEOS, prepared polygons, grouped by cell) against just those candidates. Points
outside every cell are reported as outside with the nearest cell and the distance to it in
metres — never dropped, never snapped.

Why a pixel is safe. Every edge is cut into pieces at most half a fine pixel long, and
every fine pixel the box around a piece (widened by ``_MARGIN_DEG``) reaches is marked: a
boundary passing through a pixel always marks it, so an unmarked pixel contains no
boundary. Pixels are numbered by ``floor((x - x0) / fine)``, the same expression in the
build and in both queries, so a point is always looked up in the pixel the build meant.

Why a test can be skipped. Each ring is oriented with its cell on the left. An edge whose
exact reverse belongs to another cell has a cell on both sides; a fine pixel touched only
by such edges (and whose centre a cell covers) lies wholly inside the grid, so some
candidate covers every point of it: when all the others fail, the last one needs no test.
A fine pixel on the grid's outer edge, a hole or a gap ends its list with "outside" instead.

Tie rule (documented in docs/decisions.md). A point on an edge or a vertex shared by
several cells is covered by all of them (``ST_Covers``); it belongs to the one with the
**smallest code**. Candidates are tried in code order and the first that covers wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod

from gridmap.crs import to_wgs84

OUTSIDE = -1
MAX_PIXELS = 24_000_000  # raster budget: ~96 MB of int32 at most
MIN_PIXEL_DEG = 0.0001  # ~10 m
REFINE = 4  # fine pixels per side of a boundary pixel: 4 × 4 of ~8 m on the city grid
INDEX_FORMAT = 2  # bump when the saved arrays change meaning: cached files are rebuilt
# How far beyond a piece of an edge pixels are marked: ~0.1 mm, far above the rounding of a
# piece's ends (~1e-13°) and far below any pixel.
_MARGIN_DEG = 1e-9
_PIECES_PER_CHUNK = 2_000_000  # bounds the build's memory for long boundaries
_GEOD = Geod(ellps="WGS84")


@dataclass
class Assignment:
    """Bulk result: per point, the cell index (or -1), and for outside points the nearest."""

    cell: NDArray[np.int64]
    nearest: NDArray[np.int64]  # -1 where inside (or no valid coordinates)
    distance_m: NDArray[np.float64]  # 0 inside, NaN without valid coordinates

    @property
    def inside(self) -> NDArray[np.bool_]:
        """True where the point lies in a cell."""
        return self.cell >= 0


@dataclass
class AssignmentIndex:
    """A raster index over one plan's grid cells. Build with :meth:`build`, save, load."""

    codes: NDArray[np.str_]  # sorted; cell index = position
    cells: NDArray[np.object_]  # shapely (multi)polygons, prepared
    x0: float
    y0: float
    pixel: float  # degrees per pixel; a fine pixel is pixel / refine
    refine: int
    raster: NDArray[np.int32]  # >= 0 cell, -1 outside, <= -2: tile -(v + 2)
    tiles: NDArray[np.int32]  # (tile, row, col): >= 0 cell, -1 outside, <= -2: list -(v + 2)
    cand_offsets: NDArray[np.int64]  # candidate lists (CSR); the last entry needs no test
    cand_cells: NDArray[np.int32]
    plan_id: int | None = None
    _tree: shapely.STRtree | None = field(default=None, repr=False)
    fine: float = field(init=False)  # degrees per fine pixel

    def __post_init__(self) -> None:
        if self.refine < 1:
            raise ValueError(f"refine must be a whole number of at least 1, not {self.refine}")
        self.fine = self.pixel / self.refine

    @property
    def nbytes(self) -> int:
        """Memory held by the lookup arrays (the polygons not counted)."""
        arrays = (self.raster, self.tiles, self.cand_offsets, self.cand_cells)
        return sum(a.nbytes for a in arrays)

    def boundary_share(self) -> float:
        """The share of the raster's area whose points need an exact test."""
        exact = (self.tiles <= -2).sum() / self.refine**2
        return float(exact / self.raster.size)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        cells: ArrayLike,
        codes: ArrayLike,
        *,
        plan_id: int | None = None,
        pixel: float | None = None,
        refine: int = REFINE,
    ) -> AssignmentIndex:
        """Index ``cells`` (WGS84 polygons) named by ``codes``."""
        code_arr = np.asarray(codes).astype(str)
        order = np.argsort(code_arr, kind="stable")
        code_arr = code_arr[order]
        geoms = np.asarray(cells, dtype=object)[order]
        if len(set(code_arr)) != len(code_arr):
            raise ValueError("cell codes must be unique")
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        if pixel is None:
            pixel = max(MIN_PIXEL_DEG, float(np.sqrt((xmax - xmin) * (ymax - ymin) / MAX_PIXELS)))
        # one pixel of margin around everything
        x0, y0 = xmin - pixel, ymin - pixel
        nx = int(np.ceil((xmax - x0) / pixel)) + 2
        ny = int(np.ceil((ymax - y0) / pixel)) + 2
        raster = np.full((ny, nx), OUTSIDE, dtype=np.int32)
        shapely.prepare(geoms)
        _label_pixel_centres(raster, geoms, x0, y0, pixel)
        tiles, offsets, cand = _cut_boundary_pixels(raster, geoms, x0, y0, pixel, refine)
        return cls(code_arr, geoms, x0, y0, pixel, refine, raster, tiles, offsets, cand, plan_id)

    # -- queries -----------------------------------------------------------------------------

    def assign(
        self, lon: ArrayLike, lat: ArrayLike, crs: str = "wgs84", *, nearest: bool = True
    ) -> Assignment:
        """Assign points (arrays of any length) in ``crs`` to cells.

        With ``nearest`` (the default), points outside every cell also get the nearest cell
        and the distance to it in metres.
        """
        x, y = to_wgs84(
            np.asarray(lon, dtype=float).ravel(), np.asarray(lat, dtype=float).ravel(), crs
        )
        n = len(x)
        valid = np.isfinite(x) & np.isfinite(y)
        value = self._stored(x, y)
        cell = np.maximum(value, OUTSIDE)
        exact = np.flatnonzero(value <= -2)
        if len(exact):
            cell[exact] = self._first_cover(x[exact], y[exact], -(value[exact] + 2))
        near = np.full(n, -1, dtype=np.int64)
        distance = np.zeros(n)
        distance[~valid] = np.nan
        outside = np.flatnonzero(valid & (cell < 0))
        if nearest and len(outside):
            near[outside], distance[outside] = self._nearest(x[outside], y[outside])
        else:
            distance[outside] = np.nan
        return Assignment(cell, near, distance)

    def stored(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """What the index holds for each WGS84 point.

        Its cell (>= 0), -1 (outside every cell) or a candidate list (<= -2: the point
        needs an exact test).
        """
        x, y = np.asarray(lon, dtype=float).ravel(), np.asarray(lat, dtype=float).ravel()
        return self._stored(x, y)

    def _stored(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        # fine pixel numbers (NaN and inf fail a comparison: outside); a pixel's number is its
        # fine pixels' // refine, exact on integers
        with np.errstate(invalid="ignore"):
            fx = np.floor((x - self.x0) / self.fine)
            fy = np.floor((y - self.y0) / self.fine)
        ny, nx = self.raster.shape
        in_box = (fx >= 0) & (fx < nx * self.refine) & (fy >= 0) & (fy < ny * self.refine)
        at = np.flatnonzero(in_box)
        ix, iy = fx[at].astype(np.int64), fy[at].astype(np.int64)
        found = self.raster[iy // self.refine, ix // self.refine].astype(np.int64)
        tiled = np.flatnonzero(found <= -2)
        found[tiled] = self.tiles[
            -(found[tiled] + 2), iy[tiled] % self.refine, ix[tiled] % self.refine
        ]
        value = np.full(len(x), OUTSIDE, dtype=np.int64)
        value[at] = found
        return value

    def codes_of(self, cell: NDArray[np.int64]) -> NDArray[np.object_]:
        """Codes for cell indices (None for -1)."""
        out = np.full(len(cell), None, dtype=object)
        out[cell >= 0] = self.codes[cell[cell >= 0]]
        return out

    def locate(self, lon: float, lat: float) -> int:
        """The cell index of one WGS84 point, or -1 (fast path for single lookups)."""
        try:  # the same pixel expression as the build and assign: the same pixel
            fx = math.floor((lon - self.x0) / self.fine)
            fy = math.floor((lat - self.y0) / self.fine)
        except (ValueError, OverflowError):  # NaN or infinite
            return OUTSIDE
        px, py = fx // self.refine, fy // self.refine
        ny, nx = self.raster.shape
        if not (0 <= px < nx and 0 <= py < ny):
            return OUTSIDE
        value = int(self.raster.item(py, px))
        if value <= -2:
            value = int(self.tiles.item(-(value + 2), fy % self.refine, fx % self.refine))
        if value >= -1:
            return value
        list_id = -(value + 2)
        first, last = int(self.cand_offsets[list_id]), int(self.cand_offsets[list_id + 1]) - 1
        for c in self.cand_cells[first:last].tolist():
            # the ufunc itself: the wrapper prepares the (already prepared) cell again on
            # every call, ~1 µs of the ~3 µs a test costs
            if shapely.lib.intersects_xy(self.cells[c], lon, lat):
                return int(c)
        return int(self.cand_cells[last])

    def nearest(self, lon: float, lat: float) -> tuple[int, float]:
        """Nearest cell to an outside point and the distance in metres."""
        cell, dist = self._nearest(np.array([lon]), np.array([lat]))
        return int(cell[0]), float(dist[0])

    def _first_cover(
        self, x: NDArray[np.float64], y: NDArray[np.float64], lists: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Each point's candidate list (by id), resolved as :func:`_first_cover` does."""
        return _first_cover(self.cells, self.cand_offsets, self.cand_cells, x, y, lists)

    def _nearest(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        if self._tree is None:
            self._tree = shapely.STRtree(self.cells)
        points = shapely.points(x, y)
        nearest = np.full(len(x), -1, dtype=np.int64)
        dist = np.full(len(x), np.nan)
        # The nearest cell in plain degrees is d away; a degree of longitude is only
        # cos(latitude) as long, so a cell nearer on the ground lies within d / cos(latitude)
        # degrees. Every cell that close is a candidate; the geodesic distance to its closest
        # point decides (ties: the smaller code, i.e. the lower index).
        (pt_idx, _), planar = self._tree.query_nearest(
            points, all_matches=False, return_distance=True
        )
        if not len(pt_idx):
            return nearest, dist
        reach = np.full(len(x), np.nan)
        reach[pt_idx] = planar / np.cos(np.radians(np.clip(y[pt_idx], -89.0, 89.0))) + 1e-12
        valid = np.flatnonzero(~np.isnan(reach))
        pts, cells = self._tree.query(points[valid], predicate="dwithin", distance=reach[valid])
        pts = valid[pts]
        line = shapely.shortest_line(points[pts], self.cells[cells])
        closest = shapely.get_coordinates(line)[1::2]
        _, _, metres = _GEOD.inv(x[pts], y[pts], closest[:, 0], closest[:, 1])
        order = np.lexsort((cells, metres, pts))
        first = order[np.unique(pts[order], return_index=True)[1]]
        nearest[pts[first]] = cells[first]
        dist[pts[first]] = np.asarray(metres, dtype=float)[first]
        return nearest, dist

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index (one .npz file)."""
        np.savez(
            path,
            format=np.array([INDEX_FORMAT]),
            codes=self.codes,
            cells=shapely.to_wkb(self.cells),
            meta=np.array([self.x0, self.y0, self.pixel, self.refine]),
            plan_id=np.array([-1 if self.plan_id is None else self.plan_id]),
            raster=self.raster,
            tiles=self.tiles,
            cand_offsets=self.cand_offsets,
            cand_cells=self.cand_cells,
        )

    @classmethod
    def load(cls, path: Path) -> AssignmentIndex:
        """Read an index written by :meth:`save` (of this format; others are refused)."""
        with np.load(path, allow_pickle=True) as data:
            found = int(data["format"][0]) if "format" in data else 1
            if found != INDEX_FORMAT:
                raise ValueError(
                    f"{path.name} holds an assignment index of format {found}; this version "
                    f"reads format {INDEX_FORMAT}: build the index again"
                )
            cells = shapely.from_wkb(data["cells"])
            shapely.prepare(cells)
            x0, y0, pixel, refine = data["meta"]
            plan = int(data["plan_id"][0])
            return cls(
                data["codes"], cells, float(x0), float(y0), float(pixel), int(refine),
                data["raster"], data["tiles"], data["cand_offsets"], data["cand_cells"],
                None if plan < 0 else plan,
            )  # fmt: skip


def _label_pixel_centres(
    raster: NDArray[np.int32], cells: NDArray[np.object_], x0: float, y0: float, pixel: float
) -> None:
    """Write into ``raster`` the cell containing each pixel centre (or leave -1)."""
    bounds = shapely.bounds(cells)
    for i, (bx0, by0, bx1, by1) in enumerate(bounds):
        c0, c1 = int((bx0 - x0) // pixel), int((bx1 - x0) // pixel) + 1
        r0, r1 = int((by0 - y0) // pixel), int((by1 - y0) // pixel) + 1
        cx = x0 + (np.arange(c0, c1) + 0.5) * pixel
        cy = y0 + (np.arange(r0, r1) + 0.5) * pixel
        gx, gy = np.meshgrid(cx, cy)
        inside = shapely.contains_xy(cells[i], gx, gy)
        window = raster[r0:r1, c0:c1]
        window[inside] = i


def _first_cover(
    cells: NDArray[np.object_],
    offsets: NDArray[np.int64],
    candidates: NDArray[np.int32],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    lists: NDArray[np.int64],
) -> NDArray[np.int64]:
    """The first candidate of each point's list that covers it, in list (code) order.

    The last entry of a list is the answer when all before it fail, untested: a cell when
    the list's pixel lies wholly inside the grid, ``OUTSIDE`` when it may not.
    """
    result = np.full(len(x), OUTSIDE, dtype=np.int64)
    start, last = offsets[lists], offsets[lists + 1] - 1
    pending = np.arange(len(x))
    k = 0
    while len(pending):
        final = start[pending] + k == last[pending]
        result[pending[final]] = candidates[last[pending[final]]]
        pending = pending[~final]
        cand = candidates[start[pending] + k]
        order = np.argsort(cand, kind="stable")  # one cell's points together: its prepared
        pending, cand = pending[order], cand[order]  # index stays in cache
        hit = shapely.intersects_xy(cells[cand], x[pending], y[pending])
        result[pending[hit]] = cand[hit]
        pending = np.sort(pending[~hit])
        k += 1
    return result


def _oriented_edges(
    cells: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Every edge (a → b) with its cell on the left; and whether a cell lies on its right.

    An edge has a cell on its right when its exact reverse belongs to another cell (valid
    cells only: an invalid polygon's orientation says nothing). Edges that do not match
    exactly — a T-junction, a sliver gap — count as outer edges: a test too many, never a
    wrong answer.
    """
    parts, part_cell = shapely.get_parts(cells, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    ring_cell = part_cell[ring_part]
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    flip = (shapely.is_ccw(rings) != exterior)[coord_ring]  # exteriors CCW, holes CW
    same = coord_ring[1:] == coord_ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    flip = flip[:-1][same]
    a[flip], b[flip] = b[flip], a[flip].copy()
    owner = ring_cell[coord_ring[:-1][same]]
    # match each edge's reverse among the forward edges, and the cells that hold it
    n = len(a)
    _, key = _unique_rows(np.block([[a, b], [b, a]]))
    forward, reverse = key[:n], key[n:]
    valid = shapely.is_valid(cells)[owner]
    lowest = np.full(key.max() + 1, np.iinfo(np.int64).max)
    highest = np.full(key.max() + 1, -1)
    np.minimum.at(lowest, forward, np.where(valid, owner, -2))
    np.maximum.at(highest, forward, np.where(valid, owner, len(cells)))
    lo, hi = lowest[reverse], highest[reverse]
    found = (hi >= 0) & (lo >= 0) & (hi < len(cells))  # held by valid cells only
    inner = valid & found & ((lo != owner) | (hi != owner)) & (a != b).any(axis=1)
    return a, b, owner, inner


def _touched_fine_pixels(
    cells: NDArray[np.object_], x0: float, y0: float, fine: float, width: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Fine pixels (``y * width + x``) any boundary touches: (pixel, cell) pairs, and outer ones.

    Edges are cut into pieces of at most half a fine pixel; a piece marks every pixel its
    box (widened by ``_MARGIN_DEG``) reaches — at most 2 × 2. Returns the sorted unique
    (pixel, cell) pairs as two arrays, and the sorted pixels an outer edge touches.
    """
    a, b, owner, inner = _oriented_edges(cells)
    pieces = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / (fine / 2))).astype(np.int64)
    ends = np.cumsum(pieces)
    pairs, outer = [], []
    n_cells = len(cells)
    lo_edge = 0
    while lo_edge < len(a):  # chunks of edges, ~_PIECES_PER_CHUNK pieces each
        base = ends[lo_edge - 1] if lo_edge else 0
        hi_edge = int(np.searchsorted(ends, base + _PIECES_PER_CHUNK, side="right"))
        hi_edge = max(hi_edge, lo_edge + 1)
        counts = pieces[lo_edge:hi_edge]
        edge = np.repeat(np.arange(lo_edge, hi_edge), counts)
        k = np.arange(len(edge)) - np.repeat(np.cumsum(counts) - counts, counts)
        step = (b[edge] - a[edge]) / pieces[edge, None]
        p, q = a[edge] + step * k[:, None], a[edge] + step * (k[:, None] + 1)
        lo = np.floor((np.minimum(p, q) - _MARGIN_DEG - (x0, y0)) / fine).astype(np.int64)
        hi = np.floor((np.maximum(p, q) + _MARGIN_DEG - (x0, y0)) / fine).astype(np.int64)
        span = int((hi - lo).max())
        for dx in range(span + 1):
            for dy in range(span + 1):
                gx = np.minimum(lo[:, 0] + dx, hi[:, 0])
                gy = np.minimum(lo[:, 1] + dy, hi[:, 1])
                pix = gy * width + gx
                pairs.append(_unique(pix * n_cells + owner[edge]))
                outer.append(_unique(pix[~inner[edge]]))
        lo_edge = hi_edge
    empty = np.zeros(0, dtype=np.int64)
    both = _unique(np.concatenate(pairs)) if pairs else empty
    outer_pix = _unique(np.concatenate(outer)) if outer else empty
    return both // n_cells, both % n_cells, outer_pix


def _cut_boundary_pixels(
    raster: NDArray[np.int32],
    cells: NDArray[np.object_],
    x0: float,
    y0: float,
    pixel: float,
    refine: int,
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int32]]:
    """Turn every pixel a boundary touches into a tile of fine pixels; the tiles and lists.

    A fine pixel no boundary touches holds the cell covering its centre (or -1); one a
    boundary touches holds its candidate list: the cells whose boundary touches it and the
    cell covering its centre, in code order, then ``OUTSIDE`` when an outer edge touches it
    or no cell covers its centre. The raster's boundary pixels are set to their tile.
    """
    nx = raster.shape[1]
    fine = pixel / refine
    width = nx * refine
    touched, owner, outer_pix = _touched_fine_pixels(cells, x0, y0, fine, width)
    fx, fy = touched % width, touched // width
    tile_pixel, tile_of = _unique_rows(((fy // refine) * nx + fx // refine)[:, None])
    tile_pixel = tile_pixel[:, 0]
    # every cell that may cover a point of a tile: a boundary in it, or the pixel's centre
    centre_cell = raster.ravel()[tile_pixel].astype(np.int64)
    has = centre_cell >= 0
    tile_lists = _unique(
        np.r_[tile_of * len(cells) + owner, np.flatnonzero(has) * len(cells) + centre_cell[has]]
    )
    offsets, cand = _csr(tile_lists // len(cells), tile_lists % len(cells), len(tile_pixel))
    # the cell covering each fine pixel's centre, tested against its tile's candidates
    sub = np.arange(refine)
    cx = (tile_pixel % nx)[:, None, None] * refine + sub[None, None, :]
    cy = (tile_pixel // nx)[:, None, None] * refine + sub[None, :, None]
    cx, cy = np.broadcast_arrays(cx, cy)
    tiles = _first_cover(
        cells, offsets, cand, x0 + (cx.ravel() + 0.5) * fine, y0 + (cy.ravel() + 0.5) * fine,
        np.repeat(np.arange(len(tile_pixel)), refine * refine),
    ).reshape(len(tile_pixel), refine, refine)  # fmt: skip
    # touched fine pixels: their candidates, and whether the last may be "outside"
    first = np.flatnonzero(np.r_[True, touched[1:] != touched[:-1]])  # touched is sorted
    marked = touched[first]
    where = np.searchsorted(marked, touched)
    m_tile, m_row, m_col = tile_of[first], fy[first] % refine, fx[first] % refine
    centre = tiles[m_tile, m_row, m_col]
    has = centre >= 0
    pairs = _unique(
        np.r_[where * len(cells) + owner, np.flatnonzero(has) * len(cells) + centre[has]]
    )
    open_end = ~has | np.isin(marked, outer_pix)
    value, offsets, cand = _candidate_lists(pairs // len(cells), pairs % len(cells), open_end)
    tiles[m_tile, m_row, m_col] = value
    raster.ravel()[tile_pixel] = -(np.arange(len(tile_pixel)) + 2)
    return tiles.astype(np.int32), offsets, cand


def _csr(
    group: NDArray[np.int64], member: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Lists from sorted (group, member) pairs, each ending with ``OUTSIDE`` (all tested)."""
    sizes = np.bincount(group, minlength=n) + 1
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    cand = np.full(offsets[-1], OUTSIDE, dtype=np.int32)
    within = np.arange(len(group)) - np.searchsorted(group, group)
    cand[offsets[group] + within] = member
    return offsets, cand


def _candidate_lists(
    pixel: NDArray[np.int64], cell: NDArray[np.int64], open_end: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]:
    """Each pixel's value and the shared lists, from sorted (pixel, cell) pairs.

    A pixel with one candidate and no open end is that cell, no list; identical lists
    are stored once.
    """
    n = len(open_end)
    size = np.bincount(pixel, minlength=n)
    width = int(size.max()) + 1 if n else 1
    table = np.full((n, width), -2, dtype=np.int64)  # -2 pads; -1 is OUTSIDE
    within = np.arange(len(pixel)) - np.searchsorted(pixel, pixel)
    table[pixel, within] = cell
    table[np.arange(n)[open_end], size[open_end]] = OUTSIDE
    single = (size == 1) & ~open_end
    value = np.empty(n, dtype=np.int64)
    value[single] = table[single, 0]
    lists, which = _unique_rows(table[~single])
    value[~single] = -(which + 2)
    length = (lists != -2).sum(axis=1)
    offsets = np.r_[0, np.cumsum(length)].astype(np.int64)
    return value, offsets, lists[lists != -2].astype(np.int32)


def _unique(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """The sorted distinct values.

    By a sort: numpy 2's hashing ``unique`` was 10× slower on the tens of millions of pixel
    numbers of the city grid.
    """
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _unique_rows(table: NDArray[np.generic]) -> tuple[NDArray[np.generic], NDArray[np.int64]]:
    """The distinct rows of ``table`` (sorted) and, for each row, the number of its own."""
    if not len(table):
        return table, np.zeros(0, dtype=np.int64)
    order = np.lexsort(table.T[::-1])
    rows = table[order]
    new = np.r_[True, (rows[1:] != rows[:-1]).any(axis=1)]
    inverse = np.empty(len(table), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return rows[new], inverse


def assign_points(
    cells: ArrayLike, codes: ArrayLike, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.object_]:
    """The code of the cell covering each WGS84 point (smallest code on ties), None outside."""
    index = AssignmentIndex.build(cells, codes)
    return index.codes_of(index.assign(lon, lat).cell)


def covering_codes(
    cells: ArrayLike, codes: ArrayLike, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.object_]:
    """The code of the cell covering each WGS84 point (smallest code on ties), None outside.

    The index's rule (:func:`assign_points`) without its raster, for up to a million points
    or so — an area's households against a draft's cells: the raster of a county takes
    seconds to build, a tree of its cells milliseconds, and the answer is the same
    (``tests/engine/test_assign.py``). Each place is asked once (households share their
    building's point: 770 k households, 297 k places in a county); candidates come from
    the tree's boxes, then one exact test each (a polygon intersects a point it covers).
    """
    code_arr = np.asarray(codes).astype(str)
    order = np.argsort(code_arr, kind="stable")
    geoms = np.asarray(cells, dtype=object)[order]
    xy = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
    places, asked = np.unique(xy.view(np.complex128).ravel(), return_inverse=True)
    x, y = places.real, places.imag
    point, cell = shapely.STRtree(geoms).query(shapely.points(x, y))
    shapely.prepare(geoms)
    covers = shapely.intersects_xy(geoms[cell], x[point], y[point])
    first = np.full(len(places), len(geoms), dtype=np.int64)  # past the last: no cell
    np.minimum.at(first, point[covers], cell[covers])  # code order: the smallest code wins
    found = np.concatenate([code_arr[order], np.array([None])]).astype(object)
    return found[first[asked.ravel()]]
