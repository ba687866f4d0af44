"""Row ids: every table's id is a PostgreSQL ``integer`` (serial), so 1 … 2**31 - 1.

One type for every id a client sends — in a path, a query, a body or a list — so an id out
of that range is refused as invalid (422), or simply not found (404), instead of reaching
the database and failing there (a 500: ``integer out of range``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1  # the largest PostgreSQL integer

RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="An id (1 … 2147483647)")]
"""A row id as a pydantic/FastAPI type: the bounds show in the OpenAPI document."""


def parse_row_id(text: str) -> int | None:
    """``text`` as a row id, or None: ASCII digits only (``str.isdigit`` accepts ``²``)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
