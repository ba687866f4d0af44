"""Prometheus metrics, correct across several server workers.

Counters and histograms are prometheus_client's. With ``PROMETHEUS_MULTIPROC_DIR`` set
before the first import of prometheus_client (``gridmap serve`` makes and removes the
folder: :func:`multiprocess_dir`), every worker writes its values to files there and a
scrape adds them up, whichever worker answers it; without it (one process, tests) the
values live in the process.

The domain gauges (open and overdue incidents per county) are not kept by any worker: they
are read from the database when scraped, at most once per :data:`DOMAIN_TTL` per process,
so a scrape stays cheap and every worker tells the same numbers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.areas.codes import sql_width
from gridmap.areas.levels import AreaLevel
from gridmap.incidents.deadlines import overdue_clause
from gridmap.incidents.models import OPEN, Incident

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
DOMAIN_TTL = 30.0  # seconds a per-county count is reused before it is read again


def multiprocess_enabled() -> bool:
    """Whether this process writes its values to files (several worker processes).

    Decided by prometheus_client when first imported, from the environment of that moment:
    asked of the library, not of today's environment, so a server of one process that
    imported it before the folder was set still reports its own values.
    """
    return values.ValueClass is not values.MutexValue


@contextmanager
def multiprocess_dir(parent: Path | None = None) -> Iterator[Path]:
    """A fresh folder for the workers' metric files, set in the environment, removed after.

    Set before the server starts its workers, which inherit it; an operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` is used as it is (emptied first: stale files from a
    previous run would add old counts).
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="gridmap-metrics-", dir=parent))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class DomainGauges:
    """Open and overdue incidents per county, read at scrape time and kept ``ttl`` seconds."""

    ttl: float = DOMAIN_TTL
    _at: float = field(default=-1e9, init=False)
    _rows: list[tuple[str, int, int]] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def rows(self, session: Session, now: datetime | None = None) -> list[tuple[str, int, int]]:
        """(county code, open, overdue) for each county with an open incident."""
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                self._rows = county_counts(session, now or datetime.now(UTC))
                self._at = time.monotonic()
            return self._rows

    def families(self, session: Session) -> list[GaugeMetricFamily]:
        """The gauges as Prometheus metric families."""
        open_ = GaugeMetricFamily(
            "gridmap_incidents_open", "Open incidents per county", labels=["county"]
        )
        overdue = GaugeMetricFamily(
            "gridmap_incidents_overdue", "Overdue incidents per county", labels=["county"]
        )
        for county, n_open, n_overdue in self.rows(session):
            open_.add_metric([county], n_open)
            overdue.add_metric([county], n_overdue)
        return [open_, overdue]


def county_counts(session: Session, now: datetime) -> list[tuple[str, int, int]]:
    """Open and overdue incidents per county (the same rules as the maps and /stats)."""
    county = func.substr(Incident.grid_code, 1, sql_width(AreaLevel.county))
    rows = session.execute(
        select(
            county.label("county"),
            func.count(),
            func.count().filter(overdue_clause(now)),
        )
        .where(Incident.status.in_(sorted(OPEN)))
        .group_by(county)
        .order_by(county)
    ).all()
    return [(str(c), int(o), int(d)) for c, o, d in rows if c]


class _Families:
    """A collector handing over families already read (registered for one scrape)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self._families


def render(domain: list[GaugeMetricFamily]) -> bytes:
    """The Prometheus text of every worker's counters and ``domain``'s gauges."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    extra.register(_Families(domain))
    return text + generate_latest(extra)
