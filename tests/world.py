"""A small hand-drawn world: one county, two townships, a village each, two cells each.

Every role has a user (``world.auth(name)`` gives the header); the helpers report and act
on incidents over HTTP. The ``world`` fixture is registered in tests/conftest.py.
"""

from dataclasses import dataclass

from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box

from gridmap.areas.models import AreaLevel, PlanStatus
from gridmap.auth.models import Role, User
from gridmap.auth.security import create_token, hash_password
from gridmap.units.models import Department
from tests.factories import make_area, make_plan, make_rule
from tests.helpers import TEST_SECRET

X0, Y0, D = 118.60, 24.90, 0.01
PASSWORD_HASH = hash_password("password-123")  # once: argon2 is slow on purpose
COUNTY, T1, T2 = "350503", "350503001", "350503002"
V1, V2 = T1 + "001", T2 + "001"


@dataclass
class World:
    plan_id: int
    units: dict[str, Department]
    tokens: dict[str, str]
    users: dict[str, int]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def inside(township: int = 1, cell: int = 1) -> tuple[float, float]:
    """A point in the middle of a cell: township 1 is west, 2 east; cell 1 south, 2 north."""
    return X0 + (township - 0.5) * D, Y0 + (cell - 0.5) * D


def build_world(session) -> World:
    plan = make_plan(session, "plan", PlanStatus.active)
    county = make_area(session, COUNTY, AreaLevel.county, bounds=(X0, Y0, X0 + 2 * D, Y0 + 2 * D))
    t1 = make_area(session, T1, AreaLevel.township, county, bounds=(X0, Y0, X0 + D, Y0 + 2 * D))
    t2 = make_area(
        session, T2, AreaLevel.township, county, bounds=(X0 + D, Y0, X0 + 2 * D, Y0 + 2 * D)
    )
    v1 = make_area(session, V1, AreaLevel.village, t1, bounds=(X0, Y0, X0 + D, Y0 + 2 * D))
    v2 = make_area(session, V2, AreaLevel.village, t2, bounds=(X0 + D, Y0, X0 + 2 * D, Y0 + 2 * D))
    for v, x in ((v1, X0), (v2, X0 + D)):
        make_area(session, v.code + "001", AreaLevel.grid, v, plan, bounds=(x, Y0, x + D, Y0 + D))
        make_area(
            session, v.code + "002", AreaLevel.grid, v, plan, bounds=(x, Y0 + D, x + D, Y0 + 2 * D)
        )
    make_area(session, "350500", AreaLevel.city, bounds=(X0, Y0, X0 + 2 * D, Y0 + 2 * D))

    def dept(code, kind, level, area, bounds):
        d = Department(
            code=code,
            name=code,
            type=kind,
            level=level,
            area_code=area,
            jurisdiction=from_shape(MultiPolygon([box(*bounds)]), srid=4326),
        )
        session.add(d)
        return d

    full = (X0, Y0, X0 + 2 * D, Y0 + 2 * D)
    units = {
        "city": dept("centre-350500", "centre", AreaLevel.city, "350500", full),
        "county": dept(f"centre-{COUNTY}", "centre", AreaLevel.county, COUNTY, full),
        "t1": dept(f"centre-{T1}", "centre", AreaLevel.township, T1, (X0, Y0, X0 + D, Y0 + 2 * D)),
        "t2": dept(
            f"centre-{T2}", "centre", AreaLevel.township, T2, (X0 + D, Y0, X0 + 2 * D, Y0 + 2 * D)
        ),
        "v1": dept(f"centre-{V1}", "centre", AreaLevel.village, V1, (X0, Y0, X0 + D, Y0 + 2 * D)),
        "v2": dept(
            f"centre-{V2}", "centre", AreaLevel.village, V2, (X0 + D, Y0, X0 + 2 * D, Y0 + 2 * D)
        ),
        "labour": dept(f"labour-{COUNTY}", "labour", AreaLevel.county, COUNTY, full),
        "housing": dept(f"housing-{COUNTY}", "housing", AreaLevel.county, COUNTY, full),
    }
    make_rule(session, "labour", department_type="labour", resolve_days=15)
    make_rule(session, "neighbour")
    make_rule(
        session,
        "road_damage",
        department_type="urban_management",
        dispute=False,
        resolve_days=5,
        group="city",
    )
    session.flush()
    people = {
        "admin": (Role.city_admin, "350500", None),
        "county": (Role.county_dispatcher, COUNTY, None),
        "t1": (Role.township_dispatcher, T1, None),
        "t2": (Role.township_dispatcher, T2, None),
        "grid": (Role.grid_worker, V1 + "001", None),
        "labour": (Role.department_handler, COUNTY, units["labour"].id),
        "housing": (Role.department_handler, COUNTY, units["housing"].id),
        "analyst": (Role.analyst, "350500", None),
        "planner": (Role.planner, "350500", None),
        "village": (Role.village_worker, V1, None),
        "mediator": (Role.mediator, T1, units["t1"].id),  # 调解员 of township 1's centre
    }
    tokens, ids = {}, {}
    for name, (role, area, dept_id) in people.items():
        user = User(
            username=name,
            password_hash=PASSWORD_HASH,
            role=role,
            area_code=area,
            department_id=dept_id,
        )
        session.add(user)
        session.flush()
        ids[name] = user.id
        tokens[name] = create_token(
            secret=TEST_SECRET,
            user_id=user.id,
            username=name,
            role=role,
            area_code=area,
            minutes=60,
        )
    return World(plan.id, units, tokens, ids)


def report(
    client: TestClient,
    world: World,
    who: str | None = "grid",
    headers_extra: dict[str, str] | None = None,
    **overrides,
):
    lon, lat = inside(1, 1)
    body = {
        "category": "labour",
        "channel": "grid_app",
        "lon": lon,
        "lat": lat,
        "description": "工厂拖欠工资三个月",
        "people_involved": 12,
        "reporter_name": "陈明",
        "reporter_phone": "13805951234",
    } | overrides
    headers = (world.auth(who) if who else {}) | (headers_extra or {})
    return client.post("/api/v1/incidents", json=body, headers=headers)


def act(client, world, who, code, action, version, **payload):
    return client.post(
        f"/api/v1/incidents/{code}/actions/{action}",
        json={"version": version} | payload,
        headers=world.auth(who),
    )
