"""Parameter types every route shares.

So a rule such as "what an area code looks like" is spelled once (gridmap/areas/codes.py)
and documented the same way everywhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from gridmap.areas.codes import CELL_PATTERN, CODE_PATTERN

_AREA = "Area code of any level: 6 (city, county), 9 (township), 12 (village) or 15 digits"
_CELL = "Grid cell code (15 digits)"

AreaCode = Annotated[str, Path(pattern=CODE_PATTERN.pattern, description=_AREA)]
"""An area code in the path."""

AreaQuery = Annotated[str | None, Query(pattern=CODE_PATTERN.pattern, description=_AREA)]
"""An optional area code in the query string."""

CellCode = Annotated[str, Path(pattern=CELL_PATTERN.pattern, description=_CELL)]
"""A grid cell's code in the path."""
