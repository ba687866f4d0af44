"""Rate limits shared by every worker process: the ``limits`` library over PostgreSQL.

``limits`` (alisaifee/limits) provides the strategies; it ships storages for Redis,
Memcached, MongoDB and etcd, none of which gridmap has. ``PostgresStorage`` is a storage
for it over the database gridmap already runs: one UNLOGGED table, one atomic
``INSERT … ON CONFLICT … RETURNING`` per hit, on its own autocommitted connection so a
request whose transaction rolls back still counts.

What is limited (settings ``GRIDMAP_RATE_*``, docs/security.md): sign-in attempts per
client address, anonymous reports per client address, unmasked reads per user, reports
per Open311 client. Failed sign-ins have delays of their own (gridmap/auth/lockout.py).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import limits
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gridmap.errors import RateLimited
from gridmap.ops import counters
from gridmap.settings import Settings

_INCR = text(
    """
    INSERT INTO rate_limit (key, count, expires_at)
    VALUES (:key, :amount, now() + make_interval(secs => :expiry))
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limit.expires_at <= now() THEN EXCLUDED.count
                     ELSE rate_limit.count + EXCLUDED.count END,
        expires_at = CASE WHEN rate_limit.expires_at <= now() THEN EXCLUDED.expires_at
                          ELSE rate_limit.expires_at END
    RETURNING count
    """
)
_GET = text("SELECT count FROM rate_limit WHERE key = :key AND expires_at > now()")
_EXPIRY = text(
    "SELECT extract(epoch FROM expires_at) FROM rate_limit WHERE key = :key AND expires_at > now()"
)
_PURGE_EVERY = 1000  # hits between deletions of expired windows


class PostgresStorage(Storage):
    """A ``limits`` storage in the gridmap database (table ``rate_limit``)."""

    STORAGE_SCHEME = ["gridmap+postgresql"]  # noqa: RUF012

    def __init__(self, engine: Engine, **options: float | str | bool) -> None:
        super().__init__(None, wrap_exceptions=False, **options)
        self.engine = engine
        self._hits = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:  # noqa: D102
        return DBAPIError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:  # noqa: D102
        with self.engine.connect() as conn:
            count = conn.execute(_INCR, {"key": key, "amount": amount, "expiry": expiry}).scalar()
            self._hits += 1
            if self._hits % _PURGE_EVERY == 0:
                conn.execute(text("DELETE FROM rate_limit WHERE expires_at <= now()"))
            conn.commit()
        return int(count or 0)

    def get(self, key: str) -> int:  # noqa: D102
        with self.engine.connect() as conn:
            return int(conn.execute(_GET, {"key": key}).scalar() or 0)

    def get_expiry(self, key: str) -> float:  # noqa: D102
        with self.engine.connect() as conn:
            value = conn.execute(_EXPIRY, {"key": key}).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:  # noqa: D102
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:  # noqa: D102
        with self.engine.connect() as conn:
            n = conn.execute(text("DELETE FROM rate_limit")).rowcount
            conn.commit()
        return int(n)

    def clear(self, key: str) -> None:  # noqa: D102
        with self.engine.connect() as conn:
            conn.execute(text("DELETE FROM rate_limit WHERE key = :key"), {"key": key})
            conn.commit()


@dataclass(frozen=True)
class Rule:
    """A named limit, e.g. ``Rule("sign_in_client", "20/minute", "sign-in attempts")``."""

    name: str
    limit: str
    what: str

    @property
    def item(self) -> limits.RateLimitItem:
        """The parsed limit."""
        return limits.parse(self.limit)


class RateLimiter:
    """Checks named rules for identifiers (a client address, a username, a user id)."""

    def __init__(self, storage: Storage, *, enabled: bool = True) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.enabled = enabled
        # identifiers this process has refused, until their window resets: a flood of
        # refused requests is answered without a database round trip each
        self._blocked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def hit(self, rule: Rule, identifier: str) -> None:
        """Count one event; refuse (429 with Retry-After) once the limit is used up."""
        if not self.enabled:
            return
        self._refuse_if_blocked(rule, identifier)
        if not self.strategy.hit(rule.item, rule.name, identifier):
            self._refuse(rule, identifier)

    def check(self, rule: Rule, identifier: str) -> None:
        """Refuse (429) if the limit is used up, without counting."""
        if not self.enabled:
            return
        self._refuse_if_blocked(rule, identifier)
        if not self.strategy.test(rule.item, rule.name, identifier):
            self._refuse(rule, identifier)

    def clear(self, rule: Rule, identifier: str) -> None:
        """Forget the events counted for ``identifier``."""
        with self._lock:
            self._blocked.pop((rule.name, identifier), None)
        self.storage.clear(rule.item.key_for(rule.name, identifier))

    def _refuse_if_blocked(self, rule: Rule, identifier: str) -> None:
        until = self._blocked.get((rule.name, identifier))
        if until is None:
            return
        now = time.time()
        if now < until:
            self._raise(rule, until - now)
        with self._lock:
            self._blocked.pop((rule.name, identifier), None)

    def _refuse(self, rule: Rule, identifier: str) -> None:
        reset, _ = self.strategy.get_window_stats(rule.item, rule.name, identifier)
        with self._lock:
            if len(self._blocked) > 100_000:  # a flood of distinct identifiers: start over
                self._blocked.clear()
            self._blocked[(rule.name, identifier)] = reset
        self._raise(rule, reset - time.time())

    @staticmethod
    def _raise(rule: Rule, seconds: float) -> None:
        retry_after = max(1, math.ceil(seconds))
        counters.RATE_LIMITED.labels(rule=rule.name).inc()
        raise RateLimited(
            f"too many {rule.what} ({rule.limit}): try again in {retry_after} s",
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class Rules:
    """The limits gridmap applies, from the settings."""

    sign_in_client: Rule
    anonymous_intake: Rule
    unmask: Rule
    open311_intake: Rule

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules configured by ``GRIDMAP_RATE_*``."""
        return cls(
            sign_in_client=Rule("sign_in_client", settings.rate_sign_in_client, "sign-in attempts"),
            anonymous_intake=Rule(
                "anonymous_intake", settings.rate_anonymous_intake, "anonymous reports"
            ),
            unmask=Rule("unmask", settings.rate_unmask, "unmasked reads"),
            open311_intake=Rule(
                "open311_intake", settings.rate_open311_intake, "reports from this client"
            ),
        )
