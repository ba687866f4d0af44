"""Responsible units: governance centres (综治中心), departments, and routing rules."""

from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.areas.models import AreaLevel, area_level_enum
from gridmap.db.base import SRID, Base, created_at_column

# Department types. ``centre`` is the governance centre at each level; the others are the
# bureaus and offices incidents are routed to by matter (属事).
DEPARTMENT_TYPES = (
    "centre",
    "labour",
    "labour_arbitration",
    "housing",
    "urban_management",
    "natural_resources",
    "agriculture",
    "justice",
    "petition",
    "court",
    "procuratorate",
    "police",
    "market_regulation",
    "health",
    "transport",
    "environment",
    "emergency",
    "civil_affairs",
)


class RoutingMode(enum.StrEnum):
    """属地 (territorial: where it happened) or 属事 (functional: by matter)."""

    territorial = "territorial"
    functional = "functional"


class Department(Base):
    """A responsible unit (责任单位) with its jurisdiction (管辖范围) polygon."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in DEPARTMENT_TYPES) + ")", name="known_type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30), index=True)
    level: Mapped[AreaLevel] = mapped_column(area_level_enum)
    area_code: Mapped[str] = mapped_column(String(15), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    jurisdiction: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False
    )
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = created_at_column()


class CentreProfile(Base):
    """A governance centre's 六有 (six haves): staff, premises, duties, rules, funding, platform.

    One row per centre (``department.type = 'centre'``); a field left empty is one the centre
    has not yet reported, which the organisation view shows as missing.
    """

    __tablename__ = "centre_profile"
    __table_args__ = (
        CheckConstraint(
            "staff >= 0 AND premises_m2 >= 0 AND funding_yuan >= 0", name="not_negative"
        ),
    )

    department_id: Mapped[int] = mapped_column(
        ForeignKey("department.id", ondelete="CASCADE"), primary_key=True
    )
    staff: Mapped[int | None] = mapped_column(doc="有人员: full-time staff")
    premises_m2: Mapped[int | None] = mapped_column(doc="有场所: floor area of the centre")
    duties: Mapped[str | None] = mapped_column(Text, doc="有职责: what this level does")
    rules: Mapped[str | None] = mapped_column(Text, doc="有制度: the working rules in force")
    funding_yuan: Mapped[int | None] = mapped_column(BigInteger, doc="有经费: yearly budget")
    platform: Mapped[str | None] = mapped_column(String(200), doc="有平台: the system it uses")


class CentreWindow(Base):
    """A department's window (窗口) stationed in a centre's reception hall (进驻)."""

    __tablename__ = "centre_window"
    __table_args__ = (CheckConstraint("centre_id <> department_id", name="not_itself"),)

    centre_id: Mapped[int] = mapped_column(
        ForeignKey("department.id", ondelete="CASCADE"), primary_key=True
    )
    department_id: Mapped[int] = mapped_column(
        ForeignKey("department.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    label: Mapped[str] = mapped_column(String(100), doc="The sign over the window")


class CategoryGroup(Base):
    """A group of incident categories (纠纷化解, 信访诉求, 投诉举报 …), in display order."""

    __tablename__ = "category_group"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(SmallInteger)


class RoutingRule(Base):
    """How an incident category is routed and how long each step may take (working days)."""

    __tablename__ = "routing_rule"
    __table_args__ = (
        CheckConstraint(
            "(mode = 'functional') = (department_type IS NOT NULL)", name="functional_has_type"
        ),
        CheckConstraint("sign_days > 0 AND resolve_days >= sign_days", name="limits_order"),
        CheckConstraint(
            "(mode = 'territorial') = (territorial_level IS NOT NULL) "
            "AND territorial_level IS DISTINCT FROM 'grid' "
            "AND territorial_level IS DISTINCT FROM 'city'",
            name="territorial_level",
        ),
    )

    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    is_dispute: Mapped[bool]
    mode: Mapped[RoutingMode] = mapped_column(
        Enum(RoutingMode, name="routing_mode", values_callable=lambda e: [m.value for m in e])
    )
    department_type: Mapped[str | None] = mapped_column(String(30))
    # 属地: the level whose centre takes it — the township by the source ("分发调度、及时流转给
    # 乡镇和部门"); a rule may name the village (or the county)
    territorial_level: Mapped[AreaLevel | None] = mapped_column(area_level_enum)
    sign_days: Mapped[int]
    resolve_days: Mapped[int]
    group_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("category_group.code"), index=True, doc="Its group (also Open311's)"
    )
