"""A declared layer as SQL — its rows, their id, geometry and properties — for every door.

The feature endpoints (``/api/v1/layers/{id}/features``, :mod:`gridmap.maps.features`) and
the OGC API items (``/ogc/collections/{id}/items``, :mod:`gridmap.maps.collections`) read a
layer through :func:`layer_query`, so a feature carries the same properties at either door
— the layer's declared fields (:attr:`Layer.properties`) — masked the same way
(:func:`feature_properties`), within the same scope (:meth:`LayerQuery.filters`), under the
same id. A map adds only what it draws with (:data:`gridmap.maps.layer.DRAWING`).

Layers of places are areas of one level (grid cells: of the active plan) and registry
tables with a point location (buildings, work units). A grid cell's households are no
column: they are the registry's count (:mod:`gridmap.registry.counts`), which the caller
reads from the map's cache and hands to :func:`feature_properties` with the row.

The incident counts per grid cell — the map's badges and the OGC ``<layer>_per_cell``
collections — are one query too (:func:`counts_per_cell`, :func:`count_properties`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, select
from sqlalchemy.sql.selectable import ScalarSelect

from gridmap.areas.active import active_plan_subquery
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area
from gridmap.bbox import BBox
from gridmap.db.ids import parse_row_id
from gridmap.errors import InvalidInput
from gridmap.incidents.deadlines import due_within_clause, overdue_clause
from gridmap.incidents.models import OPEN, Incident, IncidentStatus
from gridmap.maps.layer import Layer, Source, masked_properties
from gridmap.registry.models import Building, WorkUnit
from gridmap.scope import Actor, incident_filter, within

TABLES: dict[str, Any] = {"building": Building, "work_unit": WorkUnit}
COUNTED = frozenset({"households"})  # properties of grid cells counted apart, not columns
COUNTS = ("total", "open", "overdue", "due_soon", "closed")


def area_rows(level: AreaLevel, plan: int | ScalarSelect[int] | None = None) -> list[Any]:
    """SQL: the areas of ``level``; grid cells of ``plan`` (by default the plan in force)."""
    where: list[Any] = [Area.level == level]
    if level == AreaLevel.grid:
        where.append(Area.plan_id == (active_plan_subquery() if plan is None else plan))
    return where


@dataclass(frozen=True)
class LayerQuery:
    """A layer's rows as SQL: which rows, the feature id, geometry and property columns."""

    layer: Layer
    table: Any  # the mapped class the rows come from
    id: Any  # the feature id: an area's code, a registry row's id
    code: Any  # the area code the scope and area filters apply to
    geometry: Any  # WGS84
    columns: dict[str, Any]  # declared properties read from a column, by name
    where: tuple[Any, ...]  # the rows of the layer

    def filters(
        self, *, actor: Actor | None, bbox: BBox | None = None, area: str | None = None,
        feature_id: str | None = None,
    ) -> list[ColumnElement[bool]]:  # fmt: skip
        """The layer's rows a reader gets: in their scope, in ``bbox``, in ``area``, one id."""
        where = list(self.where)
        if actor is not None and not self.layer.public:
            where.append(within(self.code, actor.area_code))
        if bbox is not None:
            where.append(self.geometry.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
        if area:
            where.append(within(self.code, area))
        if feature_id is not None:
            if self.layer.source == Source.areas:
                where.append(self.id == feature_id)
            else:
                row_id = parse_row_id(feature_id)
                where.append(self.id == row_id if row_id is not None else false())
        return where

    def select(self, *extra: Any) -> Select:
        """SQL: the id, the property columns (in :attr:`columns` order), then ``extra``."""
        return select(self.id, *self.columns.values(), *extra)

    def values(self, row: Sequence[Any]) -> dict[str, Any]:
        """The property values of a row of :meth:`select`, by name."""
        return dict(zip(self.columns, row[1 : 1 + len(self.columns)], strict=True))


def layer_query(layer: Layer, *, lang: str = "zh") -> LayerQuery:
    """The SQL of a layer of places (areas of a level, a registry table)."""
    table: Any
    available: dict[str, Any]
    if layer.source == Source.areas:
        assert layer.level is not None
        label = func.coalesce(Area.name_en, Area.name) if lang == "en" else Area.name
        available = {"code": Area.code, "name": label}
        table, row_id, code, geometry = Area, Area.code, Area.code, Area.geom
        where = area_rows(layer.level)
    elif layer.source == Source.table:
        table = TABLES.get(layer.table or "")
        if table is None:
            raise InvalidInput(f"layer {layer.id}: no table {layer.table!r}")
        available = {n: getattr(table, n) for n in layer.properties if hasattr(table, n)}
        row_id, code, geometry = table.id, table.grid_code, table.location
        where = [table.grid_code.is_not(None)]  # rows outside every cell are in no area
    else:
        raise InvalidInput(f"layer {layer.id}: a {layer.source.value} layer is not of places")
    columns = {}
    for name in layer.properties:
        if name in available:
            columns[name] = available[name]
        elif not (layer.source == Source.areas and name in COUNTED):
            raise InvalidInput(f"layer {layer.id}: {table.__tablename__} has no {name}")
    return LayerQuery(layer, table, row_id, code, geometry, columns, tuple(where))


def feature_properties(layer: Layer, values: Mapping[str, Any]) -> dict[str, object]:
    """A feature's properties: the layer's declared names, from ``values``, masked.

    Enum members become their values; ID and mobile numbers typed into text are masked
    (:func:`gridmap.maps.layer.masked_properties`).
    """
    plain = {n: getattr(values.get(n), "value", values.get(n)) for n in layer.properties}
    return masked_properties(plain)


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


def counts_per_cell(actor: Actor, now: datetime, *where: Any) -> Select:
    """SQL: ``(grid_code, total, open, overdue, due_soon, closed)`` of what ``actor`` counts."""
    return (
        select(Incident.grid_code, *count_columns(now))
        .where(incident_filter(actor, aggregate=True), *where)
        .group_by(Incident.grid_code)
    )


def count_properties(code: str, name: str, counts: Sequence[int]) -> dict[str, object]:
    """The properties of an area's incident counts: code, name and the five counts."""
    return masked_properties({"code": code, "name": name, **dict(zip(COUNTS, counts, strict=True))})
