"""Areas (city → county → township → village → grid) and boundary plans (网格方案)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridmap.areas.codes import CODE_LENGTH
from gridmap.areas.levels import AreaLevel
from gridmap.db.base import SRID, Base, created_at_column


class PlanStatus(enum.StrEnum):
    """A boundary plan's life: draft → active → retired."""

    draft = "draft"
    active = "active"
    retired = "retired"


area_level_enum = Enum(AreaLevel, name="area_level", values_callable=lambda e: [m.value for m in e])
plan_status_enum = Enum(
    PlanStatus, name="plan_status", values_callable=lambda e: [m.value for m in e]
)


class Plan(Base):
    """Boundary plan (网格方案): one versioned set of grid polygons.

    Grid boundaries change when planners rebalance them; every assignment records the plan
    it was made under, so an incident keeps the cell it was reported in after a change.
    """

    __tablename__ = "plan"
    __table_args__ = (
        # Exactly one plan can be active: a unique index over the single value 'active'.
        Index(
            "uq_plan_one_active", "status", unique=True, postgresql_where=text("status = 'active'")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[PlanStatus] = mapped_column(plan_status_enum, default=PlanStatus.draft)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by gridmap.plans.service.prepare: against which plan in force and which cells the
    # moves in plan_assignment were computed, and the registry's high-water marks then
    # (largest id per located table, last registry event) to catch what changed since.
    prepared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    prepared_against: Mapped[int | None] = mapped_column()
    prepared_digest: Mapped[str | None] = mapped_column(String(32))
    prepared_marks: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    # Set by activate and follow: the stages of the publication (switch, follow, done), their
    # times, and per registry table the rows to do and done (gridmap.plans.service).
    publication: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class PlanAssignment(Base):
    """A registry item's cell under a draft plan, kept only where it differs from today's.

    Versioned assignments as MapIt versions areas by generation, but sparse: a plan is
    prepared while it is a draft, writing one row per building, household or work unit
    whose cell would change (``grid_code`` null: outside every new cell). Activation
    applies exactly these rows; the rows stay as the record of what the plan moved.
    """

    __tablename__ = "plan_assignment"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True
    )
    item_table: Mapped[str] = mapped_column(String(20), primary_key=True)
    item_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    grid_code: Mapped[str | None] = mapped_column(String(15))


class Area(Base):
    """An administrative area or grid cell (网格) with its (multi)polygon.

    Areas above the grid level are shared by all plans (``plan_id`` is null); grid cells
    belong to exactly one plan. A child's level is always below its parent's: the parent's
    level is copied into ``parent_level`` by a composite foreign key, so the database
    itself checks the order.
    """

    __tablename__ = "area"
    __table_args__ = (
        UniqueConstraint("id", "level"),
        UniqueConstraint("plan_id", "code"),
        Index("uq_area_code_shared", "code", unique=True, postgresql_where=text("plan_id IS NULL")),
        Index("ix_area_code_pattern", "code", postgresql_ops={"code": "text_pattern_ops"}),
        ForeignKeyConstraint(["parent_id", "parent_level"], ["area.id", "area.level"]),
        CheckConstraint(
            "(parent_id IS NULL AND parent_level IS NULL) OR level > parent_level",
            name="child_below_parent",
        ),
        CheckConstraint("(level = 'grid') = (plan_id IS NOT NULL)", name="grid_has_plan"),
        CheckConstraint(
            "code ~ '^[0-9]+$' AND char_length(code) = CASE level "
            + " ".join(f"WHEN '{lvl.value}' THEN {n}" for lvl, n in CODE_LENGTH.items())
            + " END",
            name="code_format",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[AreaLevel] = mapped_column(area_level_enum)
    parent_id: Mapped[int | None] = mapped_column(index=True)
    parent_level: Mapped[AreaLevel | None] = mapped_column(area_level_enum)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False
    )
    created_at: Mapped[datetime] = created_at_column()

    parent: Mapped[Area | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], primaryjoin="Area.parent_id == Area.id"
    )
