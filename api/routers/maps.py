"""Map data (layers, features, facets) and the map pages, all driven by ``layers/``.

The layers come from the app's catalogue (``CatalogueDep``), registered by ``create_app``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    CatalogueDep,
    MapDataDep,
    OptionalPrincipalDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from api.filters import FiltersDep
from api.media import GEOJSON
from api.params import AreaQuery, CellCode
from api.problems import responses
from gridmap.db.ids import RowId
from gridmap.errors import NotFound
from gridmap.incidents import queries
from gridmap.maps import pages
from gridmap.maps.features import View, features
from gridmap.maps.layer import Catalogue, Layer

router = APIRouter(tags=["maps"])
Lang = Literal["zh", "en"]
LayerId = Annotated[str, Path(max_length=40, pattern=r"^[a-z_]+$")]


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946), with members saying what was drawn."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    layer: str
    zoom: int
    numberReturned: int
    level: str | None = Field(default=None, description="county … grid, points, heat")
    truncated: bool | None = None


class LayerInfo(BaseModel):
    """A layer as a map draws it: title, style and legend, popup fields, zoom range."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    source: str
    geometry: str
    min_zoom: int
    max_zoom: int
    shown: bool
    style: dict[str, Any]
    popup: list[dict[str, Any]]
    aggregation: list[list[Any]] | None


class Facet(BaseModel):
    """How many incidents one value of a filter would show."""

    value: str
    label: str | None = None
    count: int


def _layer(catalogue: Catalogue, layer_id: str, principal: Any) -> Layer:
    layer = catalogue.get(layer_id)
    if layer is None or not layer.visible_to(principal.role if principal else None):
        raise NotFound(f"there is no layer {layer_id!r} you can read: see /api/v1/layers")
    return layer


@router.get("/api/v1/layers", response_model=list[LayerInfo], responses=responses(401))
def list_layers(
    principal: OptionalPrincipalDep,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    lang: Lang | None = None,
) -> list[dict[str, Any]]:
    """The layers this user may read (public ones without signing in), with legends."""
    lang = lang or settings.map_lang
    role = principal.role if principal else None
    return [dict(layer.describe(lang)) for layer in catalogue.values() if layer.visible_to(role)]


@router.get(
    "/api/v1/layers/{layer_id}/features",
    response_class=Response,
    responses={
        200: {
            "description": "GeoJSON features of the layer in view",
            "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}},
        },
        **responses(401, 403, 404, 409),
    },
)
def layer_features(
    layer_id: LayerId,
    session: SessionDep,
    cache: MapDataDep,
    principal: OptionalPrincipalDep,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    filters: FiltersDep,
    zoom: Annotated[int, Query(ge=0, le=22, description="Map zoom level")] = 12,
    lang: Lang | None = None,
    plan: Annotated[RowId | None, Query(description="plan layers")] = None,
    compare: Annotated[RowId | None, Query(description="plan layers")] = None,
    target: Annotated[int, Query(ge=1, le=100_000, description="households per cell")] = 400,
    display_crs: Annotated[
        Literal["wgs84", "gcj02"],
        Query(description="gcj02: coordinates shifted to sit on AMap/Tencent base maps"),
    ] = "wgs84",
) -> Response:
    """Features of a layer for a view: ``bbox``, ``zoom`` and the filters of ``/incidents``.

    Incidents are counted by county, township, village or grid cell when the view is far
    out (open, overdue, due soon, closed per area) and drawn as points only close in; never
    more than 5,000 features, never personal data. Scoped like ``/incidents``.
    """
    layer = _layer(catalogue, layer_id, principal)
    if display_crs != "wgs84" and filters.bbox is not None:
        # the page's view is in GCJ-02 (≤ 0.006° from WGS84 in China): widen the query box
        x0, y0, x1, y1 = filters.bbox
        filters = dataclasses.replace(filters, bbox=(x0 - 0.01, y0 - 0.01, x1 + 0.01, y1 + 0.01))
    view = View(
        bbox=filters.bbox, zoom=zoom, filters=filters, lang=lang or settings.map_lang,
        plan_id=plan, compare=compare, target=target, display_crs=display_crs,
    )  # fmt: skip
    body = features(
        session=session, layer=layer, view=view, actor=principal,
        cache=cache, now=datetime.now(UTC),
    )  # fmt: skip
    return Response(content=body, media_type=GEOJSON)


