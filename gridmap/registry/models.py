"""Registry (入网入格): buildings, houses, households, people, work units.

Also the events that changed them, household visits (入户走访) and task sheets handed down
(任务下发).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.base import SRID, Base, created_at_column
from gridmap.db.mixins import GridLinked

MAX_FLOORS = 200  # a building's floors (its check constraint)


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


def updated_at_column() -> Mapped[datetime]:
    """When the row last changed (a trigger keeps it, whoever writes): offline packs use it.

    The clock's time, not the transaction's start: rows changed late in a long transaction
    are not dated before changes a client has already seen.
    """
    return mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )


class BuildingUse(enum.StrEnum):
    """What a building (楼宇) is mainly used for."""

    residential = "residential"
    commercial = "commercial"
    mixed = "mixed"
    industrial = "industrial"
    public = "public"


class HouseholdStatus(enum.StrEnum):
    """Whether a household still lives where the registry says."""

    active = "active"
    moved_out = "moved_out"


class PersonStatus(enum.StrEnum):
    """Whether a person is still a resident."""

    resident = "resident"
    moved_out = "moved_out"
    deceased = "deceased"


class Building(GridLinked, Base):
    """Building (楼宇): a footprint where known, always a representative point.

    ``households`` counts the active households living in it, kept by a trigger on
    ``household`` (so the map never counts them per request).
    """

    __tablename__ = "building"
    __extra_args__ = (CheckConstraint(f"floors BETWEEN 1 AND {MAX_FLOORS}", name="floors_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # indexed: Open311's address_string is matched against it exactly
    address: Mapped[str | None] = mapped_column(String(300), index=True)
    use: Mapped[BuildingUse] = mapped_column(
        Enum(BuildingUse, name="building_use", values_callable=_values)
    )
    floors: Mapped[int] = mapped_column(Integer, default=1)
    footprint: Mapped[WKBElement | None] = mapped_column(Geometry("POLYGON", srid=SRID))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    households: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class House(GridLinked, Base):
    """House / dwelling unit (房屋) inside a building."""

    __tablename__ = "house"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), index=True
    )
    unit_no: Mapped[str] = mapped_column(String(20))
    floor: Mapped[int] = mapped_column(Integer, default=1)
    area_m2: Mapped[float | None]
    is_rented: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @staticmethod
    def floor_of(unit_no: str) -> int:
        """The floor a unit number names (1203 → 12, 101 → 1), or 1 when it names none.

        ASCII digits only: ``str.isdigit`` also accepts ``²``, which ``int`` then refuses.
        """
        digits = "".join(c for c in unit_no if "0" <= c <= "9")
        floor = int(digits[:-2]) if len(digits) > 2 else 1
        return floor if 1 <= floor <= MAX_FLOORS else 1


class Household(GridLinked, Base):
    """Household (户) living in a house."""

    __tablename__ = "household"
    __extra_args__ = (CheckConstraint("size >= 1", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    house_id: Mapped[int | None] = mapped_column(
        ForeignKey("house.id", ondelete="SET NULL"), index=True
    )
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[HouseholdStatus] = mapped_column(
        Enum(HouseholdStatus, name="household_status", values_callable=_values),
        default=HouseholdStatus.active,
        server_default="active",
    )
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Person(GridLinked, Base):
    """Person (人口). ``id_number`` and ``phone`` are personal information (PIPL).

    They are stored for authorised use only, masked in every response by default, and every
    unmasked read is written to the audit log.
    """

    __tablename__ = "person"
    __extra_args__ = (
        CheckConstraint("gender IN ('M', 'F')", name="gender_code"),
        CheckConstraint("id_number ~ '^[0-9]{17}[0-9X]$'", name="id_number_format"),
        # search by the last digits of an ID number: a prefix search on the reversed number,
        # with the area inside the index so a county's search reads only the county's rows
        Index(
            "ix_person_id_suffix",
            func.reverse(literal_column("id_number")).label("id_suffix"),
            "grid_code",
            postgresql_ops={"id_suffix": "text_pattern_ops", "grid_code": "text_pattern_ops"},
        ),
        Index("ix_person_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
        # the special groups of an area, counted from a small index (a tenth of the people)
        Index(
            "ix_person_tagged",
            "grid_code",
            postgresql_ops={"grid_code": "text_pattern_ops"},
            postgresql_include=["tags", "status"],
            postgresql_where=text("tags <> '{}'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("household.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    is_household_head: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    status: Mapped[PersonStatus] = mapped_column(
        Enum(PersonStatus, name="person_status", values_callable=_values),
        default=PersonStatus.resident,
        server_default="resident",
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class WorkUnit(GridLinked, Base):
    """Work unit (单位): company, shop, school, clinic..."""

    __tablename__ = "work_unit"
    __extra_args__ = (CheckConstraint("employees >= 0", name="employees_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    employees: Mapped[int] = mapped_column(Integer, default=0)
    address: Mapped[str | None] = mapped_column(String(300))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="SET NULL"))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RegistryEvent(Base):
    """One change to the registry (信息采集): who, when, what, before and after.

    Append-only (a trigger refuses UPDATE and DELETE). ``client_id`` is the id a phone gave
    an edit it made offline: one edit is applied once, however often it is uploaded.
    """

    __tablename__ = "registry_event"
    __table_args__ = (
        UniqueConstraint("actor_id", "client_id"),
        Index("ix_registry_event_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(15))
    before: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    client_id: Mapped[str | None] = mapped_column(String(64))


class OfflineEdit(Base):
    """The first use of an offline edit's ``client_id`` by a user: the edit and its result.

    An id names one edit: a later upload is a replay only if it is the same kind of edit
    (``kind``), of the same object (``target_id``: the household, unit, task row … named in
    the path) with the same content (``digest``); it then answers ``object_type`` /
    ``object_id``. Any other use of the id is refused (gridmap/registry/offline.py).
    ``digest`` is NULL for edits recorded before it was kept (matched on kind and target).
    """

    __tablename__ = "offline_edit"

    actor_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str | None] = mapped_column(String(15))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Visit(Base):
    """A household visit (入户走访) by a grid worker: findings, follow-up, where it was made."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("actor_id", "client_id"),
        Index("ix_visit_household_at", "household_id", "visited_at"),
        Index("ix_visit_grid_code", "grid_code", postgresql_ops={"grid_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    grid_code: Mapped[str] = mapped_column(String(15))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    findings: Mapped[str] = mapped_column(Text, default="")
    follow_up_needed: Mapped[bool] = mapped_column(default=False)
    location: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=SRID))
    distance_m: Mapped[float | None]  # from the household's building, where a point was given
    photo_path: Mapped[str | None] = mapped_column(String(300))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()


class TaskTarget(enum.StrEnum):
    """What a task sheet's rows are about."""

    household = "household"
    building = "building"
    work_unit = "work_unit"


class Task(Base):
    """A task sheet handed down (任务下发) to the grid workers of an area."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    area_code: Mapped[str] = mapped_column(String(15), index=True)
    target: Mapped[TaskTarget] = mapped_column(
        Enum(TaskTarget, name="task_target", values_callable=_values)
    )
    criteria: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = created_at_column()


class TaskItem(Base):
    """One row of a task sheet: a target in a cell, done or not, with its result."""

    __tablename__ = "task_item"
    __table_args__ = (
        UniqueConstraint("task_id", "target_id"),
        Index(
            "ix_task_item_grid_code", "grid_code", postgresql_ops={"grid_code": "text_pattern_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(Integer)
    grid_code: Mapped[str] = mapped_column(String(15))
    label: Mapped[str] = mapped_column(String(300), default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    result: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = updated_at_column()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
