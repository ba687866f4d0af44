"""Incident changes pushed to open pages: one LISTEN per worker process, fanned out.

Every workflow action appends to ``incident_event``, and a trigger announces each such
statement on the channel ``gridmap_incident`` at commit (migration 0016): the incident ids
and the newest event id, or no ids when one statement added more than 200 events (a seed
load, an import). ``Changes`` holds one autocommit connection listening on that channel —
opened when the first stream subscribes, so the many short-lived apps of the test suite
open none — and hands each announcement to every open stream's queue. A stream that falls
behind (its queue full) or a listener that lost its connection is told to reload instead of
silently missing changes.

What a stream may see is decided per stream, by the one scope rule (``incident_filter``),
in ``api/routers/changes.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger("gridmap.api")

CHANNEL = "gridmap_incident"
QUEUE = 100  # announcements a stream may fall behind before it must reload
RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class Announcement:
    """Incidents changed: ``event`` the newest event id; ``incidents`` None = many, reload."""

    event: int
    incidents: frozenset[int] | None


RELOAD = Announcement(0, None)  # the listener reconnected or the stream fell behind


class Changes:
    """The process's listener and its subscribers."""

    def __init__(self, database_url: str) -> None:
        self.conninfo = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._queues: set[asyncio.Queue[Announcement]] = set()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def subscribe(self) -> asyncio.Queue[Announcement]:
        """A queue of announcements for one stream; the listener starts with the first."""
        queue: asyncio.Queue[Announcement] = asyncio.Queue(QUEUE)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Announcement]) -> None:
        """The stream closed."""
        self._queues.discard(queue)

    async def stop(self) -> None:
        """Close the listening connection (at shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _publish(self, announcement: Announcement) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(announcement)
            except asyncio.QueueFull:  # fell behind: drop what it has not read, say reload
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RELOAD)

    async def _listen(self) -> None:
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if not first:  # changes may have passed while we were away
                        self._publish(RELOAD)
                    first = False
                    async for note in conn.notifies():
                        self._publish(parse(note.payload))
            except (psycopg.OperationalError, OSError) as exc:
                self.listening.clear()
                log.warning("incident changes: listener lost its connection (%s)", exc)
                await asyncio.sleep(RECONNECT_SECONDS)


def parse(payload: str) -> Announcement:
    """The trigger's JSON (``{"event": 12, "incidents": [3, 4]}``) as an Announcement."""
    data = json.loads(payload)
    ids = data.get("incidents")
    return Announcement(int(data["event"]), None if ids is None else frozenset(ids))
