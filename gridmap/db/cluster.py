"""The embedded PostGIS cluster: gridmap's default database, started in a data folder.

A new user should get a working platform with one command, so gridmap runs the system's
PostgreSQL binaries (``initdb``/``pg_ctl``) itself. Production points
``GRIDMAP_DATABASE_URL`` at any PostGIS instead and never touches this module.

PostgreSQL refuses to run as root, so as root the binaries run as the ``postgres`` system
user, on a folder that user owns and can reach. The same class starts the test suite's
throwaway cluster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from gridmap.errors import ClusterError

PG_ROOT = Path("/usr/lib/postgresql")
PG_SHARE = Path("/usr/share/postgresql")
SYSTEM_USER = "postgres"
# A Unix socket path must fit in sun_path (108 bytes on Linux).
MAX_SOCKET_PATH = 100


ARCHIVE_TIMEOUT = 30  # seconds: the most a committed write waits to reach the WAL archive

# Planner settings for a database that lives on SSD or in memory (docs/architecture.md says
# to set the same on a production server): with the default random_page_cost of 4 (spinning
# disks) PostgreSQL prefers scanning whole wide tables to index-only scans of narrow indexes.
TUNING = {"random_page_cost": "1.1", "effective_cache_size": "4GB"}


def memory_tuning() -> dict[str, str]:
    """Shared buffers of 1/8 of the machine's memory (128 MB to 4 GB), and room for WAL.

    PostgreSQL's default of 128 MB thrashes when a plan activation updates half a million
    people: each non-HOT update touches every index of the table, and with 128 MB nearly
    every index page is read and written back again (docs/benchmarks.md, activation).
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 0
    megabytes = max(128, min(4096, total // 8 // 2**20))
    return {"shared_buffers": f"{megabytes}MB", "max_wal_size": "4GB"}


def find_pg_bin() -> Path:
    """Return the bin folder of the newest installed PostgreSQL that has PostGIS.

    Raises
    ------
    ClusterError
        Naming the Debian package to install when the server or PostGIS is missing.
    """
    override = os.environ.get("GRIDMAP_PG_BIN")
    if override:
        return Path(override)
    majors = sorted(
        (
            int(p.name)
            for p in PG_ROOT.glob("*")
            if p.name.isdigit() and (p / "bin/initdb").exists()
        ),
        reverse=True,
    )
    if not majors:
        raise ClusterError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: "
            "install them with `apt-get install -y postgresql` (or run `make demo`)"
        )
    for major in majors:
        if (PG_SHARE / str(major) / "extension/postgis.control").exists():
            return PG_ROOT / str(major) / "bin"
    raise ClusterError(
        f"PostGIS is not installed for PostgreSQL {majors[0]}: "
        f"install it with `apt-get install -y postgresql-{majors[0]}-postgis-3`"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _enterable_by_postgres(folder: Path, *, writable: bool = False) -> bool:
    """Whether the postgres user can enter ``folder`` (and so every folder above it)."""
    mode = os.X_OK | (os.W_OK if writable else 0)
    if not _as_root():
        return os.access(folder, mode)
    test = ["test", "-x", str(folder)] + (["-a", "-w", str(folder)] if writable else [])
    probe = subprocess.run(
        ["runuser", "-u", SYSTEM_USER, "--", *test], capture_output=True, check=False
    )
    return probe.returncode == 0


def _pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (killed, not yet reaped) counts as dead."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@dataclass(frozen=True)
class ClusterStatus:
    """What ``gridmap db status`` reports."""

    running: bool
    root: Path
    port: int
    url: str
    pid: int | None = None


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster in ``home``: data in ``home/data``, socket in ``home/run``.

    ``home`` is ``<data_dir>/pg`` when the postgres user can reach it; otherwise (as root,
    with a data folder under a private directory such as /root) a folder under /var/tmp
    named after the data folder is used, and ``status`` says where.
    """

    data_dir: Path
    port: int
    dbname: str = "gridmap"
    # where finished WAL segments are copied (``gridmap backup``): on, the server archives
    # continuously and switches segments at least every ARCHIVE_TIMEOUT seconds
    archive_dir: Path | None = None

    @property
    def home(self) -> Path:
        """The folder holding the cluster (see the class docstring)."""
        preferred = self.data_dir.resolve() / "pg"
        if self._usable(preferred):
            return preferred
        digest = hashlib.sha1(str(self.data_dir.resolve()).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"gridmap-{digest}"

    def _usable(self, home: Path) -> bool:
        if len(str(home / "run" / f".s.PGSQL.{self.port}")) > MAX_SOCKET_PATH:
            return False
        if (home / "data" / "PG_VERSION").exists():
            return True
        home.parent.mkdir(parents=True, exist_ok=True)
        return _enterable_by_postgres(home.parent)

    @property
    def socket_dir(self) -> Path:
        """Where the Unix socket is."""
        return self.home / "run"

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory."""
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        """The server log."""
        return self.home / "postgres.log"

    def url(self, dbname: str | None = None) -> str:
        """SQLAlchemy URL over the Unix socket (fastest for one-point queries)."""
        name = dbname or self.dbname
        return f"postgresql+psycopg://{SYSTEM_USER}@/{name}?host={self.socket_dir}&port={self.port}"

    # -- running the binaries -------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(find_pg_bin() / args[0]), *args[1:]]
        if _as_root():
            cmd = ["runuser", "-u", SYSTEM_USER, "--", *cmd]
        done = subprocess.run(
            cmd, capture_output=True, text=True, cwd=self.home, check=False, env=_clean_env()
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"`{args[0]}` failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
                f"{self._log_tail()}"
            )
        return done

    def _log_tail(self, lines: int = 8) -> str:
        if not self.log_file.exists():
            return ""
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return "\nlast lines of " + str(self.log_file) + ":\n" + "\n".join(tail)

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if _as_root():
            shutil.chown(self.home, SYSTEM_USER, SYSTEM_USER)
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)
            if not _enterable_by_postgres(self.home, writable=True):
                raise ClusterError(
                    f"the postgres user cannot reach {self.home}: make every parent folder "
                    "enterable (chmod o+x) or set GRIDMAP_DATA_DIR to a folder under /var or /tmp"
                )

    def initialised(self) -> bool:
        """Whether initdb has run."""
        return (self.pgdata / "PG_VERSION").exists()

    def _pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def _accepting(self) -> bool:
        try:
            with self._connect("postgres", timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    def _clear_stale_pid(self) -> None:
        """Remove the lock files left by a crashed server whose process is gone.

        PostgreSQL does this itself when the pid is free, but a killed postmaster that is not
        yet reaped (or a pid reused after a reboot) would make it refuse to start.
        """
        pid = self._pid()
        if pid is None:
            return
        for _ in range(50):
            if not _pid_alive(pid):
                for lock in (
                    self.pgdata / "postmaster.pid",
                    self.socket_dir / f".s.PGSQL.{self.port}.lock",
                    self.socket_dir / f".s.PGSQL.{self.port}",
                ):
                    lock.unlink(missing_ok=True)
                return
            time.sleep(0.1)

    def status(self) -> ClusterStatus:
        """Running (accepting connections) or not, where, and the pid."""
        running = self.initialised() and self._accepting()
        return ClusterStatus(
            running, self.home, self.port, self.url(), self._pid() if running else None
        )

    def start(self, *, ensure_database: bool = True) -> ClusterStatus:
        """Initialise if needed, start if stopped, ensure the database and PostGIS.

        Idempotent: starting a running cluster does nothing; after a crash PostgreSQL
        itself recovers from the stale ``postmaster.pid`` and replays its WAL.
        """
        find_pg_bin()
        self._prepare_home()
        if not self.initialised():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SYSTEM_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        if not self._accepting():
            self._clear_stale_pid()
            if not _port_free(self.port):
                raise ClusterError(
                    f"port {self.port} is already in use (another gridmap cluster or PostgreSQL "
                    f"server?): stop it, or choose another port with GRIDMAP_DB_PORT"
                )
            options = (
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                + " ".join(f"-c {k}={v}" for k, v in (TUNING | memory_tuning()).items())
                + "".join(f" -c {k}={v}" for k, v in self._archive_options().items())
            )
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-o",
                options,
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
            )
        if ensure_database:
            self.create_database(self.dbname)
        return self.status()

    def _archive_options(self) -> dict[str, str]:
        if self.archive_dir is None:
            return {}
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        if _as_root():
            shutil.chown(self.archive_dir, SYSTEM_USER, SYSTEM_USER)
        folder = str(self.archive_dir.resolve())
        if any(c in folder for c in " '\"\\"):
            raise ClusterError(
                f"the WAL archive folder {folder!r} may not contain quotes or spaces"
            )
        # never overwrite a segment already archived (a second server on the same folder)
        command = f"test ! -f {folder}/%f && cp %p {folder}/%f"
        return {"archive_mode": "on", "archive_timeout": str(ARCHIVE_TIMEOUT),
                "archive_command": f"'{command}'"}  # fmt: skip

    def tool(self, *args: str) -> str:
        """Run a PostgreSQL program (as the postgres user when root); its output."""
        return self._run(*args).stdout

    def stop(self) -> ClusterStatus:
        """Stop the cluster (fast shutdown); stopping a stopped cluster does nothing."""
        if self.status().running:
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        return self.status()

    def destroy(self) -> None:
        """Stop and delete the cluster's files."""
        if self.initialised():
            self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------

    def _connect(self, dbname: str, timeout: int = 10) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SYSTEM_USER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=timeout,
        )

    def create_database(self, dbname: str) -> None:
        """Create ``dbname`` if missing and enable PostGIS in it."""
        with self._connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        with self._connect(dbname) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname``, disconnecting its sessions."""
        with self._connect("postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


def _port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _clean_env() -> dict[str, str]:
    """The environment for PostgreSQL binaries, without libpq variables that would redirect them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C.UTF-8"}
