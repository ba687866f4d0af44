"""A burst of concurrent requests against a real server: does it answer, shed or lock up?

    python -m benchmarks.burst --requests 1000 --streams 200 --workers 2

Loads a small demo seed (``--fraction`` of the demo's people) into a throwaway cluster,
creates the demo users, starts uvicorn with ``--workers`` processes and releases, all at
once, ``--requests`` requests — a mix of signed-in incident lists, intake posts, point
lookups and ``--streams`` notification streams — each on its own connection, as many
clients arriving together do. A prober asks ``/api/v1/health`` every 50 ms through the
burst. One second after the burst it checks that the server answers normally.

Prints answers by status, how many got no answer within ``--timeout`` seconds, latency
percentiles, the health probe's, and the answer after the burst. The suite runs the same
burst, smaller (tests/api/test_burst.py); the issue's targets are 0 × 500, every request
answered within 10 s, and the server normal 1 s after.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MIX = ("list", "intake", "locate")  # the ordinary requests, in turn; streams come on top


@dataclass
class Answer:
    """One request's outcome: its kind, status (0 = no answer) and seconds to the status."""

    kind: str
    status: int
    seconds: float
    retry_after: str | None = None


@dataclass
class Burst:
    """What the clients saw."""

    answers: list[Answer] = field(default_factory=list)
    health: list[Answer] = field(default_factory=list)
    after: Answer | None = None
    elapsed: float = 0.0

    def statuses(self, kind: str | None = None) -> Counter[int]:
        """Answers by status (0: none within the timeout), of one kind or all."""
        return Counter(a.status for a in self.answers if kind is None or a.kind == kind)

    def slowest(self) -> float:
        """Seconds to the slowest status line (the timeout when one never came)."""
        return max((a.seconds for a in self.answers), default=0.0)


async def send(
    host: str, port: int, method: str, path: str, *, token: str | None = None,
    body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10.0,
    hold: asyncio.Event | None = None, kind: str = "",
    heads: list[Answer] | None = None,
) -> Answer:  # fmt: skip
    """One request on a connection of its own; the status line within ``timeout`` or 0.

    With ``hold`` (a stream) the answer's head goes into ``heads`` and the connection stays
    open until the event is set, as a browser keeps an event stream open.
    """
    t0 = time.perf_counter()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(raw)
            status_line = await reader.readline()
            status = int(status_line.split()[1]) if status_line else 0
            retry_after = None
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "retry-after":
                    retry_after = value.strip()
        answer = Answer(kind, status, time.perf_counter() - t0, retry_after)
        if heads is not None:
            heads.append(answer)
        if hold is not None and status == 200:
            await hold.wait()
        elif status:
            await asyncio.wait_for(reader.read(), timeout)  # the rest, as a client would
        return answer
    except (TimeoutError, ConnectionError, OSError, ValueError, IndexError):
        answer = Answer(kind, 0, time.perf_counter() - t0)
        if heads is not None:
            heads.append(answer)
        return answer
    finally:
        if writer is not None:
            writer.close()


def probe(base: str, every: float) -> None:
    """Ask ``base``/api/v1/health every ``every`` seconds until stdin closes.

    Then print one JSON list of [status, seconds]. Run as a process of its own
    (``python -m benchmarks.burst probe URL``), so its figures are the server's and not
    the burst's event loop's.
    """
    import threading

    host, port = base.removeprefix("http://").split(":")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    seen: list[tuple[int, float]] = []
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", "/api/v1/health")
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        seen.append((status, time.perf_counter() - t0))
        time.sleep(every)
    print(json.dumps(seen))


