"""Incident intake over HTTP: concurrent clients posting to a real server on loopback, with the
database restarted in the middle of the run.

    python -m benchmarks.intake --clients 8 --seconds 20 --workers 2 [--restart-at 10]

Loads the demo areas and units into a throwaway cluster, starts uvicorn, and has
``--clients`` concurrent keep-alive connections post incidents as a county dispatcher, each
with its own Idempotency-Key; 5% are sent twice with the same key, as a phone on a bad
network does. A client that gets no answer, or a 503, retries the same report with the
same key until it is acknowledged — so "lost" means acknowledged but not stored, and
"duplicated" means stored twice.

With ``--restart-at`` the PostgreSQL cluster is restarted (fast shutdown, then start) that
many seconds into the run; the recovery time is from the restart to the first report
acknowledged after it.

The load generator is a minimal HTTP/1.1 client on asyncio streams (about a tenth of the
CPU of an httpx request): it shares the server's two cores, so a heavy client would measure
itself. Prints requests/s, p50/p99 latency, answers by status, and acknowledged / stored /
lost / duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import numpy as np
from sqlalchemy import text

from benchmarks.common import api_server, throwaway_cluster
from gridmap.auth.models import Role
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from seed_data.generate import SeedConfig, generate
from seed_data.load import load

COUNTY = "350503"  # Fengze: the dispatcher reports within their own county
PASSWORD = "Intake-load-2025"


@dataclass
class Tally:
    """What the clients saw."""

    latency: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)
    errors: int = 0


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the answer."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST /api/v1/incidents HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, key: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = (
            f"{self.head}Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            self.writer.write(request)
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            length, close = 0, False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await self.reader.readexactly(length)
            if close:
                self.close()
            return int(status_line.split()[1])
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


MEASURED = "巡查发现邻里纠纷"  # the warm-up's reports say "warm-up" and are not counted


async def client_loop(
    conn: Connection, points: np.ndarray, deadline: float, tally: Tally,
    rng: np.random.Generator, description: str,
) -> None:  # fmt: skip
    while time.perf_counter() < deadline:
        x, y = points[rng.integers(0, len(points))]
        key = uuid.uuid4().hex
        body = json.dumps(
            {"category": "neighbour", "channel": "grid_app", "lon": float(x), "lat": float(y),
             "description": description, "people_involved": 2},
            ensure_ascii=False,
        ).encode()  # fmt: skip
        sends = 2 if rng.random() < 0.05 else 1
        while sends:
            t0 = time.perf_counter()
            try:
                status = await conn.post(body, key)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                tally.errors += 1
                await asyncio.sleep(0.05)
                continue  # no answer: send the same report again
            tally.latency.append(time.perf_counter() - t0)
            tally.statuses.append(status)
            if status in (200, 201):
                tally.acknowledged.add(key)
                tally.ack_times.append(time.perf_counter())
                sends -= 1
            elif status == 503:
                await asyncio.sleep(0.05)  # the database is restarting: retry the same key
            else:
                raise RuntimeError(f"unexpected answer {status}")


async def run(
    base: str, token: str, points: np.ndarray, clients: int, seconds: float,
    description: str = MEASURED,
) -> Tally:  # fmt: skip
    host, port = base.removeprefix("http://").split(":")
    tally = Tally()
    deadline = time.perf_counter() + seconds
    conns = [Connection(host, int(port), token) for _ in range(clients)]
    rngs = [np.random.default_rng(i + int(time.time())) for i in range(clients)]
    await asyncio.gather(
        *(
            client_loop(c, points, deadline, tally, r, description)
            for c, r in zip(conns, rngs, strict=True)
        )
    )
    for c in conns:
        c.close()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--restart-at", type=float, default=None,
                        help="restart PostgreSQL this many seconds into the run")  # fmt: skip
    args = parser.parse_args()
    data = generate(SeedConfig(scale="demo", population_fraction=0.1))
    fengze = data.buildings["grid_code"].str.startswith(COUNTY).to_numpy()
    points = data.buildings.loc[fengze, ["lon", "lat"]].to_numpy()
    with throwaway_cluster() as (url, cluster):
        engine = make_engine(url)
        load(data, engine, only={"plan", "area", "routing_rule", "department"})
        with make_sessionmaker(engine).begin() as session:
            create_user(session=session, username="bench", password=PASSWORD,
                        role=Role.county_dispatcher, area_code=COUNTY)  # fmt: skip
        with api_server(url, workers=args.workers) as base:
            token = httpx.post(base + "/api/v1/auth/token",
                               data={"username": "bench", "password": PASSWORD}).json()["access_token"]  # fmt: skip
            # warm-up: every worker builds its assignment index before the clock starts
            asyncio.run(run(base, token, points, args.clients, 3, "warm-up"))
            restart: dict[str, float] = {}

            def restart_database() -> None:
                time.sleep(args.restart_at)
                restart["at"] = time.perf_counter()
                cluster.stop()
                restart["down"] = time.perf_counter() - restart["at"]
                cluster.start()
                restart["up"] = time.perf_counter() - restart["at"]

            restarter = threading.Thread(target=restart_database, daemon=True)
            if args.restart_at is not None:
                restarter.start()
            t0 = time.perf_counter()
            tally = asyncio.run(run(base, token, points, args.clients, args.seconds))
            elapsed = time.perf_counter() - t0
            if args.restart_at is not None:
                restarter.join()
        engine.dispose()
        engine = make_engine(url)
        with engine.connect() as conn:
            measured = {"d": MEASURED}
            stored = (
                conn.execute(
                    text("SELECT count(*) FROM incident WHERE description = :d"), measured
                ).scalar()
                or 0
            )
            keys = (
                conn.execute(
                    text(
                        "SELECT count(DISTINCT idempotency_key) FROM incident WHERE description = :d"
                    ),
                    measured,
                ).scalar()
                or 0
            )
            events = conn.execute(
                text("SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id "
                     "WHERE i.description = :d AND e.action = 'report'"), measured
            ).scalar() or 0  # fmt: skip
            stored_keys = {k.split(":", 1)[1] for k in conn.execute(
                text("SELECT idempotency_key FROM incident WHERE description = :d"), measured
            ).scalars()}  # fmt: skip
        engine.dispose()
    report(args, tally, elapsed, stored, keys, events, stored_keys, restart)


def report(args, tally, elapsed, stored, keys, events, stored_keys, restart) -> None:
    latency = np.array(tally.latency) * 1000
    codes = np.array(tally.statuses)
    answered = len(tally.statuses)
    print(f"{args.workers} server workers, {args.clients} keep-alive clients, {elapsed:.1f} s: "
          f"{answered:,} answers, {answered / elapsed:,.0f} requests/s; "
          f"{len(tally.acknowledged) / elapsed:,.0f} reports acknowledged/s")  # fmt: skip
    print(
        f"latency p50 {np.percentile(latency, 50):.1f} ms, p99 {np.percentile(latency, 99):.1f} ms"
    )
    print("answers: " + ", ".join(f"{c}: {(codes == c).sum():,}" for c in np.unique(codes))
          + f"; no answer (connection lost): {tally.errors:,}")  # fmt: skip
    lost = len(tally.acknowledged - stored_keys)
    print(f"acknowledged {len(tally.acknowledged):,}; stored {stored:,} (distinct keys {keys:,}); "
          f"lost {lost:,}; duplicated {stored - keys:,}; report events {events:,}")  # fmt: skip
    if restart:
        acks = np.sort(np.array(tally.ack_times))
        back = restart["at"] + restart["up"]
        after = acks[acks > back]
        first_after = (after[0] - back) if len(after) else float("nan")
        window = acks[(acks > restart["at"] - 1) & (acks < back + 5)]
        gap = float(np.diff(window).max()) if len(window) > 1 else float("nan")
        steady = ((acks > restart["at"] - 5) & (acks < restart["at"])).sum() / 5
        print(f"database restart at {args.restart_at:.0f} s: stopped in {restart['down']:.1f} s, "
              f"accepting again {restart['up']:.1f} s after the restart began; first report "
              f"acknowledged {first_after * 1000:.0f} ms after that; longest gap between "
              f"acknowledgements {gap * 1000:.0f} ms; {steady:,.0f} reports/s in the 5 s before")  # fmt: skip


if __name__ == "__main__":
    main()
