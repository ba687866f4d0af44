"""Backups of the embedded cluster with point-in-time restore (``gridmap backup``/``restore``).

A backup folder named by the operator holds:

- ``wal/``: the continuous WAL archive. The embedded server copies every finished segment
  there (``archive_command``) and switches segments at least every
  :data:`~gridmap.db.cluster.ARCHIVE_TIMEOUT` seconds, so a committed write is in the
  archive within that time (the RPO) even when little is written.
- ``files/``: the data folder's own files, copied as they appear (photos, the secret key;
  not the cluster, not the saved index files, which are derived). Photos are
  content-addressed and never change, so the copy only grows: :func:`sync_files` runs
  with every backup and every minute in ``gridmap worker``.
- ``base/<stamp>/``: base backups (``pg_basebackup``, plain format, WAL streamed in), each
  with ``backup.json`` (when, and the row count of every table at the backup's named
  restore point, which ``verify`` restores to and compares).

A restore copies the newest base backup older than the target into a new data folder,
with the archive as ``restore_command`` and the target as ``recovery_target_time``;
PostgreSQL replays the WAL up to it and promotes; then the photos the restored rows name
are copied back (those of later incidents are not). Nothing is restored over a live folder.

For an external PostGIS (``GRIDMAP_DATABASE_URL``) use pgBackRest or Barman
(docs/operations.md): this module drives the embedded cluster only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from gridmap.calendar import CHINA_TZ
from gridmap.db.cluster import SYSTEM_USER, Cluster
from gridmap.errors import GridmapError

NOT_COPIED = ("pg", "index")  # the cluster (in the base backup) and derived index files
PHOTOS = "photos"  # where photos are kept under the data folder (api/routers/incidents.py)
STAMP = "%Y%m%dT%H%M%S%fZ"


class BackupError(GridmapError):
    """A backup or restore cannot be made as asked (the message says what to do)."""

    code = "backup_error"
    title = "Backup error"


@dataclass(frozen=True)
class BaseBackup:
    """One base backup in a backup folder."""

    name: str
    path: Path
    started_at: datetime
    finished_at: datetime
    restore_point: str
    rows: dict[str, int]

    @property
    def size_bytes(self) -> int:
        """Bytes on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def parse_time(value: str) -> datetime:
    """An ISO 8601 time; without an offset it is China time (where the operators are)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BackupError(
            f"{value!r} is not a time: write e.g. 2026-12-07T14:30:00+08:00 (without an "
            "offset: China time)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", f"{SYSTEM_USER}:{SYSTEM_USER}", str(path)], check=True)


def count_rows(conninfo: str) -> dict[str, int]:
    """The exact row count of every table of the public schema."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )]  # fmt: skip
        counts = {}
        for table in tables:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts


def _conninfo(cluster: Cluster) -> str:
    return (
        f"host={cluster.socket_dir} port={cluster.port} user={SYSTEM_USER} dbname={cluster.dbname}"
    )


def backup(*, cluster: Cluster, data_dir: Path, root: Path) -> BaseBackup:
    """Take a base backup of the running ``cluster`` and copy the data folder's own files.

    The WAL archive must be on (the cluster started with ``archive_dir=root / "wal"``):
    a base backup without it restores to its own end only, not to a point in time.
    """
    wal = root / "wal"
    with psycopg.connect(_conninfo(cluster), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('archive_mode'), "
                           "current_setting('archive_command')").fetchone()  # fmt: skip
    if not row or row[0] != "on" or str(wal.resolve()) not in row[1]:
        raise BackupError(
            f"the database does not archive its WAL into {wal}: set GRIDMAP_BACKUP_DIR={root} "
            "and restart it (`gridmap db stop && gridmap db start`)"
        )
    started = datetime.now(UTC)
    name = started.strftime(STAMP)
    base = root / "base"
    base.mkdir(parents=True, exist_ok=True)
    _chown(base)
    target = base / name
    pending = base / f".{name}.partial"
    cluster.tool("pg_basebackup", "-h", str(cluster.socket_dir), "-p", str(cluster.port),
                 "-U", SYSTEM_USER, "-D", str(pending / "pgdata"), "-Fp", "-X", "stream",
                 "-c", "fast", "-l", f"gridmap {name}")  # fmt: skip
    sync_files(data_dir, root)
    # the counts verify compares, and the named point in the WAL they hold at: counted
    # first, then the point marked (writes in between are in the copy, not the counts)
    rows = count_rows(_conninfo(cluster))
    point = f"gridmap-{name}"
    with psycopg.connect(_conninfo(cluster), autocommit=True) as conn:
        conn.execute("SELECT pg_create_restore_point(%s)", [point])
    finished = datetime.now(UTC)
    manifest = {"started_at": started.isoformat(), "finished_at": finished.isoformat(),
                "restore_point": point, "rows": rows}  # fmt: skip
    (pending / "backup.json").write_text(json.dumps(manifest, indent=1))
    pending.rename(target)
    flush_wal(cluster, root)
    return _read(target)


