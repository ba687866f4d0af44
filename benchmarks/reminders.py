"""Reminders (提醒) on a loaded seed: one sweep of every unit against one sweep per inbox.

    python -m benchmarks.reminders --scale city [--at 2026-01-05T10:00:00+08:00]

Generates and loads the seed into a throwaway PostGIS (timed apart: not the point), then,
at the moment ``--at`` (default: now):

* **per inbox** — what ``GET /notifications`` does before it answers: ``sweep`` scoped to
  the reader's unit, for a sample of units (the city, county and township centres, the
  departments with the most open incidents), first call apart from the repeat; the
  obvious alternative to a central sweep is this call for every unit, extrapolated from
  the sample's mean (the sample holds the busier units, so this is an upper bound);
* **all units** — one ``sweep`` for every unit: the first (it makes the notifications)
  and an idempotent rerun (it makes none).

The per-inbox calls run in a transaction rolled back before the full sweep, so both
start from the same empty ``notification`` table. Prints seconds, notifications made,
and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from benchmarks.common import peak_rss_mb, throwaway_database
from gridmap.calendar import WorkingCalendar
from gridmap.db.session import make_engine
from gridmap.incidents import reminders
from gridmap.incidents.models import OPEN, Incident
from gridmap.models import make_sessionmaker
from gridmap.units import codes as unit_codes
from gridmap.units.models import Department
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


def _sample(session, departments: int) -> list[tuple[str, int]]:
    """(code, id) of every centre down to township level and the busiest departments."""
    centres = session.execute(
        select(Department.code, Department.id)
        .where(Department.type == unit_codes.CENTRE)
        .order_by(Department.code)
    ).all()
    upper = [(c, i) for c, i in centres if len(unit_codes.area_of_centre(c)) <= 9]
    busy = session.execute(
        select(Department.code, Department.id)
        .join(Incident, Incident.unit_id == Department.id)
        .where(Department.type != unit_codes.CENTRE, Incident.status.in_(sorted(OPEN)))
        .group_by(Department.id)
        .order_by(func.count().desc(), Department.code)
        .limit(departments)
    ).all()
    return [(c, i) for c, i in upper] + [(c, i) for c, i in busy]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["demo", "city"], default="demo")
    parser.add_argument("--at", type=datetime.fromisoformat, default=None)
    parser.add_argument("--departments", type=int, default=20)
    args = parser.parse_args()
    now = args.at or datetime.now(UTC)
    calendar = WorkingCalendar.chinese(now.year - 2, now.year + 1)
    t0 = time.perf_counter()
    data = generate(SeedConfig(scale=args.scale))
    with throwaway_database() as url:
        engine = make_engine(url)
        load(data, engine)
        del data
        print(f"scale={args.scale} at={now.isoformat()} seed in {time.perf_counter() - t0:.0f} s")
        maker = make_sessionmaker(engine)
        with maker() as session:
            units = session.scalar(select(func.count()).select_from(Department)) or 0
            open_n = session.scalar(
                select(func.count()).select_from(Incident).where(Incident.status.in_(sorted(OPEN)))
            )
            print(f"  {units:,} units, {open_n:,} open incidents")
            sample = _sample(session, args.departments)
            first, again, made = [], [], 0
            for _code, uid in sample:
                t = time.perf_counter()
                made += reminders.sweep(session, now, calendar, [uid])
                first.append(time.perf_counter() - t)
                t = time.perf_counter()
                reminders.sweep(session, now, calendar, [uid])
                again.append(time.perf_counter() - t)
            session.rollback()
        for label, xs in (("first", first), ("repeat", again)):
            q = statistics.quantiles(xs, n=20) if len(xs) >= 2 else xs
            print(
                f"  per inbox, {label:<6} {len(xs)} units: mean {statistics.mean(xs) * 1000:7.1f} ms"
                f"  p95 {q[-1] * 1000:7.1f} ms  max {max(xs) * 1000:7.1f} ms"
            )
        print(f"  per inbox made {made:,} notifications for the {len(sample)} sampled units")
        with maker() as session:
            t = time.perf_counter()
            total = reminders.sweep(session, now, calendar)
            t_all = time.perf_counter() - t
            session.commit()
            t = time.perf_counter()
            rerun = reminders.sweep(session, now, calendar)
            t_rerun = time.perf_counter() - t
            session.commit()
        engine.dispose()
    every_unit = statistics.mean(first) * units
    print(f"  all units, first  {t_all:7.2f} s  made {total:,}")
    print(f"  all units, rerun  {t_rerun:7.2f} s  made {rerun:,}")
    print(
        f"RATIO per-inbox sweeps for all {units:,} units (extrapolated {every_unit:.1f} s) / one "
        f"sweep {every_unit / t_all:.1f}x; peak RSS {peak_rss_mb():,.0f} MB"
    )


if __name__ == "__main__":
    main()
