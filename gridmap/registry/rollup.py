"""Registry counts per grid cell, rolled up to any area by code prefix.

Counting a county's million people row by row takes over a second; counting every cell of
the city once takes a few seconds, and summing a county's few hundred cells from that table
takes microseconds. So an area above the cell reads its counts from this table, counted
once and then refreshed in the background when older than ``TTL`` (stale-while-revalidate,
:mod:`gridmap.cache`: no request waits for a recount, and the figures are at most that old —
the answer says when they were counted). A single cell is counted live by the same queries
(:func:`count_area`), so a cell and the sum of its cells are counted alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, any_, func, literal, select
from sqlalchemy.orm import Session

from gridmap.cache import StaleWhileRevalidate
from gridmap.registry.counts import households_per_cell
from gridmap.registry.groups import GROUPS
from gridmap.registry.models import Building, House, Person, PersonStatus, WorkUnit
from gridmap.scope import within

TTL = 60.0

COLUMNS = ("buildings", "houses", "households", "people", "work_units",
           *(f"group_{t}" for t in GROUPS), "renters")  # fmt: skip


def cell_queries(area: str = "") -> list[Select]:
    """SQL: ``(grid_code, counts…)`` per cell (within ``area``), one query per table."""

    def per_cell(model: Any, *counts: Any, where: tuple[Any, ...] = ()) -> Select:
        query = select(model.grid_code, *counts).where(model.grid_code.is_not(None), *where)
        if area:
            query = query.where(within(model.grid_code, area))
        return query.group_by(model.grid_code)

    tagged = (
        func.count().filter(literal(t) == any_(Person.tags)).label(f"group_{t}") for t in GROUPS
    )
    resident = (Person.status == PersonStatus.resident,)
    renters = func.count().filter(House.is_rented).label("renters")
    return [
        per_cell(Building, func.count().label("buildings")),
        per_cell(House, func.count().label("houses"), renters),
        households_per_cell(area),
        per_cell(Person, func.count().label("people"), *tagged, where=resident),
        per_cell(WorkUnit, func.count().label("work_units")),
    ]


def count_cells(session: Session) -> pd.DataFrame:
    """Every cell's counts: one row per grid code (sorted), one column per name of COLUMNS."""
    frames = [
        pd.read_sql(query, session.connection()).set_index("grid_code") for query in cell_queries()
    ]
    table = pd.concat(frames, axis=1).fillna(0).astype(np.int64).sort_index()
    return table.reindex(columns=list(COLUMNS), fill_value=0)


def count_area(session: Session, code: str) -> dict[str, int]:
    """The counts of the area ``code``, counted now: the sums of its cells' rows."""
    counts = dict.fromkeys(COLUMNS, 0)
    for query in cell_queries(code):
        cells = query.subquery()
        sums = [
            func.coalesce(func.sum(c), 0).label(c.name) for c in cells.c if c.name != "grid_code"
        ]
        row = session.execute(select(*sums)).one()
        counts.update({name: int(value) for name, value in row._mapping.items()})
    return counts


class CellCounts:
    """The per-cell table, shared by the requests of one process."""

    def __init__(self, ttl: float = TTL) -> None:
        self._cache: StaleWhileRevalidate[None, pd.DataFrame] = StaleWhileRevalidate(
            lambda session, _: count_cells(session), ttl=ttl
        )

    def table(self, session: Session) -> tuple[datetime, pd.DataFrame]:
        """When it was counted, and the table (refreshed in the background when stale)."""
        return self._cache.get(session, None)

    def of(self, session: Session, prefix: str) -> tuple[datetime, dict[str, int]]:
        """The sums over the cells whose code starts with ``prefix``."""
        at, table = self.table(session)
        index = table.index.to_numpy(dtype=str)
        lo = int(np.searchsorted(index, prefix, side="left"))
        hi = int(np.searchsorted(index, prefix + "\uffff", side="left"))
        sums = table.iloc[lo:hi].sum()
        return at, {c: int(sums.get(c, 0)) for c in COLUMNS}

    def forget(self) -> None:
        """Drop the table (after a bulk load or a plan switch)."""
        self._cache.forget()
