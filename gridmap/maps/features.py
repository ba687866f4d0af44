"""Features of a declared layer for a view: bbox + zoom + filters, within the user's scope.

One query builder per source kind (:class:`gridmap.maps.layer.Source`). Answers are GeoJSON
(RFC 7946) FeatureCollections, assembled as text around geometries that were serialised
once (areas are simplified per level and cached), with a few foreign members saying what
was drawn (``level``, ``truncated``).

Incidents are counted along the administrative hierarchy when the view is far out (county
→ township → village → grid cell, by zoom) and drawn as points only close in; more points
than the layer's limit in view are counted by grid cell instead. Planners never get
points. Counts per area: total, open, overdue, due soon, closed — the same definitions as
``/stats`` (gridmap/incidents/deadlines.py).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, String, and_, case, cast, func, literal, select, text
from sqlalchemy.orm import Session

from gridmap.areas import codes as area_codes
from gridmap.areas.codes import CODE_LENGTH
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.bbox import BBox
from gridmap.crs import from_wgs84
from gridmap.errors import Forbidden, InvalidInput, NotFound
from gridmap.incidents.deadlines import due_within_clause, overdue_clause
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.models import OPEN, Incident, IncidentStatus
from gridmap.maps.layer import Layer, Source, Style, masked_properties
from gridmap.registry.models import Building, Household, WorkUnit
from gridmap.scope import Actor, IncidentAccess, incident_filter, within
from gridmap.units.models import Department, RoutingRule

# Simplification tolerance per level (degrees): below a pixel at the zooms each level shows.
TOLERANCE = {
    AreaLevel.city: 0.002,
    AreaLevel.county: 0.001,
    AreaLevel.township: 0.0004,
    AreaLevel.village: 0.00015,
    AreaLevel.grid: 0.00005,
}
MAX_FEATURES = 5000
HEAT_CELLS_ACROSS = 96  # heat points per view width (snapped), whatever the zoom
HOUSEHOLDS_TTL = 60.0  # seconds a per-cell household count is reused
HEAT_BY_CELL_UNTIL = 12  # up to this zoom, heat is the cached counts per grid cell


@dataclass
class AreaShapes:
    """The areas of one level (and plan): simplified GeoJSON, bounds, badge points, names."""

    codes: list[str]
    names: list[str]
    names_en: list[str]
    geojson: list[str]
    bounds: np.ndarray  # (n, 4)
    badge: np.ndarray  # (n, 2): a point inside each area, for its count badge

    def index_of(self) -> dict[str, int]:
        """Position of each code."""
        return {c: i for i, c in enumerate(self.codes)}

    def in_view(self, bbox: BBox | None) -> np.ndarray:
        """Positions of the areas whose bounds meet ``bbox`` (all without one)."""
        if bbox is None:
            return np.arange(len(self.codes))
        x0, y0, x1, y1 = bbox
        b = self.bounds
        return np.flatnonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))


@dataclass
class CellCounts:
    """Incident counts per grid cell (total, open, overdue, due soon, closed), rolled up."""

    at: float
    cells: dict[str, tuple[int, int, int, int, int]]
    _levels: dict[AreaLevel, dict[str, tuple[int, ...]]] = field(default_factory=dict)

    def by_level(self, level: AreaLevel) -> dict[str, tuple[int, ...]]:
        """Counts per area of ``level`` (sums over its cells), computed once."""
        found = self._levels.get(level)
        if found is None:
            width = CODE_LENGTH[level]
            sums: dict[str, list[int]] = {}
            for code, row in self.cells.items():
                acc = sums.setdefault(code[:width], [0, 0, 0, 0, 0])
                for k in range(5):
                    acc[k] += row[k]
            found = self._levels[level] = {k: tuple(v) for k, v in sums.items()}
        return found


COUNTS_SECONDS = 5.0  # how long one user's counts for one filter are reused
COUNTS_KEPT = 512


class MapData:
    """Per-process caches the map endpoints share.

    Simplified areas and households per cell, keyed by the active plan (activating another
    plan is picked up on the next request), and each user's incident counts per cell for a
    few seconds.
    """

    def __init__(self) -> None:
        self._shapes: dict[tuple[int | None, AreaLevel, str], AreaShapes] = {}
        self._households: dict[int, tuple[float, dict[str, int]]] = {}
        self._counts: dict[tuple[object, ...], CellCounts] = {}
        self._lock = threading.Lock()

    def preload(self, session: Session) -> None:
        """Simplify and keep every level's outlines of the active plan (before serving)."""
        plan_id = _active_plan(session)
        for level in (AreaLevel.county, AreaLevel.township, AreaLevel.village, AreaLevel.grid):
            self.shapes(session, level, plan_id)
        self.households(session, plan_id)

    def counts(
        self, session: Session, actor: Actor, filters: IncidentFilter, now: datetime
    ) -> CellCounts:
        """Counts per grid cell for ``actor`` and ``filters`` (the bbox ignored)."""
        flt = dataclasses.replace(filters, bbox=None)
        key = (actor.user_id, actor.role, actor.area_code, actor.department_id, flt)
        hit = self._counts.get(key)
        if hit is not None and time.monotonic() - hit.at < COUNTS_SECONDS:
            return hit
        rows = session.execute(
            select(Incident.grid_code, *count_columns(now))
            .where(incident_filter(actor, aggregate=True), *flt.clauses(now))
            .group_by(Incident.grid_code)
        ).all()
        fresh = CellCounts(time.monotonic(), {r[0]: tuple(r[1:]) for r in rows if r[0]})
        with self._lock:
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            self._counts[key] = fresh
        return fresh

    def shapes(
        self, session: Session, level: AreaLevel, plan_id: int | None, crs: str = "wgs84"
    ) -> AreaShapes:
        """The areas of ``level`` (grid cells of ``plan_id``), simplified for drawing."""
        key = (plan_id if level == AreaLevel.grid else None, level, crs)
        cached = self._shapes.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if key not in self._shapes:
                shapes = _load_shapes(session, level, key[0])
                self._shapes[key] = shapes if crs == "wgs84" else _shifted(shapes, crs)
            return self._shapes[key]

    def households(self, session: Session, plan_id: int) -> dict[str, int]:
        """Households per grid cell of the active plan.

        Counted once (2.9 M households: about half a second for a city), then refreshed in
        the background when older than a minute — the figures served meanwhile are at most
        that old, and no request waits for the count again.
        """
        hit = self._households.get(plan_id)
        if hit is None:
            return self._count_households(session, plan_id)
        if time.monotonic() - hit[0] > HOUSEHOLDS_TTL and self._lock.acquire(blocking=False):
            bind = session.get_bind()
            if not isinstance(bind, Engine):  # a session on one connection (tests): not shared
                try:
                    return self._count_households(session, plan_id)
                finally:
                    self._lock.release()

            def refresh() -> None:
                try:
                    with Session(bind) as fresh:
                        self._count_households(fresh, plan_id)
                finally:
                    self._lock.release()

            threading.Thread(target=refresh, daemon=True).start()
        return hit[1]

    def _count_households(self, session: Session, plan_id: int) -> dict[str, int]:
        rows = session.execute(
            # every household's code is a cell of the plan in force (see plans.service)
            select(Household.grid_code, func.count()).group_by(Household.grid_code)
        ).all()
        counts = {str(code): int(n) for code, n in rows if code is not None}
        self._households[plan_id] = (time.monotonic(), counts)
        return counts


