"""The demo: the demo seed plus one user per role, so a new user can sign in at once."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.areas.active import current_plan
from gridmap.areas.models import Area, AreaLevel
from gridmap.auth.models import Role, User
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.errors import GridmapError
from gridmap.models import make_sessionmaker
from gridmap.open311.clients import create_client, list_clients
from gridmap.settings import Settings
from gridmap.units.codes import centre_code
from gridmap.units.models import Department

DEMO_PASSWORD = "quanzhou-2025"  # documented in README; demo data only, never production
DEMO_OPEN311_CLIENT = "demo-app"
DEMO_OPEN311_KEY = "demo-open311-key"  # published like the password: demo only
DEMO_COUNTY = "350503"  # Fengze


def has_seed(url: str) -> bool:
    """True if the database already holds a seed (an active plan)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return current_plan(session) is not None
    finally:
        engine.dispose()


def _first_code(session: Session, level: AreaLevel, prefix: str) -> str | None:
    return session.scalar(
        select(Area.code)
        .where(Area.level == level, Area.code.startswith(prefix))
        .order_by(Area.code)
    )


def demo_users(session: Session) -> list[tuple[str, Role, str, int | None]]:
    """One user per role, placed in the demo data where it exists (username, role, area, dept)."""
    township = _first_code(session, AreaLevel.township, DEMO_COUNTY) or DEMO_COUNTY
    village = _first_code(session, AreaLevel.village, township) or township
    grid = _first_code(session, AreaLevel.grid, village) or village
    labour = session.scalar(select(Department.id).where(Department.code == f"labour-{DEMO_COUNTY}"))
    users: list[tuple[str, Role, str, int | None]] = [
        ("admin", Role.city_admin, "350500", None),
        ("fengze", Role.county_dispatcher, DEMO_COUNTY, None),
        ("township", Role.township_dispatcher, township, None),
        ("village", Role.village_worker, village, None),
        ("grid", Role.grid_worker, grid, None),
        ("planner", Role.planner, "350500", None),
        ("analyst", Role.analyst, "350500", None),
    ]
    if labour is not None:
        users.append(("labour", Role.department_handler, DEMO_COUNTY, labour))
    centre = session.scalar(select(Department.id).where(Department.code == centre_code(township)))
    if centre is not None:  # 调解员 of the township's centre
        users.append(("mediator", Role.mediator, township, centre))
    return users


def load_demo(*, url: str, console: Console, settings: Settings) -> None:
    """Create the demo users that are missing (idempotent); refused in production."""
    if settings.environment == "production":
        raise GridmapError("the demo users have a published password: not in production")
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            for username, role, area, department_id in demo_users(session):
                if session.scalar(select(User.id).where(User.username == username)) is None:
                    create_user(
                        session=session,
                        username=username,
                        password=DEMO_PASSWORD,
                        role=role,
                        area_code=area,
                        department_id=department_id,
                    )
                    console.print(
                        f"demo user {username} ({role.value}, area {area}) / {DEMO_PASSWORD}"
                    )
            if not any(c.name == DEMO_OPEN311_CLIENT for c in list_clients(session)):
                create_client(session, DEMO_OPEN311_CLIENT, key=DEMO_OPEN311_KEY,
                              contact="the demo")  # fmt: skip
                console.print(f"demo Open311 client {DEMO_OPEN311_CLIENT}: "
                              f"api_key={DEMO_OPEN311_KEY}")  # fmt: skip
    finally:
        engine.dispose()
