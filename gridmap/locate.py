"""Point lookup, like MapIt's: a point → its cell, village, township, county and city.

Also the unit responsible for a category there. Built once per active plan and kept in
memory; the raster index is cached on disk per plan.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.areas import codes as area_codes
from gridmap.areas.active import active_plan
from gridmap.areas.codes import ANCESTOR_LEVELS, CODE_LENGTH
from gridmap.areas.models import Area, AreaLevel, Plan
from gridmap.assign import INDEX_FORMAT, AssignmentIndex
from gridmap.crs import CRS, to_wgs84_checked
from gridmap.errors import Conflict, InvalidInput
from gridmap.routing import Router
from gridmap.units.models import Department, RoutingRule

# Code prefix width of each level above the grid.
# the levels a grid code names by its prefix, nearest first, and their widths
PREFIX = {level.value: CODE_LENGTH[level] for level in ANCESTOR_LEVELS}


@dataclass(frozen=True)
class AreaRef:
    """One level of the answer."""

    level: str
    code: str
    name: str


@dataclass(frozen=True)
class UnitRef:
    """The responsible unit."""

    id: int
    code: str
    name: str
    type: str


@dataclass(frozen=True)
class RuleRef:
    """What intake needs of a routing rule."""

    name: str
    sign_days: int
    resolve_days: int


@dataclass(frozen=True)
class Location:
    """The answer for one point."""

    lon: float
    lat: float
    inside: bool
    areas: list[AreaRef]
    nearest: AreaRef | None
    distance_m: float | None
    unit: UnitRef | None
    routing_reason: str | None


class Locator:
    """An assignment index for one plan, area names, and the router."""

    def __init__(
        self, plan: Plan, index: AssignmentIndex, names: dict[str, str], router: Router,
        units: dict[str, UnitRef], city: AreaRef | None,
    ) -> None:  # fmt: skip
        self.plan_id = plan.id
        self.plan_name = plan.name
        self.index = index
        self.names = names
        self.router = router
        self.units = units
        self.units_by_id = {u.id: u for u in units.values()}
        self.city = city
        self.rules = {
            str(cat): RuleRef(str(r["name"]), int(r["sign_days"]), int(r["resolve_days"]))
            for cat, r in router.rules.iterrows()
        }

    def rule(self, category: str) -> RuleRef:
        """The routing rule of ``category``; an unknown one is refused, naming the known."""
        try:
            return self.rules[category]
        except KeyError:
            known = ", ".join(sorted(self.rules))
            raise InvalidInput(f"unknown category {category!r}: use one of {known}") from None

    @classmethod
    def from_database(cls, session: Session, cache_dir: Path | None = None) -> Locator:
        """Build for the active plan; the raster index is cached per plan in ``cache_dir``."""
        plan = active_plan(session)
        index = cached_index(session, plan, cache_dir)
        rows = session.execute(
            select(Area.code, Area.name, Area.level).where(
                (Area.plan_id == plan.id) | (Area.plan_id.is_(None))
            )
        ).all()
        names = {code: name for code, name, _ in rows}
        city = next((AreaRef("city", c, n) for c, n, lvl in rows if lvl == AreaLevel.city), None)
        depts = pd.read_sql(
            select(Department.id, Department.code, Department.name, Department.type,
                   Department.level, text("ST_AsBinary(jurisdiction) AS wkb")),
            session.connection(),
        )  # fmt: skip
        depts["level"] = depts["level"].map(lambda v: getattr(v, "value", v))
        depts["jurisdiction"] = shapely.from_wkb(depts.pop("wkb").map(bytes).to_numpy())
        rules = pd.read_sql(select(RoutingRule), session.connection()).set_index("category")
        rules["mode"] = rules["mode"].map(lambda v: getattr(v, "value", v))
        units = {
            r.code: UnitRef(int(r.id), r.code, r.name, r.type)
            for r in depts.itertuples(index=False)
        }
        return cls(plan, index, names, Router(rules, depts), units, city)

    def locate(
        self, lon: float, lat: float, crs: CRS = CRS.wgs84, category: str | None = None
    ) -> Location:
        """Where a point is, and (with ``category``) who is responsible for it."""
        if category is not None:
            self.rule(category)
        x, y = to_wgs84_checked(lon, lat, crs)
        cell = self.index.locate(x, y)
        if cell < 0:
            near, dist = self.index.nearest(x, y)
            code = str(self.index.codes[near])
            return Location(
                x, y, False, [], AreaRef("grid", code, self.names.get(code, "")), dist, None, None
            )
        code = str(self.index.codes[cell])
        areas = [AreaRef("grid", code, self.names.get(code, ""))]
        for level, width in PREFIX.items():
            areas.append(AreaRef(level, code[:width], self.names.get(code[:width], "")))
        if self.city:
            areas.append(self.city)
        unit = reason = None
        if category is not None:
            codes, reasons = self.router.route(
                np.array([category]), np.array([code]), np.array([x]), np.array([y])
            )
            unit, reason = self.units.get(str(codes[0])), str(reasons[0])
        return Location(x, y, True, areas, None, None, unit, reason)


def active_index(session: Session, cache_dir: Path | None) -> AssignmentIndex:
    """The assignment index of the plan in force (cached per plan in ``cache_dir``)."""
    return cached_index(session, active_plan(session), cache_dir)


def plan_digest(session: Session, plan_id: int) -> str:
    """A fingerprint of a plan's cells: changes whenever a cell's code or shape does."""
    digest = session.scalar(
        text(
            "SELECT md5(string_agg(code || ':' || md5(ST_AsBinary(geom)), ',' ORDER BY code)) "
            "FROM area WHERE plan_id = :plan"
        ),
        {"plan": plan_id},
    )
    return str(digest or hashlib.md5(b"").hexdigest())


@dataclass(frozen=True)
class PlanCells:
    """A plan's grid cells (of one area, or all), in code order, as they are stored."""

    plan_id: int
    area: str  # "" for the whole plan
    codes: list[str]
    names: list[str]
    geoms: np.ndarray  # shapely polygons, WGS84, unsimplified
    digest: str  # changes whenever a cell's code or shape does


