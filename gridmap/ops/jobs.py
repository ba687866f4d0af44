"""Scheduled work (``gridmap worker``): jobs as data, each run once per tick by one worker.

Reminders used to be made only when someone read an inbox; the sweep of every unit now
runs here each minute, and so do the backup chores. Several workers may run (one per
machine, or two by mistake): before a job runs for a tick (its period number since the
epoch) the worker takes a PostgreSQL advisory lock on (job, tick) and keeps it until its
next look, so no other worker runs that job for that tick; a worker that dies drops its
locks with its connection.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import sessionmaker

from gridmap.calendar import WorkingCalendar
from gridmap.incidents import reminders
from gridmap.ops import counters
from gridmap.settings import Settings

log = logging.getLogger("gridmap.worker")


@dataclass(frozen=True)
class Context:
    """What a job works with."""

    settings: Settings
    engine: Engine
    now: datetime


@dataclass(frozen=True)
class Job:
    """A named piece of work run every ``every`` seconds; ``run`` returns a short summary."""

    name: str
    every: float
    run: Callable[[Context], str]

    @property
    def key(self) -> int:
        """The job's advisory-lock key (a stable 31-bit hash of its name)."""
        return zlib.crc32(f"gridmap:{self.name}".encode()) & 0x7FFFFFFF

    def tick(self, at: float) -> int:
        """The period ``at`` (epoch seconds) falls in."""
        return int(at // self.every)


def sweep_reminders(ctx: Context) -> str:
    """Make every unit's due reminders (the inbox no longer has to be read first)."""
    calendar = WorkingCalendar.configured(ctx.settings.calendar_file)
    with sessionmaker(ctx.engine).begin() as session:
        made = reminders.sweep(session, ctx.now, calendar)
    return f"{made} reminders made"


def finish_publications(ctx: Context) -> str:
    """Finish a plan's catch-up that a restart or crash interrupted (gridmap.plans.service)."""
    from gridmap.plans import service

    factory = sessionmaker(ctx.engine)
    with factory() as session:
        stalled = service.unfinished(session)
    for plan_id in stalled:
        service.follow(factory, plan_id)
    return f"{len(stalled)} publications finished"


def copy_files(ctx: Context) -> str:
    """Copy new photos (and other own files) of the data folder into the backup folder."""
    from gridmap.ops import backup

    if ctx.settings.backup_dir is None or ctx.settings.database_url:
        return "no backup folder"
    copied = backup.sync_files(ctx.settings.data_dir, ctx.settings.backup_dir)
    return f"{copied} files copied"


def backup_and_prune(ctx: Context) -> str:
    """A base backup, then all but the newest GRIDMAP_BACKUP_KEEP removed."""
    from gridmap.db.cluster import Cluster
    from gridmap.ops import backup

    settings = ctx.settings
    if settings.backup_dir is None or settings.database_url:
        return "no backup folder"
    cluster = Cluster(settings.data_dir, settings.db_port,
                      archive_dir=settings.backup_dir / "wal")  # fmt: skip
    made = backup.backup(cluster=cluster, data_dir=settings.data_dir, root=settings.backup_dir)
    removed = backup.prune(settings.backup_dir, settings.backup_keep)
    return f"backup {made.name}, {len(removed)} pruned"


MINUTE, DAY = 60.0, 86_400.0
JOBS: tuple[Job, ...] = (
    Job("reminder_sweep", MINUTE, sweep_reminders),
    Job("plan_follow", MINUTE, finish_publications),
    Job("backup_files", MINUTE, copy_files),
    Job("backup", DAY, backup_and_prune),
)


class Worker:
    """Runs due jobs; holds the (job, tick) locks it took on one connection of its own."""

    def __init__(self, settings: Settings, engine: Engine, jobs: Sequence[Job] = JOBS) -> None:
        self.settings = settings
        self.engine = engine
        self.jobs = jobs
        self._connection: Connection | None = None
        self._held: dict[str, int] = {}  # job → the tick whose lock this worker holds
        self._done: dict[str, int] = {}  # job → the last tick looked at

    def _locks(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def run_due(self, at: float | None = None) -> list[str]:
        """Run each job whose tick has come and no other worker took; what ran."""
        at = time.time() if at is None else at
        ran = []
        for job in self.jobs:
            tick = job.tick(at)
            if self._done.get(job.name) == tick:
                continue
            self._done[job.name] = tick
            conn = self._locks()
            previous = self._held.pop(job.name, None)
            if previous is not None:
                conn.execute(text("SELECT pg_advisory_unlock(:k, :t)"),
                             {"k": job.key, "t": previous % 2**31})  # fmt: skip
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k, :t)"),
                               {"k": job.key, "t": tick % 2**31}).scalar()  # fmt: skip
            if not got:
                continue  # another worker has this tick
            self._held[job.name] = tick
            ran.append(self._run(job, at))
        return ran

    def _run(self, job: Job, at: float) -> str:
        started = time.perf_counter()
        try:
            summary = job.run(Context(self.settings, self.engine, datetime.fromtimestamp(at, UTC)))
        except Exception:
            counters.JOB_RUNS.labels(job=job.name, outcome="failed").inc()
            log.exception("job %s failed", job.name)
            return f"{job.name}: failed"
        counters.JOB_RUNS.labels(job=job.name, outcome="done").inc()
        log.info("job %s: %s (%.2f s)", job.name, summary, time.perf_counter() - started)
        return f"{job.name}: {summary}"

    def serve(self, stop: threading.Event, poll: float = 1.0) -> None:
        """Look for due jobs every ``poll`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.run_due()
            stop.wait(poll)

    def close(self) -> None:
        """Drop the locks (the connection)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
