"""Failed sign-ins: delays per (account, address), a lock only when many addresses fail.

A lockout per account alone is itself a denial of service: anyone who knows a username
(``admin``) could keep its owner out with five wrong passwords every quarter of an hour.
So failures are counted per (account, address): after ``free_failures`` from one address
that address waits ``first_delay``, then twice as long after each further failure, up to
``max_delay`` — and only that address waits; the owner signing in from elsewhere gets in.
Guessing from many addresses at once (a botnet) is what a per-address delay cannot stop:
when failures for one account came from ``lock_addresses`` distinct addresses within
``lock_window``, the account is locked for every address until fewer did (an administrator
can unlock it at once: ``POST /users/{name}/unlock``, ``gridmap user unlock``).

The counts live in the database (``sign_in_failure``, UNLOGGED), written on a connection
of their own and committed at once, so every worker process shares them and a request
whose transaction rolls back still counts (as the rate limits of gridmap/ratelimit.py).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text

from gridmap.errors import RateLimited
from gridmap.settings import Settings

FORGET_AFTER = 24 * 3600  # seconds after its last failure that a pair's count is forgotten
_PURGE_EVERY = 1000  # failures recorded between deletions of forgotten rows


@dataclass(frozen=True)
class SignInPolicy:
    """How failed sign-ins are answered (settings ``GRIDMAP_RATE_SIGN_IN_*``)."""

    free_failures: int = 5
    first_delay: int = 60
    max_delay: int = 1800
    lock_addresses: int = 10
    lock_window: int = 900

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        """The policy configured by the settings."""
        return cls(
            free_failures=settings.rate_sign_in_free_failures,
            first_delay=settings.rate_sign_in_delay_seconds,
            max_delay=settings.rate_sign_in_max_delay_seconds,
            lock_addresses=settings.rate_sign_in_lock_addresses,
            lock_window=settings.rate_sign_in_lock_seconds,
        )


def delay(policy: SignInPolicy, failures: int) -> int:
    """Seconds an address waits after its ``failures``-th failure on an account (0: none).

    1, 2, 4 … minutes (by default) from the ``free_failures``-th failure on, capped.
    """
    if failures < policy.free_failures:
        return 0
    doublings = min(failures - policy.free_failures, 30)  # 2**30 minutes is far past any cap
    return min(policy.max_delay, policy.first_delay * 2**doublings)


def locked_for(policy: SignInPolicy, newest_ages: Sequence[float]) -> float:
    """Seconds the account stays locked (0: not locked).

    ``newest_ages``: how long ago (seconds) the last failure of each address that failed on
    the account happened, newest first. The account is locked while ``lock_addresses`` of
    them failed within ``lock_window``: until the ``lock_addresses``-th newest ages out.
    """
    n = policy.lock_addresses
    if len(newest_ages) < n or newest_ages[n - 1] >= policy.lock_window:
        return 0.0
    return policy.lock_window - newest_ages[n - 1]


_PAIR = text(
    "SELECT failures, extract(epoch FROM now() - last_at) FROM sign_in_failure "
    "WHERE account = :account AND address = :address "
    "AND last_at > now() - make_interval(secs => :forget)"
)
_NEWEST = text(
    "SELECT extract(epoch FROM now() - last_at) FROM sign_in_failure "
    "WHERE account = :account AND last_at > now() - make_interval(secs => :window) "
    "ORDER BY last_at DESC LIMIT :n"
)
_FAILED = text(
    """
    INSERT INTO sign_in_failure (account, address, failures, last_at)
    VALUES (:account, :address, 1, now())
    ON CONFLICT (account, address) DO UPDATE SET
        failures = CASE WHEN sign_in_failure.last_at <= now() - make_interval(secs => :forget)
                        THEN 1 ELSE sign_in_failure.failures + 1 END,
        last_at = now()
    RETURNING failures
    """
)


class SignInGuard:
    """Failed sign-ins counted per (account, address) in the database; see the module."""

    def __init__(self, engine: Engine, policy: SignInPolicy, *, enabled: bool = True) -> None:
        self.engine = engine
        self.policy = policy
        self.enabled = enabled
        self._failures = 0

    @staticmethod
    def account(username: str) -> str:
        """The key of an account: its name as typed, case folded, bounded."""
        return username.strip().lower()[:100]

    @staticmethod
    def address(client: str) -> str:
        """The key of a client address: an IPv6 address by its /64 (one subscriber's)."""
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:  # not an address (a test client, a socket path)
            return client[:100]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def check(self, username: str, address: str) -> None:
        """Refuse (429 + Retry-After) while this address waits or the account is locked."""
        if not self.enabled:
            return
        account = self.account(username)
        with self.engine.connect() as conn:
            pair = conn.execute(
                _PAIR,
                {"account": account, "address": self.address(address), "forget": FORGET_AFTER},
            ).first()
            newest = conn.scalars(
                _NEWEST,
                {"account": account, "window": self.policy.lock_window,
                 "n": self.policy.lock_addresses},
            ).all()  # fmt: skip
        locked = locked_for(self.policy, [float(a) for a in newest])
        if locked > 0:
            raise RateLimited(
                "sign-in to this account is locked: wrong passwords came from many addresses. "
                f"Try again in {_seconds(locked)} s, or ask an administrator to unlock it",
                retry_after=_seconds(locked),
            )
        if pair is not None:
            wait = delay(self.policy, int(pair[0])) - float(pair[1])
            if wait > 0:
                raise RateLimited(
                    f"{int(pair[0])} wrong passwords for this account from your address: "
                    f"try again in {_seconds(wait)} s",
                    retry_after=_seconds(wait),
                )

    def failed(self, username: str, address: str) -> int:
        """Count a failure of ``address`` on the account; the pair's count so far."""
        if not self.enabled:
            return 0
        params = {"account": self.account(username), "address": self.address(address),
                  "forget": FORGET_AFTER}  # fmt: skip
        with self.engine.connect() as conn:
            count = int(conn.execute(_FAILED, params).scalar_one())
            self._failures += 1
            if self._failures % _PURGE_EVERY == 0:
                conn.execute(
                    text("DELETE FROM sign_in_failure WHERE last_at <= now() - "
                         "make_interval(secs => :forget)"), {"forget": FORGET_AFTER},
                )  # fmt: skip
            conn.commit()
        return count

    def succeeded(self, username: str, address: str) -> None:
        """Forget this address's failures on the account (the others' stay)."""
        if not self.enabled:
            return
        with self.engine.connect() as conn:
            conn.execute(
                text("DELETE FROM sign_in_failure WHERE account = :account AND address = :address"),
                {"account": self.account(username), "address": self.address(address)},
            )
            conn.commit()

    def unlock(self, username: str) -> int:
        """Forget every failure on the account, from every address; how many addresses."""
        with self.engine.connect() as conn:
            n = conn.execute(
                text("DELETE FROM sign_in_failure WHERE account = :account"),
                {"account": self.account(username)},
            ).rowcount
            conn.commit()
        return int(n)


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))
