import os
import signal
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from gridmap.db import cluster as cluster_module
from gridmap.db.cluster import Cluster, find_pg_bin
from gridmap.errors import ClusterError
from tests.helpers import free_port


@pytest.fixture
def scratch_cluster():
    folder = Path(tempfile.mkdtemp(prefix="gridmap-scratch-"))
    folder.chmod(0o755)
    c = Cluster(folder, free_port(), dbname="scratch")
    yield c
    c.destroy()


def _postgis_version(c: Cluster) -> str:
    with psycopg.connect(
        host=str(c.socket_dir), port=c.port, user="postgres", dbname="scratch"
    ) as conn:
        return conn.execute("SELECT postgis_lib_version()").fetchone()[0]


def test_start_stop_start_is_idempotent(scratch_cluster):
    c = scratch_cluster
    assert not c.status().running
    first = c.start()
    assert first.running and first.pid
    assert c.start().pid == first.pid  # starting a running cluster changes nothing
    assert _postgis_version(c).startswith("3.")
    assert not c.stop().running
    assert not c.stop().running  # stopping a stopped cluster is fine
    again = c.start()
    assert again.running and again.pid != first.pid
    assert _postgis_version(c).startswith("3.")


def test_start_recovers_after_a_crash(scratch_cluster):
    c = scratch_cluster
    pid = c.start().pid
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert not c.status().running
    assert (c.pgdata / "postmaster.pid").exists()  # the stale lock a crash leaves
    assert c.start().running
    assert _postgis_version(c).startswith("3.")


def test_cluster_lives_in_the_data_folder_when_reachable(scratch_cluster):
    assert scratch_cluster.home == scratch_cluster.data_dir.resolve() / "pg"
    assert "host=" + str(scratch_cluster.socket_dir) in scratch_cluster.url()


def test_missing_server_binaries_name_the_package(tmp_path, monkeypatch):
    monkeypatch.delenv("GRIDMAP_PG_BIN", raising=False)
    monkeypatch.setattr(cluster_module, "PG_ROOT", tmp_path / "none")
    with pytest.raises(ClusterError, match="apt-get install -y postgresql"):
        find_pg_bin()


def test_missing_postgis_names_the_package(tmp_path, monkeypatch):
    monkeypatch.delenv("GRIDMAP_PG_BIN", raising=False)
    (tmp_path / "pg/15/bin").mkdir(parents=True)
    (tmp_path / "pg/15/bin/initdb").touch()
    monkeypatch.setattr(cluster_module, "PG_ROOT", tmp_path / "pg")
    monkeypatch.setattr(cluster_module, "PG_SHARE", tmp_path / "share")
    with pytest.raises(ClusterError, match="postgresql-15-postgis-3"):
        find_pg_bin()


def test_a_busy_port_is_named(scratch_cluster):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", scratch_cluster.port))
        busy.listen()
        with pytest.raises(ClusterError, match=f"port {scratch_cluster.port} is already in use"):
            scratch_cluster.start()
