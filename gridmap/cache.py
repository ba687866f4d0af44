"""Stale-while-revalidate: a value counted once per key, then served while counted again.

Counting a city's registry per grid cell takes seconds; serving the counts takes
microseconds. A value is counted on its first use (one request waits; others asking for the
same key wait for that count rather than start their own), then served as it is. Once
older than ``ttl``, the first request to notice starts a recount in a background thread and
is served the old value meanwhile: no request waits for a recount, and a value served is at
most ``ttl`` plus one count old. Every answer says when its value was counted.

A session bound to one connection instead of an engine (a test, a caller's own transaction)
may hold rows no one else sees: its value is counted live and never shared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)


class StaleWhileRevalidate(Generic[K, V]):
    """Values of ``count(session, key)``, kept per key and recounted in the background."""

    def __init__(self, count: Callable[[Session, K], V], *, ttl: float) -> None:
        self._count = count
        self.ttl = ttl
        self._values: dict[K, tuple[float, datetime, V]] = {}
        self._locks: dict[K, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, session: Session, key: K) -> tuple[datetime, V]:
        """When the value of ``key`` was counted, and the value."""
        bind = session.get_bind()
        if not isinstance(bind, Engine):
            return datetime.now(UTC), self._count(session, key)
        hit = self._values.get(key)
        if hit is None:
            with self._lock(key):
                hit = self._values.get(key) or self._store(session, key)
        elif time.monotonic() - hit[0] > self.ttl:
            lock = self._lock(key)
            if lock.acquire(blocking=False):  # else a recount is under way already
                threading.Thread(target=self._refresh, args=(bind, key, lock), daemon=True).start()
        return hit[1], hit[2]

    def forget(self, key: K | None = None) -> None:
        """Drop the value of ``key`` (every value without one): counted again on next use."""
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    def _lock(self, key: K) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _store(self, session: Session, key: K) -> tuple[float, datetime, V]:
        started, at = time.monotonic(), datetime.now(UTC)  # the figures are at least this fresh
        entry = (started, at, self._count(session, key))
        self._values[key] = entry
        return entry

    def _refresh(self, bind: Engine, key: K, lock: threading.Lock) -> None:
        try:
            with Session(bind) as session:
                self._store(session, key)
        except Exception:  # the old value stays; the next request past the ttl tries again
            log.exception("recounting %r failed", key)
        finally:
            lock.release()
