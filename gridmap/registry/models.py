"""Registry (入网入格): buildings, houses, households, people and work units."""

from __future__ import annotations

import enum
from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import ARRAY, CheckConstraint, Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.base import SRID, Base, created_at_column
from gridmap.db.mixins import GridLinked


class BuildingUse(enum.StrEnum):
    """What a building (楼宇) is mainly used for."""

    residential = "residential"
    commercial = "commercial"
    mixed = "mixed"
    industrial = "industrial"
    public = "public"


class Building(GridLinked, Base):
    """Building (楼宇): a footprint where known, always a representative point."""

    __tablename__ = "building"
    __extra_args__ = (CheckConstraint("floors BETWEEN 1 AND 200", name="floors_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    use: Mapped[BuildingUse] = mapped_column(
        Enum(BuildingUse, name="building_use", values_callable=lambda e: [m.value for m in e])
    )
    floors: Mapped[int] = mapped_column(Integer, default=1)
    footprint: Mapped[WKBElement | None] = mapped_column(Geometry("POLYGON", srid=SRID))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


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


class Household(GridLinked, Base):
    """Household (户) living in a house."""

    __tablename__ = "household"
    __extra_args__ = (CheckConstraint("size >= 1", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    house_id: Mapped[int | None] = mapped_column(
        ForeignKey("house.id", ondelete="SET NULL"), index=True
    )
    size: Mapped[int] = mapped_column(Integer)
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class Person(GridLinked, Base):
    """Person (人口). ``id_number`` and ``phone`` are personal information (PIPL).

    They are stored for authorised use only, masked in every response by default, and every
    unmasked read is written to the audit log.
    """

    __tablename__ = "person"
    __extra_args__ = (
        CheckConstraint("gender IN ('M', 'F')", name="gender_code"),
        CheckConstraint("id_number ~ '^[0-9]{17}[0-9X]$'", name="id_number_format"),
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
    created_at: Mapped[datetime] = created_at_column()


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
    created_at: Mapped[datetime] = created_at_column()
