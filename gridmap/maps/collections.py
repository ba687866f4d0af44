"""Layers as OGC API – Features collections: paged items of the declared layers.

The collections are the layers of ``layers/`` whose source is a table of places (area
outlines of one level, buildings, work units) and that the reader may see; their
properties are the layer's popup fields — the same declaration the maps read, so there
is no second list and no personal data, and numbers typed into their text are masked as
on the maps (:func:`gridmap.maps.layer.masked_properties`). Items are paged by a stable
order (code or id), filtered by a WGS84 bounding box.

An incident layer that the maps count by grid cell (its aggregation has a grid step) is
also a collection, ``<layer>_per_cell``: the grid cells of the reader's area with the
counts the map badges show (total, open, overdue, due soon, closed) of the incidents the
reader may count (``incident_filter(aggregate=True)``), optionally for a ``datetime``
interval of the layer's time field. It needs a token, like the layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.auth.models import Role
from gridmap.errors import NotFound
from gridmap.incidents.models import Incident
from gridmap.maps.layer import Catalogue, Layer, Source, Text, masked_properties
from gridmap.scope import Actor, incident_filter, within

COLLECTION_SOURCES = (Source.areas, Source.table)
EXTRA_PROPERTIES = {"households"}  # computed for grid cells by the maps, not a column here
PER_CELL = "_per_cell"
COUNTS = ("total", "open", "overdue", "due_soon", "closed")


def _per_cell(layer: Layer) -> Layer:
    return replace(
        layer,
        id=layer.id + PER_CELL,
        title=Text(layer.title("zh") + "（按网格汇总）", layer.title("en") + " per grid cell"),
    )


def collections(catalogue: Catalogue, role: Role | None) -> list[Layer]:
    """The layers served as collections to a reader with ``role`` (None: anonymous)."""
    places = [
        layer for layer in catalogue.values()
        if layer.source in COLLECTION_SOURCES and layer.visible_to(role)
    ]  # fmt: skip
    counted = [
        _per_cell(layer) for layer in catalogue.values()
        if layer.source == Source.incidents and layer.aggregation is not None
        and any(level == AreaLevel.grid for _, level in layer.aggregation.steps)
        and layer.visible_to(role)
    ]  # fmt: skip
    return places + counted


def is_counts(layer: Layer) -> bool:
    """True for an incident-counts collection (its items need the reader's scope)."""
    return layer.source == Source.incidents


def count_items(
    session: Session, layer: Layer, actor: Actor, *, now: datetime,
    bbox: tuple[float, float, float, float] | None, limit: int, offset: int,
    interval: tuple[datetime | None, datetime | None] = (None, None),
    feature_id: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """(number matched, GeoJSON features): the reader's grid cells with incident counts."""
    from gridmap.maps.features import count_columns

    time_column = getattr(Incident, layer.time_field or "reported_at")
    start, end = interval
    counted = (
        select(Incident.grid_code.label("code"), *count_columns(now))
        .where(incident_filter(actor, aggregate=True), within(Incident.grid_code, actor.area_code))
        .group_by(Incident.grid_code)
    )
    if start is not None:
        counted = counted.where(time_column >= start)
    if end is not None:
        counted = counted.where(time_column <= end)
    c = counted.subquery()
    active = select(Plan.id).where(Plan.status == PlanStatus.active).scalar_subquery()
    where = [
        Area.level == AreaLevel.grid,
        Area.plan_id == active,
        within(Area.code, actor.area_code),
    ]
    if bbox is not None:
        where.append(Area.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    if feature_id is not None:
        where.append(Area.code == feature_id)
    matched = int(session.scalar(select(func.count()).select_from(Area).where(*where)) or 0)
    rows = session.execute(
        select(Area.code, Area.name, *(func.coalesce(c.c[n], 0) for n in COUNTS),
               func.ST_AsGeoJSON(Area.geom, 6))
        .outerjoin(c, and_(c.c.code == Area.code))
        .where(*where).order_by(Area.code).limit(limit).offset(offset)
    ).all()  # fmt: skip
    features = []
    for row in rows:
        counts = {n: int(row[2 + i]) for i, n in enumerate(COUNTS)}
        props = masked_properties({"code": row[0], "name": row[1], **counts})
        features.append({"type": "Feature", "id": row[0], "properties": props,
                         "geometry": json.loads(row[-1])})  # fmt: skip
    return matched, features


def collection(catalogue: Catalogue, layer_id: str, role: Role | None) -> Layer:
    """One collection; 404 when there is none of that id for this reader."""
    for layer in collections(catalogue, role):
        if layer.id == layer_id:
            return layer
    raise NotFound(f"there is no collection {layer_id!r}")


@dataclass(frozen=True)
class _Query:
    select: str  # id, properties…, geojson
    where: str
    order: str
    properties: tuple[str, ...]


def _query(layer: Layer) -> _Query:
    fields = tuple(f.name for f in layer.popup if f.name not in EXTRA_PROPERTIES)
    if layer.source == Source.areas:
        assert layer.level is not None
        where = f"a.level = '{layer.level.value}'"
        if layer.level.value == "grid":
            where += " AND a.plan_id = (SELECT id FROM plan WHERE status = 'active')"
        cols = ", ".join(f"a.{f}" for f in fields)
        return _Query(f"a.code AS fid, {cols}, ST_AsGeoJSON(a.geom, 6) AS geojson FROM area a",
                      where, "a.code", fields)  # fmt: skip
    table = layer.table
    cols = ", ".join(f"t.{f}::text" if f == "use" else f"t.{f}" for f in fields)
    return _Query(f"t.id::text AS fid, {cols}, ST_AsGeoJSON(t.location, 6) AS geojson "
                  f"FROM {table} t", "t.grid_code IS NOT NULL", "t.id", fields)  # fmt: skip


def _geometry_column(layer: Layer) -> str:
    return "a.geom" if layer.source == Source.areas else "t.location"


def items(
    session: Session, layer: Layer, *, bbox: tuple[float, float, float, float] | None,
    limit: int, offset: int, feature_id: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """(number matched, GeoJSON features) of a page of ``layer``."""
    q = _query(layer)
    where = [q.where]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if bbox is not None:
        where.append(f"{_geometry_column(layer)} && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if feature_id is not None:
        where.append(f"{q.order}::text = :fid")
        params["fid"] = feature_id
    clause = " AND ".join(where)
    table = q.select.split(" FROM ")[1]
    matched = int(session.scalar(text(f"SELECT count(*) FROM {table} WHERE {clause}"), params) or 0)
    rows = session.execute(
        text(f"SELECT {q.select} WHERE {clause} ORDER BY {q.order} LIMIT :limit OFFSET :offset"),
        params,
    ).all()
    features = []
    for row in rows:
        props = masked_properties({n: _plain(row[i + 1]) for i, n in enumerate(q.properties)})
        features.append({"type": "Feature", "id": row[0], "properties": props,
                         "geometry": json.loads(row[-1])})  # fmt: skip
    return matched, features


def extent(session: Session, layer: Layer) -> list[float] | None:
    """The layer's WGS84 bounding box (estimated from the areas: cheap)."""
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
            "ST_Extent(geom) AS e FROM area WHERE level = 'county') s"
        )
    ).one()
    return None if row[0] is None else [round(float(v), 6) for v in row]


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
