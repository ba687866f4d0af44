"""Lists and KPIs over incidents, always within the user's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, case, func, literal, select
from sqlalchemy.orm import Session

from gridmap.areas.codes import CODE_LENGTH
from gridmap.areas.levels import AreaLevel
from gridmap.calendar import CHINA_TZ
from gridmap.incidents.deadlines import due_within_clause, next_due_clause, overdue_clause
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.kpi import APPEAL_CHANNELS
from gridmap.incidents.models import OPEN, Incident, IncidentStatus
from gridmap.scope import Actor, incident_filter
from gridmap.units.models import Department, RoutingRule

S = IncidentStatus
SORTS: dict[str, Any] = {
    "reported_at": Incident.reported_at,
    "resolve_due_at": Incident.resolve_due_at,
    "deadline": Incident.resolve_due_at,  # the page's word for the same column
    "code": Incident.code,
    "status": Incident.status,  # in workflow order (the enum's order)
    "unit": select(Department.code).where(Department.id == Incident.unit_id).scalar_subquery(),
    "place": Incident.grid_code,
    "time_left": next_due_clause(),  # office hours left grow with the running deadline
}
SORT_PATTERN = "^-?(" + "|".join(SORTS) + ")$"
NULLABLE_SORTS = frozenset({"resolve_due_at", "deadline", "unit", "time_left"})
GroupBy = Literal["county", "township", "village", "grid", "category", "unit", "channel", "month"]
GROUP_LEVELS = {
    lvl.value: CODE_LENGTH[lvl]
    for lvl in (AreaLevel.county, AreaLevel.township, AreaLevel.village, AreaLevel.grid)
}


def scoped_where(actor: Actor, filters: IncidentFilter, now: datetime) -> list[ColumnElement[bool]]:
    """The incidents a list shows: the actor's scope and the filters (lists and bulk)."""
    return [incident_filter(actor), *filters.clauses(now)]


def list_incidents(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    filters: IncidentFilter = IncidentFilter(),  # noqa: B008 (frozen: safe as a default)
    sort: str = "-reported_at",
    page: int = 1,
    page_size: int = 50,
) -> tuple[int, list[Incident]]:
    """Filtered, sorted, paginated incidents within the actor's scope."""
    where = scoped_where(actor, filters, now)
    key = SORTS[sort.lstrip("-")]
    order = key.desc() if sort.startswith("-") else key.asc()
    if sort.lstrip("-") in NULLABLE_SORTS:
        order = order.nulls_last()  # no deadline or no unit: last either way
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
    monthly: bool = False,
    filters: IncidentFilter = IncidentFilter(),  # noqa: B008 (frozen: safe as a default)
) -> list[dict[str, Any]]:
    """KPIs (definitions in gridmap/incidents/kpi.py), overall or per group, in scope.

    ``monthly`` splits every group into calendar months (China time) of the report: the
    time series of a unit, a township or the whole city, one row per group and month that
    has incidents, ordered by group then month.
    """
    live = Incident.status != S.rejected
    accepted = and_(live, Incident.channel.in_(sorted(APPEAL_CHANNELS)))
    dispute = and_(live, RoutingRule.is_dispute)
    closed = and_(accepted, Incident.status == S.closed)
    on_time = and_(closed, Incident.closed_at <= Incident.resolve_due_at)

    def count(cond: ColumnElement[bool]) -> Any:
        return func.count().filter(cond)

    hours = func.extract("epoch", Incident.signed_at - Incident.reported_at) / 3600
    close_hours = func.extract("epoch", Incident.closed_at - Incident.reported_at) / 3600
    month = func.to_char(func.timezone(CHINA_TZ.tzname(None), Incident.reported_at), "YYYY-MM")
    series = monthly and group_by != "month"
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
        key = month
    else:
        key = literal("all")
    query = (
        select(
            key.label("key"),
            (month if series else literal(None, String)).label("month"),
            count(accepted).label("accepted"),
            count(closed).label("closed"),
            count(dispute).label("disputes_screened"),
            count(and_(dispute, Incident.outcome == "mediated")).label("disputes_resolved"),
            count(on_time).label("closed_on_time"),
            count(and_(live, overdue_clause(now))).label("overdue"),
            count(Incident.status.in_(sorted(OPEN))).label("open"),
            count(due_within_clause(now)).label("due_soon"),
            func.avg(hours).filter(live).label("mean_hours_to_sign"),
            func.avg(close_hours).filter(closed).label("mean_hours_to_close"),
            func.avg(case((Incident.satisfaction >= 4, 1.0), else_=0.0))
            .filter(Incident.satisfaction.is_not(None))
            .label("satisfaction_rate"),
            func.coalesce(func.sum(Incident.people_involved).filter(accepted), 0).label(
                "people_served"
            ),
            count(and_(live, Incident.supervised_at.is_not(None))).label("supervised"),
            count(and_(live, Incident.supervision_answered_at.is_not(None))).label(
                "supervision_answered"
            ),
        )
        .join(RoutingRule, RoutingRule.category == Incident.category)
        .outerjoin(Department, Department.id == Incident.unit_id)
        .where(incident_filter(actor, aggregate=True))
        .group_by(key, *([month] if series else []))
        .order_by(key, *([month] if series else []))
    )
    query = query.where(*filters.clauses(now))
    out = []
    for row in session.execute(query).mappings():
        r = dict(row)
        r["completion_rate"] = r["closed"] / r["accepted"] if r["accepted"] else None
        r["dispute_resolution_rate"] = (
            r["disputes_resolved"] / r["disputes_screened"] if r["disputes_screened"] else None
        )
        r["on_time_rate"] = r["closed_on_time"] / r["closed"] if r["closed"] else None
        r["supervision_answer_rate"] = (
            r["supervision_answered"] / r["supervised"] if r["supervised"] else None
        )
        for k in ("mean_hours_to_sign", "mean_hours_to_close", "satisfaction_rate"):
            r[k] = float(r[k]) if r[k] is not None else None
        out.append(r)
    return out