def _request(kind: str, i: int, points: np.ndarray) -> tuple[str, str, bytes | None, dict]:
    x, y = (float(v) for v in points[i % len(points)])
    if kind == "list":
        return "GET", "/api/v1/incidents?page_size=20", None, {}
    if kind == "locate":
        return "GET", f"/api/v1/locate?lon={x}&lat={y}", None, {}
    body = json.dumps(
        {"category": "neighbour", "channel": "grid_app", "lon": x, "lat": y,
         "description": "巡查发现邻里纠纷 (burst)", "people_involved": 2},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    return "POST", "/api/v1/incidents", body, {"Idempotency-Key": uuid.uuid4().hex}


async def burst(
    base: str, token: str, points: np.ndarray, *, requests: int, streams: int,
    timeout: float = 10.0, probe_every: float = 0.05,
) -> Burst:  # fmt: skip
    """Release ``requests`` ordinary requests and ``streams`` event streams at once."""
    host, port_text = base.removeprefix("http://").split(":")
    port = int(port_text)
    result = Burst()
    release = asyncio.Event()
    done = asyncio.Event()

    async def one(i: int) -> Answer:
        kind = MIX[i % len(MIX)]
        method, path, body, headers = _request(kind, i, points)
        await release.wait()
        return await send(host, port, method, path, token=token, body=body,
                          headers=headers, timeout=timeout, kind=kind)  # fmt: skip

    heads: list[Answer] = []

    async def stream() -> Answer:
        await release.wait()
        return await send(host, port, "GET", "/api/v1/notifications/stream", token=token,
                          timeout=timeout, hold=done, kind="stream", heads=heads)  # fmt: skip

    # streams among the others, as browsers open them while the rest arrive
    order = sorted([(i / requests, 0, i) for i in range(requests)]
                   + [(j / streams, 1, j) for j in range(streams)])  # fmt: skip
    ordinary_tasks, stream_tasks = [], []
    for _, is_stream, i in order:
        if is_stream:
            stream_tasks.append(asyncio.create_task(stream()))
        else:
            ordinary_tasks.append(asyncio.create_task(one(i)))
    # the prober is a process of its own: its figures are the server's, not this loop's
    prober = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.burst", "probe", base, str(probe_every)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    await asyncio.sleep(1.0)  # every task waiting at the gate, the prober running
    t0 = time.perf_counter()
    release.set()
    ordinary = await asyncio.gather(*ordinary_tasks)
    result.elapsed = time.perf_counter() - t0
    # every stream has its answer's head (or gave up at its timeout): let them all go
    while len(heads) < streams:
        await asyncio.sleep(0.05)
    done.set()
    await asyncio.gather(*stream_tasks)
    seen, _ = prober.communicate(timeout=30)  # closing its stdin stops it
    result.health = [Answer("health", status, seconds) for status, seconds in json.loads(seen)]
    result.answers = [*ordinary, *heads]
    await asyncio.sleep(1.0)
    method, path, _, _ = _request("list", 0, points)
    result.after = await send(host, port, method, path, token=token, timeout=timeout, kind="list")
    return result


@dataclass
class SlowBodies:
    """A slow-body attack: what an ordinary client saw meanwhile, and the bodies' answers."""

    during: Answer
    released: list[Answer]
    elapsed: float


async def slow_bodies(
    base: str, token: str, points: np.ndarray, *, connections: int, hold: float = 2.0,
    timeout: float = 10.0,
) -> SlowBodies:  # fmt: skip
    """Open ``connections`` intake posts that send their head and a byte of body, hold them
    ``hold`` seconds (asking for an incident list meanwhile), then release every body at
    once, as the attack the issue describes did."""
    host, port_text = base.removeprefix("http://").split(":")
    port = int(port_text)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]] = []
    for i in range(connections):
        _, path, body, headers = _request("intake", i, points)
        assert body is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Idempotency-Key: {headers['Idempotency-Key']}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(head + body[:1])
        await writer.drain()
        opened.append((reader, writer, body[1:]))
    await asyncio.sleep(hold / 2)
    method, path, _, _ = _request("list", 0, points)
    during = await send(host, port, method, path, token=token, timeout=timeout, kind="list")
    await asyncio.sleep(hold / 2)

    async def finish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     rest: bytes) -> Answer:  # fmt: skip
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                writer.write(rest)
                await writer.drain()
                line = await reader.readline()
            return Answer("slow", int(line.split()[1]) if line else 0, time.perf_counter() - t0)
        except (TimeoutError, ConnectionError, OSError, ValueError, IndexError):
            return Answer("slow", 0, time.perf_counter() - t0)
        finally:
            writer.close()

    t0 = time.perf_counter()
    released = await asyncio.gather(*(finish(*c) for c in opened))
    return SlowBodies(during, list(released), time.perf_counter() - t0)


