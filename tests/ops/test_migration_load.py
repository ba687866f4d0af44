"""The latest migration applied while intake runs on a two-worker server: no request fails."""

from __future__ import annotations

import pytest
from rich.console import Console

from benchmarks.burst import sign_in
from benchmarks.common import api_server
from benchmarks.operations import migration_under_load
from gridmap.db import migrate
from gridmap.db.session import make_engine
from gridmap.demo import load_demo
from gridmap.settings import Settings
from seed_data.load import load

pytestmark = pytest.mark.slow


def test_the_latest_migration_under_intake_fails_no_request(pg_cluster, seeded):
    _, data = seeded
    pg_cluster.create_database("ops_migration_load")
    url = pg_cluster.url("ops_migration_load")
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        load(data, engine)
        engine.dispose()
        load_demo(url=url, console=Console(quiet=True), settings=Settings(environment="test"))
        fengze = data.buildings["grid_code"].str.startswith("350503").to_numpy()
        points = data.buildings.loc[fengze, ["lon", "lat"]].to_numpy()
        with api_server(url, workers=2) as base:
            token = sign_in(base)
            result, _ = migration_under_load(url, base, token, points, rate=40)
        assert migrate.current(url) == migrate.head()
        sent = sum(result.statuses.values())
        assert sent > 40, result.statuses  # traffic ran before, during and after
        assert result.failed == 0, (result.statuses, result.errors[:3])
    finally:
        pg_cluster.drop_database("ops_migration_load")