def _load_shapes(session: Session, level: AreaLevel, plan_id: int | None) -> AreaShapes:
    geom = Area.geom
    simplified = func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(geom, TOLERANCE[level]), 6)
    badge = func.ST_PointOnSurface(geom)
    query = select(
        Area.code, Area.name, Area.name_en, simplified,
        func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom),
        func.ST_X(badge), func.ST_Y(badge),
    ).where(Area.level == level).order_by(Area.code)  # fmt: skip
    if level == AreaLevel.grid:
        query = query.where(Area.plan_id == plan_id)
    rows = session.execute(query).all()
    return AreaShapes(
        codes=[r[0] for r in rows],
        names=[r[1] for r in rows],
        names_en=[r[2] or r[1] for r in rows],
        geojson=[r[3] for r in rows],
        bounds=np.array([r[4:8] for r in rows], dtype=float).reshape(-1, 4),
        badge=np.array([r[8:10] for r in rows], dtype=float).reshape(-1, 2),
    )


def _shifted(shapes: AreaShapes, crs: str) -> AreaShapes:
    """The same areas with every coordinate moved from WGS84 into ``crs`` (GCJ-02)."""
    geoms = shapely.from_geojson(shapes.geojson)
    moved = shapely.transform(
        geoms, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs))
    )
    bx, by = from_wgs84(shapes.badge[:, 0], shapes.badge[:, 1], crs)
    return AreaShapes(
        codes=shapes.codes, names=shapes.names, names_en=shapes.names_en,
        geojson=[shapely.to_geojson(g, indent=None) for g in moved],
        bounds=shapely.bounds(moved).reshape(-1, 4), badge=np.column_stack([bx, by]),
    )  # fmt: skip


