"""Features of a declared layer for a view: bbox + zoom + filters, within the user's scope.

Layers of places (areas, registry tables) are read through the builder the OGC collections
share (:mod:`gridmap.maps.query`), so their properties are the same at both doors; a map
adds only what it draws with (``_color``, a badge's ``level`` and point). Answers are GeoJSON
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
from sqlalchemy import String, case, cast, func, literal, select
from sqlalchemy.orm import Session

from gridmap.areas import codes as area_codes
from gridmap.areas.active import active_plan_id, current_plan
from gridmap.areas.codes import CODE_LENGTH
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area, Plan
from gridmap.bbox import BBox
from gridmap.cache import StaleWhileRevalidate
from gridmap.crs import from_wgs84
from gridmap.errors import Forbidden, NotFound
from gridmap.incidents.deadlines import due_within_clause, overdue_clause
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.models import Incident
from gridmap.locate import read_cells
from gridmap.maps.layer import Layer, Source, Style
from gridmap.maps.plan_cells import DrawnCellCache, changes
from gridmap.maps.query import (
    area_rows,
    count_properties,
    counts_per_cell,
    feature_properties,
    layer_query,
)
from gridmap.plans.load import cell_loads
from gridmap.scope import Actor, IncidentAccess, incident_filter
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
HOUSEHOLDS_TTL = 60.0  # seconds the active plan's households per cell are served as counted
OTHER_PLANS_TTL = 300.0  # another plan's (assigning every household to its cells takes longer)
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
class IncidentCounts:
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
        # households per cell of (plan, plan in force, area, fingerprint of the area's
        # cells): stale-while-revalidate
        self._households: StaleWhileRevalidate[LoadKey, dict[str, int]]
        self._households = StaleWhileRevalidate(_loads, ttl=HOUSEHOLDS_TTL)
        self._other_plans: StaleWhileRevalidate[LoadKey, dict[str, int]]
        self._other_plans = StaleWhileRevalidate(_loads, ttl=OTHER_PLANS_TTL)
        self.drawn_cells = DrawnCellCache()  # a plan's cells of an area, simplified per zoom
        self._counts: dict[tuple[object, ...], IncidentCounts] = {}
        self._lock = threading.Lock()

    def preload(self, session: Session) -> None:
        """Simplify and keep every level's outlines of the active plan (before serving)."""
        plan_id = active_plan_id(session)
        for level in (AreaLevel.county, AreaLevel.township, AreaLevel.village, AreaLevel.grid):
            self.shapes(session, level, plan_id)
        self.households(session, plan_id, active=plan_id)

    def counts(
        self, session: Session, actor: Actor, filters: IncidentFilter, now: datetime
    ) -> IncidentCounts:
        """Counts per grid cell for ``actor`` and ``filters`` (the bbox ignored)."""
        flt = dataclasses.replace(filters, bbox=None)
        key = (actor.user_id, actor.role, actor.area_code, actor.department_id, flt)
        hit = self._counts.get(key)
        if hit is not None and time.monotonic() - hit.at < COUNTS_SECONDS:
            return hit
        rows = session.execute(counts_per_cell(actor, now, *flt.clauses(now))).all()
        fresh = IncidentCounts(time.monotonic(), {r[0]: tuple(r[1:]) for r in rows if r[0]})
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

    def households(
        self, session: Session, plan_id: int, *, active: int, area: str = "", digest: str = ""
    ) -> dict[str, int]:
        """Households per grid cell of ``plan_id`` (:func:`gridmap.plans.load.cell_loads`).

        Of ``area``'s cells only when given, whose cells have the fingerprint ``digest``.
        Counted once (2.9 M households: about half a second for a city), then served as
        counted and recounted in the background when older than a minute (five for a plan
        not in force): no request waits for the count again (:mod:`gridmap.cache`). A draft
        edited by hand has another fingerprint: counted again at once.
        """
        cache = self._households if plan_id == active else self._other_plans
        return cache.get(session, (plan_id, active, area, "" if plan_id == active else digest))[1]

    def active_households(self, session: Session) -> dict[str, int]:
        """Households per grid cell of the plan in force (none without one)."""
        plan = current_plan(session)
        return {} if plan is None else self.households(session, plan.id, active=plan.id)


LoadKey = tuple[int, int, str, str]  # plan, plan in force, area, fingerprint of its cells


def _loads(session: Session, key: LoadKey) -> dict[str, int]:
    return cell_loads(session, key[0], active=key[1], area=key[2])