def sync_files(data_dir: Path, root: Path) -> int:
    """Copy the data folder's own files not yet in ``root/files`` (or changed); how many."""
    copied = 0
    target_root = root / "files"
    for source in sorted(data_dir.rglob("*")) if data_dir.exists() else []:
        relative = source.relative_to(data_dir)
        if relative.parts[0] in NOT_COPIED or source.resolve() == root.resolve():
            continue
        if not source.is_file() or source.suffix == ".part" or ".thumb." in source.name:
            continue  # folders come with their files; partial writes and thumbnails: derived
        target = target_root / relative
        stat = source.stat()
        if (
            target.exists()
            and target.stat().st_size == stat.st_size
            and (target.stat().st_mtime >= stat.st_mtime)
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".copying")
        shutil.copy2(source, partial)
        partial.replace(target)
        copied += 1
    return copied


def restore_files(cluster: Cluster, root: Path, into: Path) -> int:
    """Copy back the data folder's files; of the photos only those the restored rows name."""
    files = root / "files"
    copied = 0
    for item in files.iterdir() if files.exists() else []:
        if item.name == PHOTOS:
            continue
        if item.is_dir():
            shutil.copytree(item, into / item.name, symlinks=True)
        else:
            shutil.copy2(item, into / item.name)
    with psycopg.connect(_conninfo(cluster), autocommit=True) as conn:
        paths = [r[0] for r in conn.execute("SELECT path FROM incident_photo ORDER BY id")]
    for path in paths:
        source = files / PHOTOS / path
        if source.exists():
            target = into / PHOTOS / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied += 1
    return copied


