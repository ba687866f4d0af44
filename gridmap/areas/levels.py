"""The area levels, in order: city → county → township → village → grid (网格)."""

from __future__ import annotations

import enum


class AreaLevel(enum.StrEnum):
    """Levels in order: PostgreSQL compares enum values in declaration order."""

    city = "city"
    county = "county"
    township = "township"
    village = "village"
    grid = "grid"


# city 0 … grid 4: smaller is higher up
LEVEL_RANK = {level: rank for rank, level in enumerate(AreaLevel)}


def above(a: AreaLevel, b: AreaLevel) -> bool:
    """True if level ``a`` is higher than ``b`` (the city is above everything)."""
    return LEVEL_RANK[a] < LEVEL_RANK[b]
