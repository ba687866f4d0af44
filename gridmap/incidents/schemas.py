"""Incident schemas (pydantic): what intake accepts and what the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from gridmap.crs import CRS
from gridmap.db.ids import RowId
from gridmap.incidents.models import Channel, IncidentStatus, NotificationKind
from gridmap.incidents.workflow import Action
from gridmap.phones import Phone
from gridmap.text import document_printable, refuse_control
from gridmap.timebounds import EventTime, Moment

Outcome = Literal["mediated", "referred_arbitration", "referred_court", "handled", "other"]


_TYPED = ("title", "description", "address", "reporter_name")  # free text a person types


class IncidentCreate(BaseModel):
    """An incident as reported (报单) through any channel."""

    category: str = Field(max_length=40, description="A routing-rule category, e.g. labour")
    channel: Channel
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRS = CRS.wgs84
    title: str | None = Field(default=None, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    address: str | None = Field(default=None, max_length=300)
    people_involved: int = Field(default=1, ge=1, le=10_000)
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: Phone | None = None
    reported_at: EventTime | None = Field(default=None, description="Defaults to now")
    fast_track: bool = Field(
        default=False,
        description="民意事件速办 (staff only): sign for within 2 office hours, resolve by the "
        "end of the next working day",
    )
    media_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[\x21-\x7e]+$",
        description="A photo or video stored elsewhere (http or https URL)",
    )
    window: str | None = Field(
        default=None,
        max_length=40,
        description="Taken at a department's window stationed in your centre (channel window): "
        "its unit code, e.g. labour-350503; the report goes straight to that department",
    )

    model_config = ConfigDict(json_schema_extra=document_printable(*_TYPED))

    @field_validator(*_TYPED)
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return refuse_control(value)


class ActionParams(BaseModel):
    """What an action needs beyond the incident (the body of a bulk action's ``params``)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)
    unit_code: str | None = Field(
        default=None, max_length=40, description="dispatch / transfer: the unit"
    )
    co_unit_codes: list[str] = Field(
        default_factory=list, max_length=20, description="joint: co-units"
    )
    outcome: Outcome | None = Field(default=None, description="resolve: the outcome")
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="follow_up: 1–5")
    merged_into: str | None = Field(
        default=None, max_length=30, description="merge: the incident code kept"
    )
    deadline: Moment | None = Field(
        default=None, description="supervise: the new deadline to resolve by (with a time zone)"
    )
    summoned: list[str] = Field(
        default_factory=list, max_length=20, description="whistle: the departments summoned"
    )
    override: bool = Field(
        default=False,
        description="resolve: close a joint incident before every co-unit's part is in "
        "(the note gives the reason)",
    )


class ActionIn(ActionParams):
    """An action on an incident; ``version`` is the version the user saw (optimistic lock)."""

    model_config = ConfigDict(extra="ignore")

    version: int = Field(ge=1, le=2**31 - 1)


class UnitChoice(BaseModel):
    """A unit the unit picker offers: one the action would accept."""

    code: str
    name: str
    kind: str = Field(description="centre, or the department's type (labour, police, …)")


class JointUnitRead(BaseModel):
    """A unit of joint handling (联办) and its part."""

    unit_code: str
    role: Literal["lead", "co"]
    signed_at: datetime | None
    done_at: datetime | None
    part_note: str | None


class WhistleRead(BaseModel):
    """A department summoned by a whistle (吹哨) and its check-in (报到)."""

    unit_code: str
    called_at: datetime
    due_at: datetime
    checked_in_at: datetime | None
    on_time: bool | None


class EventRead(BaseModel):
    """One entry of the append-only history."""

    action: str
    from_status: IncidentStatus | None
    to_status: IncidentStatus
    unit_code: str | None
    actor: str | None
    note: str | None
    at: datetime


class AreaRefRead(BaseModel):
    """An area the incident lies in."""

    level: str
    code: str
    name: str


