"""Draft plans from a rebalancing run, and the change-impact report between two plans.

A draft copies every cell of the plan in force outside the rebalanced area and adds the
new cells of the area (the union of their blocks). Nothing of the registry changes until
the draft is activated (:func:`gridmap.plans.service.activate`).

The change-impact report assigns what the registry holds — households (with their
people), open incidents — to the cells of both plans with the assignment engine and
compares: cells added, removed and changed, households (and people) moved in all and per
pair of cells, the load of every changed cell before and after, the grid workers whose
cell changes (and by how many households), the open incidents that would change cell, and
the households due for a visit that would move to another cell (another grid worker's
list). The responsible unit of an open incident cannot change: cells nest in villages, and
routing goes by village and by the departments' jurisdictions, neither of which a boundary
plan moves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Integer, select, text
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.active import active_plan
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.assign import covering_codes
from gridmap.auth.models import Role, User
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.models import OPEN
from gridmap.locate import build_index, read_cells
from gridmap.registry import visits
from gridmap.registry.counts import household_points
from gridmap.registry.edits import any_of
from gridmap.registry.models import Household


def draft_from_cells(
    session: Session, name: str, area: str, cells: gpd.GeoDataFrame, note: str | None = None
) -> Plan:
    """A draft: the plan in force outside ``area``, ``cells`` inside it; the caller commits.

    ``cells`` has a ``code`` column and WGS84 geometries.
    """
    active = active_plan(session)  # a draft starts from the plan in force
    prefix = codes.prefix(area)
    bad = [c for c in cells["code"] if not str(c).startswith(prefix) or len(str(c)) != 15]
    if bad:
        raise InvalidInput(f"cells {bad[:5]} are not 15-digit cells of {area}")
    plan = Plan(name=name, status=PlanStatus.draft, note=note)
    session.add(plan)
    session.flush()
    session.execute(
        text(
            "INSERT INTO area (code, name, name_en, level, parent_id, parent_level, plan_id, "
            "geom) SELECT code, name, name_en, level, parent_id, parent_level, :new, geom "
            "FROM area WHERE plan_id = :old AND code NOT LIKE :p"
        ),
        {"new": plan.id, "old": active.id, "p": codes.like(area)},
    )
    villages = {
        a.code: a
        for a in session.scalars(
            select(Area).where(Area.level == AreaLevel.village, Area.code.startswith(prefix))
        )
    }
    old_names = dict(
        session.execute(
            select(Area.code, Area.name).where(
                Area.plan_id == active.id, Area.code.startswith(prefix)
            )
        ).all()
    )
    for code, geom in zip(cells["code"], cells.geometry, strict=True):
        village = villages.get(codes.ancestor(str(code), AreaLevel.village))
        if village is None:
            raise InvalidInput(
                f"cell {code}: there is no village {codes.ancestor(str(code), AreaLevel.village)}"
            )
        multi = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
        session.add(Area(
            code=str(code), name=old_names.get(str(code), f"{village.name}{str(code)[-3:]}网格"),
            level=AreaLevel.grid, parent_id=village.id, parent_level=village.level,
            plan_id=plan.id, geom=f"SRID=4326;{multi.wkt}",
        ))  # fmt: skip
    session.flush()
    return plan


def _assign(session: Session, plan_id: int, xy: np.ndarray, area: str) -> np.ndarray:
    """Cells of ``plan_id`` (those of ``area`` only: everything compared lies in it)."""
    if len(xy) == 0:
        return np.array([], dtype=object)
    if not area:
        index = build_index(session, plan_id)
        return index.codes_of(index.assign(xy[:, 0], xy[:, 1], nearest=False).cell)
    # an area's cells: the index's rule with a tree, not a raster built for one report
    cells = read_cells(session, plan_id, area)
    if not cells.codes:
        raise NotFound(f"plan {plan_id} has no cells in {area}")
    return covering_codes(cells.geoms, cells.codes, xy[:, 0], xy[:, 1])


def impact(session: Session, before: int, after: int, area: str = "") -> dict[str, Any]:
    """What changes when plan ``after`` replaces plan ``before`` (within ``area``)."""
    area = codes.prefix(area) if area else ""
    for plan_id in (before, after):
        if session.get(Plan, plan_id) is None:
            raise NotFound(f"there is no plan {plan_id}")
    like = {"p": codes.like(area)}
    households = session.execute(household_points(area).order_by(Household.id)).all()
    xy = np.array([(r[2], r[3]) for r in households], dtype=float).reshape(-1, 2)
    people = np.array([r[1] for r in households], dtype=np.int64)
    old, new = _assign(session, before, xy, area), _assign(session, after, xy, area)
    moved = old != new
    load_old: dict[str, int] = defaultdict(int)
    load_new: dict[str, int] = defaultdict(int)
    for code in old:
        load_old[str(code)] += 1
    for code in new:
        load_new[str(code)] += 1
    cells_of = lambda p: set(session.scalars(  # noqa: E731
        select(Area.code).where(Area.plan_id == p, Area.code.startswith(area))))  # fmt: skip
    old_cells, new_cells = cells_of(before), cells_of(after)
    changed = sorted(
        c for c in old_cells & new_cells
        if np.any(moved & ((old == c) | (new == c)))
    )  # fmt: skip
    incidents = session.execute(text(
        "SELECT code, ST_X(location), ST_Y(location) FROM incident WHERE status = ANY(:open) "
        "AND grid_code LIKE :p ORDER BY code"), {**like, "open": sorted(OPEN)}).all()  # fmt: skip
    ixy = np.array([(r[1], r[2]) for r in incidents], dtype=float).reshape(-1, 2)
    iold, inew = _assign(session, before, ixy, area), _assign(session, after, ixy, area)
    workers = []
    for user in session.scalars(
        select(User).where(User.role == Role.grid_worker, User.is_active,
                           User.area_code.startswith(area)).order_by(User.username)
    ):  # fmt: skip
        cell = user.area_code
        out_ = int(np.sum(moved & (old == cell)))
        in_ = int(np.sum(moved & (new == cell)))
        if out_ or in_ or cell not in new_cells:
            workers.append({
                "username": user.username, "cell": cell, "households_before": load_old[cell],
                "households_after": load_new.get(cell, 0), "leaving": out_, "joining": in_,
                "cell_removed": cell not in new_cells,
            })  # fmt: skip
    # households and people moved, per pair of cells (from → to)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for i in np.flatnonzero(moved).tolist():
        pair = pairs[(str(old[i]), str(new[i]))]
        pair[0] += 1
        pair[1] += int(people[i])
    # due visits that would land in another cell, so on another grid worker's list
    # (only the moved households are asked about: the rest keep their worker)
    index_of = {int(households[i][0]): i for i in np.flatnonzero(moved).tolist()}
    due_moving: dict[tuple[str, str], int] = defaultdict(int)
    if index_of:
        moving = Household.id == any_of(index_of, Integer)  # one array: a county's moves
        for visit in visits.due_in(session, area, moving):
            i = index_of[visit.household_id]
            due_moving[(str(old[i]), str(new[i]))] += 1
    return {
        "before": before,
        "after": after,
        "area": area or None,
        "cells_added": sorted(new_cells - old_cells),
        "cells_removed": sorted(old_cells - new_cells),
        "cells_changed": [
            {"cell": c, "households_before": load_old[c], "households_after": load_new[c]}
            for c in changed
        ],
        "households": len(households),
        "households_moved": int(moved.sum()),
        "people_moved": int(people[moved].sum()),
        "moved_by_cell": [
            {"from": a, "to": b, "households": n, "people": p}
            for (a, b), (n, p) in sorted(pairs.items())
        ],
        "grid_workers": workers,
        "open_incidents_moving": [
            {"code": r[0], "from": str(a), "to": str(b)}
            for r, a, b in zip(incidents, iold, inew, strict=True)
            if a != b
        ],
        "visits_due_moving": sum(due_moving.values()),
        "visits_due_moving_by_cell": [
            {"from": a, "to": b, "households": n} for (a, b), n in sorted(due_moving.items())
        ],
    }
