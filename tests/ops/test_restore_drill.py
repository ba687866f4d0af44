"""The restore drill (issue 30): back up, write on, restore to a moment, find exactly that.

A small cluster of its own with its WAL archived: incidents (with photos) and registry
edits are written, a base backup taken, more written, the time noted, more written; then
a new data folder restored to the noted time must hold every row from before it and none
from after, and the photos of exactly the incidents it holds.
"""

from __future__ import annotations

import io
import shutil
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from PIL import Image
from shapely.geometry import Point
from sqlalchemy.orm import Session

from api.app import create_app
from gridmap.db import migrate
from gridmap.db.cluster import Cluster
from gridmap.db.session import make_engine
from gridmap.ops import backup
from gridmap.registry.models import Building, BuildingUse
from gridmap.settings import Settings
from tests.helpers import TEST_SECRET
from tests.world import build_world, inside, report

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def drill():
    folder = Path(tempfile.mkdtemp(prefix="gridmap-drill-", dir="/tmp"))
    folder.chmod(0o755)
    root = folder / "backup"
    data_dir = folder / "data"
    cluster = Cluster(data_dir, free_port(), archive_dir=root / "wal")
    cluster.start()
    migrate.upgrade(cluster.url())
    restored: list[Cluster] = []
    yield cluster, data_dir, root, folder, restored
    for other in restored:
        other.destroy()
    cluster.destroy()
    shutil.rmtree(folder, ignore_errors=True)  # the backups and the restored copies too


def write(client, world, engine, step: str) -> tuple[list[str], str]:
    """Two incidents with a photo each and a building: the codes and the building address."""
    codes = []
    for colour in ("red", "blue"):
        answer = report(client, world, "grid", description=f"{step} {colour}")
        assert answer.status_code == 201, answer.text
        code = answer.json()["code"]
        photo = client.post(f"/api/v1/incidents/{code}/photos", headers=world.auth("grid"),
                            files={"photo": (f"{step}.png", png(colour), "image/png")})  # fmt: skip
        assert photo.status_code == 201, photo.text
        codes.append(code)
    address = f"东湖路{step}号"
    with Session(engine) as session:
        lon, lat = inside(1, 1)
        session.add(Building(use=BuildingUse.residential, floors=2, address=address,
                             location=from_shape(Point(lon, lat), srid=4326),
                             plan_id=world.plan_id, grid_code="350503001001001"))  # fmt: skip
        session.commit()
    return codes, address


def test_restore_to_a_noted_time_holds_exactly_what_was_written_before_it(drill):
    cluster, data_dir, root, folder, restored = drill
    engine = make_engine(cluster.url())
    with Session(engine) as session:
        world = build_world(session)
        session.commit()
    settings = Settings(environment="test", database_url=cluster.url(), data_dir=data_dir,
                        secret_key=TEST_SECRET, rate_limits_enabled=False)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        before_backup = write(client, world, engine, "A")
        taken = backup.backup(cluster=cluster, data_dir=data_dir, root=root)
        after_backup = write(client, world, engine, "B")
        time.sleep(1.0)
        noted = datetime.now(UTC)
        time.sleep(1.0)
        after_noted = write(client, world, engine, "C")
    engine.dispose()
    backup.sync_files(data_dir, root)  # as the worker does every minute
    backup.flush_wal(cluster, root)  # as archive_timeout does within a minute
    assert [b.name for b in backup.list_backups(root)] == [taken.name]

    into = folder / "restored"
    copy = backup.restore(root=root, into=into, port=free_port(), to=noted)
    restored.append(copy)
    photos = backup.finish(copy, root)

    with psycopg.connect(f"host={copy.socket_dir} port={copy.port} user=postgres "
                         f"dbname={copy.dbname}") as conn:  # fmt: skip
        codes = {r[0] for r in conn.execute("SELECT code FROM incident")}
        addresses = {r[0] for r in conn.execute("SELECT address FROM building")}
        photo_paths = [r[0] for r in conn.execute("SELECT path FROM incident_photo")]
        users = conn.execute("SELECT count(*) FROM app_user").fetchone()
    kept = before_backup[0] + after_backup[0]
    assert codes == set(kept)  # every incident before the moment, none after
    assert addresses == {before_backup[1], after_backup[1]}
    assert users and users[0] == len(world.users)
    # the photos of exactly those incidents, byte for byte
    assert photos == len(photo_paths) == 4
    for path in photo_paths:
        assert (into / "photos" / path).read_bytes() == (data_dir / "photos" / path).read_bytes()
    assert {p.parent.name for p in (into / "photos").rglob("*.png")} == set(kept)
    assert not any(code in str(p) for code in after_noted[0] for p in into.rglob("*"))
    # the restored server is a normal one: it takes writes
    with psycopg.connect(f"host={copy.socket_dir} port={copy.port} user=postgres "
                         f"dbname={copy.dbname}", autocommit=True) as conn:  # fmt: skip
        conn.execute("CREATE TABLE drill_probe (id int)")


