"""What a draft remembers for hand edits: its parameters, its blocks and every edit.

A draft drawn by rebalancing keeps the blocks it was drawn from (地块, the registry's
buildings' Voronoi cells) and the cell each belongs to, so a planner can move one block to
a neighbouring cell and the two cells are drawn again as the union of their blocks. Every
edit is a row (who, when, what), undone and redone in order; the geometries of both cells
before and after are kept in the row, so an undo restores them exactly.
"""

from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import DateTime, Float, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.base import SRID, Base, created_at_column


class EditKind(enum.StrEnum):
    """What an edit did: moved a block, locked or unlocked a cell."""

    move = "move"
    lock = "lock"
    unlock = "unlock"


class EditState(enum.StrEnum):
    """A move is done, undone (redo possible) or dropped (a newer edit cleared the redo)."""

    done = "done"
    undone = "undone"
    dropped = "dropped"


class PlanDraft(Base):
    """A draft's balance rule (target ± tolerance) and the cells locked in it."""

    __tablename__ = "plan_draft"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True
    )
    area: Mapped[str] = mapped_column(String(12))
    target: Mapped[float] = mapped_column(Float)
    tolerance: Mapped[float] = mapped_column(Float)
    locked: Mapped[list[str]] = mapped_column(ARRAY(String(15)), default=list)


class PlanBlock(Base):
    """A block of a draft and the draft cell it belongs to."""

    __tablename__ = "plan_block"
    __table_args__ = (Index("ix_plan_block_plan_id_cell", "plan_id", "cell"),)

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True
    )
    block_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    cell: Mapped[str] = mapped_column(String(15))
    village_code: Mapped[str] = mapped_column(String(12))
    households: Mapped[int] = mapped_column()
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )


class PlanEdit(Base):
    """One hand edit of a draft: who, when, which block from which cell to which."""

    __tablename__ = "plan_edit"
    __table_args__ = (Index("ix_plan_edit_plan_id_id", "plan_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=EditState.done.value)
    block_id: Mapped[str | None] = mapped_column(String(24))
    from_cell: Mapped[str | None] = mapped_column(String(15))
    to_cell: Mapped[str | None] = mapped_column(String(15))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = created_at_column()
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # both cells before and after the move: undo and redo put back exactly these
    from_before: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    to_before: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    from_after: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    to_after: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
