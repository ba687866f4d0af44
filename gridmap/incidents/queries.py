"""Lists and KPIs over incidents, always within the user's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session

from gridmap.areas.codes import CODE_LENGTH
from gridmap.areas.levels import AreaLevel
from gridmap.incidents.deadlines import due_soon_clause, overdue_clause
from gridmap.incidents.kpi import APPEAL_CHANNELS
from gridmap.incidents.models import Incident, IncidentStatus
from gridmap.scope import Actor, incident_filter, within
from gridmap.units.models import Department, RoutingRule

S = IncidentStatus
SORTS = {
    "reported_at": Incident.reported_at,
    "resolve_due_at": Incident.resolve_due_at,
    "code": Incident.code,
}
GroupBy = Literal["county", "township", "village", "grid", "category", "unit", "channel", "month"]
GROUP_LEVELS = {
    lvl.value: CODE_LENGTH[lvl]
    for lvl in (AreaLevel.county, AreaLevel.township, AreaLevel.village, AreaLevel.grid)
}


def list_incidents(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    status: list[S] | None = None,
    category: str | None = None,
    channel: str | None = None,
    area: str | None = None,
    unit: str | None = None,
    overdue_only: bool = False,
    due_within: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    sort: str = "-reported_at",
    page: int = 1,
    page_size: int = 50,
) -> tuple[int, list[Incident]]:
    """Filtered, sorted, paginated incidents within the actor's scope."""
    where = [incident_filter(actor)]
    if status:
        where.append(Incident.status.in_(status))
    if category:
        where.append(Incident.category == category)
    if channel:
        where.append(Incident.channel == channel)
    if area:
        where.append(within(Incident.grid_code, area))
    if unit:
        where.append(
            Incident.unit_id
            == select(Department.id).where(Department.code == unit).scalar_subquery()
        )
    if overdue_only:
        where.append(overdue_clause(now))
    if due_within is not None:
        where.append(due_soon_clause(now, due_within))
    if since:
        where.append(Incident.reported_at >= since)
    if until:
        where.append(Incident.reported_at < until)
    if bbox:
        where.append(Incident.location.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    key = SORTS[sort.lstrip("-")]
    order = key.desc() if sort.startswith("-") else key.asc()
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    rows = session.scalars(
        select(Incident)
        .where(*where)
        .order_by(order, Incident.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return total, list(rows)


def stats(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    group_by: GroupBy | None = None,
    area: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """KPIs (definitions in gridmap/incidents/kpi.py), overall or per group, in scope."""
    live = Incident.status != S.rejected
    accepted = and_(live, Incident.channel.in_(sorted(APPEAL_CHANNELS)))
    dispute = and_(live, RoutingRule.is_dispute)
    closed = and_(accepted, Incident.status == S.closed)
    on_time = and_(closed, Incident.closed_at <= Incident.resolve_due_at)

    def count(cond: ColumnElement[bool]) -> Any:
        return func.count().filter(cond)

    hours = func.extract("epoch", Incident.signed_at - Incident.reported_at) / 3600
    close_hours = func.extract("epoch", Incident.closed_at - Incident.reported_at) / 3600
    key: Any
    if group_by in GROUP_LEVELS:
        key = func.substr(Incident.grid_code, 1, GROUP_LEVELS[group_by])
    elif group_by == "category":
        key = Incident.category
    elif group_by == "channel":
        key = Incident.channel
    elif group_by == "unit":
        key = Department.code
    elif group_by == "month":
        key = func.to_char(func.timezone("Asia/Shanghai", Incident.reported_at), "YYYY-MM")
    else:
        key = literal("all")
    query = (
        select(
            key.label("key"),
            count(accepted).label("accepted"),
            count(closed).label("closed"),
            count(dispute).label("disputes_screened"),
            count(and_(dispute, Incident.outcome == "mediated")).label("disputes_resolved"),
            count(on_time).label("closed_on_time"),
            count(and_(live, overdue_clause(now))).label("overdue"),
            func.avg(hours).filter(live).label("mean_hours_to_sign"),
            func.avg(close_hours).filter(closed).label("mean_hours_to_close"),
            func.avg(case((Incident.satisfaction >= 4, 1.0), else_=0.0))
            .filter(Incident.satisfaction.is_not(None))
            .label("satisfaction_rate"),
            func.coalesce(func.sum(Incident.people_involved).filter(accepted), 0).label(
                "people_served"
            ),
        )
        .join(RoutingRule, RoutingRule.category == Incident.category)
        .outerjoin(Department, Department.id == Incident.unit_id)
        .where(incident_filter(actor, aggregate=True))
        .group_by(key)
        .order_by(key)
    )
    if area:
        query = query.where(within(Incident.grid_code, area))
    if category:
        query = query.where(Incident.category == category)
    if since:
        query = query.where(Incident.reported_at >= since)
    if until:
        query = query.where(Incident.reported_at < until)
    out = []
    for row in session.execute(query).mappings():
        r = dict(row)
        r["completion_rate"] = r["closed"] / r["accepted"] if r["accepted"] else None
        r["dispute_resolution_rate"] = (
            r["disputes_resolved"] / r["disputes_screened"] if r["disputes_screened"] else None
        )
        r["on_time_rate"] = r["closed_on_time"] / r["closed"] if r["closed"] else None
        for k in ("mean_hours_to_sign", "mean_hours_to_close", "satisfaction_rate"):
            r[k] = float(r[k]) if r[k] is not None else None
        out.append(r)
    return out
