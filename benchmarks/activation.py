"""Publishing a plan: prepare a draft (registry open), then activate it, on a loaded seed.

    python -m benchmarks.activation [--url URL] [--every 10] [--baseline]

Two drafts are made from the plan in force, in SQL: the cells of every ``--every``-th
village redrawn as vertical strips (about 1/every of households change cell: a realistic
city-wide rebalance moves ≤ 10%), and the strips drawn in every village (nearly everyone
moves: the worst case). For each: the preparation's time, the switch's, then the
registry's catch-up (moved rows, then houses and people, in batches: until it ends a
moved item shows under its old cell), while a second connection edits random households
in a loop — the longest any edit waited is what the field feels. Then the plan in force
before is activated again unprepared (the fallback: prepared inside the switch), which
also restores the database. ``--workers N`` sets the catch-up's connections and
``--batch N`` its ids per transaction for every table (defaults: ``service.FOLLOW_WORKERS``,
``service.BATCH``).
``--baseline`` also times the previous implementation, which re-linked every row of the
registry in the activation transaction, on the first draft.

Run it on the city seed (``gridmap seed --scale city``); it leaves the seed as it found it
(plus retired plans). Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from gridmap.areas.active import active_plan
from gridmap.areas.models import Plan, PlanStatus
from gridmap.db.session import database_url, make_engine
from gridmap.locate import build_index
from gridmap.models import make_sessionmaker
from gridmap.plans import service
from gridmap.settings import Settings


def strips_draft(engine: Engine, name: str, every: int) -> int:
    """A draft: the plan in force, with every ``every``-th village's cells redrawn as strips."""
    with engine.begin() as conn:
        active = conn.execute(text("SELECT id FROM plan WHERE status = 'active'")).scalar_one()
        plan = conn.execute(
            text("INSERT INTO plan (name, status) VALUES (:n, 'draft') RETURNING id"), {"n": name}
        ).scalar_one()
        conn.execute(
            text("""
            WITH v AS (
              SELECT substr(code, 1, 12) AS village, count(*) AS n, ST_Union(geom) AS g,
                     min(parent_id) AS parent_id, min(name) AS name,
                     row_number() OVER (ORDER BY substr(code, 1, 12)) AS rn
              FROM area WHERE plan_id = :old GROUP BY 1),
            chosen AS (SELECT * FROM v WHERE rn % :every = 0),
            strips AS (
              SELECT c.village, c.parent_id, c.name, i,
                     ST_Multi(ST_CollectionExtract(ST_Intersection(c.g, ST_MakeEnvelope(
                       ST_XMin(c.g) + (ST_XMax(c.g) - ST_XMin(c.g)) * i / c.n, ST_YMin(c.g) - 1,
                       ST_XMin(c.g) + (ST_XMax(c.g) - ST_XMin(c.g)) * (i + 1) / c.n,
                       ST_YMax(c.g) + 1, 4326)), 3)) AS g
              FROM chosen c, generate_series(0, c.n - 1) AS i)
            INSERT INTO area (code, name, level, parent_id, parent_level, plan_id, geom)
            SELECT village || lpad(CAST(i + 1 AS text), 3, '0'), name || ' strip ' || (i + 1),
                   'grid', parent_id, 'village', :new, g
            FROM strips WHERE NOT ST_IsEmpty(g)
            UNION ALL
            SELECT a.code, a.name, a.level, a.parent_id, a.parent_level, :new, a.geom
            FROM area a WHERE a.plan_id = :old
              AND substr(a.code, 1, 12) NOT IN (SELECT village FROM chosen)
            """),
            {"old": active, "new": plan, "every": every},
        )
    return int(plan)


class Editor(threading.Thread):
    """Edits random households and their people (one transaction each), timing each edit."""

    def __init__(self, engine: Engine, ids: np.ndarray) -> None:
        super().__init__(daemon=True)
        self.engine, self.ids, self.stop = engine, ids, threading.Event()
        self.waits: list[float] = []

    def run(self) -> None:
        rng = np.random.default_rng(3)
        while not self.stop.is_set():
            row = int(rng.choice(self.ids))
            start = time.perf_counter()
            with self.engine.begin() as conn:  # a household and its people, as an edit does
                conn.execute(text("UPDATE household SET size = size WHERE id = :i"), {"i": row})
                conn.execute(text("UPDATE person SET status = status WHERE household_id = :i"),
                             {"i": row})  # fmt: skip
            self.waits.append(time.perf_counter() - start)
            time.sleep(0.05)


def timed(
    engine: Engine, what: str, job: object, own: bool = False
) -> tuple[float, float, int, object]:
    """Run ``job(session)`` in one committed transaction while an editor edits households
    (with ``own``, ``job(factory)``, which opens its own transactions)."""
    with engine.connect() as conn:
        ids = np.array(
            conn.execute(text("SELECT id FROM household TABLESAMPLE SYSTEM (1)")).scalars().all()
        )
    editor = Editor(engine, ids)
    editor.start()
    time.sleep(0.5)
    start = time.perf_counter()
    factory = make_sessionmaker(engine)
    if own:
        result = job(factory)  # type: ignore[operator]
    else:
        with factory.begin() as session:
            result = job(session)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    time.sleep(0.5)
    editor.stop.set()
    editor.join()
    worst = max(editor.waits) if editor.waits else float("nan")
    print(f"  {what:<44} {seconds:8.1f} s   longest edit {worst:6.2f} s "
          f"({len(editor.waits)} edits)", flush=True)  # fmt: skip
    return seconds, worst, len(editor.waits), result