class IncidentRead(BaseModel):
    """An incident as the API returns it (personal data masked unless asked and allowed)."""

    id: int
    code: str
    category: str
    channel: Channel
    status: IncidentStatus
    title: str
    description: str
    lon: float
    lat: float
    reported_crs: str
    reported_lon: float
    reported_lat: float
    grid_code: str | None
    plan_id: int | None
    areas: list[AreaRefRead] = Field(default_factory=list)
    unit_code: str | None
    unit_name: str | None
    routing_reason: str | None
    people_involved: int
    reporter_name: str | None
    reporter_phone: str | None
    media_url: str | None = None
    outcome: str | None
    satisfaction: int | None
    supervised: bool
    fast_track: bool = False
    supervised_by: str | None = Field(default=None, description="督办: the supervising unit")
    supervised_at: datetime | None = None
    supervision_due_at: datetime | None = None
    supervision_answered_at: datetime | None = None
    joint_units: list[JointUnitRead] | None = Field(
        default=None, description="联办: the parts (one incident's full view only)"
    )
    whistles: list[WhistleRead] | None = Field(
        default=None, description="吹哨报到 (one incident's full view only)"
    )
    overdue: bool
    time_left_hours: float | None = Field(
        default=None,
        description="Office hours left on the working-day calendar before the earliest running "
        "deadline (negative: overdue by that much); null when none runs",
    )
    reported_at: datetime
    sign_due_at: datetime | None
    resolve_due_at: datetime | None
    signed_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    version: int
    allowed_actions: list[Action] = Field(default_factory=list)
    history: list[EventRead] | None = None
    possible_duplicates: list[str] | None = None
    citizen_token: str | None = Field(
        default=None,
        description="Anonymous reports only: send as X-Citizen-Token to add photos within an hour",
    )


class PhotoRead(BaseModel):
    """A stored photo."""

    id: int
    content_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    gps_lon: float | None
    gps_lat: float | None
    taken_at: datetime | None


class PhotoItem(BaseModel):
    """A photo as the incident panel lists it: where to fetch it and its thumbnail."""

    id: int
    url: str
    thumb_url: str
    content_type: str
    bytes: int
    taken_at: datetime | None
    gps: tuple[float, float] | None = Field(description="EXIF GPS as [lon, lat] (WGS84)")


class StatsRow(BaseModel):
    """KPIs for one group (or ``all``); rates are null where the denominator is 0."""

    key: str | None
    month: str | None = Field(
        None, description="YYYY-MM (China time) of the reports, with ``monthly=true``"
    )
    accepted: int
    closed: int
    completion_rate: float | None
    disputes_screened: int
    disputes_resolved: int
    dispute_resolution_rate: float | None
    closed_on_time: int
    on_time_rate: float | None
    open: int
    overdue: int
    due_soon: int = Field(
        description="open, not overdue, resolution due within 2 days (not the due-soon "
        "reminder, which arises at 08:30 of the last working day)"
    )
    mean_hours_to_sign: float | None
    mean_hours_to_close: float | None
    satisfaction_rate: float | None
    people_served: int
    supervised: int = Field(description="督办: incidents under supervision")
    supervision_answered: int = Field(description="supervisions the holder has answered")
    supervision_answer_rate: float | None


class WhistleStatsRow(BaseModel):
    """吹哨报到 KPIs of one summoned department; rates are null where nothing is counted."""

    unit_code: str
    summoned: int
    checked_in: int
    checked_in_on_time: int
    check_in_rate: float | None
    on_time_rate: float | None
    mean_minutes_to_check_in: float | None


class IncidentPage(BaseModel):
    """A page of incidents."""

    total: int
    page: int
    page_size: int
    items: list[IncidentRead]


class NotificationItem(BaseModel):
    """One reminder in an inbox (gridmap/incidents/reminders.py)."""

    id: int
    kind: NotificationKind
    incident_code: str
    unit_code: str = Field(description="The unit it is addressed to")
    at: datetime = Field(description="When it arose (a deadline, a supervision, a summons)")
    due_at: datetime | None = Field(description="The deadline it is about, if any")
    read: bool
    still_open: bool = Field(description="The incident is still being handled")
    message: str
    message_en: str


class NotificationPage(BaseModel):
    """An inbox: its items and how many are unread in all."""

    items: list[NotificationItem]
    unread: int


class MarkRead(BaseModel):
    """Which notifications to mark read: ``ids``, or ``all``."""

    # either, not both and not neither (the route says so in words; the schema in anyOf)
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"type": "array"},
                                                     "all": {"const": False}}},
                {"required": ["all"], "properties": {"ids": {"type": "null"},
                                                     "all": {"const": True}}},
            ]
        }
    )  # fmt: skip

    ids: list[RowId] | None = Field(default=None, max_length=1000)
    all: StrictBool = False