def _point_in(x: float, y: float, crs: str) -> str:
    if crs != "wgs84":
        x, y = (float(v) for v in from_wgs84(x, y, crs))
    return _point(x, y)


@dataclass(frozen=True)
class View:
    """What a map asks for: where, how close, which incidents, in which language."""

    bbox: BBox | None
    zoom: int
    filters: IncidentFilter
    lang: str = "zh"
    plan_id: int | None = None  # plan layers: which plan
    compare: int | None = None  # plan layers: against which plan
    target: int = 400  # plan layers: households per cell aimed at
    display_crs: str = "wgs84"  # gcj02: shifted to sit on AMap/Tencent tiles (pages only)


def features(
    *,
    session: Session,
    layer: Layer,
    view: View,
    actor: Actor | None,
    cache: MapData,
    now: datetime,
) -> str:
    """The layer's features for ``view`` as a GeoJSON FeatureCollection (text)."""
    if not layer.visible_to(actor.role if actor else None):
        raise Forbidden(f"the layer {layer.id} needs a signed-in user with another role")
    if not layer.min_zoom <= view.zoom <= layer.max_zoom:
        # out of the layer's zoom range: nothing (a city of buildings is not a map)
        hidden: dict[str, object] = {"hidden": f"shown at zoom {layer.min_zoom}–{layer.max_zoom}"}
        return _collection(layer, view, [], hidden)
    plan_id = _active_plan(session)
    if layer.source == Source.areas:
        assert layer.level is not None
        return _collection(layer, view, *_areas(session, layer.level, view, plan_id, cache))
    if layer.source == Source.plan_cells:
        return _collection(layer, view, *_plan_cells(session, layer, view, plan_id, cache))
    if actor is None and layer.source in (Source.incidents, Source.heat):
        raise Forbidden(f"the layer {layer.id} needs a signed-in user")
    if layer.source == Source.incidents:
        assert layer.aggregation is not None and actor is not None
        level = layer.aggregation.level_at(view.zoom)
        if level is None and actor.policy.incidents == IncidentAccess.aggregate:
            level = AreaLevel.grid  # planners see counts, never single incidents
        if level is None:
            points = _incident_points(
                session, view, actor, now, layer.aggregation.max_points, layer.style
            )
            if points is not None:
                return _collection(layer, view, points, {"level": "points", "truncated": False})
            level = AreaLevel.grid  # too many to draw one by one: count them by cell
            truncated = True
        else:
            truncated = False
        feats = _incident_counts(session, view, actor, now, level, plan_id, cache, layer.style)
        return _collection(layer, view, feats, {"level": level.value, "truncated": truncated})
    if layer.source == Source.heat:
        assert actor is not None
        if view.zoom <= HEAT_BY_CELL_UNTIL:
            feats = _heat_by_cell(session, view, actor, now, plan_id, cache)
        else:
            feats = _heat(session, view, actor, now)
        return _collection(layer, view, feats, {"level": "heat"})
    return _collection(layer, view, _table(session, layer, view, actor), {"level": "points"})


