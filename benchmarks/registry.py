"""Registry figures on the whole city seed (8.9 M people): the grid worker's cell, person
search, the offline pack and a county's summary, over HTTP against a real server.

    python -m benchmarks.registry [--requests 200] [--url URL]

Generates and loads the city seed (everything) into a throwaway cluster, unless ``--url``
names a database that already holds it, and serves it (one worker). Targets (issue 8):

1. A cell of about 500 households, with members: ``GET /areas/{cell}/households``, the
   three pages of 200 that list all of it, p50/p99 per page and for the whole list.
2. Person search by the last 4 or 6 characters of an ID number as the city administrator
   (all 8.9 M people in scope) and as a county dispatcher: p50/p99; against the obvious
   alternative, ``id_number LIKE '%1234'`` (no index can answer it), run in the same
   session on the same suffixes.
3. The cell's offline pack: time and size (bytes of JSON), and ``?since=`` a minute ago.
4. The summary of the largest county (``GET /areas/{county}``): p50/p99.

The first request of each kind is reported apart (a cold cache, a first plan).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
from sqlalchemy import func, select, text

from benchmarks.common import api_server, throwaway_database
from gridmap.auth.models import Role
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from gridmap.registry.counts import households_per_cell
from seed_data.generate import SeedConfig, generate
from seed_data.load import load

PASSWORD = "Registry-benchmark-2025"


def timed(client: httpx.Client, url: str, token: str, **params: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
    return elapsed, len(r.content)


def stats(name: str, ms: list[float], first: float | None = None, extra: str = "") -> None:
    arr = np.array(ms)
    head = f"first {first:.1f} ms, " if first is not None else ""
    print(f"{name:<52} {head}p50 {np.percentile(arr, 50):6.1f} ms  "
          f"p99 {np.percentile(arr, 99):6.1f} ms  (n={len(arr)}){extra}")  # fmt: skip


def token_of(client: httpx.Client, base: str, username: str) -> str:
    r = client.post(base + "/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return str(r.json()["access_token"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--url", help="use this database (already holding the city seed)")
    args = parser.parse_args()
    if args.url:
        run(args.url, args.requests)
        return
    t0 = time.perf_counter()
    data = generate(SeedConfig(scale="city"))
    print(f"city seed generated in {time.perf_counter() - t0:.0f} s: {len(data.people):,} people")
    with throwaway_database() as url:
        t1 = time.perf_counter()
        engine = make_engine(url)
        load(data, engine)
        engine.dispose()
        del data
        print(f"loaded in {time.perf_counter() - t1:.0f} s")
        run(url, args.requests)


def run(url: str, requests: int) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        people = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
        cells = households_per_cell().subquery()  # the cell nearest 500 households
        cell, households = conn.execute(
            select(cells.c.grid_code, cells.c.households)
            .order_by(func.abs(cells.c.households - 500), cells.c.grid_code).limit(1)
        ).one()  # fmt: skip
        county = conn.execute(text(
            "SELECT left(grid_code, 6) FROM person GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )).scalar_one()  # fmt: skip
        suffixes = [r[0] for r in conn.execute(text(
            "SELECT id_number FROM person TABLESAMPLE SYSTEM (0.1) LIMIT :n"), {"n": requests})]  # fmt: skip
    print(f"{people:,} people; cell {cell} with {households} households; county {county}")
    users = {
        "bench-city": (Role.city_admin, "350500"),
        "bench-county": (Role.county_dispatcher, county),
        "bench-grid": (Role.grid_worker, cell),
    }
    with make_sessionmaker(engine).begin() as session:
        for name, (role, area) in users.items():
            if not session.execute(text("SELECT 1 FROM app_user WHERE username = :u"),
                                   {"u": name}).first():  # fmt: skip
                create_user(session=session, username=name, password=PASSWORD, role=role,
                            area_code=area)  # fmt: skip
    os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "false"
    with api_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=60) as client:
        tokens = {name: token_of(client, base, name) for name in users}
        api = "/api/v1"

        # 1. the cell's households with members
        first, _ = timed(client, f"{api}/areas/{cell}/households", tokens["bench-grid"],
                         page_size=200)  # fmt: skip
        pages, whole = [], []
        for _ in range(max(20, requests // 5)):
            t0 = time.perf_counter()
            for page in (1, 2, 3):
                pages.append(timed(client, f"{api}/areas/{cell}/households", tokens["bench-grid"],
                                   page=page, page_size=200)[0])  # fmt: skip
            whole.append((time.perf_counter() - t0) * 1000)
        stats(f"households of {cell}, a page of 200", pages, first)
        stats(f"households of {cell}, all {households} (3 pages)", whole)

        # 2. person search by ID suffix
        for who in ("bench-city", "bench-county"):
            for width in (4, 6):
                qs = [s[-width:] for s in suffixes]
                first, _ = timed(client, f"{api}/people", tokens[who], q=qs[0])
                ms = [timed(client, f"{api}/people", tokens[who], q=q)[0] for q in qs[1:]]
                stats(f"search last {width} of an ID as {who[6:]}", ms, first)
        with engine.connect() as conn:
            naive, indexed = [], []
            for s in suffixes[: min(20, len(suffixes))]:
                for out, sql in (
                    (naive, "SELECT id FROM person WHERE id_number LIKE :p ORDER BY id LIMIT 20"),
                    (indexed, "SELECT id FROM person WHERE reverse(id_number) LIKE :r "
                              "ORDER BY id LIMIT 20"),
                ):  # fmt: skip
                    t0 = time.perf_counter()
                    conn.execute(text(sql), {"p": "%" + s[-6:], "r": s[-6:][::-1] + "%"}).all()
                    out.append((time.perf_counter() - t0) * 1000)
        ratio = np.median(naive) / np.median(indexed)
        stats("  SQL: reverse(id_number) prefix (the index)", indexed)
        stats("  SQL: id_number LIKE '%suffix' (the alternative)", naive,
              extra=f"  → index {ratio:,.0f}x faster")  # fmt: skip

        # 3. the offline pack
        first, size = timed(client, f"{api}/areas/{cell}/pack", tokens["bench-grid"])
        packs = [timed(client, f"{api}/areas/{cell}/pack", tokens["bench-grid"])
                 for _ in range(max(10, requests // 10))]  # fmt: skip
        stats(f"offline pack of {cell}", [p[0] for p in packs], first,
              extra=f"  {size / 1024:,.0f} KB")  # fmt: skip
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        deltas = [timed(client, f"{api}/areas/{cell}/pack", tokens["bench-grid"], since=since)
                  for _ in range(max(10, requests // 10))]  # fmt: skip
        stats("offline pack ?since= a minute ago", [d[0] for d in deltas],
              extra=f"  {deltas[0][1] / 1024:,.1f} KB")  # fmt: skip

        # 4. the county's summary
        first, _ = timed(client, f"{api}/areas/{county}", tokens["bench-county"])
        ms = [timed(client, f"{api}/areas/{county}", tokens["bench-county"])[0]
              for _ in range(max(20, requests // 5))]  # fmt: skip
        stats(f"summary of county {county}", ms, first)
    engine.dispose()


if __name__ == "__main__":
    main()
