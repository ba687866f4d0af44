"""``/metrics`` of a real server with two worker processes: the counts of both add up.

Without prometheus_client's multiprocess mode each worker would answer with its own
counts, and a scrape would see whichever worker it reached (issue 30).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.common import api_server
from gridmap.db import migrate

pytestmark = pytest.mark.slow

SENT = 120


@pytest.fixture(scope="module")
def ops_db(pg_cluster):
    pg_cluster.create_database("ops_metrics")
    url = pg_cluster.url("ops_metrics")
    migrate.upgrade(url)
    yield url
    pg_cluster.drop_database("ops_metrics")


def livez_count(text: str) -> float:
    found = re.search(
        r'gridmap_http_requests_total\{method="GET",route="/livez",status="200"\} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def test_two_workers_counts_add_up_whichever_answers(ops_db, tmp_path):
    folder = tmp_path / "metrics"  # made by `gridmap serve` (gridmap/ops/metrics.py)
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "GRIDMAP_METRICS_NETWORKS": "127.0.0.1"}

    def workers() -> list[Path]:
        """The workers that have counted a /livez request (one file each)."""
        return [p for p in folder.glob("counter_*.db") if b"/livez" in Path(p).read_bytes()]

    sent = 0
    with api_server(ops_db, workers=2, env=env) as base:

        def one(_: int) -> int:  # a connection each, so both workers take some
            return httpx.get(base + "/livez", headers={"Connection": "close"}).status_code

        # the kernel hands connections to whichever worker accepts first: on a busy machine
        # one may take a whole round, so send rounds until both have served (at most 20)
        with ThreadPoolExecutor(16) as pool:
            for _ in range(20):
                assert set(pool.map(one, range(SENT))) == {200}
                sent += SENT
                if len(workers()) == 2:
                    break
        scrapes = [httpx.get(base + "/metrics", headers={"Connection": "close"}) for _ in range(8)]
        unlisted = httpx.get(base.replace("127.0.0.1", "localhost") + "/metrics")
    assert len(workers()) == 2, workers()  # both workers served some, and wrote their own counts
    assert all(r.status_code == 200 for r in scrapes)
    # every scrape, whichever worker answered it, counts the requests of both
    assert {livez_count(r.text) for r in scrapes} == {float(sent)}
    assert "gridmap_http_request_duration_seconds_bucket" in scrapes[0].text
    assert unlisted.status_code in (200, 401)  # localhost may resolve to ::1, not listed