def _active_plan(session: Session) -> int:
    plan_id = session.scalar(select(Plan.id).where(Plan.status == PlanStatus.active))
    if plan_id is None:
        raise NotFound("no boundary plan is active: load a seed or activate a plan first")
    return int(plan_id)


def _collection(
    layer: Layer, view: View, feats: list[str], extra: dict[str, object] | None = None
) -> str:
    members = {"layer": layer.id, "zoom": view.zoom, "numberReturned": len(feats), **(extra or {})}
    head = json.dumps(members, ensure_ascii=False)[1:-1]
    return '{"type":"FeatureCollection",' + head + ',"features":[' + ",".join(feats) + "]}"


def _feature(geometry: str, properties: dict[str, Any], fid: str | int | None = None) -> str:
    props = json.dumps(properties, ensure_ascii=False, default=str)
    ident = f'"id":{json.dumps(fid)},' if fid is not None else ""
    return '{"type":"Feature",' + ident + '"geometry":' + geometry + ',"properties":' + props + "}"


def _point(x: float, y: float) -> str:
    return f'{{"type":"Point","coordinates":[{x:.6f},{y:.6f}]}}'


def _areas(
    session: Session, level: AreaLevel, view: View, plan_id: int, cache: MapData
) -> tuple[list[str], dict[str, object]]:
    shapes = cache.shapes(session, level, plan_id, view.display_crs)
    chosen = shapes.in_view(view.bbox)[:MAX_FEATURES]
    households = cache.households(session, plan_id) if level == AreaLevel.grid else {}
    names = shapes.names_en if view.lang == "en" else shapes.names
    feats = []
    for i in chosen:
        props: dict[str, Any] = {"code": shapes.codes[i], "name": names[i], "level": level.value}
        if level == AreaLevel.grid:
            props["households"] = households.get(shapes.codes[i], 0)
        feats.append(_feature(shapes.geojson[i], props, shapes.codes[i]))
    return feats, {"level": level.value, "truncated": len(shapes.in_view(view.bbox)) > len(chosen)}


def count_columns(now: datetime) -> list[Any]:
    """total, open, overdue, due soon, closed: the map's counts (and /stats' definitions)."""
    return [
        func.count().label("total"),
        func.count().filter(Incident.status.in_(sorted(OPEN))).label("open"),
        func.count()
        .filter(and_(Incident.status != IncidentStatus.rejected, overdue_clause(now)))
        .label("overdue"),
        func.count().filter(due_within_clause(now)).label("due_soon"),
        func.count().filter(Incident.status == IncidentStatus.closed).label("closed"),
    ]


def _incident_counts(
    session: Session,
    view: View,
    actor: Actor,
    now: datetime,
    level: AreaLevel,
    plan_id: int,
    cache: MapData,
    style: Style,
) -> list[str]:
    shapes = cache.shapes(session, level, plan_id, view.display_crs)
    chosen = shapes.in_view(view.bbox)
    # whole areas are counted, whatever part of them is in view: counts per grid cell for
    # this user and filter (kept a few seconds), rolled up to the level drawn
    counts = cache.counts(session, actor, view.filters, now).by_level(level)
    names = shapes.names_en if view.lang == "en" else shapes.names
    feats = []
    for i in chosen:
        code = shapes.codes[i]
        if not (actor.covers(code) or area_codes.contains(code, actor.area_code)):
            continue  # an area outside the user's own is not drawn at all
        wanted = view.filters.area
        if wanted and not (area_codes.contains(wanted, code) or area_codes.contains(code, wanted)):
            continue  # nor one outside the area asked for
        total, open_, overdue, due_soon, closed = counts.get(code, (0, 0, 0, 0, 0))
        worst = (
            "overdue" if overdue else "due_soon" if due_soon else "in_progress" if open_
            else "closed"
        )  # fmt: skip
        props = {
            "code": code, "name": names[i], "level": level.value, "total": total, "open": open_,
            "overdue": overdue, "due_soon": due_soon, "closed": closed,
            "badge": [round(float(shapes.badge[i, 0]), 6), round(float(shapes.badge[i, 1]), 6)],
            "_color": style.color_of(worst),
        }  # fmt: skip
        feats.append(_feature(shapes.geojson[i], props, code))
    return feats


