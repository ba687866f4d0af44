"""Columns shared by everything linked to a grid cell (入网入格)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class GridLinked:
    """The grid cell an item was assigned to, and the boundary plan it was assigned under.

    ``grid_code`` is null for an item outside every cell; its village, township and county
    are the 12-, 9- and 6-digit prefixes of the code.
    """

    plan_id: Mapped[int | None] = mapped_column()
    grid_code: Mapped[str | None] = mapped_column(String(15))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[object, ...]:
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            ForeignKeyConstraint(["plan_id", "grid_code"], ["area.plan_id", "area.code"]),
            Index(
                f"ix_{table}_grid_code",
                "grid_code",
                postgresql_ops={"grid_code": "text_pattern_ops"},
            ),
            *getattr(cls, "__extra_args__", ()),
        )
