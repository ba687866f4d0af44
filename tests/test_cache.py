"""Stale-while-revalidate (gridmap/cache.py), the one cache class behind the per-cell counts:
counted once, served as counted, recounted in the background past the ttl, never shared from
a session on a connection of its own. Against the test database (the counts are queries)."""

import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.cache import StaleWhileRevalidate


def counter(fail_after: int | None = None, gate: threading.Event | None = None):
    """A count that asks the database and changes every time: (calls, count).

    Past the first call it waits for ``gate`` when given (a recount held in progress).
    """
    calls: list[int] = []

    def count(session: Session, key: int) -> int:
        calls.append(key)
        n = len(calls)
        if gate is not None and n > 1:
            assert gate.wait(10)
        if fail_after is not None and n > fail_after:
            raise RuntimeError("the database went away")
        time.sleep(0.05)  # long enough for concurrent first uses to meet
        return int(session.scalar(text("SELECT :k * 100 + :n"), {"k": key, "n": n}))

    return calls, count


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background recount never came"
        time.sleep(0.01)


def test_counted_once_served_then_recounted_in_the_background(engine):
    gate = threading.Event()
    calls, count = counter(gate=gate)
    cache = StaleWhileRevalidate(count, ttl=0.3)
    with Session(engine) as session:
        first = cache.get(session, 1)
        assert first[1] == 101 and calls == [1]
        assert cache.get(session, 1) == first and calls == [1]  # served as counted
        time.sleep(0.35)
        assert cache.get(session, 1) == first  # stale: the old value, while the recount
        wait_for(lambda: calls == [1, 1])  # ... is held at the gate
        assert cache.get(session, 1) == first and calls == [1, 1]  # one recount at a time
        gate.set()
        wait_for(lambda: cache.get(session, 1)[1] == 102)
        assert calls == [1, 1] and cache.get(session, 1)[0] > first[0]
        assert cache.get(session, 2)[1] == 203  # another key, counted apart
        cache.forget(1)
        assert cache.get(session, 1)[1] == 104 and calls == [1, 1, 2, 1]


def test_concurrent_first_uses_wait_for_one_count(engine):
    calls, count = counter()
    cache = StaleWhileRevalidate(count, ttl=60)
    seen = []

    def read():
        with Session(engine) as session:
            seen.append(cache.get(session, 7))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [7] and len(set(seen)) == 1


def test_a_failed_recount_keeps_the_old_value_and_is_tried_again(engine):
    calls, count = counter(fail_after=1)
    cache = StaleWhileRevalidate(count, ttl=0.1)
    with Session(engine) as session:
        first = cache.get(session, 3)
        time.sleep(0.15)
        assert cache.get(session, 3) == first
        wait_for(lambda: len(calls) == 2)
        wait_for(lambda: cache.get(session, 3) == first and len(calls) >= 3)  # tried again


def test_a_session_on_its_own_connection_is_counted_live_and_not_shared(engine):
    _, count = counter()
    cache = StaleWhileRevalidate(count, ttl=60)
    with engine.connect() as connection, Session(bind=connection) as own:
        assert cache.get(own, 5)[1] == 501 and cache.get(own, 5)[1] == 502
    with Session(engine) as session:
        assert cache.get(session, 5)[1] == 503  # nothing of the other session's was kept
