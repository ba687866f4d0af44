"""Layers as OGC API – Features collections: paged items of the declared layers.

The collections are the layers of ``layers/`` whose source is a table of places (area
outlines of one level, buildings, work units) and that the reader may see; their
properties are the layer's popup fields — the same declaration the maps read, so there
is no second list and no personal data. Items are paged by a stable order (code or id),
filtered by a WGS84 bounding box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.auth.models import Role
from gridmap.errors import NotFound
from gridmap.maps.layer import Layer, Source
from layers import LAYERS

COLLECTION_SOURCES = (Source.areas, Source.table)
EXTRA_PROPERTIES = {"households"}  # computed for grid cells by the maps, not a column here


def collections(role: Role | None) -> list[Layer]:
    """The layers served as collections to a reader with ``role`` (None: anonymous)."""
    return [
        layer for layer in LAYERS.values()
        if layer.source in COLLECTION_SOURCES and layer.visible_to(role)
    ]  # fmt: skip


def collection(layer_id: str, role: Role | None) -> Layer:
    """One collection; 404 when there is none of that id for this reader."""
    for layer in collections(role):
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
        props = {name: _plain(row[i + 1]) for i, name in enumerate(q.properties)}
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