def report(result: Burst, timeout: float) -> None:
    """Print the figures."""
    total = len(result.answers)
    print(f"{total:,} requests released at once; ordinary ones all back in {result.elapsed:.1f} s")
    for kind in (*MIX, "stream"):
        counts = result.statuses(kind)
        if counts:
            print(
                f"  {kind:7s} "
                + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(counts.items()))
            )
    counts = result.statuses()
    seconds = np.array([a.seconds for a in result.answers if a.status]) * 1000
    unanswered = counts.get(0, 0)
    print(
        "answers: "
        + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()) if s)
        + f"; no answer within {timeout:.0f} s: {unanswered}"
    )
    if len(seconds):
        print(
            f"time to the status line: p50 {np.percentile(seconds, 50):.0f} ms, "
            f"p99 {np.percentile(seconds, 99):.0f} ms, max {seconds.max():.0f} ms"
        )
    shed = [a for a in result.answers if a.status == 503]
    if shed:
        missing = sum(1 for a in shed if not a.retry_after)
        print(f"503s: {len(shed)}, without Retry-After: {missing}")
    health = np.array([a.seconds for a in result.health if a.status == 200]) * 1000
    bad = sum(1 for a in result.health if a.status != 200)
    if len(health):
        print(
            f"/health during the burst: {len(result.health)} probes, p50 "
            f"{np.percentile(health, 50):.0f} ms, p99 {np.percentile(health, 99):.0f} ms, "
            f"max {health.max():.0f} ms; not 200: {bad}"
        )
    else:
        print(f"/health during the burst: {len(result.health)} probes, none answered 200")
    after = result.after
    if after is not None:
        print(
            f"1 s after the burst: a list answered {after.status or 'nothing'} "
            f"in {after.seconds * 1000:.0f} ms"
        )


def setup(fraction: float, seed: int = 5):
    """A throwaway cluster with a demo seed and the demo users: a context of (url, points)."""
    from contextlib import contextmanager

    from rich.console import Console

    from benchmarks.common import throwaway_cluster
    from gridmap.db.session import make_engine
    from gridmap.demo import load_demo
    from gridmap.settings import Settings
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    @contextmanager
    def context():
        data = generate(SeedConfig(scale="demo", population_fraction=fraction, seed=seed))
        fengze = data.buildings["grid_code"].str.startswith("350503").to_numpy()
        points = data.buildings.loc[fengze, ["lon", "lat"]].to_numpy()
        with throwaway_cluster() as (url, _):
            engine = make_engine(url)
            load(data, engine)
            engine.dispose()
            load_demo(url=url, console=Console(quiet=True), settings=Settings(environment="test"))
            yield url, points

    return context()


def sign_in(base: str, username: str = "fengze") -> str:
    """A bearer token for a demo user."""
    import httpx

    from gridmap.demo import DEMO_PASSWORD

    answer = httpx.post(base + "/api/v1/auth/token",
                        data={"username": username, "password": DEMO_PASSWORD})  # fmt: skip
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def main() -> None:
    from benchmarks.common import api_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="ordinary requests")
    parser.add_argument("--streams", type=int, default=200, help="notification streams")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a client waits")
    parser.add_argument("--fraction", type=float, default=0.02, help="of the demo's people")
    parser.add_argument("--slow", type=int, default=500, help="slow-body connections")
    args = parser.parse_args()
    with setup(args.fraction) as (url, points), api_server(url, workers=args.workers) as base:
        token = sign_in(base)
        # warm-up: each worker answers once before the clock starts
        asyncio.run(burst(base, token, points, requests=12, streams=0, timeout=args.timeout))
        print(f"{args.workers} server workers; {args.requests} requests and {args.streams} "
              f"streams at once")  # fmt: skip
        result = asyncio.run(burst(base, token, points, requests=args.requests,
                                   streams=args.streams, timeout=args.timeout))  # fmt: skip
        report(result, args.timeout)
        if args.slow:
            slow = asyncio.run(slow_bodies(base, token, points, connections=args.slow,
                                           timeout=args.timeout))  # fmt: skip
            statuses = Counter(a.status for a in slow.released)
            print(f"{args.slow} slow bodies held open: meanwhile a list answered "
                  f"{slow.during.status or 'nothing'} in {slow.during.seconds * 1000:.0f} ms; "
                  f"released at once, all answered in {slow.elapsed:.1f} s: "
                  + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(statuses.items())))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        probe(sys.argv[2], float(sys.argv[3]))
    else:
        main()
