"""The gate (api/capacity.py) on a tiny ASGI app: slots, the bounded queue, 503 at once."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.capacity import Gate, Sizes
from gridmap.settings import Settings


def sizes(slots: int = 1, queue: int = 1, queue_seconds: float = 5.0, streams: int = 1) -> Sizes:
    return Sizes(slots=slots, queue=queue, queue_seconds=queue_seconds, streams=streams,
                 threads=slots + 8, pool=slots, pool_overflow=8)  # fmt: skip


class Slow:
    """An app whose requests finish when the test says so; it records who started."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.events: dict[str, asyncio.Event] = {}

    def finish(self, name: str) -> None:
        """Let the request ``name`` finish (now, or as soon as it starts)."""
        self.events.setdefault(name, asyncio.Event()).set()

    async def __call__(self, scope, receive, send) -> None:
        name = scope["path"]
        self.started.append(name)
        await self.events.setdefault(name, asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if name.startswith("/stream"):  # an event stream: the body goes on after the head
            await self.events.setdefault(name + ":end", asyncio.Event()).wait()
        await send({"type": "http.response.body", "body": b"ok"})


async def call(gate: Gate, path: str) -> tuple[int, dict[str, str], dict]:
    answer: dict = {}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            answer.setdefault("body", b"")
            answer["body"] += message.get("body", b"")

    await gate({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    body = answer.get("body", b"")
    return answer["status"], answer["headers"], json.loads(body) if body != b"ok" else {}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_past_the_slots_and_the_queue_the_answer_is_503_at_once_with_retry_after():
    async def scenario():
        app = Slow()
        gate = Gate(app, sizes=sizes(slots=1, queue=1))
        first = asyncio.create_task(call(gate, "/a"))
        second = asyncio.create_task(call(gate, "/b"))  # waits in the queue
        await settle()
        status, headers, body = await asyncio.wait_for(call(gate, "/c"), 1)  # at once
        assert (status, body["code"]) == (503, "overloaded")
        assert int(headers["retry-after"]) >= 1
        assert app.started == ["/a"]  # /b waits for the slot, /c never ran
        app.finish("/a")
        await first
        await settle()
        assert app.started == ["/a", "/b"]  # the slot was handed to the one waiting
        app.finish("/b")
        assert (await second)[0] == 200
        assert (gate.active, gate.shed) == (0, 1)

    asyncio.run(scenario())


def test_a_request_waits_at_most_queue_seconds_then_gets_503():
    async def scenario():
        app = Slow()
        gate = Gate(app, sizes=sizes(slots=1, queue=5, queue_seconds=0.2))
        first = asyncio.create_task(call(gate, "/a"))
        await settle()
        status, headers, _ = await asyncio.wait_for(call(gate, "/b"), 2)
        assert status == 503 and headers["retry-after"] == "1"
        assert app.started == ["/a"]
        app.finish("/a")
        await first
        assert gate.active == 0 and not gate._waiting

    asyncio.run(scenario())


def test_a_client_that_leaves_while_waiting_gives_its_place_back():
    async def scenario():
        app = Slow()
        gate = Gate(app, sizes=sizes(slots=1, queue=1))
        first = asyncio.create_task(call(gate, "/a"))
        await settle()
        leaving = asyncio.create_task(call(gate, "/b"))
        await settle()
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        third = asyncio.create_task(call(gate, "/c"))  # the queue has room again
        await settle()
        app.finish("/a")
        app.finish("/c")
        assert (await first)[0] == 200 and (await third)[0] == 200
        assert app.started == ["/a", "/c"] and gate.active == 0

    asyncio.run(scenario())


def test_a_stream_gives_its_slot_back_when_it_starts_and_streams_are_counted_apart():
    async def scenario():
        app = Slow()
        gate = Gate(app, sizes=sizes(slots=1, queue=0, streams=1), stream_paths=("/stream",))
        app.finish("/stream")  # the head goes out at once, the body goes on
        stream = asyncio.create_task(call(gate, "/stream"))
        await settle()
        assert gate.streams == 1 and gate.active == 0  # open, without a slot
        app.finish("/a")
        assert (await asyncio.wait_for(call(gate, "/a"), 1))[0] == 200  # the slot is free
        status, _, body = await asyncio.wait_for(call(gate, "/stream"), 1)
        assert status == 503 and "event streams" in body["detail"]
        app.finish("/stream:end")
        assert (await stream)[0] == 200 and gate.streams == 0

    asyncio.run(scenario())


def test_health_is_never_gated():
    async def scenario():
        app = Slow()
        gate = Gate(app, sizes=sizes(slots=1, queue=0), bypass=("/health",))
        first = asyncio.create_task(call(gate, "/a"))
        await settle()
        app.finish("/health")
        assert (await asyncio.wait_for(call(gate, "/health"), 1))[0] == 200
        app.finish("/a")
        await first

    asyncio.run(scenario())


def test_threads_and_connections_are_sized_from_the_slots():
    s = Sizes.from_settings(Settings(max_concurrent_requests=12))
    # an admitted request never waits for a thread or a connection of the request pool
    assert s.threads >= s.slots and s.pool >= s.slots
    # two workers fit in PostgreSQL's default max_connections of 100
    assert 2 * Sizes.from_settings(Settings()).connections() <= 100
