"""How much one worker process takes on at once, and what it answers past that.

The lock-up this replaces (docs/decisions.md, "Shedding load"): a request's session held a
pooled connection across thread hops (the endpoint's thread, then another for the commit),
so with more requests than threads, threads waited for connections held by requests that
waited for threads, until the pool's 30 s timeout answered 500. The cure is sizing the
three resources together and refusing the rest at the door:

- **Slots.** ``Gate`` lets ``max_concurrent_requests`` requests work at once. A request takes
  a slot after its body has arrived (a slow body holds only a coroutine) and gives it back
  when its answer starts: a sync endpoint has committed by then, and an event stream goes
  on without one. Up to ``max_queued_requests`` wait for a slot, each at most
  ``queue_seconds``; past either, the answer is 503 with ``Retry-After`` at once.
- **Threads.** The default thread limiter has ``slots + THREAD_HEADROOM`` tokens. A request
  uses at most one thread at a time (dependencies, endpoint and commit run one after the
  other), so an admitted request never waits for a thread; the headroom serves what runs
  after a slot is given back (static files, background tasks).
- **Connections.** The request pool holds ``slots`` connections plus headroom for jobs, so an
  admitted request never waits for one. Anything a request needs *besides* its own
  transaction — rate-limit counters, audit rows of refusals, the active-plan check, health
  probes, event-stream polls — comes from a small side pool that is never held while
  waiting for anything else, so no request can hold one connection while waiting for
  another from the same pool.
- **Probes and streams.** ``/health`` skips the gate and runs on the side pool with threads
  of its own, so it answers during a burst; open event streams are counted apart
  (``max_streams``) and poll on threads of their own.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass

from api.middleware import ASGIApp, Message, Receive, Scope, Send, problem_answer
from gridmap.settings import Settings

THREAD_HEADROOM = 8  # threads beyond the slots: static files, background tasks
POOL_HEADROOM = 8  # request-pool connections beyond the slots: background jobs, caches
SIDE_POOL = 4  # side connections kept open (limits, audit, plan check, probes, streams)
SIDE_OVERFLOW = 4
PROBE_THREADS = 2
STREAM_THREADS = 2
POOL_TIMEOUT = 5.0  # never reached while the sizes hold; a 503 rather than a 30 s wait


@dataclass(frozen=True)
class Sizes:
    """The sizes of one worker process's resources, derived from the settings together."""

    slots: int
    queue: int
    queue_seconds: float
    streams: int
    threads: int
    pool: int
    pool_overflow: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Sizes:
        """Slots, queue and streams as configured; threads and pool sized to match."""
        slots = settings.max_concurrent_requests
        return cls(
            slots=slots,
            queue=settings.max_queued_requests,
            queue_seconds=settings.queue_seconds,
            streams=settings.max_streams,
            threads=slots + THREAD_HEADROOM,
            pool=slots,
            pool_overflow=POOL_HEADROOM,
        )

    def connections(self) -> int:
        """The most database connections one worker process opens."""
        return self.pool + self.pool_overflow + SIDE_POOL + SIDE_OVERFLOW


class Gate:
    """Admission of requests to a fixed number of slots, with a short bounded queue.

    ``bypass`` paths (health probes) are never gated; ``stream_paths`` take a slot only until
    their answer starts and are counted apart while they stay open.
    """

    def __init__(
        self, app: ASGIApp, *, sizes: Sizes, bypass: tuple[str, ...] = (),
        stream_paths: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.app = app
        self.sizes = sizes
        self.bypass = frozenset(bypass)
        self.stream_paths = frozenset(stream_paths)
        self.active = 0  # slots taken
        self.streams = 0  # event streams open
        self.shed = 0  # requests answered 503 here, since start
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path in self.bypass:
            await self.app(scope, receive, send)
            return
        stream = path in self.stream_paths
        if stream and self.streams >= self.sizes.streams:
            await self._refuse(send, path, f"{self.streams} event streams are open")
            return
        if not await self._acquire():
            await self._refuse(send, path, "every slot is taken and the queue is full")
            return
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self._release()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()  # the work is done (committed); sending the body needs no slot
            await send(message)

        self.streams += stream
        try:
            await self.app(scope, receive, send_then_release)
        finally:
            give_back()
            self.streams -= stream

    async def _acquire(self) -> bool:
        if self.active < self.sizes.slots and not self._waiting:
            self.active += 1
            return True
        if len(self._waiting) >= self.sizes.queue:
            return False
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            async with asyncio.timeout(self.sizes.queue_seconds):
                await asyncio.shield(ticket)
        except TimeoutError:
            self._withdraw(ticket)
            return False
        except asyncio.CancelledError:  # the client went away while waiting
            self._withdraw(ticket)
            raise
        return True  # the releasing request handed its slot over: ``active`` is unchanged

    def _withdraw(self, ticket: asyncio.Future[None]) -> None:
        if ticket.done() and not ticket.cancelled():
            self._release()  # handed over just as the wait ended: pass it on
        else:
            ticket.cancel()
            self._waiting.remove(ticket)

    def _release(self) -> None:
        while self._waiting:
            ticket = self._waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)  # hand the slot over
                return
        self.active -= 1

    async def _refuse(self, send: Send, path: str, why: str) -> None:
        self.shed += 1
        retry = max(1, math.ceil(self.sizes.queue_seconds))
        await problem_answer(
            send, 503, "overloaded", "Service Unavailable",
            f"the server is busy ({why}): try again in {retry} s",
            path, [(b"retry-after", str(retry).encode())],
        )  # fmt: skip