def full_relink(session, plan_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The previous activation: every located row assigned and updated, followers joined."""
    plan = session.get(Plan, plan_id, with_for_update=True)
    index = build_index(session, plan_id)
    now = datetime.now(UTC)
    current = active_plan(session)
    current.status, current.retired_at = PlanStatus.retired, now
    session.flush()
    plan.status, plan.activated_at = PlanStatus.active, now
    session.flush()
    conn = session.connection()
    raw = conn.connection.driver_connection
    counts = {}
    for table in service.LOCATED:
        rows = session.execute(
            text(f"SELECT id, ST_X(location), ST_Y(location) FROM {table}")
        ).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        xy = np.array([(r[1], r[2]) for r in rows], dtype=float)
        codes = index.codes_of(index.assign(xy[:, 0], xy[:, 1], nearest=False).cell)
        session.execute(text("CREATE TEMP TABLE relink (id bigint, grid_code text) ON COMMIT DROP"))
        with raw.cursor() as cur, cur.copy("COPY relink (id, grid_code) FROM STDIN") as copy:
            for row_id, code in zip(ids.tolist(), codes, strict=True):
                copy.write_row((row_id, code))
        counts[table] = conn.execute(text(
            f"UPDATE {table} t SET grid_code = r.grid_code, plan_id = :plan, assigned_at = :now "
            "FROM relink r WHERE r.id = t.id"), {"plan": plan_id, "now": now}).rowcount  # fmt: skip
        session.execute(text("DROP TABLE relink"))
    for table, (parent, key) in service.FOLLOWERS.items():
        counts[table] = conn.execute(text(
            f"UPDATE {table} t SET grid_code = p.grid_code, plan_id = p.plan_id, "
            f"assigned_at = p.assigned_at FROM {parent} p WHERE p.id = t.{key}")).rowcount  # fmt: skip
    return counts


def check(engine: Engine, sample: int = 200_000) -> tuple[int, int]:
    """Households whose cell disagrees with PostGIS (a sample), people not with their household."""
    with engine.connect() as conn:
        wrong = conn.execute(text(
            "SELECT count(*) FROM (SELECT * FROM household ORDER BY random() LIMIT :n) h "
            "WHERE NOT EXISTS (SELECT 1 FROM area a JOIN plan p ON p.id = a.plan_id "
            "AND p.status = 'active' WHERE a.code = h.grid_code AND ST_Covers(a.geom, h.location)) "
            "AND EXISTS (SELECT 1 FROM area a JOIN plan p ON p.id = a.plan_id "
            "AND p.status = 'active' WHERE ST_Covers(a.geom, h.location))"),
            {"n": sample}).scalar_one()  # fmt: skip
        astray = conn.execute(text(
            "SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id "
            "WHERE p.grid_code IS DISTINCT FROM h.grid_code")).scalar_one()  # fmt: skip
    return int(wrong), int(astray)


def restore(
    engine: Engine, plan: int, cache: object, batch: int | None = None, workers: int | None = None
) -> None:
    """The plan in force before, activated again unprepared (the fallback), then caught up."""
    timed(engine, f"activate plan {plan} again, unprepared", lambda s:
          service.activate(session=s, plan_id=plan, cache_dir=cache))  # fmt: skip
    timed(engine, "catch-up: moved rows, houses, people", lambda f: service.follow(f, plan, batch, workers),
          own=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="SQLAlchemy URL (default: gridmap's own)")
    parser.add_argument("--every", type=int, default=10, help="strips in every N-th village")
    parser.add_argument("--baseline", action="store_true", help="also time the full re-link")
    parser.add_argument("--batch", type=int, default=None, help="catch-up ids per transaction")
    parser.add_argument("--workers", type=int, default=None, help="catch-up connections")
    args = parser.parse_args()
    settings = Settings()
    engine = make_engine(args.url or database_url(settings), pool_size=4)
    cache = settings.data_dir / "index"
    with engine.connect() as conn:
        start_plan = conn.execute(text("SELECT id FROM plan WHERE status = 'active'")).scalar_one()
        households = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
    print(f"households {households:,}; plan in force {start_plan}")
    for label, every in ((f"strips in every {args.every}th village", args.every),
                         ("strips in every village", 1)):  # fmt: skip
        plan = strips_draft(engine, label, every)
        print(f"{label} (draft {plan})")
        _, _, _, moves = timed(engine, "prepare (index built, moves stored)", lambda s, p=plan:
                               service.prepare(session=s, plan_id=p, cache_dir=cache))  # fmt: skip
        moved = moves.moved  # type: ignore[attr-defined]
        print(f"  moves stored: {moved} ({moved['household'] / households:.1%} of households)")
        _, _, _, counts = timed(engine, "activate (prepared): the switch", lambda s, p=plan:
                                service.activate(session=s, plan_id=p, cache_dir=cache))  # fmt: skip
        print(f"  rows updated: {counts}")
        _, _, _, followed = timed(engine, "catch-up: moved rows, houses, people", lambda f, p=plan:
                                  service.follow(f, p, args.batch, args.workers), own=True)  # fmt: skip
        print(f"  rows updated: {followed}")
        with make_sessionmaker(engine)() as session:
            tables = service.publication(session, plan)["tables"]
        print("  seconds per table: " + ", ".join(f"{t} {c['seconds']}" for t, c in tables.items()))
        wrong, astray = check(engine)
        print(
            f"  check: {wrong} of 200,000 sampled households off their PostGIS cell; "
            f"{astray} people not in their household's cell"
        )
        restore(engine, start_plan, cache, args.batch, args.workers)
        if args.baseline and every != 1:
            timed(engine, "previous implementation: full re-link", lambda s, p=plan:
                  full_relink(s, p))  # fmt: skip
            restore(engine, start_plan, cache)
    engine.dispose()


if __name__ == "__main__":
    main()