def flush_wal(cluster: Cluster, root: Path, timeout: float = 60.0) -> None:
    """Close the current WAL segment and wait until the archive has it."""
    with psycopg.connect(_conninfo(cluster), autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    segment = str(row[0]) if row else ""
    deadline = time.monotonic() + timeout
    while not (root / "wal" / segment).exists():
        if time.monotonic() > deadline:
            raise BackupError(
                f"WAL segment {segment} did not reach {root / 'wal'} in {timeout:g} s: is the "
                "folder writable by the database server?"
            )
        time.sleep(0.1)


def _read(path: Path) -> BaseBackup:
    data = json.loads((path / "backup.json").read_text())
    return BaseBackup(
        name=path.name, path=path, started_at=datetime.fromisoformat(data["started_at"]),
        finished_at=datetime.fromisoformat(data["finished_at"]),
        restore_point=data["restore_point"], rows=data["rows"],
    )  # fmt: skip


def list_backups(root: Path) -> list[BaseBackup]:
    """The finished base backups in ``root``, oldest first."""
    base = root / "base"
    if not base.exists():
        return []
    found = [
        p for p in base.iterdir() if not p.name.startswith(".") and (p / "backup.json").exists()
    ]
    return sorted((_read(p) for p in found), key=lambda b: b.started_at)


def restore(*, root: Path, into: Path, port: int, to: datetime | None = None,
            point: str | None = None) -> Cluster:  # fmt: skip
    """Make a new data folder ``into`` from ``root``, as it was at ``to`` (default: latest).

    ``point`` restores to a named restore point instead (verify). Returns the cluster,
    stopped: :func:`finish` starts it (replaying the WAL up to the target, then
    promoting it) and copies the files back.
    """
    if into.exists() and any(into.iterdir()):
        raise BackupError(f"{into} is not empty: restore into a new folder, never over data")
    candidates = [b for b in list_backups(root) if to is None or b.finished_at <= to]
    if not candidates:
        raise BackupError(
            f"no base backup in {root} finished before {to.isoformat() if to else 'now'}: "
            "`gridmap backup list` shows what there is"
        )
    chosen = candidates[-1]
    into.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(into, port)
    cluster.home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(chosen.path / "pgdata", cluster.pgdata, symlinks=True)
    wal = (root / "wal").resolve()
    settings = [f"restore_command = 'cp {wal}/%f %p'", "recovery_target_action = 'promote'"]
    if point is not None:
        settings.append(f"recovery_target_name = '{point}'")
    elif to is not None:
        settings.append(f"recovery_target_time = '{to.isoformat()}'")
    with (cluster.pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n# gridmap restore\n" + "\n".join(settings) + "\n")
    (cluster.pgdata / "recovery.signal").touch()
    _chown(cluster.home)
    cluster.pgdata.chmod(0o700)
    return cluster


def finish(cluster: Cluster, root: Path, timeout: float = 900.0) -> int:
    """Start a restored cluster, wait for its recovery, copy its files; photos copied."""
    wait_promoted(cluster, timeout)
    return restore_files(cluster, root, cluster.data_dir)


def wait_promoted(cluster: Cluster, timeout: float = 900.0) -> None:
    """Start ``cluster`` and wait until recovery has ended (it accepts writes)."""
    cluster.start(ensure_database=False)  # read-only until promoted
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(_conninfo(cluster), autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row and not row[0]:
                    return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise BackupError(f"the restored database did not finish recovery in {timeout:g} s")
        time.sleep(0.2)


@dataclass(frozen=True)
class Verification:
    """What ``gridmap backup verify`` found."""

    backup: str
    seconds: float
    tables: int
    differences: dict[str, tuple[int, int]]  # table → (at backup, restored)

    @property
    def ok(self) -> bool:  # noqa: D102
        return not self.differences


def verify(root: Path) -> Verification:
    """Restore the newest backup to its restore point in a scratch folder, compare row counts."""
    backups = list_backups(root)
    if not backups:
        raise BackupError(f"no base backup in {root} to verify: run `gridmap backup` first")
    latest = backups[-1]
    scratch = Path(tempfile.mkdtemp(prefix="gridmap-verify-", dir="/tmp"))
    scratch.chmod(0o755)
    started = time.monotonic()
    cluster = restore(
        root=root, into=scratch / "data", port=_free_port(), point=latest.restore_point
    )
    try:
        wait_promoted(cluster)
        restored = count_rows(_conninfo(cluster))
    finally:
        cluster.destroy()
        shutil.rmtree(scratch, ignore_errors=True)
    tables = set(latest.rows) | set(restored)
    differences = {
        t: (latest.rows.get(t, -1), restored.get(t, -1))
        for t in sorted(tables)
        if latest.rows.get(t) != restored.get(t)
    }
    return Verification(latest.name, time.monotonic() - started, len(tables), differences)


def prune(root: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` base backups and the WAL only they needed."""
    if keep < 1:
        raise BackupError("keep at least one backup (--keep 1 or more)")
    backups = list_backups(root)
    removed = backups[:-keep]
    for old in removed:
        shutil.rmtree(old.path)
    kept = backups[-keep:]
    if kept and removed:
        label = (kept[0].path / "pgdata" / "backup_label").read_text()
        first = label.split("(file ", 1)[1].split(")", 1)[0]  # the oldest kept one's first WAL
        for segment in (root / "wal").iterdir():
            if len(segment.name) >= 24 and segment.name[:24] < first:
                segment.unlink()
    return [b.name for b in removed]


def describe(backups: list[BaseBackup]) -> list[dict[str, object]]:
    """The backups as rows for the command line."""
    return [{"name": b.name, "finished_at": b.finished_at.isoformat(),
             "rows": sum(b.rows.values()), "size_mb": round(b.size_bytes / 2**20, 1)}
            for b in backups]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
