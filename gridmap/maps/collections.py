"""Layers as OGC API – Features collections: paged items of the declared layers.

The collections are the layers of ``layers/`` whose source is a table of places (area
outlines of one level, buildings, work units) and that the reader may see. Their items are
read through the builder the map's feature endpoints use (:mod:`gridmap.maps.query`): the
same properties (the layer's declared fields — a grid cell's households counted as the map
counts them, no personal data), masked the same way, in the same scope, under the same ids;
only what a map draws with (``_color``…) is left out. Items are paged by a stable order
(code or id), filtered by a WGS84 bounding box.

An incident layer that the maps count by grid cell (its aggregation has a grid step) is
also a collection, ``<layer>_per_cell``: the grid cells of the reader's area with the
counts the map badges show (total, open, overdue, due soon, closed: the same query,
:func:`gridmap.maps.query.counts_per_cell`) of the incidents the reader may count,
optionally for a ``datetime`` interval of the layer's time field. It needs a token, like
the layer.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area
from gridmap.auth.models import Role
from gridmap.bbox import BBox
from gridmap.errors import NotFound
from gridmap.incidents.models import Incident
from gridmap.maps.layer import Catalogue, Layer, Source, Text
from gridmap.maps.query import (
    COUNTED,
    area_rows,
    count_properties,
    counts_per_cell,
    feature_properties,
    layer_query,
)
from gridmap.scope import Actor, within

if TYPE_CHECKING:
    from gridmap.maps.features import MapData

COLLECTION_SOURCES = (Source.areas, Source.table)
PER_CELL = "_per_cell"


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
    session: Session, layer: Layer, actor: Actor, *, now: datetime, bbox: BBox | None,
    limit: int, offset: int, interval: tuple[datetime | None, datetime | None] = (None, None),
    feature_id: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """(number matched, GeoJSON features): the reader's grid cells with incident counts."""
    time_column = getattr(Incident, layer.time_field or "reported_at")
    start, end = interval
    when = [time_column >= start] if start is not None else []
    when += [time_column <= end] if end is not None else []
    c = counts_per_cell(actor, now, within(Incident.grid_code, actor.area_code), *when).subquery()
    where = [*area_rows(AreaLevel.grid), within(Area.code, actor.area_code)]
    if bbox is not None:
        where.append(Area.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    if feature_id is not None:
        where.append(Area.code == feature_id)
    matched = int(session.scalar(select(func.count()).select_from(Area).where(*where)) or 0)
    counts = [func.coalesce(column, 0) for column in list(c.c)[1:]]
    rows = session.execute(
        select(Area.code, Area.name, *counts, func.ST_AsGeoJSON(Area.geom, 6))
        .outerjoin(c, c.c.grid_code == Area.code)
        .where(*where).order_by(Area.code).limit(limit).offset(offset)
    ).all()  # fmt: skip
    features = [
        {"type": "Feature", "id": row[0], "properties": count_properties(row[0], row[1], row[2:-1]),
         "geometry": json.loads(row[-1])}
        for row in rows
    ]  # fmt: skip
    return matched, features


def collection(catalogue: Catalogue, layer_id: str, role: Role | None) -> Layer:
    """One collection; 404 when there is none of that id for this reader."""
    for layer in collections(catalogue, role):
        if layer.id == layer_id:
            return layer
    raise NotFound(f"there is no collection {layer_id!r}")


def items(
    session: Session, layer: Layer, *, actor: Actor | None, cache: MapData,
    bbox: BBox | None, limit: int, offset: int, feature_id: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """(number matched, GeoJSON features) of a page of ``layer``, as the map reads it."""
    query = layer_query(layer)
    where = query.filters(actor=actor, bbox=bbox, feature_id=feature_id)
    matched = int(session.scalar(select(func.count()).select_from(query.table).where(*where)) or 0)
    rows = session.execute(
        query.select(func.ST_AsGeoJSON(query.geometry, 6))
        .where(*where)
        .order_by(query.id)
        .limit(limit)
        .offset(offset)
    ).all()
    counted = layer.source == Source.areas and bool(COUNTED & set(layer.properties))
    households = cache.active_households(session) if counted and rows else None
    features = []
    for row in rows:
        values = query.values(row)
        if households is not None:  # a grid cell's: counted as the map counts them
            values["households"] = households.get(row[0], 0)
        features.append({"type": "Feature", "id": row[0],
                         "properties": feature_properties(layer, values),
                         "geometry": json.loads(row[-1])})  # fmt: skip
    return matched, features


def extent(session: Session, layer: Layer) -> list[float] | None:
    """The layer's WGS84 bounding box (estimated from the areas: cheap)."""
    e = select(func.ST_Extent(Area.geom).label("e")).where(Area.level == AreaLevel.county)
    box = e.subquery().c.e
    row = session.execute(
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    ).one()
    return None if row[0] is None else [round(float(v), 6) for v in row]