@router.get(
    "/api/v1/maps/facets", response_model=dict[str, list[Facet]], responses=responses(401, 403)
)
def facets(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    filters: FiltersDep,
    lang: Lang | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Counts per value of each filter (status, category, channel, unit, area).

    Each facet is counted with its own criterion dropped, so a filter panel can show how
    many incidents every choice would give.
    """
    return queries.facets(
        session=session, actor=principal, now=datetime.now(UTC), filters=filters,
        lang=lang or settings.map_lang,
    )  # fmt: skip


# -- pages -------------------------------------------------------------------------------------

PAGE = {"response_class": HTMLResponse, "include_in_schema": False}


@router.get("/maps/dispatch", **PAGE)  # type: ignore[arg-type]
def dispatch_page(
    settings: SettingsDep, catalogue: CatalogueDep, lang: Lang | None = None
) -> HTMLResponse:
    """The dispatcher's map (sign-in happens in the page; the data comes from the API)."""
    return HTMLResponse(
        pages.dispatch(settings=settings, catalogue=catalogue, lang=lang or settings.map_lang)
    )


@router.get("/maps/studio", **PAGE)  # type: ignore[arg-type]
def studio_page(settings: SettingsDep, lang: Lang | None = None) -> HTMLResponse:
    """The planner's studio: draft, compare and publish grid plans (data from the API)."""
    return HTMLResponse(pages.studio(settings=settings, lang=lang or settings.map_lang))


@router.get("/maps/grid/{code}", **PAGE)  # type: ignore[arg-type]
def grid_page(
    code: CellCode,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    lang: Lang | None = None,
) -> HTMLResponse:
    """A grid worker's cell, for a phone screen."""
    return HTMLResponse(
        pages.grid(settings=settings, catalogue=catalogue, code=code,
                   lang=lang or settings.map_lang)
    )  # fmt: skip


@router.get("/maps/plans/{plan_id}", **PAGE)  # type: ignore[arg-type]
def plan_page(
    plan_id: Annotated[RowId, Path()],
    settings: SettingsDep,
    catalogue: CatalogueDep,
    compare: Annotated[RowId | None, Query()] = None,
    target: Annotated[int, Query(ge=1, le=100_000)] = 400,
    lang: Lang | None = None,
    area: AreaQuery = None,
) -> HTMLResponse:
    """Two plans side by side, cells shaded by their deviation from the target load.

    ``area`` (a county, township or village): only its cells, fitted and simplified for the
    zoom they are seen at — a county's comparison opens in seconds the first time.
    """
    return HTMLResponse(
        pages.plan(
            settings=settings,
            catalogue=catalogue,
            plan_id=plan_id,
            compare=compare,
            target=target,
            lang=lang or settings.map_lang,
            area=area,
        )
    )


@router.get("/field", **PAGE)  # type: ignore[arg-type]
def field_redirect(lang: Lang | None = None) -> RedirectResponse:
    """The app lives under /field/, the scope of its service worker."""
    return RedirectResponse(pages.FIELD_SCOPE + (f"?lang={lang}" if lang else ""), status_code=308)


@router.get(pages.FIELD_SCOPE, **PAGE)  # type: ignore[arg-type]
def field_page(settings: SettingsDep, lang: Lang | None = None) -> HTMLResponse:
    """The grid worker's phone app (sign-in happens in the page; it works offline)."""
    return HTMLResponse(pages.field_app(lang=lang or settings.map_lang))


@router.get(pages.FIELD_SCOPE + "manifest.webmanifest", include_in_schema=False)
def field_manifest(settings: SettingsDep, lang: Lang | None = None) -> JSONResponse:
    """The app's web manifest (installable on a phone's home screen)."""
    return JSONResponse(
        pages.field_manifest(lang=lang or settings.map_lang),
        media_type="application/manifest+json",
    )


@router.get(pages.FIELD_SCOPE + "sw.js", include_in_schema=False)
def field_service_worker() -> Response:
    """The app's service worker, served from the app's scope so it controls the app."""
    return Response(
        pages.field_worker(),
        media_type="text/javascript",
        # its own policy: the API's (default-src 'none') would forbid the worker any fetch
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": pages.FIELD_WORKER_CSP},
    )
