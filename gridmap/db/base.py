"""Declarative base with an explicit constraint naming convention (stable migration names)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SRID = 4326  # WGS84 lon/lat; CGCS2000 (EPSG:4490) differs by centimetres and is stored as is.


class Base(DeclarativeBase):
    """Base of every gridmap table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at_column() -> Mapped[datetime]:
    """A ``created_at`` timestamp with time zone, set by the database."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
