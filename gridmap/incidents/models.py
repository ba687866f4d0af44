"""Incidents (事件/工单) and their append-only event history."""

from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.areas.models import AreaLevel, area_level_enum
from gridmap.db.base import SRID, Base, created_at_column
from gridmap.db.mixins import GridLinked


class IncidentStatus(enum.StrEnum):
    """报单 → 派单 → 办单 → 办结 → 跟单 → 结单, or 驳回."""

    reported = "reported"
    dispatched = "dispatched"
    in_progress = "in_progress"
    resolved = "resolved"
    follow_up = "follow_up"
    closed = "closed"
    rejected = "rejected"


# The state groups every rule uses (lists, overdue, maps, KPIs): written here only.
OPEN = frozenset({IncidentStatus.reported, IncidentStatus.dispatched, IncidentStatus.in_progress})
UNSIGNED = frozenset({IncidentStatus.reported, IncidentStatus.dispatched})
FINAL = frozenset({IncidentStatus.closed, IncidentStatus.rejected})


class Channel(enum.StrEnum):
    """Intake channel."""

    grid_app = "grid_app"
    citizen_app = "citizen_app"
    window = "window"
    hotline = "hotline"
    online = "online"


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


incident_status_enum = Enum(IncidentStatus, name="incident_status", values_callable=_values)


class Incident(GridLinked, Base):
    """An incident: a dispute, hazard or citizen appeal, with its location and due dates.

    ``location`` is WGS84; the coordinates as reported, and their CRS, are kept too.
    ``version`` guards against two dispatchers acting on the same incident at once.
    """

    __tablename__ = "incident"
    __extra_args__ = (
        # what the map counts and filters read, so a city's incidents are counted per cell by
        # an index-only scan instead of a scan of the wide table
        Index(
            "ix_incident_map",
            "grid_code",
            "status",
            postgresql_ops={"grid_code": "text_pattern_ops"},
            postgresql_include=[
                "sign_due_at",
                "resolve_due_at",
                "reported_at",
                "category",
                "channel",
                "unit_id",
                "created_by_id",
            ],
        ),
        # phone_suffix: the last digits of the reporter's phone, as a prefix of the reversed
        # number (gridmap/incidents/filters.py), the place inside as for ix_person_id_suffix
        Index(
            "ix_incident_phone_suffix",
            func.reverse(literal_column("reporter_phone")).label("phone_suffix"),
            "grid_code",
            postgresql_ops={"phone_suffix": "text_pattern_ops", "grid_code": "text_pattern_ops"},
            postgresql_where=text("reporter_phone IS NOT NULL"),
        ),
        CheckConstraint("people_involved >= 1", name="people_positive"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        CheckConstraint(
            "reported_crs IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')", name="reported_crs_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    category: Mapped[str] = mapped_column(ForeignKey("routing_rule.category"), index=True)
    channel: Mapped[Channel] = mapped_column(Enum(Channel, name="channel", values_callable=_values))
    status: Mapped[IncidentStatus] = mapped_column(incident_status_enum, index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=False
    )
    reported_crs: Mapped[str] = mapped_column(String(10), default="wgs84")
    reported_lon: Mapped[float]
    reported_lat: Mapped[float]
    address: Mapped[str | None] = mapped_column(String(300))
    people_involved: Mapped[int] = mapped_column(Integer, default=1)
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    media_url: Mapped[str | None] = mapped_column(String(500))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    routing_reason: Mapped[str | None] = mapped_column(String(200))
    handling_level: Mapped[AreaLevel | None] = mapped_column(area_level_enum)
    outcome: Mapped[str | None] = mapped_column(String(30))
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    supervised: Mapped[bool] = mapped_column(default=False)
    # 民意事件速办: hour limits instead of day limits (gridmap/incidents/deadlines.py)
    fast_track: Mapped[bool] = mapped_column(default=False, server_default=false())
    # 督办: the latest supervision — when, by which unit, the deadline it set, the answer
    supervised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    supervised_by_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    supervision_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    supervision_answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    # "<owner>:<key>": one namespace per user; the hash tells a retry from another report
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    sign_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = created_at_column()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class IncidentEvent(Base):
    """One action on an incident: who, when, from/to state, note.

    Append-only: a trigger refuses UPDATE and DELETE.
    """

    __tablename__ = "incident_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[IncidentStatus | None] = mapped_column(incident_status_enum)
    to_status: Mapped[IncidentStatus] = mapped_column(incident_status_enum)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncidentUnit(Base):
    """A unit taking part in joint handling (联办): one lead, any number of co-units."""

    __tablename__ = "incident_unit"
    __table_args__ = (
        UniqueConstraint("incident_id", "unit_id"),
        CheckConstraint("role IN ('lead', 'co')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(4))
    # a co-unit's part: signed for (会办签收), then done with what it did (会办反馈)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    part_note: Mapped[str | None] = mapped_column(Text)


class IncidentWhistle(Base):
    """吹哨报到: a department summoned to an incident, and when it checked in (报到)."""

    __tablename__ = "incident_whistle"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    called_by_unit_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    called_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class IncidentPhoto(Base):
    """A photo attached to an incident; the file lives under the data folder, not a web root."""

    __tablename__ = "incident_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None]
    height: Mapped[int | None]
    # where the camera says it was (EXIF GPS), kept as data; every other tag is stripped
    gps_lon: Mapped[float | None]
    gps_lat: Mapped[float | None]
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = created_at_column()


class SavedFilter(Base):
    """A work queue's filter saved by a user (the query string of ``GET /incidents``).

    ``team`` is who it is shared with when ``shared``: the owner's centre, or their unit
    (gridmap.incidents.saved.team_of). A user has at most one ``is_default`` filter.
    """

    __tablename__ = "saved_filter"
    __table_args__ = (
        UniqueConstraint("owner_id", "name"),
        Index("uq_saved_filter_default", "owner_id", unique=True,
              postgresql_where=text("is_default")),
        Index("ix_saved_filter_team", "team", postgresql_where=text("shared")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(2000))
    shared: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    team: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = created_at_column()


class NotificationKind(enum.StrEnum):
    """What a reminder is about (the rules that make each: gridmap/incidents/reminders.py)."""

    due_soon = "due_soon"  # 临期
    overdue = "overdue"  # 超期
    supervised = "supervised"  # 督办
    whistle = "whistle"  # 吹哨: a department summoned
    check_in_late = "check_in_late"  # 报到超时: a summoned department has not checked in
    returned = "returned"  # 退单: back with the dispatcher


class Notification(Base):
    """A reminder (提醒) addressed to a unit: due soon, overdue, supervised, summoned, returned.

    Made by :func:`gridmap.incidents.reminders.sweep` from the incidents' state, once per
    (unit, incident, kind, moment): a deadline that moves gives a new one. The text is
    composed when read, from the kind and the incident, so it never goes stale.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("unit_id", "incident_id", "kind", "at", name="uq_notification_once"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k.value}'" for k in NotificationKind) + ")",
            name="kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the moment it arose
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the deadline
    created_at: Mapped[datetime] = created_at_column()


Index("ix_notification_inbox", Notification.unit_id, Notification.id)


class NotificationRead(Base):
    """A user has read a notification (read/unread is per person, not per unit)."""

    __tablename__ = "notification_read"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
