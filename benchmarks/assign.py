"""Assignment engine vs geopandas.sjoin vs a PostGIS join, on the city grid.

    python -m benchmarks.assign                # 1 M and 10 M points, single-point latency, HTTP
    python -m benchmarks.assign --sizes 1000000 --no-http

Points: 95% where households are (jittered ~30 m), 5% anywhere in the city's bounding box
(many of those outside, at sea or beyond the border). Prints points/s, the ratio to
geopandas.sjoin, mismatches (engine vs sjoin, engine vs PostGIS ST_Covers with the tie
rule), index build time and memory, and /locate latency.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from benchmarks.common import api_server, peak_rss_mb, throwaway_database
from gridmap.assign import AssignmentIndex
from gridmap.db.session import make_engine
from seed_data.generate import SeedConfig, generate
from seed_data.load import load, points


def make_points(
    rng: np.random.Generator, homes: np.ndarray, bbox: np.ndarray, n: int
) -> np.ndarray:
    """``n`` lon/lat points: 95% near homes, 5% anywhere in ``bbox``."""
    n_home = int(n * 0.95)
    at = homes[rng.integers(0, len(homes), n_home)]
    jitter = rng.normal(0, 30, (n_home, 2)) / np.array([101_000.0, 110_574.0])
    xmin, ymin, xmax, ymax = bbox
    anywhere = np.column_stack(
        [rng.uniform(xmin, xmax, n - n_home), rng.uniform(ymin, ymax, n - n_home)]
    )
    pts = np.concatenate([at + jitter, anywhere])
    return pts[rng.permutation(n)]


def postgis_join(
    url: str, grids: gpd.GeoDataFrame, pts: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """ST_Covers join with the tie rule; returns codes, load seconds, join seconds."""
    engine = make_engine(url)
    raw = engine.raw_connection()
    conn = raw.driver_connection
    with conn.cursor() as cur:  # type: ignore[union-attr]
        cur.execute("DROP TABLE IF EXISTS cells, pts")
        cur.execute("CREATE TABLE cells (code text, geom geometry(MultiPolygon, 4326))")
        with cur.copy("COPY cells (code, geom) FROM STDIN") as copy:
            wkb = shapely.to_wkb(
                shapely.set_srid(grids.geometry.values, 4326), hex=True, include_srid=True
            )
            copy.write("".join(f"{c}\t{w}\n" for c, w in zip(grids.code, wkb, strict=True)))
        cur.execute("CREATE INDEX ON cells USING gist (geom)")
        t0 = time.perf_counter()
        cur.execute("CREATE TABLE pts (id int, geom geometry(Point, 4326))")
        step = 1_000_000
        for start in range(0, len(pts), step):
            chunk = pts[start : start + step]
            hexes = points(chunk[:, 0], chunk[:, 1])
            with cur.copy("COPY pts (id, geom) FROM STDIN") as copy:
                copy.write("".join(f"{start + i}\t{h}\n" for i, h in enumerate(hexes)))
        cur.execute("CREATE INDEX ON pts USING gist (geom)")
        cur.execute("ANALYZE cells")
        cur.execute("ANALYZE pts")
        conn.commit()  # type: ignore[union-attr]
        t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        # polygons on the outer side, GiST on the points (4× faster than the default plan)
        cur.execute(
            "SELECT m.id, min(c.code) FROM cells c CROSS JOIN LATERAL "
            "(SELECT id FROM pts p WHERE ST_Covers(c.geom, p.geom) OFFSET 0) m GROUP BY m.id"
        )
        rows = cur.fetchall()
        t_join = time.perf_counter() - t1
        cur.execute("DROP TABLE pts")
        conn.commit()  # type: ignore[union-attr]
    raw.close()
    engine.dispose()
    out = np.full(len(pts), None, dtype=object)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    out[ids] = [r[1] for r in rows]
    return out, t_load, t_join


def http_latency(url: str, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """p50/p99 (ms) of GET /api/v1/locate over loopback against a real uvicorn server."""
    import httpx

    with api_server(url) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.get("/api/v1/locate", params={"lon": lon[0], "lat": lat[0]})  # builds the index
        times = []
        for x, y in zip(lon, lat, strict=True):
            t = time.perf_counter()
            r = client.get("/api/v1/locate", params={"lon": x, "lat": y, "category": "labour"})
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 99) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(1)

    t0 = time.perf_counter()
    data = generate(SeedConfig(scale="city"))
    grids = data.areas[data.areas.level == "grid"].reset_index(drop=True)
    homes = data.households[["lon", "lat"]].to_numpy()
    print(f"city grid: {len(grids):,} cells (seed generated in {time.perf_counter() - t0:.0f} s)")

    t0 = time.perf_counter()
    index = AssignmentIndex.build(grids.geometry.values, grids.code.to_numpy())
    t_build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.npz"
        index.save(path)
        t0 = time.perf_counter()
        AssignmentIndex.load(path)
        t_load = time.perf_counter() - t0
        size = path.stat().st_size / 1e6
    # what the figures ran on: the next change to the grid or the engine shows here
    metres = 111_320 * np.cos(
        np.radians(np.mean(shapely.total_bounds(grids.geometry.values)[1::2]))
    )
    print(
        f"index: build {t_build:.1f} s, load {t_load:.2f} s; raster {index.raster.shape[1]}×{index.raster.shape[0]} "
        f"pixels of {index.pixel:.6f}° (~{index.pixel * metres:.0f} m), {(index.raster <= -2).mean():.1%} of them "
        f"on a boundary, each cut into {index.refine}×{index.refine} of ~{index.fine * metres:.0f} m; "
        f"{index.boundary_share():.2%} of the area needs an exact test; {index.nbytes / 1e6:.0f} MB in memory, "
        f"{size:.0f} MB on disk"
    )

    bbox = shapely.total_bounds(grids.geometry.values)
    with throwaway_database() as url:
        for n in sizes:
            pts = make_points(rng, homes, bbox, n)
            t0 = time.perf_counter()
            result = index.assign(pts[:, 0], pts[:, 1], nearest=False)
            t_engine = time.perf_counter() - t0
            ours = index.codes_of(result.cell)
            t0 = time.perf_counter()
            with_nearest = index.assign(pts[:, 0], pts[:, 1])
            t_nearest = time.perf_counter() - t0
            geoms = gpd.GeoDataFrame(geometry=shapely.points(pts), crs="EPSG:4326")
            t0 = time.perf_counter()
            joined = gpd.sjoin(geoms, grids[["code", "geometry"]], predicate="within", how="left")
            t_sjoin = time.perf_counter() - t0
            joined = joined[~joined.index.duplicated()]
            theirs = joined["code"].to_numpy(dtype=object)
            theirs[joined["code"].isna().to_numpy()] = None
            mism_sjoin = int((ours != theirs).sum())
            outside = int((~result.inside).sum())
            tested = (index.stored(pts[:, 0], pts[:, 1]) <= -2).mean()
            print(
                f"\n{n:,} points ({outside:,} outside the city; {tested:.1%} needed an exact test):"
            )
            print(f"  engine            {t_engine:7.2f} s  {n / t_engine / 1e6:6.2f} M points/s")
            print(
                f"  engine + nearest  {t_nearest:7.2f} s  (nearest cell and metres for outside points; "
                f"median {np.nanmedian(with_nearest.distance_m[~with_nearest.inside]):,.0f} m)"
            )
            print(
                f"  geopandas.sjoin   {t_sjoin:7.2f} s  {n / t_sjoin / 1e6:6.2f} M points/s   "
                f"engine is {t_sjoin / t_engine:.1f}× faster; mismatches {mism_sjoin}"
            )
            if not args.no_postgis:
                pg, t_pg_load, t_pg = postgis_join(url, grids, pts)
                mism_pg = int((ours != pg).sum())
                print(
                    f"  PostGIS join      {t_pg:7.2f} s  {n / t_pg / 1e6:6.2f} M points/s   "
                    f"engine is {t_pg / t_engine:.1f}× faster; mismatches {mism_pg} "
                    f"(loading the points took {t_pg_load:.1f} s more)"
                )
            del geoms, joined

        single = make_points(rng, homes, bbox, 200_000)
        lat_ns = np.empty(len(single))
        for i, (x, y) in enumerate(single):
            t = time.perf_counter_ns()
            index.locate(x, y)
            lat_ns[i] = time.perf_counter_ns() - t
        print(
            f"\nsingle point in-process: p50 {np.percentile(lat_ns, 50) / 1000:.2f} µs, "
            f"p99 {np.percentile(lat_ns, 99) / 1000:.2f} µs"
        )
        if not args.no_http:
            engine = make_engine(url)
            load(data, engine, only={"plan", "area", "routing_rule", "department"})
            engine.dispose()
            probe = single[:3000]
            inside = probe[index.assign(probe[:, 0], probe[:, 1], nearest=False).inside]
            p50, p99 = http_latency(url, inside[:2000, 0], inside[:2000, 1])
            print(
                f"/locate over HTTP (loopback, keep-alive, with routing): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )
    print(f"\npeak RSS {peak_rss_mb():,.0f} MB (the city seed generation dominates)")


if __name__ == "__main__":
    main()
