"""Helpers shared by the benchmarks: a throwaway PostGIS cluster, peak memory."""

from __future__ import annotations

import resource
import socket
import tempfile
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
        yield url
    finally:
        cluster.destroy()