def _load_shapes(session: Session, level: AreaLevel, plan_id: int | None) -> AreaShapes:
    geom = Area.geom
    simplified = func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(geom, TOLERANCE[level]), 6)
    badge = func.ST_PointOnSurface(geom)
    query = select(
        Area.code, Area.name, Area.name_en, simplified,
        func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom),
        func.ST_X(badge), func.ST_Y(badge),
    ).where(*area_rows(level, plan_id)).order_by(Area.code)  # fmt: skip
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
    plan_id = active_plan_id(session)
    if layer.source == Source.areas:
        return _collection(layer, view, *_areas(session, layer, view, plan_id, cache))
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
    session: Session, layer: Layer, view: View, plan_id: int, cache: MapData
) -> tuple[list[str], dict[str, object]]:
    """Areas of the layer's level (the rows ``area_rows`` selects), simplified, as features."""
    level = layer.level
    assert level is not None
    shapes = cache.shapes(session, level, plan_id, view.display_crs)
    chosen = shapes.in_view(view.bbox)[:MAX_FEATURES]
    counted = "households" in layer.properties
    households = cache.households(session, plan_id, active=plan_id) if counted else {}
    names = shapes.names_en if view.lang == "en" else shapes.names
    feats = []
    for i in chosen:
        code = shapes.codes[i]
        values = {"code": code, "name": names[i], "households": households.get(code, 0)}
        props = feature_properties(layer, values) | {"level": level.value}
        feats.append(_feature(shapes.geojson[i], props, code))
    return feats, {"level": level.value, "truncated": len(shapes.in_view(view.bbox)) > len(chosen)}


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
        counted = counts.get(code, (0, 0, 0, 0, 0))
        _, open_, overdue, due_soon, _ = counted
        worst = (
            "overdue" if overdue else "due_soon" if due_soon else "in_progress" if open_
            else "closed"
        )  # fmt: skip
        props = count_properties(code, names[i], counted) | {
            "level": level.value,
            "badge": [round(float(shapes.badge[i, 0]), 6), round(float(shapes.badge[i, 1]), 6)],
            "_color": style.color_of(worst),
        }
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


def _table(session: Session, layer: Layer, view: View, actor: Actor | None) -> list[str]:
    """Rows of a registry table in view (the builder the OGC items use), coloured."""
    query = layer_query(layer, lang=view.lang)
    where = query.filters(actor=actor, bbox=view.bbox, area=view.filters.area)
    rows = session.execute(
        query.select(func.ST_X(query.geometry), func.ST_Y(query.geometry))
        .where(*where)
        .limit(MAX_FEATURES)
    )
    feats = []
    for row in rows:
        props = feature_properties(layer, query.values(row))
        if layer.style.color_by:
            props["_color"] = layer.style.color_of(props[layer.style.color_by])
        feats.append(_feature(_point_in(row[-2], row[-1], view.display_crs), props, int(row[0])))
    return feats


def _plan_cells(
    session: Session, layer: Layer, view: View, active: int, cache: MapData
) -> tuple[list[str], dict[str, object]]:
    """A plan's cells of the area asked for (all without one), simplified for the zoom.

    Households, deviation from the target, change against another plan
    (:mod:`gridmap.maps.plan_cells`).
    """
    plan_id = view.plan_id or active
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"there is no plan {plan_id}")
    other = view.compare
    if other is not None and session.get(Plan, other) is None:
        raise NotFound(f"there is no plan {other} to compare with")
    area = view.filters.area or ""
    cells = read_cells(session, plan_id, area)
    drawn = cache.drawn_cells.get(cells, view.zoom, view.display_crs)
    loads = cache.households(session, plan_id, active=active, area=area, digest=cells.digest)
    changed = changes(cells, read_cells(session, other, area)) if other is not None else {}
    in_view = drawn.in_view(view.bbox)
    chosen = in_view[:MAX_FEATURES]
    feats = []
    for i in chosen:
        code = cells.codes[i]
        households = loads.get(code, 0)
        deviation = round(households / view.target - 1, 4)
        props = {
            "code": code, "name": cells.names[i], "households": households,
            "deviation": deviation, "change": changed.get(code),
            "_color": layer.style.color_of(deviation),
        }  # fmt: skip
        feats.append(_feature(drawn.geojson[i], props, code))
    return feats, {
        "level": "grid", "plan": plan_id, "compare": other, "target": view.target,
        "truncated": len(in_view) > len(chosen),
    }  # fmt: skip
