"""Operations figures (issue 30): /metrics scrape, backup and restore, RPO, a migration under load.

    python -m benchmarks.operations [--fraction 0.02] [--rate 100] [--seconds 20]

On a throwaway cluster of the demo seed (``--fraction`` of its people) with its WAL
archived: intake runs at ``--rate`` requests/s against a two-worker server while a base
backup is taken, then while the latest migration is applied; every request that is not
201 is counted. Then the restore to a noted time is timed, the RPO sampled (how long a
committed intake waits until its WAL segment is archived) and /metrics scraped.
``intake_load`` and ``migration_under_load`` are also run by tests/ops/test_migration_load.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from gridmap.db import migrate


@dataclass
class Load:
    """What a stream of intake requests got."""

    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Requests not answered 201."""
        return sum(n for s, n in self.statuses.items() if s != 201)


def intake_body(points: np.ndarray, i: int) -> dict[str, object]:
    """An intake report at the i-th point."""
    x, y = (float(v) for v in points[i % len(points)])
    return {"category": "neighbour", "channel": "grid_app", "lon": x, "lat": y,
            "description": "巡查发现邻里纠纷 (operations)", "people_involved": 2}  # fmt: skip


def intake_load(base: str, token: str, points: np.ndarray, rate: float,
                stop: threading.Event, threads: int = 8) -> Load:  # fmt: skip
    """Post intakes at about ``rate`` per second on ``threads`` clients until ``stop``."""
    load = Load()
    lock = threading.Lock()
    every = threads / rate

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
            i = k
            next_at = time.monotonic()
            while not stop.is_set():
                started = time.monotonic()
                try:
                    r = http.post("/api/v1/incidents", json=intake_body(points, i),
                                  headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
                    status = r.status_code
                    if status != 201:
                        with lock:
                            load.errors.append(r.text[:200])
                except httpx.HTTPError as exc:
                    status = 0
                    with lock:
                        load.errors.append(repr(exc))
                with lock:
                    load.statuses[status] += 1
                    load.seconds.append(time.monotonic() - started)
                i += threads
                next_at += every
                time.sleep(max(0.0, next_at - time.monotonic()))

    workers = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    stop.wait()
    for w in workers:
        w.join()
    return load


def under_load(base: str, token: str, points: np.ndarray, rate: float,
               work: Callable[[], object], settle: float = 1.0) -> tuple[Load, float]:  # fmt: skip
    """Run ``work`` while intake runs (``settle`` s before and after); (load, work seconds)."""
    stop = threading.Event()
    result: list[Load] = []
    runner = threading.Thread(
        target=lambda: result.append(intake_load(base, token, points, rate, stop))
    )
    runner.start()
    time.sleep(settle)
    started = time.monotonic()
    try:
        work()
    finally:
        took = time.monotonic() - started
        time.sleep(settle)
        stop.set()
        runner.join()
    return result[0], took


def migration_under_load(url: str, base: str, token: str, points: np.ndarray,
                         rate: float) -> tuple[Load, float]:  # fmt: skip
    """The latest migration applied while intake runs (the database one step behind first).

    The server was started at head; the step back happens before the traffic starts.
    """
    previous = _previous_revision()
    migrate.downgrade(url, previous)
    return under_load(base, token, points, rate, lambda: migrate.upgrade(url))


def _previous_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://"))
    head = script.get_revision(migrate.head())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


@contextmanager
def archived_cluster(fraction: float) -> Iterator[tuple[str, np.ndarray, object, Path, Path]]:
    """The demo seed in a cluster archiving its WAL: (url, points, cluster, data, backups)."""
    import socket

    from rich.console import Console

    from gridmap.db.cluster import Cluster
    from gridmap.db.session import make_engine
    from gridmap.demo import load_demo
    from gridmap.settings import Settings
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    folder = Path(tempfile.mkdtemp(prefix="gridmap-ops-bench-", dir="/tmp"))
    folder.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir, root = folder / "data", folder / "backup"
    cluster = Cluster(data_dir, port, archive_dir=root / "wal")
    cluster.start()
    try:
        url = cluster.url()
        migrate.upgrade(url)
        seed = generate(SeedConfig(scale="demo", population_fraction=fraction, seed=5))
        fengze = seed.buildings["grid_code"].str.startswith("350503").to_numpy()
        points = seed.buildings.loc[fengze, ["lon", "lat"]].to_numpy()
        engine = make_engine(url)
        load(seed, engine)
        engine.dispose()
        load_demo(url=url, console=Console(quiet=True), settings=Settings(environment="test"))
        yield url, points, cluster, data_dir, root
    finally:
        cluster.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def rpo_samples(cluster: object, url: str, samples: int) -> list[float]:
    """Seconds from a commit until its WAL segment is in the archive, ``samples`` times."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    delays = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(samples):
            conn.execute("CREATE TABLE IF NOT EXISTS rpo_probe (at timestamptz)")
            conn.execute("INSERT INTO rpo_probe VALUES (now())")
            row = conn.execute("SELECT pg_walfile_name(pg_current_wal_insert_lsn())").fetchone()
            segment = str(row[0]) if row else ""
            started = time.monotonic()
            while True:
                done = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
                if done and done[0] and str(done[0]) >= segment:
                    break
                time.sleep(0.1)
            delays.append(time.monotonic() - started)
    return delays


def main() -> None:
    from benchmarks.burst import sign_in
    from benchmarks.common import api_server
    from gridmap.ops import backup

    parser = argparse.ArgumentParser()
    parser.add_argument("--fraction", type=float, default=0.02, help="of the demo's people")
    parser.add_argument("--rate", type=float, default=100.0, help="intake requests/s")
    parser.add_argument("--rpo-samples", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with archived_cluster(args.fraction) as (url, points, cluster, data_dir, root):
        env = {"GRIDMAP_METRICS_NETWORKS": "127.0.0.1", "GRIDMAP_DATA_DIR": str(data_dir),
               "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="gridmap-metrics-")}  # fmt: skip
        with api_server(url, workers=2, env=env) as base:
            token = sign_in(base)
            load, took = under_load(base, token, points, args.rate,
                                    lambda: backup.backup(cluster=cluster, data_dir=data_dir,
                                                          root=root))  # type: ignore[arg-type]  # fmt: skip
            figures["backup_s"] = round(took, 2)
            figures["backup_load"] = {"sent": sum(load.statuses.values()), "failed": load.failed,
                                      "p95_ms": _p95(load.seconds)}  # fmt: skip
            load, took = migration_under_load(url, base, token, points, args.rate)
            figures["migration_s"] = round(took, 2)
            figures["migration_load"] = {"sent": sum(load.statuses.values()),
                                         "failed": load.failed, "p95_ms": _p95(load.seconds)}  # fmt: skip
            time.sleep(2.0)  # the server drains the load's last requests
            scrapes = []
            with httpx.Client() as scraper:  # keeps its connection, as Prometheus does
                for _ in range(100):
                    started = time.perf_counter()
                    assert scraper.get(base + "/metrics").status_code == 200
                    scrapes.append(time.perf_counter() - started)
                    time.sleep(0.05)
            figures["metrics_scrape_ms"] = {"median": round(statistics.median(scrapes) * 1000, 1),
                                            "p95": _p95(scrapes), "max": _p95(scrapes, 100)}  # fmt: skip
        noted = datetime.now(UTC)
        backup.flush_wal(cluster, root)  # type: ignore[arg-type]
        figures["rpo_s"] = [round(d, 1) for d in rpo_samples(cluster, url, args.rpo_samples)]
        started = time.monotonic()
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        copy = backup.restore(root=root, into=root.parent / "restored", port=port, to=noted)
        try:
            backup.finish(copy, root)
            figures["restore_s"] = round(time.monotonic() - started, 1)
        finally:
            copy.destroy()
        newest = backup.list_backups(root)[-1].rows
        figures["rows"] = sum(newest.values())
        figures["incidents"] = newest.get("incident", 0)
    print(json.dumps(figures, indent=1))


def _p95(seconds: list[float], q: float = 95) -> float:
    if not seconds:
        return 0.0
    return round(float(np.percentile(seconds, q)) * 1000, 1)


if __name__ == "__main__":
    main()
