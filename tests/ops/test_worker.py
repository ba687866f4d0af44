"""``gridmap worker``: two workers run each job once per tick; the real jobs do their work."""

from __future__ import annotations

import threading
from collections import Counter

from gridmap.db.session import make_engine
from gridmap.ops import jobs


def test_two_workers_run_each_job_once_per_tick(db_url, settings):
    """Two workers (each its own connection, as two processes) look at the same ticks."""
    ran: list[tuple[str, int]] = []
    lock = threading.Lock()

    def job(name: str, every: float) -> jobs.Job:
        def run(ctx: jobs.Context) -> str:
            with lock:
                ran.append((name, int(ctx.now.timestamp() // every)))
            return "ok"

        return jobs.Job(name, every, run)

    table = (job("test_fast", 1.0), job("test_slow", 3.0))
    engines = [make_engine(db_url, pool_size=1), make_engine(db_url, pool_size=1)]
    workers = [jobs.Worker(settings, e, table) for e in engines]
    try:
        start = 1_000_000.0
        for step in range(12):  # 12 looks, half a second apart, both workers at each
            at = start + step * 0.5
            threads = [threading.Thread(target=w.run_due, args=(at,)) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        for w in workers:
            w.close()
        for e in engines:
            e.dispose()
    runs = Counter(ran)
    assert set(runs.values()) == {1}  # never twice
    assert {t for n, t in runs if n == "test_fast"} == set(range(1_000_000, 1_000_006))
    assert {t for n, t in runs if n == "test_slow"} == {333_333, 333_334, 333_335}


def test_a_worker_that_dies_frees_its_locks(db_url, settings):
    runs = []
    table = (jobs.Job("test_once", 60.0, lambda ctx: runs.append(1) or "ok"),)
    first_engine, second_engine = make_engine(db_url), make_engine(db_url)
    first = jobs.Worker(settings, first_engine, table)
    second = jobs.Worker(settings, second_engine, table)
    assert first.run_due(600.0) == ["test_once: ok"]
    assert second.run_due(600.0) == []  # the first holds the tick
    first.close()
    assert second.run_due(660.0) == ["test_once: ok"]  # next tick: free
    second.close()
    first_engine.dispose()
    second_engine.dispose()


def test_gridmap_worker_once_runs_the_due_jobs(pg_cluster):
    """The command as an operator runs it, on a database of its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pg_cluster.create_database("ops_worker")
    try:
        env = os.environ | {"GRIDMAP_DATABASE_URL": pg_cluster.url("ops_worker"),
                            "GRIDMAP_LOG_JSON": "false"}  # fmt: skip
        gridmap = str(Path(sys.executable).parent / "gridmap")
        subprocess.run([gridmap, "migrate"], env=env, check=True, capture_output=True)
        done = subprocess.run([gridmap, "worker", "--once"], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    finally:
        pg_cluster.drop_database("ops_worker")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "reminder_sweep: 0 reminders made" in lines
    assert "backup: no backup folder" in lines  # an external database: pgBackRest's work
