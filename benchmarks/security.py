"""Abuse figures: a longer schemathesis run, and what a sign-in flood does to everyone else.

    python -m benchmarks.security [--examples 100] [--flood-seconds 8]

1. Fuzzing: every operation of the OpenAPI document, valid and invalid requests, as a
   township dispatcher and as a grid worker, on a real server; prints the cases run, the
   5xx answers and the answers that do not match the document (status, schema, headers).
2. Sign-in flood: the latency of ``GET /locate`` alone, then while 8 clients send wrong
   passwords as fast as they can (rate limits off, as if from many addresses: the worst
   case), then with the rate limits on. argon2 is slow on purpose; one hash at a time per
   worker process keeps it from taking every core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx
import numpy as np
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.common import api_server, throwaway_database
from gridmap.auth.models import Role
from gridmap.auth.security import create_token
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from seed_data.generate import SeedConfig, generate
from seed_data.load import load

SECRET = "benchmark-secret-key-long-enough-for-hs256-0123456789"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]  # fmt: skip


def fuzz(base: str, token: str, examples: int) -> tuple[int, int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    cases = server_errors = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate])  # fmt: skip
            def run(case):
                nonlocal cases, server_errors
                headers = dict(case.headers or {})
                headers.setdefault("Authorization", f"Bearer {token}")
                case.headers = headers
                cases += 1
                response = case.call(timeout=30)
                server_errors += response.status_code >= 500
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:300]}")
    return cases, server_errors, failures


async def latency(base: str, seconds: float, flood: bool) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        stop = time.perf_counter() + seconds
        samples: list[float] = []

        async def probe() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                await client.get("/api/v1/locate", params={"lon": 118.59, "lat": 24.91})
                samples.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)

        async def attack(i: int) -> None:
            while time.perf_counter() < stop:
                await client.post("/api/v1/auth/token",
                                  data={"username": f"victim{i}", "password": "guess-123456"})  # fmt: skip

        await asyncio.gather(probe(), *(attack(i) for i in range(8 if flood else 0)))
        return samples


def describe(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100, help="per operation, mode and role")
    parser.add_argument("--flood-seconds", type=float, default=8)
    args = parser.parse_args()
    data = generate(SeedConfig(scale="demo", population_fraction=0.01, seed=5))
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    grid = data.areas[(data.areas.level == "grid") & data.areas.code.str.startswith(township)]
    with throwaway_database() as url:
        engine = make_engine(url)
        load(data, engine)
        tokens = {}
        with make_sessionmaker(engine).begin() as session:
            for name, role, area in (("fuzz-township", Role.township_dispatcher, township),
                                     ("fuzz-grid", Role.grid_worker, grid.code.iloc[0])):  # fmt: skip
                user = create_user(session=session, username=name, password="Fuzz-pass-2025",
                                   role=role, area_code=area)  # fmt: skip
                tokens[role] = create_token(secret=SECRET, user_id=user.id, username=name,
                                            role=role, area_code=area, minutes=120)  # fmt: skip
        engine.dispose()
        os.environ |= {"GRIDMAP_SECRET_KEY": SECRET, "GRIDMAP_RATE_LIMITS_ENABLED": "false"}
        with api_server(url, workers=2) as base:
            t0 = time.perf_counter()
            total_cases = total_5xx = 0
            all_failures: list[str] = []
            for role, token in tokens.items():
                cases, errors, failures = fuzz(base, token, args.examples)
                total_cases += cases
                total_5xx += errors
                all_failures += [f"[{role.value}] {f}" for f in failures]
            print(f"fuzzing: {total_cases:,} cases in {time.perf_counter() - t0:.0f} s, "
                  f"{total_5xx} answered 5xx, {len(all_failures)} operations with an answer the "
                  "document does not describe")  # fmt: skip
            for failure in all_failures:
                print("  " + failure)
            quiet = asyncio.run(latency(base, args.flood_seconds, flood=False))
            flooded = asyncio.run(latency(base, args.flood_seconds, flood=True))
        os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "true"
        with api_server(url, workers=2) as base:
            limited = asyncio.run(latency(base, args.flood_seconds, flood=True))
    print(f"GET /locate alone: {describe(quiet)}")
    print(
        f"  during a sign-in flood, no rate limits: {describe(flooded)} "
        f"({statistics.median(flooded) / statistics.median(quiet):.1f}x the median)"
    )
    print(
        f"  during a sign-in flood, rate limits on: {describe(limited)} "
        f"({statistics.median(limited) / statistics.median(quiet):.1f}x the median)"
    )


if __name__ == "__main__":
    main()
