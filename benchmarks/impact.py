"""The change-impact endpoint under load: kept reports, one per user, a few per process.

    python -m benchmarks.impact [--fraction 0.1] [--planners 6]

A throwaway cluster with the demo seed (``--fraction`` of its population) and a draft (every
10th village redrawn as strips, as benchmarks/activation.py does); a server on it twice:
*unbounded* (nothing kept, as many computations at once as asked — the old behaviour, except
the one-per-user lock, which is not a setting) and with the defaults. For each: one
planner's report city-wide, then the same again; ``--planners`` planners asking at once
for another pair of plans; one planner asking three times at once. Figures go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text

from api.app import create_app
from benchmarks.activation import strips_draft
from benchmarks.common import throwaway_database
from gridmap.auth.models import Role
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from gridmap.settings import Settings

PASSWORD = "Planner-pass-2025"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, **settings: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    config = Settings(environment="test", database_url=url, data_dir=Path(tempfile.mkdtemp()),
                      secret_key="b" * 48, rate_limits_enabled=False, **settings)  # fmt: skip
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/api/v1"


def _at_once(calls: list[tuple[str, str, dict[str, Any]]]) -> tuple[float, list[tuple[int, float]]]:
    """(wall time, [(status, seconds)]) of GET requests sent together: (url, token, params)."""
    out: list[tuple[int, float]] = [(0, 0.0)] * len(calls)

    def get(i: int) -> None:
        url, token, params = calls[i]
        start = time.perf_counter()
        r = httpx.get(url, params=params, headers={"Authorization": f"Bearer {token}"},
                      timeout=900)  # fmt: skip
        out[i] = (r.status_code, time.perf_counter() - start)

    start = time.perf_counter()
    threads = [threading.Thread(target=get, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, out


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--planners", type=int, default=6)
    args = parser.parse_args()
    with throwaway_database("impact") as url:
        engine = make_engine(url)
        load(generate(SeedConfig(scale="demo", population_fraction=args.fraction, seed=5)), engine)
        draft = strips_draft(engine, "strips", 10)
        with make_sessionmaker(engine).begin() as session:
            active = session.execute(text("SELECT id FROM plan WHERE status = 'active'")).scalar()
            households = session.execute(
                text("SELECT count(*) FROM household WHERE status = 'active'")
            ).scalar()
            for i in range(args.planners):
                create_user(session=session, username=f"planner{i}", password=PASSWORD,
                            role=Role.planner, area_code="350500")  # fmt: skip
        engine.dispose()
        print(f"demo seed x{args.fraction}: {households:,} active households")
        for label, settings in (
            ("unbounded", {"plan_impact_cache_seconds": 0, "plan_impact_slots": 64}),
            ("defaults", {}),
        ):
            server, thread, base = _serve(url, **settings)
            tokens = [
                httpx.post(f"{base}/auth/token",
                           data={"username": f"planner{i}", "password": PASSWORD}).json()[
                    "access_token"]
                for i in range(args.planners)
            ]  # fmt: skip
            report = f"{base}/plans/{draft}/impact"
            _, [cold] = _at_once([(report, tokens[0], {})])
            _, [again] = _at_once([(report, tokens[0], {})])
            swapped = f"{base}/plans/{active}/impact"
            wall, many = _at_once([(swapped, t, {"against": draft}) for t in tokens])
            _, thrice = _at_once([(report, tokens[1], {"area": "350503"})] * 3)
            server.should_exit = True
            thread.join()
            print(f"{label}: city-wide {cold[1]:.2f} s ({cold[0]}), again {again[1]:.3f} s "
                  f"({again[0]}); {args.planners} planners at once: all answered in {wall:.2f} s, "
                  f"{sorted((s, round(t, 2)) for s, t in many)}; one planner 3 at once "
                  f"(a county): {sorted((s, round(t, 2)) for s, t in thrice)}")  # fmt: skip


if __name__ == "__main__":
    main()
