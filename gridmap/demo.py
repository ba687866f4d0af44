"""The demo: demo users (and, once loaded, the demo seed) so a new user can sign in at once."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from gridmap.auth.models import Role, User
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine, make_sessionmaker

DEMO_PASSWORD = "gridmap-demo"  # documented in README; demo data only, never production
DEMO_USERS = (
    ("admin", Role.city_admin, "350500"),
    ("fengze", Role.county_dispatcher, "350503"),
    ("analyst", Role.analyst, "350500"),
    ("planner", Role.planner, "350500"),
)


def load_demo(*, url: str, console: Console) -> None:
    """Create the demo users if they are missing (idempotent)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            for username, role, area in DEMO_USERS:
                if session.scalar(select(User.id).where(User.username == username)) is None:
                    create_user(
                        session=session, username=username, password=DEMO_PASSWORD, role=role,
                        area_code=area,
                    )  # fmt: skip
                    console.print(f"demo user {username} ({role.value}) / {DEMO_PASSWORD}")
    finally:
        engine.dispose()
