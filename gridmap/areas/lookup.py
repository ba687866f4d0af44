"""One area as a user may read it: by code, within the user's own area."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.active import active_plan_subquery
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area
from gridmap.errors import NotFound
from gridmap.scope import Actor


def get_area(session: Session, code: str, actor: Actor) -> Area:
    """The area ``code`` (grid cells: of the active plan) if within the user's area; else 404."""
    if not codes.is_area_code(code) or not actor.covers(code):
        raise NotFound(f"there is no area {code} in your area")
    query = select(Area).where(Area.code == code)
    if codes.level_of(code) == AreaLevel.grid:
        query = query.where(Area.plan_id == active_plan_subquery())
    area = session.scalar(query)
    if area is None:
        raise NotFound(f"there is no area {code} in your area")
    return area
