"""The change-impact report over HTTP, bounded: it reads every household of its area.

City-wide the report takes about 24 s of a core, and a planner could start any number of
them (a double click, a script, several tabs): a few would take every core of the server.
So, for the API (the command line computes directly):

- a report is kept per (plan in force, draft, area) for ``ttl`` seconds and answered from
  memory meanwhile, with the time it was computed. Plans do not change once drafted; what
  moves is the registry (households, open incidents, visits), hence a short life rather
  than forever;
- a user computes one report at a time, across worker processes (a transaction-scoped
  advisory lock on the user): a second is 429 with Retry-After;
- a process computes at most ``slots`` reports at a time: past that, 503 with Retry-After.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.errors import GridmapError, RateLimited
from gridmap.scope import Actor

# the first key of the per-user advisory lock: negative, so never a user id (the offline
# ids of gridmap/registry/offline.py lock (user id, hash))
IMPACT_LOCK = -31


class ImpactBusy(GridmapError):
    """Every slot for impact reports in this process is taken: try again shortly."""

    status = 503
    code = "busy"
    title = "Service busy"

    def headers(self) -> dict[str, str]:  # noqa: D102
        return {"Retry-After": str(self.extra.get("retry_after", 30))}


Key = tuple[int, int, str]


class ImpactReports:
    """Impact reports computed at most ``slots`` at a time, one per user, kept ``ttl`` s."""

    def __init__(self, *, slots: int = 1, ttl: float = 300.0, size: int = 32) -> None:
        self.ttl = ttl
        self.size = size
        self._slots = threading.BoundedSemaphore(slots)
        self._kept: OrderedDict[Key, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._seconds = 30.0  # how long a computation takes here (a moving average)

    def report(
        self, session: Session, actor: Actor, key: Key, compute: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The report for ``key`` (before, after, area): kept, or computed by ``compute``.

        Raises
        ------
        RateLimited
            The user's previous report is still being computed (429).
        ImpactBusy
            Every slot of this process is taken (503).
        """
        if (kept := self._get(key)) is not None:
            return kept
        mine = func.pg_try_advisory_xact_lock(IMPACT_LOCK, actor.user_id)
        if not session.scalar(select(mine)):
            raise RateLimited(
                "your previous impact report is still being computed: one at a time — "
                f"try again in {self._retry_after()} s",
                retry_after=self._retry_after(),
            )
        if not self._slots.acquire(blocking=False):
            raise ImpactBusy(
                f"other impact reports are being computed: try again in {self._retry_after()} s",
                retry_after=self._retry_after(),
            )
        try:
            if (kept := self._get(key)) is not None:  # computed meanwhile by someone else
                return kept
            started = time.monotonic()
            report = compute() | {"computed_at": datetime.now(UTC).isoformat()}
            took = time.monotonic() - started
        finally:
            self._slots.release()
        with self._lock:
            self._seconds = 0.7 * self._seconds + 0.3 * took
            self._kept[key] = (time.monotonic(), report)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return copy.deepcopy(report)

    def _get(self, key: Key) -> dict[str, Any] | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.ttl:
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return copy.deepcopy(found[1])

    def _retry_after(self) -> int:
        return max(1, math.ceil(self._seconds))
