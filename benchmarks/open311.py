"""Open311 GeoReport v2 figures over HTTP against a real server on the city seed.

    python -m benchmarks.open311 --url URL [--requests 200]

``URL`` names a database holding the city seed (``gridmap seed --scale city``): its
36,958 appeals of 2025 make the public list realistic. Prints p50/p99 of:

1. ``POST requests.json`` (form-encoded, one client) against the obvious alternative,
   ``POST /api/v1/incidents`` with the same report as JSON (the same intake): the ratio
   is what the Open311 layer costs.
2. ``GET requests.json`` for a 90-day window (the spec's cap of 1000 requests: the
   cell points, addresses and last-update times of 1000 incidents) in JSON and XML.
3. ``GET requests/{id}.json``.

The first request of each kind is reported apart. The reports posted are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import httpx
import numpy as np
from sqlalchemy import text

from benchmarks.common import api_server
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from gridmap.open311.clients import create_client


def stats(name: str, ms: list[float], first: float) -> float:
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    print(f"{name:<44} first {first:6.1f} ms  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (n={len(ms)})")
    return float(p50)


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    with make_sessionmaker(engine).begin() as session:
        client_row, key = create_client(session, name)
        client_id = client_row.id
    with engine.connect() as conn:
        points = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM area "
            "WHERE level = 'grid' AND plan_id = (SELECT id FROM plan WHERE status = 'active') "
            "ORDER BY code LIMIT :n) s"), {"n": n}).all()  # fmt: skip
        end = conn.scalar(text("SELECT max(reported_at) FROM incident WHERE channel = 'hotline'"))
    os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "false"
    try:
        with api_server(url, wait_s=300) as base, httpx.Client(timeout=60) as http:
            o311 = base + "/open311/v2"
            posted: list[float] = []
            codes = []
            for x, y in points:
                t0 = time.perf_counter()
                r = http.post(o311 + "/requests.json", data={
                    "api_key": key, "service_code": "road_damage", "lat": y, "long": x,
                    "description": "路灯不亮", "phone": "13805951234"})  # fmt: skip
                posted.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text
                codes.append(r.json()[0]["service_request_id"])
            p_o311 = stats("POST requests.json (Open311 form)", posted[1:], posted[0])
            as_json: list[float] = []
            for x, y in points:
                t0 = time.perf_counter()
                r = http.post(base + "/api/v1/incidents", json={
                    "category": "road_damage", "channel": "citizen_app", "lon": x, "lat": y,
                    "description": "路灯不亮", "reporter_phone": "13805951234"})  # fmt: skip
                as_json.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text
            p_json = stats("POST /api/v1/incidents (JSON, same intake)", as_json[1:], as_json[0])
            print(f"  Open311 / JSON at p50: {p_o311 / p_json:.2f}x")
            window = {"start_date": (end - np.timedelta64(90, "D").item()).isoformat(),
                      "end_date": end.isoformat()}  # fmt: skip
            for fmt in ("json", "xml"):
                ms = []
                for _ in range(max(n // 10, 10)):
                    t0 = time.perf_counter()
                    r = http.get(f"{o311}/requests.{fmt}", params=window)
                    ms.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200
                count = len(r.json()) if fmt == "json" else r.text.count("<request>")
                stats(f"GET requests.{fmt}, 90 days ({count} requests, {len(r.content) // 1024} KB)",
                      ms[1:], ms[0])  # fmt: skip
            ms = []
            for code in codes:
                t0 = time.perf_counter()
                r = http.get(f"{o311}/requests/{code}.json")
                ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            stats("GET requests/{id}.json", ms[1:], ms[0])
    finally:
        with engine.begin() as conn:
            # the benchmark's own rows: the append-only trigger is skipped for this cleanup
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(
                "DELETE FROM incident_event WHERE incident_id IN (SELECT id FROM incident "
                "WHERE api_client_id = :c OR (channel = 'citizen_app' AND description = '路灯不亮' "
                "AND reported_at > now() - interval '1 hour'))"), {"c": client_id})  # fmt: skip
            conn.execute(text(
                "DELETE FROM incident WHERE api_client_id = :c OR (channel = 'citizen_app' AND "
                "description = '路灯不亮' AND reported_at > now() - interval '1 hour')"),
                {"c": client_id})  # fmt: skip
            conn.execute(text("DELETE FROM api_client WHERE id = :c"), {"c": client_id})
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="a database holding the city seed")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    run(args.url, args.requests)


if __name__ == "__main__":
    main()
