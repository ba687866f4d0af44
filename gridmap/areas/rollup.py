"""Registry counts per grid cell, rolled up to any area by code prefix.

Counting a county's million people row by row takes over a second; counting every cell of
the city once takes a few seconds, and summing a county's few hundred cells from that table
takes microseconds. So an area above the cell reads its counts from this table, counted
once and then refreshed in the background when older than ``TTL`` (stale-while-revalidate:
no request waits for a recount, and the figures are at most that old — the answer says
when they were counted). A single cell is always counted live.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gridmap.registry.groups import GROUPS

TTL = 60.0

_QUERIES = (
    "SELECT grid_code, count(*) AS buildings FROM building WHERE grid_code IS NOT NULL "
    "GROUP BY grid_code",
    "SELECT grid_code, count(*) AS houses, count(*) FILTER (WHERE is_rented) AS renters "
    "FROM house WHERE grid_code IS NOT NULL GROUP BY grid_code",
    "SELECT grid_code, count(*) AS households FROM household "
    "WHERE grid_code IS NOT NULL AND status = 'active' GROUP BY grid_code",
    "SELECT grid_code, count(*) AS people, "
    + ", ".join(f"count(*) FILTER (WHERE '{tag}' = ANY(tags)) AS group_{tag}" for tag in GROUPS)
    + " FROM person WHERE grid_code IS NOT NULL AND status = 'resident' GROUP BY grid_code",
    "SELECT grid_code, count(*) AS work_units FROM work_unit WHERE grid_code IS NOT NULL "
    "GROUP BY grid_code",
)
COLUMNS = ("buildings", "houses", "households", "people", "work_units",
           *(f"group_{t}" for t in GROUPS), "renters")  # fmt: skip


class CellCounts:
    """The per-cell table, shared by the requests of one process."""

    def __init__(self) -> None:
        self._table: tuple[float, datetime, pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def _count(self, session: Session) -> tuple[float, datetime, pd.DataFrame]:
        frames = [
            pd.read_sql(text(q), session.connection()).set_index("grid_code") for q in _QUERIES
        ]
        table = pd.concat(frames, axis=1).fillna(0).astype(np.int64).sort_index()
        table = table.reindex(columns=list(COLUMNS), fill_value=0)
        self._table = (time.monotonic(), datetime.now(UTC), table)
        return self._table

    def table(self, session: Session) -> tuple[datetime, pd.DataFrame]:
        """When it was counted, and the table (refreshed in the background when stale)."""
        if not isinstance(session.get_bind(), Engine):
            # a session on one connection (tests, a transaction of one's own): its own
            # uncommitted rows must count, so no table is shared
            own = self._count(session)
            self._table = None
            return own[1], own[2]
        hit = self._table
        if hit is None:
            with self._lock:
                hit = self._table or self._count(session)
        elif time.monotonic() - hit[0] > TTL and self._lock.acquire(blocking=False):
            bind = session.get_bind()

            def refresh() -> None:
                try:
                    with Session(bind) as fresh:
                        self._count(fresh)
                finally:
                    self._lock.release()

            threading.Thread(target=refresh, daemon=True).start()
        return hit[1], hit[2]

    def of(self, session: Session, prefix: str) -> tuple[datetime, dict[str, int]]:
        """The sums over the cells whose code starts with ``prefix``."""
        at, table = self.table(session)
        index = table.index.to_numpy(dtype=str)
        lo = int(np.searchsorted(index, prefix, side="left"))
        hi = int(np.searchsorted(index, prefix + "\uffff", side="left"))
        sums = table.iloc[lo:hi].sum()
        return at, {c: int(sums.get(c, 0)) for c in COLUMNS}

    def forget(self) -> None:
        """Drop the table (after a bulk load or a plan switch)."""
        self._table = None
