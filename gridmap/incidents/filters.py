"""The incident filters shared by lists, KPIs and the maps: one definition, one SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased

from gridmap.bbox import BBox
from gridmap.db.like import contains, starts_with
from gridmap.incidents.deadlines import due_within_clause, overdue_clause
from gridmap.incidents.models import Incident, IncidentStatus, IncidentUnit, IncidentWhistle
from gridmap.scope import Actor, held_by, within
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
    q: str | None = None  # a code prefix, or words all found in title, description, address
    phone_suffix: str | None = None  # the last digits of the reporter's phone
    queue: Actor | None = None  # only what this user's centre or unit holds (queue=mine)
    supervised: bool | None = None  # 督办: only (True) or none (False) of them
    joint: bool | None = None  # 联办: has co-units
    whistle: bool | None = None  # 吹哨报到: a unit was summoned

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
        if self.q:
            where.append(text_search(self.q))
        if self.phone_suffix:
            where.append(phone_suffix_clause(self.phone_suffix))
        if self.queue is not None:
            where.append(held_by(self.queue))
        # aliases, correlated to the incident only: a query over the parts or the whistles
        # themselves (/stats/whistles) would otherwise swallow the subquery's own table
        part, call = aliased(IncidentUnit), aliased(IncidentWhistle)
        joint = (
            select(part.id)
            .where(part.incident_id == Incident.id, part.role == "co")
            .correlate(Incident)
        )
        whistle = select(call.id).where(call.incident_id == Incident.id).correlate(Incident)
        for flag, condition in (
            (self.supervised, Incident.supervised.is_(True)),
            (self.joint, joint.exists()),
            (self.whistle, whistle.exists()),
        ):
            if flag is not None:
                where.append(condition if flag else ~condition)
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


# A run of digits this long in a search word may be part of a phone or ID number the text
# shows masked: looked for in codes only, so a search is no way to read behind the mask.
MASKED_DIGITS = re.compile(r"\d{4,}")


def text_search(q: str) -> ColumnElement[bool]:
    """SQL: ``q`` starts the incident's code, or each of its words is in the text.

    The text is the title, description or address; wildcards are taken literally
    (gridmap/db/like.py). A word holding four digits or more (full-width ones too) never
    matches the text: it could confirm the hidden digits of a masked number (privacy.py).
    """
    if any(MASKED_DIGITS.search(w) for w in q.split()):
        return starts_with(Incident.code, q.strip())
    words = [
        or_(contains(Incident.title, w), contains(Incident.description, w),
            contains(Incident.address, w))
        for w in q.split()
    ]  # fmt: skip
    return or_(starts_with(Incident.code, q.strip()), and_(*words))


def phone_suffix_clause(digits: str) -> ColumnElement[bool]:
    """SQL: the reporter's phone ends with ``digits``.

    A prefix search on the reversed number, which ``ix_incident_phone_suffix`` serves (as
    ``ix_person_id_suffix`` does for ID numbers).
    """
    return and_(
        Incident.reporter_phone.is_not(None),  # the index's condition, stated for the planner
        starts_with(func.reverse(Incident.reporter_phone), digits[::-1]),
    )
