"""The incident filters shared by lists, KPIs and the maps: one definition, one SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select

from gridmap.bbox import BBox
from gridmap.incidents.deadlines import due_within_clause, overdue_clause
from gridmap.incidents.models import Incident, IncidentStatus
from gridmap.scope import within
from gridmap.units.models import Department


@dataclass(frozen=True)
class IncidentFilter:
    """What a dispatcher narrows incidents down to (all optional; all must hold)."""

    status: tuple[IncidentStatus, ...] = ()
    category: str | None = None
    channel: str | None = None
    area: str | None = None  # any level
    unit: str | None = None  # unit code
    overdue: bool = False
    due_within: timedelta | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: BBox | None = None
    fast_track: bool | None = None  # 民意事件速办: only (True) or none (False) of them

    def clauses(self, now: datetime) -> list[ColumnElement[bool]]:
        """The SQL conditions (to combine with the user's scope)."""
        where: list[ColumnElement[bool]] = []
        if self.status:
            where.append(Incident.status.in_(self.status))
        if self.category:
            where.append(Incident.category == self.category)
        if self.channel:
            where.append(Incident.channel == self.channel)
        if self.area:
            where.append(within(Incident.grid_code, self.area))
        if self.unit:
            unit_id = select(Department.id).where(Department.code == self.unit).scalar_subquery()
            where.append(Incident.unit_id == unit_id)
        if self.overdue:
            where.append(overdue_clause(now))
        if self.due_within is not None:
            where.append(due_within_clause(now, self.due_within))
        if self.since:
            where.append(Incident.reported_at >= self.since)
        if self.until:
            where.append(Incident.reported_at < self.until)
        if self.fast_track is not None:
            where.append(Incident.fast_track.is_(self.fast_track))
        if self.bbox:
            where.append(Incident.location.op("&&")(func.ST_MakeEnvelope(*self.bbox, 4326)))
        return where

    def without(self, *names: str) -> IncidentFilter:
        """The same filter with some criteria dropped (for counts per value of a facet)."""
        empty = IncidentFilter()
        return IncidentFilter(
            **{
                name: getattr(empty if name in names else self, name)
                for name in self.__dataclass_fields__
            }
        )