def read_cells(session: Session, plan_id: int, area: str = "") -> PlanCells:
    """The cells of ``plan_id`` (those in ``area`` only, when given), read once."""
    rows = session.execute(
        text(
            "SELECT code, name, ST_AsBinary(geom) FROM area WHERE plan_id = :plan "
            "AND code LIKE :like ORDER BY code"
        ),
        {"plan": plan_id, "like": area_codes.like(area) if area else "%"},
    ).all()
    blobs = [bytes(r[2]) for r in rows]
    digest = hashlib.md5(
        ",".join(f"{r[0]}:{hashlib.md5(b).hexdigest()}" for r, b in zip(rows, blobs, strict=True))
        .encode()
    ).hexdigest()  # fmt: skip
    geoms = shapely.from_wkb(blobs) if blobs else np.array([], dtype=object)
    return PlanCells(plan_id, area, [str(r[0]) for r in rows], [str(r[1]) for r in rows],
                     geoms, digest)  # fmt: skip


def build_index(session: Session, plan_id: int) -> AssignmentIndex:
    """The assignment index of a plan's grid cells, read from the database."""
    cells = read_cells(session, plan_id)
    if not cells.codes:
        raise Conflict(f"plan {plan_id} has no grid cells")
    return AssignmentIndex.build(cells.geoms, cells.codes, plan_id=plan_id)


def index_path(cache_dir: Path, plan_id: int, digest: str) -> Path:
    """Where a plan's index is cached: one file per plan, cells (digest) and index format.

    The format is in the name so that a new version of the engine never reads a file an
    older one wrote (the file is built again, and the old one pruned).
    """
    return cache_dir / f"plan-{plan_id}-{digest}-f{INDEX_FORMAT}.npz"


def cached_index(session: Session, plan: Plan, cache_dir: Path | None) -> AssignmentIndex:
    """The plan's index, read from ``cache_dir`` when its cells have not changed."""
    if cache_dir is None:
        return build_index(session, plan.id)
    path = index_path(cache_dir, plan.id, plan_digest(session, plan.id))
    if path.exists():
        try:
            return AssignmentIndex.load(path)
        except FileNotFoundError:  # pruned by another process meanwhile: build it again
            pass
    index = build_index(session, plan.id)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # several worker processes may build the same index at once: each writes its own
    # temporary file and renames it into place (atomic; the last one wins, all identical)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp.npz")
    try:
        index.save(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    prune_index_cache(session, cache_dir, keep=path)
    return index


def prune_index_cache(session: Session, cache_dir: Path, keep: Path) -> list[Path]:
    """Remove cached indexes that can never be read again; the paths removed.

    Run after a new index is written (so at most once per change of cells, never per
    request): another digest of the same plan (its cells changed, or the seed was
    replaced) and the indexes of plans the database no longer has. Other plans' current
    indexes stay. Each is an ``.npz`` (12 MB for the demo's plan); before this, every
    reseed or edit of cells left one behind. It is a cache, so a wrong removal costs a
    rebuild, never an answer: a process that already opened a removed file keeps reading
    it (POSIX unlink), and one that finds its file gone builds it again (a plan another
    transaction has not committed yet looks like a plan the database does not have).
    """
    plans = set(session.scalars(select(Plan.id)))
    removed = []
    for cached in cache_dir.glob("plan-*-*.npz"):
        if cached == keep or ".tmp" in cached.name:
            continue
        plan_id = cached.name.split("-")[1]
        same_plan = plan_id == keep.name.split("-")[1]
        if same_plan or not plan_id.isdigit() or int(plan_id) not in plans:
            cached.unlink(missing_ok=True)
            removed.append(cached)
    return removed
