"""Tiny hand-drawn fixtures whose answers are obvious: rectangles in lon/lat."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from gridmap.areas.models import Area, AreaLevel, Plan, PlanStatus


def rect(x0: float, y0: float, x1: float, y1: float):
    return from_shape(MultiPolygon([box(x0, y0, x1, y1)]), srid=4326)


def make_plan(session: Session, name: str = "plan", status: PlanStatus = PlanStatus.draft) -> Plan:
    plan = Plan(name=name, status=status)
    session.add(plan)
    session.flush()
    return plan


def make_area(
    session: Session,
    code: str,
    level: AreaLevel,
    parent: Area | None = None,
    plan: Plan | None = None,
    bounds=(118.5, 24.8, 118.7, 25.0),
    name: str | None = None,
) -> Area:
    area = Area(
        code=code,
        name=name or f"{level.value} {code}",
        level=level,
        parent_id=parent.id if parent else None,
        parent_level=parent.level if parent else None,
        plan_id=plan.id if plan else None,
        geom=rect(*bounds),
    )
    session.add(area)
    session.flush()
    return area


def make_rule(
    session: Session,
    category: str,
    *,
    department_type: str | None = None,
    dispute: bool = True,
    sign_days: int = 1,
    resolve_days: int = 10,
    group: str | None = None,
):
    """A routing rule: functional when a department type is given, territorial otherwise.

    Its group is one the migrations create: ``dispute`` for a dispute, else ``complaint``.
    """
    from gridmap.units.models import RoutingMode, RoutingRule

    rule = RoutingRule(
        category=category,
        name=category,
        name_en=category,
        is_dispute=dispute,
        mode=RoutingMode.functional if department_type else RoutingMode.territorial,
        department_type=department_type,
        territorial_level=None if department_type else AreaLevel.township,
        sign_days=sign_days,
        resolve_days=resolve_days,
        group_code=group or ("dispute" if dispute else "complaint"),
    )
    session.add(rule)
    return rule
