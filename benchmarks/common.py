"""Helpers shared by the benchmarks: a throwaway PostGIS cluster, peak memory."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gridmap.db import migrate
from gridmap.db.cluster import Cluster


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def throwaway_database(name: str = "bench") -> Iterator[str]:
    """A migrated database in a fresh cluster under /tmp, removed afterwards."""
    with throwaway_cluster(name) as (url, _):
        yield url


@contextmanager
def throwaway_cluster(name: str = "bench") -> Iterator[tuple[str, Cluster]]:
    """A fresh cluster under /tmp with a migrated database: (its URL, the cluster)."""
    folder = Path(tempfile.mkdtemp(prefix="gridmap-bench-"))
    folder.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = Cluster(folder, port, dbname=name)
    cluster.start()
    try:
        url = cluster.url()
        migrate.upgrade(url)
        yield url, cluster
    finally:
        cluster.destroy()


@contextmanager
def api_server(
    url: str, workers: int = 1, wait_s: float = 30, env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:  # fmt: skip
    """A real uvicorn server for the database at ``url``; yields its base URL once healthy.

    ``env``: more ``GRIDMAP_*`` settings for the server; ``log``: a file for its stderr.
    """
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = (
        os.environ
        | {
            "GRIDMAP_DATABASE_URL": url,
            "GRIDMAP_LOG_LEVEL": "WARNING",
            "GRIDMAP_DATA_DIR": tempfile.mkdtemp(prefix="gridmap-bench-data-"),
            "GRIDMAP_PUBLIC_URL": f"http://127.0.0.1:{port}",  # the links clients follow
        }
        | (env or {})
    )
    # as `gridmap serve` runs it: no X-Forwarded-For believed (no proxy is configured)
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port",
               str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
               "--no-proxy-headers"]  # fmt: skip
    log_file = log.open("ab") if log else None
    server = subprocess.Popen(command, env=env, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(int(wait_s / 0.2)):
            try:
                if httpx.get(base + "/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the API server did not come up")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # a server that locked up does not stop either
            server.kill()
            server.wait(10)
        if log_file:
            log_file.close()
