"""The assignment engine: any point → its grid cell (入网入格), for one point or millions.

How it works. The plan's cells are cut into a raster of small lon/lat pixels. A pixel that
no cell boundary comes near lies wholly inside one cell (or wholly outside every cell), so
its answer is stored; points in such pixels are answered by one array lookup. For the few
pixels a boundary passes near, the raster stores the short list of cells that may cover
them, and those points get an exact point-in-polygon test (GEOS, prepared polygons, grouped
by cell) against just those candidates. Points outside every cell are reported as outside
with the nearest cell and the distance to it in metres — never dropped, never snapped.

Why a pixel is safe. Boundaries are sampled every half pixel; every pixel within one pixel
of a sample is marked as a boundary pixel. A boundary crossing a pixel has a sample within
half a pixel of the crossing, so it always marks that pixel: unmarked pixels contain no
boundary.

Tie rule (documented in docs/decisions.md). A point on an edge or a vertex shared by
several cells is covered by all of them (``ST_Covers``); it belongs to the one with the
**smallest code**. Candidates are tried in code order and the first that covers wins.
"""

from __future__ import annotations

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
_GEOD = Geod(ellps="WGS84")
_LAT_REF = np.radians(25.0)


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
    pixel: float
    raster: NDArray[np.int32]  # >= 0 cell, -1 outside, <= -2: candidate list -(v + 2)
    cand_offsets: NDArray[np.int64]
    cand_cells: NDArray[np.int32]
    plan_id: int | None = None
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        cells: ArrayLike,
        codes: ArrayLike,
        *,
        plan_id: int | None = None,
        pixel: float | None = None,
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
        offsets, cand = _mark_boundaries(raster, geoms, x0, y0, pixel)
        return cls(code_arr, geoms, x0, y0, pixel, raster, offsets, cand, plan_id)

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
        cell = np.full(n, OUTSIDE, dtype=np.int64)
        valid = np.isfinite(x) & np.isfinite(y)
        ix = np.full(n, -1, dtype=np.int64)
        iy = np.full(n, -1, dtype=np.int64)
        ix[valid] = np.floor((x[valid] - self.x0) / self.pixel).astype(np.int64)
        iy[valid] = np.floor((y[valid] - self.y0) / self.pixel).astype(np.int64)
        ny, nx = self.raster.shape
        in_box = valid & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        value = np.full(n, OUTSIDE, dtype=np.int64)
        value[in_box] = self.raster[iy[in_box], ix[in_box]]
        cell[value >= 0] = value[value >= 0]
        exact = np.flatnonzero(value <= -2)
        if len(exact):
            cell[exact] = self._exact(x[exact], y[exact], -(value[exact] + 2))
        near = np.full(n, -1, dtype=np.int64)
        distance = np.zeros(n)
        distance[~valid] = np.nan
        outside = np.flatnonzero(valid & (cell < 0))
        if nearest and len(outside):
            near[outside], distance[outside] = self._nearest(x[outside], y[outside])
        else:
            distance[outside] = np.nan
        return Assignment(cell, near, distance)

    def codes_of(self, cell: NDArray[np.int64]) -> NDArray[np.object_]:
        """Codes for cell indices (None for -1)."""
        out = np.full(len(cell), None, dtype=object)
        out[cell >= 0] = self.codes[cell[cell >= 0]]
        return out

    def locate(self, lon: float, lat: float) -> int:
        """The cell index of one WGS84 point, or -1 (fast path for single lookups)."""
        ix = int((lon - self.x0) // self.pixel)
        iy = int((lat - self.y0) // self.pixel)
        ny, nx = self.raster.shape
        if not (0 <= ix < nx and 0 <= iy < ny):
            return OUTSIDE
        value = int(self.raster[iy, ix])
        if value >= -1:
            return value
        list_id = -(value + 2)
        for c in self.cand_cells[self.cand_offsets[list_id] : self.cand_offsets[list_id + 1]]:
            if shapely.intersects_xy(self.cells[c], lon, lat):
                return int(c)
        return OUTSIDE

    def nearest(self, lon: float, lat: float) -> tuple[int, float]:
        """Nearest cell to an outside point and the distance in metres."""
        cell, dist = self._nearest(np.array([lon]), np.array([lat]))
        return int(cell[0]), float(dist[0])

    def _exact(
        self, x: NDArray[np.float64], y: NDArray[np.float64], lists: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Exact test against each point's candidates, in code order; first cover wins."""
        result = np.full(len(x), OUTSIDE, dtype=np.int64)
        start = self.cand_offsets[lists]
        length = self.cand_offsets[lists + 1] - start
        pending = np.arange(len(x))
        for k in range(int(length.max()) if len(length) else 0):
            pending = pending[length[pending] > k]
            if not len(pending):
                break
            cand = self.cand_cells[start[pending] + k]
            order = np.argsort(cand, kind="stable")
            pts, cand = pending[order], cand[order]
            bounds = np.flatnonzero(np.diff(cand)) + 1
            hit = np.zeros(len(pts), dtype=bool)
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(pts)], strict=True):
                hit[lo:hi] = shapely.intersects_xy(
                    self.cells[cand[lo]], x[pts[lo:hi]], y[pts[lo:hi]]
                )
            result[pts[hit]] = cand[hit]
            pending = np.sort(pts[~hit])
        return result

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
            codes=self.codes,
            cells=shapely.to_wkb(self.cells),
            meta=np.array([self.x0, self.y0, self.pixel]),
            plan_id=np.array([-1 if self.plan_id is None else self.plan_id]),
            raster=self.raster,
            cand_offsets=self.cand_offsets,
            cand_cells=self.cand_cells,
        )

    @classmethod
    def load(cls, path: Path) -> AssignmentIndex:
        """Read an index written by :meth:`save`."""
        with np.load(path, allow_pickle=True) as data:
            cells = shapely.from_wkb(data["cells"])
            shapely.prepare(cells)
            x0, y0, pixel = data["meta"]
            plan = int(data["plan_id"][0])
            return cls(
                data["codes"], cells, float(x0), float(y0), float(pixel), data["raster"],
                data["cand_offsets"], data["cand_cells"], None if plan < 0 else plan,
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


def _mark_boundaries(
    raster: NDArray[np.int32], cells: NDArray[np.object_], x0: float, y0: float, pixel: float
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Mark pixels near any boundary with their candidate list; return the lists (CSR)."""
    nx = raster.shape[1]
    lines = shapely.segmentize(shapely.boundary(cells), pixel / 2)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    px = np.floor((coords[:, 0] - x0) / pixel).astype(np.int64)
    py = np.floor((coords[:, 1] - y0) / pixel).astype(np.int64)
    dx, dy = np.meshgrid([-1, 0, 1], [-1, 0, 1])
    pix = ((py[:, None] + dy.ravel()) * nx + (px[:, None] + dx.ravel())).ravel()
    owner = np.repeat(which, 9)
    # the cell holding each marked pixel's centre is a candidate too
    marked = np.unique(pix)
    centre_cell = raster.ravel()[marked]
    has_centre = centre_cell >= 0
    pix = np.concatenate([pix, marked[has_centre]])
    owner = np.concatenate([owner, centre_cell[has_centre]])
    pairs = np.unique(
        np.column_stack([pix, owner]), axis=0
    )  # sorted by pixel, then cell (code order)
    starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])
    pixel_ids = pairs[starts, 0]
    # identical candidate lists share one entry
    lists = np.split(pairs[:, 1], starts[1:])
    keys = [tuple(cands.tolist()) for cands in lists]
    unique: dict[tuple[int, ...], int] = {}
    list_of_pixel = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        list_of_pixel[i] = unique.setdefault(key, len(unique))
    offsets = np.zeros(len(unique) + 1, dtype=np.int64)
    flat: list[int] = []
    for key, j in unique.items():
        flat.extend(key)
        offsets[j + 1] = len(key)
    offsets = np.cumsum(offsets)
    raster.ravel()[pixel_ids] = -(list_of_pixel + 2)
    return offsets, np.asarray(flat, dtype=np.int32)


def assign_points(
    cells: ArrayLike, codes: ArrayLike, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.object_]:
    """The code of the cell covering each WGS84 point (smallest code on ties), None outside."""
    index = AssignmentIndex.build(cells, codes)
    return index.codes_of(index.assign(lon, lat).cell)