def _incident_points(
    session: Session, view: View, actor: Actor, now: datetime, limit: int, style: Style
) -> list[str] | None:
    """Incident points in view, or None when there are more than ``limit``."""
    state = case(
        (overdue_clause(now), literal("overdue")),
        (due_within_clause(now), literal("due_soon")),
        else_=cast(Incident.status, String),
    )
    rule_name = RoutingRule.name_en if view.lang == "en" else RoutingRule.name
    query = (
        select(
            Incident.code, Incident.category, rule_name, Incident.status, state,
            Department.name, Incident.resolve_due_at, Incident.reported_at,
            func.ST_X(Incident.location), func.ST_Y(Incident.location), Incident.grid_code,
        )
        .join(RoutingRule, RoutingRule.category == Incident.category)
        .outerjoin(Department, Department.id == Incident.unit_id)
        .where(incident_filter(actor), *view.filters.clauses(now))
        .order_by(Incident.reported_at.desc())
        .limit(limit + 1)
    )  # fmt: skip
    if view.bbox is not None:
        query = query.where(Incident.location.op("&&")(func.ST_MakeEnvelope(*view.bbox, 4326)))
    rows = session.execute(query).all()
    if len(rows) > limit:
        return None
    return [
        _feature(
            _point_in(r[8], r[9], view.display_crs),
            {
                "code": r[0], "category": r[1], "category_name": r[2],
                "status": getattr(r[3], "value", r[3]), "state": r[4], "unit_name": r[5],
                "resolve_due_at": r[6].isoformat() if r[6] else None,
                "reported_at": r[7].isoformat(), "grid_code": r[10],
                "_color": style.color_of(r[4]),
            },
            r[0],
        )
        for r in rows
    ]  # fmt: skip


def _heat(session: Session, view: View, actor: Actor, now: datetime) -> list[str]:
    """Incident density: counts per cell of a grid sized to the view (≤ ~10,000 points).

    Grouped by integer cell numbers (cheaper than grouping snapped geometries), each count
    placed at its cell's centre.
    """
    if view.bbox is not None:
        span = max(view.bbox[2] - view.bbox[0], 1e-6)
    else:
        span = 360.0 / 2 ** max(view.zoom, 0)
    cell = span / HEAT_CELLS_ACROSS
    ix = func.floor(func.ST_X(Incident.location) / cell)
    iy = func.floor(func.ST_Y(Incident.location) / cell)
    query = (
        select(ix, iy, func.count())
        .where(incident_filter(actor, aggregate=True), *view.filters.clauses(now))
        .group_by(ix, iy)
        .limit(MAX_FEATURES * 2)
    )
    if view.bbox is not None:
        query = query.where(Incident.location.op("&&")(func.ST_MakeEnvelope(*view.bbox, 4326)))
    return [
        _feature(
            _point_in((x + 0.5) * cell, (y + 0.5) * cell, view.display_crs), {"weight": int(n)}
        )
        for x, y, n in session.execute(query)
    ]


def _heat_by_cell(
    session: Session, view: View, actor: Actor, now: datetime, plan_id: int, cache: MapData
) -> list[str]:
    """Incident density far out: each grid cell's count at its badge point, from the counts.

    Cells are a few hundred metres across, finer than a pixel at these zooms, and their
    counts are already cached for the badges: no scan of every incident's location.
    """
    shapes = cache.shapes(session, AreaLevel.grid, plan_id, view.display_crs)
    counts = cache.counts(session, actor, view.filters, now).cells
    feats = []
    for i in shapes.in_view(view.bbox):
        n = counts.get(shapes.codes[i], (0,))[0]
        if n:
            x, y = shapes.badge[i]
            feats.append(_feature(_point(float(x), float(y)), {"weight": int(n)}))
    return feats


# Properties of table layers that are not plain columns: (joins to make, the aggregate).
_DERIVED: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}
_TABLES: dict[str, Any] = {"building": Building, "work_unit": WorkUnit}


