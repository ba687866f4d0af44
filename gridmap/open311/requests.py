"""Service requests: a GeoReport v2 form as an ordinary report; incidents as public requests.

Posting: the form becomes the same ``IncidentCreate`` every channel sends (channel
``citizen_app``, the port's), so it is located, assigned, routed and given its deadlines by
the one intake (``gridmap.incidents.service.create``). A location is ``lat``/``long``
(WGS84, or GCJ-02/BD-09 with the ``crs`` extension), an ``address_id`` (a building of the
registry) or an ``address_string`` (a building address, matched exactly).

Reading: ``GET requests`` is public, so it publishes what a citizen's request says about
the city, never about a person. Only citizens' appeals (the appeal channels of the KPIs)
are listed; no description, name, phone or media URL; the location is the grid cell's
representative point and the address its village, township and county — a cell holds
hundreds of households, so a listed request does not point at one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from gridmap import timebounds
from gridmap.areas.models import Area
from gridmap.calendar import CHINA_TZ
from gridmap.crs import CRS
from gridmap.db.ids import parse_row_id
from gridmap.errors import InvalidInput
from gridmap.incidents.kpi import APPEAL_CHANNELS
from gridmap.incidents.models import OPEN, Channel, Incident, IncidentEvent, IncidentStatus
from gridmap.incidents.schemas import IncidentCreate
from gridmap.locate import PREFIX, Locator
from gridmap.open311.services import read_attributes
from gridmap.registry.models import Building

MAX_RESULTS = 1000  # the spec's suggested ceiling for GET requests
MAX_SPAN = timedelta(days=90)  # the spec's default and longest window
NO_DESCRIPTION = "（市民未填写描述）"
# the parameters of the form and the report fields they become, to name a refused value
# by the name the client sent
_PARAM_OF = {
    "lon": "long", "lat": "lat", "crs": "crs", "description": "description",
    "reporter_name": "first_name/last_name", "reporter_phone": "phone",
    "media_url": "media_url", "title": "attribute[title]",
    "people_involved": "attribute[people_involved]", "reported_at": "attribute[occurred_at]",
    "address": "address_string", "category": "service_code",
}  # fmt: skip
STATUS_NOTES = {
    IncidentStatus.reported: "已受理，等待派单",
    IncidentStatus.dispatched: "已派单，等待承办单位签收",
    IncidentStatus.in_progress: "承办单位正在办理",
    IncidentStatus.resolved: "已办结，等待回访",
    IncidentStatus.follow_up: "回访中",
    IncidentStatus.closed: "已结单",
    IncidentStatus.rejected: "不予受理",
}
OUTCOME_NOTES = {
    "mediated": "调解成功", "referred_arbitration": "已引导仲裁", "referred_court": "已引导诉讼",
    "handled": "已处理", "other": "已处理",
}  # fmt: skip


def spec_status(status: IncidentStatus) -> str:
    """``open`` while a unit still has to act (the domain's OPEN states), else ``closed``."""
    return "open" if status in OPEN else "closed"


def _float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not a number (decimal degrees)") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"{name}={value!r} is not a number (decimal degrees)")
    return number


def _building_point(session: Session, where: Any, what: str) -> tuple[float, float]:
    rows = session.execute(
        select(func.ST_X(Building.location), func.ST_Y(Building.location)).where(where).limit(2)
    ).all()
    if not rows:
        raise InvalidInput(f"{what} is not an address we know: send lat and long instead")
    if len(rows) > 1:
        raise InvalidInput(f"{what} matches several buildings: send lat and long instead")
    return float(rows[0][0]), float(rows[0][1])


def report_from_form(
    session: Session, locator: Locator, form: dict[str, str], attributes: dict[str, str]
) -> IncidentCreate:
    """The report a GeoReport v2 form describes; every problem named by its parameter."""
    service_code = form.get("service_code", "").strip()
    if not service_code:
        raise InvalidInput("service_code is missing: pick one from services.json")
    if service_code not in locator.rules:  # the routing rules intake routes by
        raise InvalidInput(f"service_code {service_code!r} is not a service: see services.json")
    crs = form.get("crs", "wgs84").strip() or "wgs84"
    address = (form.get("address_string") or "").strip() or None
    if form.get("lat") or form.get("long"):
        if not (form.get("lat") and form.get("long")):
            raise InvalidInput("send both lat and long (decimal degrees)")
        lat, lon = _float("lat", form["lat"]), _float("long", form["long"])
    elif form.get("address_id"):
        raw = form["address_id"].strip()
        building_id = parse_row_id(raw)
        if building_id is None:
            raise InvalidInput(f"address_id={raw[:20]!r} is not a building id (a whole number)")
        lon, lat = _building_point(session, Building.id == building_id, f"address_id {raw}")
        crs = CRS.wgs84.value
    elif address:
        lon, lat = _building_point(session, Building.address == address, f"address {address!r}")
        crs = CRS.wgs84.value
    else:
        raise InvalidInput(
            "the location is missing: send lat and long, an address_id or an address_string"
        )
    extra = read_attributes(attributes)
    name = "".join(form.get(k, "").strip() for k in ("last_name", "first_name")) or None
    values: dict[str, Any] = {
        "category": service_code,
        "channel": Channel.citizen_app,
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "description": (form.get("description") or "").strip() or NO_DESCRIPTION,
        "address": address,
        "reporter_name": name,
        "reporter_phone": (form.get("phone") or "").strip() or None,
        "media_url": (form.get("media_url") or "").strip() or None,
        "title": extra.get("title"),
        "people_involved": extra.get("people_involved", 1),
        "reported_at": extra.get("occurred_at"),
    }
    try:
        return IncidentCreate.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else ""
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            problems.append(f"{_PARAM_OF.get(field, field)}: {message}")
        raise InvalidInput("; ".join(problems)) from None


@dataclass(frozen=True)
class RequestFilter:
    """``GET requests``' filters, checked."""

    ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None


def _list(value: str | None, what: str, limit: int = 100) -> list[str] | None:
    if value is None or not value.strip():
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > limit:
        raise InvalidInput(f"{what}: at most {limit} values, comma-separated")
    return items


def _when(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    moment = timebounds.parse_iso(value.strip())
    if moment is None:
        raise InvalidInput(
            f"{name}={value!r} is not a W3C date-time: write e.g. 2026-01-01T00:00:00Z"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)  # the city's local time
    return timebounds.check(moment, name=name, event=False)


def read_filter(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
) -> RequestFilter:
    """The filters as the spec defines them; a bad value is refused, naming it."""
    statuses = _list(status, "status")
    if statuses and not set(statuses) <= {"open", "closed"}:
        raise InvalidInput(f"status={status!r}: use open, closed or both (comma-separated)")
    start, end = _when("start_date", start_date), _when("end_date", end_date)
    if start and end and end < start:
        raise InvalidInput("end_date is before start_date")
    if start and end and end - start > MAX_SPAN:
        raise InvalidInput("start_date to end_date may span at most 90 days")
    return RequestFilter(
        ids=_list(service_request_id, "service_request_id", MAX_RESULTS),
        service_codes=_list(service_code, "service_code"),
        start=start,
        end=end,
        statuses=statuses,
    )


def public_requests(
    session: Session, locator: Locator, filters: RequestFilter, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Citizens' requests as GeoReport v2 publishes them (newest first, at most 1000).

    Listed ids override the other filters, as the spec says; without dates the window is
    the last 90 days (or 90 days from the one date given).
    """
    now = now or datetime.now(UTC)
    cell = aliased(Area)
    merged = aliased(Incident)
    point = func.ST_PointOnSurface(cell.geom)
    updated = (
        select(func.max(IncidentEvent.at))
        .where(IncidentEvent.incident_id == Incident.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            Incident, updated.label("updated"), func.ST_X(point).label("x"),
            func.ST_Y(point).label("y"), merged.code.label("merged_into"),
        )
        .outerjoin(cell, and_(cell.code == Incident.grid_code, cell.plan_id == Incident.plan_id))
        .outerjoin(merged, merged.id == Incident.merged_into_id)
        .where(Incident.channel.in_(sorted(APPEAL_CHANNELS)))
    )  # fmt: skip
    if filters.ids is not None:
        stmt = stmt.where(Incident.code.in_(filters.ids))
    else:
        if filters.start is not None:
            start = filters.start
            end = filters.end if filters.end is not None else start + MAX_SPAN
        else:
            end = filters.end if filters.end is not None else now
            start = end - MAX_SPAN
        stmt = stmt.where(Incident.reported_at >= start, Incident.reported_at <= end)
        if filters.service_codes:
            stmt = stmt.where(Incident.category.in_(filters.service_codes))
        if filters.statuses and len(set(filters.statuses)) == 1:
            chosen = (
                sorted(OPEN)
                if filters.statuses[0] == "open"
                else sorted(set(IncidentStatus) - OPEN)
            )
            stmt = stmt.where(Incident.status.in_(chosen))
    stmt = stmt.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(MAX_RESULTS)
    return [
        public_request(locator, row.Incident, updated=row.updated, point=(row.x, row.y),
                       merged_into=row.merged_into)
        for row in session.execute(stmt)
    ]  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds") if moment else None


def public_request(
    locator: Locator,
    incident: Incident,
    *,
    updated: datetime | None,
    point: tuple[float | None, float | None],
    merged_into: str | None,
) -> dict[str, Any]:
    """One request with the spec's fields, and nothing personal."""
    status = IncidentStatus(incident.status)
    notes = STATUS_NOTES[status]
    if merged_into:
        notes = f"已并入 {merged_into} 一并办理"
    elif status == IncidentStatus.closed and incident.outcome:
        notes = f"{notes}：{OUTCOME_NOTES.get(incident.outcome, '已处理')}"
    rule = locator.rules.get(incident.category)
    unit = locator.units_by_id.get(incident.unit_id) if incident.unit_id else None
    code = incident.grid_code or ""
    places = [locator.city.name] if locator.city else []
    places += [locator.names.get(code[:w], "") for w in sorted(PREFIX.values())] if code else []
    x, y = point
    return {
        "service_request_id": incident.code,
        "status": spec_status(status),
        "status_notes": notes,
        "service_name": rule.name if rule else incident.category,
        "service_code": incident.category,
        "description": None,
        "agency_responsible": unit.name if unit else None,
        "service_notice": None,
        "requested_datetime": _iso(incident.reported_at),
        "updated_datetime": _iso(updated or incident.reported_at),
        "expected_datetime": _iso(incident.resolve_due_at),
        "address": "".join(p for p in places if p) or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(y, 6) if y is not None else None,
        "long": round(x, 6) if x is not None else None,
        "media_url": None,
    }
