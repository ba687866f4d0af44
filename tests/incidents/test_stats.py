"""KPIs on a hand-made set whose answer is obvious, and SQL = the pandas definitions."""

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from gridmap.incidents.kpi import totals
from gridmap.incidents.models import Channel, Incident
from gridmap.incidents.models import IncidentStatus as S
from tests.world import V1, V2, inside

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def add(
    session,
    plan_id,
    n,
    *,
    channel,
    status,
    category="labour",
    village=V1,
    outcome=None,
    people=1,
    satisfaction=None,
    closed_late=False,
    at=T0,
    unit_id=None,
):
    for _ in range(n):
        lon, lat = inside(1 if village == V1 else 2)
        session.add(
            Incident(
                code=f"K{add.seq:05d}",
                category=category,
                channel=channel,
                status=status,
                title="t",
                location=from_shape(Point(lon, lat), srid=4326),
                reported_lon=lon,
                reported_lat=lat,
                people_involved=people,
                outcome=outcome,
                satisfaction=satisfaction,
                reported_at=at,
                signed_at=at + timedelta(hours=2),
                sign_due_at=at + timedelta(days=1),
                resolve_due_at=at + timedelta(days=10),
                closed_at=(at + timedelta(days=20 if closed_late else 5))
                if status == S.closed
                else None,
                plan_id=plan_id,
                grid_code=village + "001",
                unit_id=unit_id,
            )
        )
        add.seq += 1


add.seq = 1


def test_kpis_on_a_small_set(client, world, session):
    p = world.plan_id
    # township 1: 8 appeals, 6 closed (one late), 1 rejected; 4 patrol disputes, 3 mediated
    add(
        session,
        p,
        5,
        channel=Channel.hotline,
        status=S.closed,
        outcome="handled",
        people=2,
        satisfaction=5,
    )
    add(
        session,
        p,
        1,
        channel=Channel.window,
        status=S.closed,
        outcome="handled",
        people=2,
        satisfaction=2,
        closed_late=True,
    )
    add(session, p, 2, channel=Channel.online, status=S.in_progress, people=3)
    add(session, p, 1, channel=Channel.online, status=S.rejected, people=9)
    add(
        session,
        p,
        3,
        channel=Channel.grid_app,
        status=S.closed,
        category="neighbour",
        outcome="mediated",
    )
    add(
        session,
        p,
        1,
        channel=Channel.grid_app,
        status=S.resolved,
        category="neighbour",
        outcome="referred_court",
    )
    # township 2: 2 appeals, none closed
    add(session, p, 2, channel=Channel.citizen_app, status=S.dispatched, village=V2, people=1)
    session.flush()
    h = world.auth("county")
    [overall] = client.get("/api/v1/stats", headers=h).json()
    assert overall["accepted"] == 10 and overall["closed"] == 6
    assert overall["completion_rate"] == 0.6
    # labour is a dispute category too: 8 live labour appeals + 4 neighbour patrols + 2 in township 2
    assert overall["disputes_screened"] == 14
    assert overall["disputes_resolved"] == 3
    assert overall["closed_on_time"] == 5 and abs(overall["on_time_rate"] - 5 / 6) < 1e-9
    assert overall["people_served"] == 5 * 2 + 2 + 2 * 3 + 2 * 1
    assert abs(overall["satisfaction_rate"] - 5 / 6) < 1e-9
    assert overall["mean_hours_to_sign"] == 2.0
    by_township = {
        r["key"]: r
        for r in client.get("/api/v1/stats", params={"group_by": "township"}, headers=h).json()
    }
    assert by_township[V1[:9]]["accepted"] == 8 and by_township[V2[:9]]["accepted"] == 2
    assert by_township[V2[:9]]["completion_rate"] == 0.0
    # a township dispatcher sees only their township
    [own] = client.get("/api/v1/stats", headers=world.auth("t2")).json()
    assert own["accepted"] == 2


def test_monthly_series_per_unit_on_a_small_set(client, world, session):
    """One row per unit and China-time month; the month boundary is China's, not UTC's."""
    p, labour, t1 = world.plan_id, world.units["labour"].id, world.units["t1"].id
    march, april = T0, datetime(2025, 4, 10, 2, 0, tzinfo=UTC)
    # 2025-03-31 17:00 UTC is 1 April 01:00 in Quanzhou: an April report
    april_in_china = datetime(2025, 3, 31, 17, 0, tzinfo=UTC)
    add(session, p, 3, channel=Channel.hotline, status=S.closed, outcome="handled",
        at=march, unit_id=labour)  # fmt: skip
    add(session, p, 1, channel=Channel.hotline, status=S.in_progress, at=march, unit_id=labour)
    add(session, p, 2, channel=Channel.hotline, status=S.closed, outcome="handled",
        closed_late=True, at=april, unit_id=labour)  # fmt: skip
    add(session, p, 1, channel=Channel.online, status=S.in_progress, at=april_in_china, unit_id=t1)
    add(session, p, 2, channel=Channel.online, status=S.closed, outcome="handled",
        at=march, unit_id=t1)  # fmt: skip
    session.flush()
    h = world.auth("county")
    rows = client.get(
        "/api/v1/stats", params={"group_by": "unit", "monthly": "true"}, headers=h
    ).json()
    series = {(r["key"], r["month"]): r for r in rows}
    lab, cen = world.units["labour"].code, world.units["t1"].code
    assert list(series) == sorted(series)  # by unit, then month
    assert set(series) == {(lab, "2025-03"), (lab, "2025-04"), (cen, "2025-03"), (cen, "2025-04")}
    assert (series[lab, "2025-03"]["accepted"], series[lab, "2025-03"]["closed"]) == (4, 3)
    assert series[lab, "2025-03"]["completion_rate"] == 0.75
    assert series[lab, "2025-04"]["closed"] == 2 and series[lab, "2025-04"]["on_time_rate"] == 0
    assert series[cen, "2025-04"]["accepted"] == 1 and series[cen, "2025-04"]["closed"] == 0
    # the months of a unit add up to its total
    [total] = [r for r in client.get("/api/v1/stats", params={"group_by": "unit"},
                                     headers=h).json() if r["key"] == lab]  # fmt: skip
    assert total["month"] is None and total["accepted"] == 6 and total["closed"] == 5
    # the city's own series: monthly without a group; month as the group needs no split
    overall = client.get("/api/v1/stats", params={"monthly": "true"}, headers=h).json()
    assert [(r["key"], r["month"], r["accepted"]) for r in overall] == [
        ("all", "2025-03", 6),
        ("all", "2025-04", 3),
    ]
    by_month = client.get(
        "/api/v1/stats", params={"group_by": "month", "monthly": "true"}, headers=h
    ).json()
    assert [(r["key"], r["month"]) for r in by_month] == [("2025-03", None), ("2025-04", None)]


def test_sql_kpis_equal_the_pandas_definitions_on_the_seed(seeded):
    from sqlalchemy.orm import Session

    from gridmap.auth.models import Role
    from gridmap.db.session import make_engine
    from gridmap.incidents.queries import stats
    from gridmap.incidents.service import Actor

    url, data = seeded
    engine = make_engine(url)
    with Session(engine) as s:
        [row] = stats(
            session=s, actor=Actor(0, Role.analyst, "350500", None), now=datetime.now(UTC)
        )
    engine.dispose()
    expected = totals(data.incidents)
    for key in ("accepted", "closed", "disputes_screened", "disputes_resolved", "people_served"):
        assert row[key] == expected[key], key
    assert abs(row["completion_rate"] - expected["completion_rate"]) < 1e-12
    assert round(row["completion_rate"] * 100, 1) == 90.7
