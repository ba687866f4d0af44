"""A bulk workflow action on 500 incidents in mixed states (issue 26: ≤ 3 s).

    python -m benchmarks.bulk --scale demo [--action supervise] [--n 500]

Generates and loads the seed into a throwaway PostGIS (timed apart), then, as a city
administrator, takes one action on ``--n`` incidents spread over every state through
``gridmap.incidents.bulk.act_on_many`` — the engine of ``POST /incidents/bulk``: each in
its own savepoint, through the single action's checks — and commits. Prints the seconds,
done and refused, and checks that every done incident started in a state the transition
table allows (0 illegal transitions) and has exactly one new history entry.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from benchmarks.common import throwaway_database
from gridmap.auth.models import Role, User
from gridmap.calendar import WorkingCalendar
from gridmap.db.session import make_engine
from gridmap.incidents.bulk import act_on_many
from gridmap.incidents.models import Incident, IncidentEvent
from gridmap.incidents.schemas import ActionParams
from gridmap.incidents.workflow import TRANSITIONS, Action
from gridmap.models import make_sessionmaker
from gridmap.scope import Actor
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["demo", "city"], default="demo")
    parser.add_argument("--action", default="supervise", choices=[a.value for a in Action])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    action = Action(args.action)
    t0 = time.perf_counter()
    data = generate(SeedConfig(scale=args.scale))
    with throwaway_database() as url:
        engine = make_engine(url)
        load(data, engine)
        del data
        print(f"scale={args.scale} seed in {time.perf_counter() - t0:.0f} s")
        maker = make_sessionmaker(engine)
        with maker() as session:
            user = User(username="bench-admin", password_hash="x", role=Role.city_admin,
                        area_code="350500")  # fmt: skip
            session.add(user)
            session.flush()
            actor = Actor(user.id, Role.city_admin, "350500", None, user.username)
            # the same number from each state, the newest first: a mixed selection
            ranked = (
                select(Incident.code, Incident.status, Incident.id)
                .add_columns(func.row_number().over(
                    partition_by=Incident.status, order_by=Incident.id.desc()).label("k"))
                .subquery()
            )  # fmt: skip
            picked = session.execute(
                select(ranked.c.code, ranked.c.status, ranked.c.id)
                .order_by(ranked.c.k, ranked.c.status)
                .limit(args.n)
            ).all()
            before = {code: status for code, status, _ in picked}
            ids = [i for _, _, i in picked]
            events_before = dict(session.execute(
                select(IncidentEvent.incident_id, func.count())
                .where(IncidentEvent.incident_id.in_(ids)).group_by(IncidentEvent.incident_id)
            ).all())  # fmt: skip
            session.commit()
            now = datetime.now(UTC)
            calendar = WorkingCalendar.chinese(now.year - 2, now.year + 1)
            params = ActionParams(note="批量督办", deadline=now + timedelta(days=5),
                                  unit_code=None)  # fmt: skip
            t1 = time.perf_counter()
            results = act_on_many(session=session, action=action, codes=list(before),
                                  params=params, actor=actor, calendar=calendar, now=now)  # fmt: skip
            session.commit()
            seconds = time.perf_counter() - t1
            done = [r for r in results if r.outcome == "done"]
            sources = TRANSITIONS[action].sources
            illegal = [r.code for r in done if before[r.code] not in sources]
            events_after = dict(session.execute(
                select(IncidentEvent.incident_id, func.count())
                .where(IncidentEvent.incident_id.in_(ids)).group_by(IncidentEvent.incident_id)
            ).all())  # fmt: skip
            code_id = {code: i for code, _, i in picked}
            done_codes = {r.code for r in done}
            wrong_events = [
                c for c in before
                if events_after.get(code_id[c], 0) - events_before.get(code_id[c], 0)
                != (1 if c in done_codes else 0)
            ]  # fmt: skip
            states = sorted({s.value for s in before.values()})
            print(f"action={action.value} incidents={len(results)} states={','.join(states)}")
            print(f"done={len(done)} refused={len(results) - len(done)} "
                  f"every refusal with a reason={all(r.detail for r in results if r.outcome == 'refused')}")  # fmt: skip
            print(
                f"illegal transitions applied={len(illegal)} wrong event counts={len(wrong_events)}"
            )
            print(
                f"seconds={seconds:.2f} ({1000 * seconds / max(len(results), 1):.1f} ms per incident)"
            )


if __name__ == "__main__":
    main()
