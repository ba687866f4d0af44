"""The households of a grid cell (网格户数): one definition for every count of them.

A cell's households are its **active** households: the ones living there now. A household
that moved out stays in the registry with its history (nothing is deleted), but it is no
grid worker's workload and no planner's load. So the area summary, the map's badges, the
OGC grid cells, a plan's cell loads and the change-impact report all count through this
module, and agree with each other and with ``building.households`` (kept by a trigger on the
same rule, migration 0004).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import ColumnElement, LargeBinary, Select, func, literal_column, select
from sqlalchemy.orm import Session

from gridmap.registry.models import Household, HouseholdStatus
from gridmap.scope import within


def counted() -> ColumnElement[bool]:
    """SQL: the household counts (it lives where the registry says)."""
    return Household.status == HouseholdStatus.active


def households_per_cell(area: str = "") -> Select:
    """SQL: ``(grid_code, households)`` for every cell (within ``area`` when given)."""
    query = (
        select(Household.grid_code, func.count().label("households"))
        .where(Household.grid_code.is_not(None), counted())
        .group_by(Household.grid_code)
    )
    return query.where(within(Household.grid_code, area)) if area else query


def household_points(area: str = "") -> Select:
    """SQL: ``(id, size, lon, lat)`` of the households :func:`households_per_cell` counts.

    For counting them against the cells of a plan other than the one their codes refer to.
    """
    query = (
        select(Household.id, Household.size, func.ST_X(Household.location),
               func.ST_Y(Household.location))
        .where(Household.grid_code.is_not(None), counted())
    )  # fmt: skip
    return query.where(within(Household.grid_code, area)) if area else query


def household_xy(session: Session, area: str = "") -> np.ndarray:
    """``(n, 2)`` lon/lat of the households :func:`household_points` selects, read fast.

    One value: every point's two float8 (big-endian) concatenated by the database, read by
    numpy. A county's 770 k households as rows take seconds to fetch and convert (5.6 s,
    and 1.2 s as binary ``COPY``, which hands them over one row at a time); this 0.5 s.
    """
    x, y = func.ST_X(Household.location), func.ST_Y(Household.location)
    pair = func.float8send(x).op("||")(func.float8send(y))
    blob = session.scalar(
        household_points(area).with_only_columns(
            func.string_agg(pair, literal_column("''::bytea"), type_=LargeBinary)
        )
    )
    return np.frombuffer(blob or b"", dtype=">f8").astype(float).reshape(-1, 2)
