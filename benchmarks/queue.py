"""The work queue's searches on a loaded seed: phone suffix with and without its index, text.

    python -m benchmarks.queue --scale demo

Loads the seed into a throwaway PostGIS, then times (median of 5, warm) the list's count
query for ``phone_suffix`` with ``ix_incident_phone_suffix`` and with it dropped (inside a
rolled-back transaction), and for ``q`` (a word in title, description or address), as a
county and as a township dispatcher.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from benchmarks.common import throwaway_database
from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.db.session import make_engine
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.models import Incident
from gridmap.incidents.queries import scoped_where
from gridmap.models import make_sessionmaker
from gridmap.scope import Actor
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


def _ms(session, where) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(5):
        t = time.perf_counter()
        n = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times), n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["demo", "city"], default="demo")
    args = parser.parse_args()
    data = generate(SeedConfig(scale=args.scale))
    with throwaway_database() as url:
        engine = make_engine(url)
        load(data, engine)
        del data
        now = datetime.now(UTC)
        with make_sessionmaker(engine)() as session:
            session.execute(text("ANALYZE incident"))
            total = session.scalar(select(func.count()).select_from(Incident))
            phone = session.scalar(select(Incident.reporter_phone).where(
                Incident.reporter_phone.is_not(None)).limit(1)) or "13800000000"  # fmt: skip
            cell = session.scalar(select(Incident.grid_code).limit(1))
            township = codes.ancestor(cell, AreaLevel.township)
            county = codes.ancestor(cell, AreaLevel.county)
            actors = {"county": Actor(0, Role.county_dispatcher, county),
                      "township": Actor(0, Role.township_dispatcher, township)}  # fmt: skip
            print(f"scale={args.scale} incidents={total:,}")
            for index in ("with index", "without index"):
                if index == "without index":
                    session.execute(text("DROP INDEX ix_incident_phone_suffix"))
                for who, actor in actors.items():
                    flt = IncidentFilter(phone_suffix=phone[-4:])
                    ms, n = _ms(session, scoped_where(actor, flt, now))
                    print(f"phone_suffix {index:13} {who:8}: {ms:7.1f} ms ({n} found)")
            session.rollback()
            for who, actor in actors.items():
                ms, n = _ms(session, scoped_where(actor, IncidentFilter(q="工资"), now))
                print(f"q=工资                      {who:8}: {ms:7.1f} ms ({n} found)")


if __name__ == "__main__":
    main()
