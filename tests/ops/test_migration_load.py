"""The latest migration applied while intake runs on a two-worker server: no request fails."""

from __future__ import annotations

import pytest

from benchmarks.burst import sign_in
from benchmarks.common import api_server
from benchmarks.operations import migration_under_load
from gridmap.db import migrate
from tests.helpers import demo_database

pytestmark = pytest.mark.slow


def test_the_latest_migration_under_intake_fails_no_request(pg_cluster, seeded):
    with demo_database(pg_cluster, seeded[1], "ops_migration_load") as (url, points):
        with api_server(url, workers=2) as base:
            token = sign_in(base)
            result, _ = migration_under_load(url, base, token, points, rate=40)
        assert migrate.current(url) == migrate.head()
        sent = sum(result.statuses.values())
        assert sent > 40, result.statuses  # traffic ran before, during and after
        assert result.failed == 0, (result.statuses, result.errors[:3])
