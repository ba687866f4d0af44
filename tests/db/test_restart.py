"""A database restart under a running API: at most one 503, then service resumes."""

import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from gridmap.db import migrate
from gridmap.db.cluster import Cluster
from gridmap.settings import Settings
from tests.helpers import TEST_SECRET, free_port


def test_api_survives_a_database_restart():
    folder = Path(tempfile.mkdtemp(prefix="gridmap-restart-"))
    folder.chmod(0o755)
    cluster = Cluster(folder, free_port(), dbname="restart")
    cluster.start()
    try:
        migrate.upgrade(cluster.url())
        settings = Settings(
            environment="test",
            database_url=cluster.url(),
            data_dir=folder / "data",
            secret_key=TEST_SECRET,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert client.get("/api/v1/health").status_code == 200
            cluster.stop()
            down = client.get("/api/v1/health")
            assert down.status_code == 503 and "not reachable" in down.json()["detail"]
            cluster.start()
            statuses = [client.get("/api/v1/health").status_code for _ in range(3)]
            assert statuses[-1] == 200 and statuses.count(503) <= 1
    finally:
        cluster.destroy()
