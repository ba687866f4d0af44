"""Incident intake over HTTP: concurrent clients posting to a real server on loopback.

    python -m benchmarks.intake --clients 8 --seconds 20 --workers 2

Loads the demo areas and units into a throwaway database, starts uvicorn, and has
``--clients`` concurrent clients post incidents (each with its own Idempotency-Key; 5% are
retried with the same key, as a phone on a bad network does). Prints requests/s, p50/p99
latency, and acknowledged vs stored counts (zero lost, zero duplicated is the target).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
import numpy as np
from sqlalchemy import text

from benchmarks.common import api_server, throwaway_database
from gridmap.auth.models import Role
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine, make_sessionmaker
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


async def client_loop(
    client: httpx.AsyncClient,
    points: np.ndarray,
    deadline: float,
    results: list,
    rng: np.random.Generator,
) -> None:
    while time.perf_counter() < deadline:
        x, y = points[rng.integers(0, len(points))]
        key = uuid.uuid4().hex
        body = {
            "category": "neighbour",
            "channel": "grid_app",
            "lon": float(x),
            "lat": float(y),
            "description": "巡查发现邻里纠纷",
            "people_involved": 2,
        }
        tries = 2 if rng.random() < 0.05 else 1
        for _ in range(tries):
            t0 = time.perf_counter()
            r = await client.post("/api/v1/incidents", json=body, headers={"Idempotency-Key": key})
            results.append((time.perf_counter() - t0, r.status_code, key))


async def run(base: str, token: str, points: np.ndarray, clients: int, seconds: float) -> list:
    results: list = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as client:
        await client.post(
            "/api/v1/incidents",
            json={
                "category": "neighbour",
                "channel": "grid_app",
                "lon": float(points[0, 0]),
                "lat": float(points[0, 1]),
                "description": "warm-up",
            },
        )
        deadline = time.perf_counter() + seconds
        rngs = [np.random.default_rng(i) for i in range(clients)]
        await asyncio.gather(*(client_loop(client, points, deadline, results, r) for r in rngs))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    data = generate(SeedConfig(scale="demo", population_fraction=0.1))
    points = data.buildings[["lon", "lat"]].to_numpy()
    with throwaway_database() as url:
        engine = make_engine(url)
        load(data, engine, only={"plan", "area", "routing_rule", "department"})
        with make_sessionmaker(engine).begin() as session:
            create_user(
                session=session,
                username="bench",
                password="bench-password",
                role=Role.grid_worker,
                area_code="350503",
            )
        with api_server(url, workers=args.workers) as base:
            token = httpx.post(
                base + "/api/v1/auth/token",
                data={"username": "bench", "password": "bench-password"},
            ).json()["access_token"]
            t0 = time.perf_counter()
            results = asyncio.run(run(base, token, points, args.clients, args.seconds))
            elapsed = time.perf_counter() - t0
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM incident WHERE description <> 'warm-up'")
            ).scalar()
            distinct_keys = conn.execute(
                text(
                    "SELECT count(DISTINCT idempotency_key) FROM incident "
                    "WHERE description <> 'warm-up'"
                )
            ).scalar()
            events = conn.execute(text("SELECT count(*) FROM incident_event")).scalar()
        engine.dispose()
    latency = np.array([r[0] for r in results])
    codes = np.array([r[1] for r in results])
    acknowledged_keys = {r[2] for r in results if r[1] in (200, 201)}
    print(
        f"{args.workers} server workers, {args.clients} clients for {elapsed:.1f} s: {len(results):,} requests, "
        f"{len(results) / elapsed:,.0f} requests/s"
    )
    print(
        f"latency p50 {np.percentile(latency, 50) * 1000:.1f} ms, p99 {np.percentile(latency, 99) * 1000:.1f} ms"
    )
    print("responses: " + ", ".join(f"{c}: {(codes == c).sum():,}" for c in np.unique(codes)))
    print(
        f"acknowledged incidents (distinct keys) {len(acknowledged_keys):,}; stored {stored:,} "
        f"(distinct keys {distinct_keys:,}); lost {len(acknowledged_keys) - stored:,}; "
        f"duplicated {stored - distinct_keys:,}; events {events:,}"
    )


if __name__ == "__main__":
    main()
