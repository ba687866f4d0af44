"""Areas as users read them: one area with its parent, children, outline and counts.

The counts are of what lies in the area (registry, open and overdue incidents, grid
workers), so this reads above the domains it counts; the area itself is found by
:func:`gridmap.areas.lookup.get_area`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area
from gridmap.auth.models import Role, User
from gridmap.incidents.deadlines import overdue_clause
from gridmap.incidents.models import OPEN, Incident
from gridmap.registry.rollup import CellCounts, count_area
from gridmap.scope import Actor, within

OUTLINE_TOLERANCE = 0.00005  # degrees, about 5 m


def summary(
    session: Session, area: Area, actor: Actor, now: datetime, rollup: CellCounts | None = None
) -> dict[str, Any]:
    """Name, parent, children, outline (GeoJSON) and counts of what lies in the area.

    A grid cell is counted live; a larger area sums the cells of ``rollup`` when given
    (gridmap/registry/rollup.py, the same queries) and says when they were counted. Outlines
    above the village are simplified to about 5 m (a county's full outline is hundreds of
    kilobytes).
    """
    geom: Any = area.geom
    if area.level in (AreaLevel.city, AreaLevel.county, AreaLevel.township):
        geom = func.ST_SimplifyPreserveTopology(area.geom, OUTLINE_TOLERANCE)
    geometry = session.scalar(func.ST_AsGeoJSON(geom, 6))
    parent = session.get(Area, area.parent_id) if area.parent_id else None
    children = session.execute(
        select(Area.code, Area.name, Area.level)
        .where(Area.parent_id == area.id)
        .order_by(Area.code)
    ).all()
    counted_at = None
    if rollup is not None and area.level != AreaLevel.grid:
        counted_at, counts = rollup.of(session, codes.prefix(area.code))
    else:
        counts = count_area(session, area.code)
    in_area = within(Incident.grid_code, area.code)
    counts["open_incidents"] = (
        session.scalar(select(func.count()).where(in_area, Incident.status.in_(sorted(OPEN)))) or 0
    )
    counts["overdue_incidents"] = (
        session.scalar(select(func.count()).where(in_area, overdue_clause(now))) or 0
    )
    return {
        "code": area.code,
        "name": area.name,
        "name_en": area.name_en,
        "level": area.level.value,
        "parent": {"code": parent.code, "name": parent.name} if parent else None,
        "children": [{"code": c, "name": n, "level": lvl.value} for c, n, lvl in children],
        "geometry": json.loads(geometry) if geometry else None,
        "counts": counts,
        "counted_at": counted_at,
        "grid_workers": _grid_workers(session, area.code),
    }


def _grid_workers(session: Session, code: str) -> list[dict[str, str]]:
    """The grid workers (网格员) working in the area (a cell's, or all of a village's…)."""
    rows = session.execute(
        select(User.username, User.full_name, User.area_code)
        .where(User.role == Role.grid_worker, User.is_active, within(User.area_code, code))
        .order_by(User.area_code, User.username)
        .limit(200)
    ).all()
    return [{"username": u, "full_name": n, "grid_code": c} for u, n, c in rows]