def _table(session: Session, layer: Layer, view: View, actor: Actor | None) -> list[str]:
    model = _TABLES.get(layer.table or "")
    if model is None:
        raise InvalidInput(f"layer {layer.id}: no table {layer.table!r}")
    names = [f.name for f in layer.popup]
    if layer.style.color_by and layer.style.color_by not in names:
        names.append(layer.style.color_by)
    joins: list[tuple[Any, Any]] = []
    columns = []
    for name in names:
        derived = _DERIVED.get((layer.table or "", name))
        if derived is not None:
            joins.extend(derived[0])
            columns.append(derived[1])
        elif hasattr(model, name):
            columns.append(getattr(model, name))
        else:
            raise InvalidInput(f"layer {layer.id}: {layer.table} has no {name}")
    # the rows in view first (GiST), then what is counted per row, in one grouped join
    inner = select(model.id).limit(MAX_FEATURES)
    if view.bbox is not None:
        inner = inner.where(model.location.op("&&")(func.ST_MakeEnvelope(*view.bbox, 4326)))
    if actor is not None and not layer.public:
        inner = inner.where(within(model.grid_code, actor.area_code))
    if view.filters.area:
        inner = inner.where(within(model.grid_code, view.filters.area))
    chosen = inner.subquery()
    query = select(model.id, func.ST_X(model.location), func.ST_Y(model.location), *columns).join(
        chosen, chosen.c.id == model.id
    )
    for target, on in joins:
        query = query.outerjoin(target, on)
    if joins:
        query = query.group_by(model.id)
    feats = []
    for row in session.execute(query):
        props = masked_properties(
            {n: getattr(v, "value", v) for n, v in zip(names, row[3:], strict=True)}
        )
        if layer.style.color_by:
            props["_color"] = layer.style.color_of(props[layer.style.color_by])
        feats.append(_feature(_point_in(row[1], row[2], view.display_crs), props, int(row[0])))
    return feats


def _plan_cells(
    session: Session, layer: Layer, view: View, active: int, cache: MapData
) -> tuple[list[str], dict[str, object]]:
    """A plan's cells: households, deviation from the target, change against another plan."""
    from gridmap.plans.load import cell_loads  # plans import maps for their report

    plan_id = view.plan_id or active
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"there is no plan {plan_id}")
    shapes = cache.shapes(session, AreaLevel.grid, plan_id, view.display_crs)
    loads = cell_loads(session, plan_id, active=active, cache=cache)
    other = view.compare
    changes: dict[str, str] = {}
    if other is not None:
        if session.get(Plan, other) is None:
            raise NotFound(f"there is no plan {other} to compare with")
        changes = _changes(session, plan_id, other)
    chosen = shapes.in_view(view.bbox)[:MAX_FEATURES]
    scoped = view.filters.area
    feats = []
    for i in chosen:
        code = shapes.codes[i]
        if scoped and not area_codes.contains(scoped, code):
            continue
        households = loads.get(code, 0)
        deviation = round(households / view.target - 1, 4)
        props = {
            "code": code, "name": shapes.names[i], "households": households,
            "deviation": deviation,
            "change": changes.get(code, "same" if other is not None else None),
            "_color": layer.style.color_of(deviation),
        }  # fmt: skip
        feats.append(_feature(shapes.geojson[i], props, code))
    return feats, {"level": "grid", "plan": plan_id, "compare": other, "target": view.target}


def _changes(session: Session, plan_id: int, other: int) -> dict[str, str]:
    """Per cell of ``plan_id``: added (no cell of that code in ``other``), changed, same."""
    rows = session.execute(
        text(
            "SELECT a.code, CASE WHEN b.code IS NULL THEN 'added' "
            "WHEN ST_Equals(a.geom, b.geom) THEN 'same' ELSE 'changed' END "
            "FROM area a LEFT JOIN area b ON b.code = a.code AND b.plan_id = :other "
            "WHERE a.plan_id = :plan"
        ),
        {"plan": plan_id, "other": other},
    ).all()
    return {str(code): str(change) for code, change in rows}