def test_verify_restores_the_latest_and_compares_row_counts(drill):
    cluster, data_dir, root, _, _ = drill
    engine = make_engine(cluster.url())
    with Session(engine) as session:
        build_world(session)
        session.commit()
    engine.dispose()
    first = backup.backup(cluster=cluster, data_dir=data_dir, root=root)
    second = backup.backup(cluster=cluster, data_dir=data_dir, root=root)
    checked = backup.verify(root)
    assert checked.ok and checked.backup == second.name and checked.tables > 20
    assert second.rows["app_user"] == 11
    assert backup.prune(root, keep=1) == [first.name]
    assert [b.name for b in backup.list_backups(root)] == [second.name]
    assert backup.verify(root).ok  # the WAL it needs was kept


def test_restore_refuses_a_folder_with_data_and_a_time_before_every_backup(drill, tmp_path):
    _, _, root, folder, _ = drill
    (tmp_path / "x").write_text("mine")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(root=root, into=tmp_path, port=free_port())
    with pytest.raises(backup.BackupError, match="no base backup"):
        backup.restore(root=root, into=folder / "new", port=free_port())
    with pytest.raises(backup.BackupError, match="China time"):
        backup.parse_time("yesterday")
    assert backup.parse_time("2026-12-07T08:00:00").utcoffset().total_seconds() == 8 * 3600


def test_the_commands_back_up_list_verify_prune_and_restore(tmp_path):
    """`gridmap db start|backup|backup list|verify|prune|restore`, each its own process."""
    import os
    import subprocess
    import sys

    folder = Path(tempfile.mkdtemp(prefix="gridmap-cli-drill-", dir="/tmp"))
    folder.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_DATABASE_URL"} | {
        "GRIDMAP_DATA_DIR": str(folder / "data"), "GRIDMAP_DB_PORT": str(free_port()),
        "GRIDMAP_BACKUP_DIR": str(folder / "backup"),
    }  # fmt: skip

    def gridmap(*args: str) -> subprocess.CompletedProcess[str]:
        command = str(Path(sys.executable).parent / "gridmap")
        return subprocess.run([command, *args], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    try:
        assert gridmap("migrate").returncode == 0
        for _ in range(2):
            made = gridmap("backup")
            assert made.returncode == 0 and made.stdout.startswith("backup "), made.stderr
        listed = gridmap("backup", "list").stdout.splitlines()
        assert len(listed) == 2
        verified = gridmap("backup", "verify")
        assert verified.returncode == 0 and "verified" in verified.stdout, verified.stdout
        pruned = gridmap("backup", "prune", "--keep", "1")
        assert "removed 1 backup" in pruned.stdout
        into = folder / "restored"
        done = gridmap("restore", "--into", str(into))
        assert done.returncode == 0 and "restored into" in done.stdout, done.stdout + done.stderr
        port = done.stdout.split("(port ")[1].split(")")[0]
        Cluster(into, int(port)).destroy()
        refused = gridmap("restore", "--into", str(into.parent / "data"))
        assert refused.returncode != 0 and "not empty" in refused.stdout + refused.stderr
    finally:
        gridmap("db", "stop")
        shutil.rmtree(folder, ignore_errors=True)
