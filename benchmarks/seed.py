"""Seed generation and loading: wall time per stage and peak memory.

python -m benchmarks.seed --scale demo
python -m benchmarks.seed --scale city
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import peak_rss_mb, throwaway_database
from gridmap.db.session import make_engine
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["demo", "city"], default="demo")
    parser.add_argument("--seed", type=int, default=20251231)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = generate(SeedConfig(scale=args.scale, seed=args.seed))
    t_gen = time.perf_counter() - t0
    print(f"scale={args.scale} seed={args.seed}")
    for stage, seconds in data.timings.items():
        print(f"  generate {stage:<10} {seconds:8.1f} s")
    print(f"  generate total     {t_gen:8.1f} s   peak RSS {peak_rss_mb():,.0f} MB")
    with throwaway_database() as url:
        engine = make_engine(url)
        t1 = time.perf_counter()
        done: dict[str, float] = {}
        last = [t1]

        def progress(table: str, rows: int, total: int) -> None:
            now = time.perf_counter()
            done[table] = done.get(table, 0.0) + now - last[0]
            last[0] = now

        counts = load(data, engine, progress=progress)
        t_load = time.perf_counter() - t1
        engine.dispose()
    for table, rows in counts.items():
        print(f"  load {table:<15} {rows:>10,} rows {done.get(table, 0.0):8.1f} s")
    print(f"  load total (COPY + ANALYZE) {t_load:8.1f} s")
    print(f"END-TO-END {t_gen + t_load:.1f} s, peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