def whistle_stats(
    session: Session,
    actor: Actor,
    now: datetime,
    filters: IncidentFilter = IncidentFilter(),  # noqa: B008 (frozen: safe as a default)
) -> list[dict[str, Any]]:
    """吹哨报到 per summoned department, for the incidents ``actor`` may count."""
    from gridmap.incidents.models import IncidentWhistle

    done = IncidentWhistle.checked_in_at.is_not(None)
    minutes = func.extract("epoch", IncidentWhistle.checked_in_at - IncidentWhistle.called_at) / 60
    rows = session.execute(
        select(
            Department.code, func.count(), func.count().filter(done),
            func.count().filter(IncidentWhistle.checked_in_at <= IncidentWhistle.due_at),
            func.avg(minutes).filter(done),
        )
        .join(Department, Department.id == IncidentWhistle.unit_id)
        .join(Incident, Incident.id == IncidentWhistle.incident_id)
        .where(incident_filter(actor, aggregate=True), *filters.clauses(now))
        .group_by(Department.code)
        .order_by(Department.code)
    ).all()  # fmt: skip
    return [
        {"unit_code": code, "summoned": n, "checked_in": ok, "checked_in_on_time": on_time,
         "check_in_rate": ok / n if n else None, "on_time_rate": on_time / n if n else None,
         "mean_minutes_to_check_in": float(mean) if mean is not None else None}
        for code, n, ok, on_time, mean in rows
    ]  # fmt: skip


FACETS = ("status", "category", "channel", "unit", "area")


def facets(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    filters: IncidentFilter,
    lang: str = "zh",
) -> dict[str, list[dict[str, Any]]]:
    """Counts per value of each filter, for a filter panel.

    How many incidents each choice would show: each facet is counted with its own criterion
    dropped (so the other values stay visible); ``area`` counts by the children of the
    filtered area (or of the user's).
    """
    scoped = incident_filter(actor, aggregate=True)
    base_area = filters.area or actor.area_code
    child = _child_width(base_area)
    keys: dict[str, Any] = {
        "status": Incident.status,
        "category": Incident.category,
        "channel": Incident.channel,
        "unit": Incident.unit_id,
        "area": func.substr(Incident.grid_code, 1, child),
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for facet, key in keys.items():
        flt = filters.without(facet)
        if facet == "area":
            flt = IncidentFilter(**{**flt.__dict__, "area": base_area})
        rows = session.execute(
            select(key, func.count()).where(scoped, *flt.clauses(now)).group_by(key)
        ).all()
        out[facet] = [
            {"value": getattr(v, "value", v), "count": int(n)} for v, n in rows if v is not None
        ]
    _label(session, out, lang)
    return out


def _child_width(area: str) -> int:
    from gridmap.areas.codes import level_of

    level = level_of(area)
    order = list(CODE_LENGTH)
    below = order[min(order.index(level) + 1, len(order) - 1)]
    return CODE_LENGTH[below]


def _label(session: Session, out: dict[str, list[dict[str, Any]]], lang: str) -> None:
    from gridmap.areas.models import Area

    rule_name = RoutingRule.name_en if lang == "en" else RoutingRule.name
    names = dict(session.execute(select(RoutingRule.category, rule_name)).all())
    for row in out["category"]:
        row["label"] = names.get(row["value"], row["value"])
    ids = [r["value"] for r in out["unit"]]
    units = {
        i: (code, name)
        for i, code, name in session.execute(
            select(Department.id, Department.code, Department.name).where(Department.id.in_(ids))
        )
    }
    for row in out["unit"]:
        code, name = units.get(row["value"], (str(row["value"]), str(row["value"])))
        row["value"], row["label"] = code, name
    codes = [r["value"] for r in out["area"]]
    area_name = Area.name_en if lang == "en" else Area.name
    areas = dict(
        session.execute(
            select(Area.code, func.coalesce(area_name, Area.name)).where(
                Area.code.in_(codes), Area.plan_id.is_(None) | (Area.level == "grid")
            )
        ).all()
    )
    for row in out["area"]:
        row["label"] = areas.get(row["value"], row["value"])
    for facet in out.values():
        facet.sort(key=lambda r: -r["count"])
