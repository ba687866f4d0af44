"""OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS for CGCS2000).

The collections are the layers declared in ``layers/`` (gridmap/maps/collections.py):
QGIS, GDAL's OAPIF driver and OWSLib read them unchanged. A bearer token, when sent,
is honoured like everywhere else; without one, the public layers only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api import ogc_html as html
from api.deps import CatalogueDep, MapDataDep, OptionalPrincipalDep, SessionDep
from api.media import GEOJSON, GeoJSONResponse
from api.problems import responses
from gridmap import timebounds
from gridmap.bbox import LON, parse_bbox
from gridmap.errors import InvalidInput
from gridmap.maps import collections as source

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], responses=responses(400, 404))
# a browser (Accept: text/html first) gets each document as a small page (api/ogc_html.py)
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "JSON, or a page to a browser"}
}

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
MAX_LIMIT = 1000
# what the parameters accept, stated in the document (the checks below refuse the rest)
CRS_CHOICE = {"enum": ["", CRS84, CGCS2000, "EPSG:4490"]}
_END = rf"({timebounds.ISO_INSTANT}|\.\.)?"
DATETIME = {"pattern": rf"^({timebounds.ISO_INSTANT}|{_END}/{_END})$"}
# in bbox-crs axis order (CGCS2000: latitude first), so each within ±180 here
BBOX = {"pattern": rf"^{LON}(,{LON}){{3}}$"}


def _root(request: Request) -> str:
    """Where clients reach the server (settings.base_url): never the Host header they sent."""
    root: str = request.app.state.settings.base_url
    return root


def _base(request: Request) -> str:
    return _root(request) + "/ogc"


def _here(request: Request, **params: Any) -> str:
    """The request's own URL at the public address, with ``params`` set."""
    url = request.url.include_query_params(**params) if params else request.url
    return _root(request) + url.path + (f"?{url.query}" if url.query else "")


@router.get("", responses=HTML)
def landing(request: Request) -> Any:
    """The landing page: what this service offers (a page to a browser)."""
    base = _base(request)
    doc = {
        "title": "gridmap",
        "description": "Grid cells, villages, townships, counties, buildings and work units "
        "(no personal data)",
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": "this document"},
            {"href": _root(request) + "/openapi.json", "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API"},
            {"href": base + "/conformance", "rel": "conformance", "type": "application/json",
             "title": "conformance classes"},
            {"href": base + "/collections", "rel": "data", "type": "application/json",
             "title": "the collections"},
        ],
    }  # fmt: skip
    return html.landing(doc) if html.wants_html(request) else doc


@router.get("/conformance")
def conformance() -> dict[str, Any]:
    """The conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


def _describe(request: Request, layer: Any, extent: list[float] | None) -> dict[str, Any]:
    base = _base(request) + f"/collections/{layer.id}"
    out: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title("zh"),
        "description": layer.title("en"),
        "itemType": "feature",
        "crs": [CRS84, CGCS2000],
        "storageCrs": CRS84,
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {"href": base + "/items", "rel": "items", "type": GEOJSON},
        ],
    }
    if extent:
        out["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return out


@router.get("/collections", responses={**responses(401), **HTML})
def list_collections(
    request: Request, session: SessionDep, principal: OptionalPrincipalDep,
    catalogue: CatalogueDep,
) -> Any:  # fmt: skip
    """The collections this reader may read."""
    role = principal.role if principal else None
    layers = source.collections(catalogue, role)
    extent = source.extent(session, layers[0]) if layers else None
    base = _base(request)
    doc = {
        "links": [{"href": base + "/collections", "rel": "self", "type": "application/json"}],
        "collections": [_describe(request, layer, extent) for layer in layers],
    }
    return html.collections(doc) if html.wants_html(request) else doc


@router.get("/collections/{collection_id}", responses={**responses(401), **HTML})
def read_collection(
    collection_id: Annotated[str, Path(max_length=50)], request: Request, session: SessionDep,
    principal: OptionalPrincipalDep, catalogue: CatalogueDep,
) -> Any:  # fmt: skip
    """One collection."""
    layer = source.collection(catalogue, collection_id, principal.role if principal else None)
    doc = _describe(request, layer, source.extent(session, layer))
    return html.collection(doc) if html.wants_html(request) else doc


def _crs(value: str | None, what: str) -> str:
    if value in (None, "", CRS84):
        return CRS84
    if value in (CGCS2000, "EPSG:4490"):
        return CGCS2000
    raise InvalidInput(f"{what} {value!r} is not offered: use {CRS84} or {CGCS2000}")


def _instant(value: str) -> datetime | None:
    if value in ("..", ""):
        return None
    moment = timebounds.parse_iso(value)
    if moment is None:
        raise InvalidInput(
            f"datetime {value!r} is not RFC 3339: write e.g. 2026-01-01T00:00:00Z, "
            "an interval 2026-01-01T00:00:00Z/2026-02-01T00:00:00Z, or '..' for open"
        )
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # RFC 3339 wants a zone
    return timebounds.check(moment, name="datetime", event=False)


def parse_interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """``datetime``: an instant, or ``start/end`` with ``..`` (or nothing) for an open end."""
    if value is None:
        return None, None
    if "/" not in value:
        moment = _instant(value)
        if moment is None:
            raise InvalidInput("datetime '..' alone is not an instant: give a date-time")
        return moment, moment
    start_text, _, end_text = value.partition("/")
    start, end = _instant(start_text), _instant(end_text)
    if start and end and end < start:
        raise InvalidInput(f"datetime {value!r} ends before it starts")
    return start, end


def _swap(coords: Any) -> Any:
    if isinstance(coords[0], (int, float)):
        return [coords[1], coords[0], *coords[2:]]
    return [_swap(c) for c in coords]


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses={**responses(401, 403), **HTML},
)
def read_items(
    collection_id: Annotated[str, Path(max_length=50)],
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    catalogue: CatalogueDep,
    cache: MapDataDep,
    bbox: Annotated[
        str | None, Query(description="minx,miny,maxx,maxy (bbox-crs)", json_schema_extra=BBOX)
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", json_schema_extra=CRS_CHOICE)] = None,
    crs: Annotated[str | None, Query(json_schema_extra=CRS_CHOICE)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=80,
            description="An instant or interval (RFC 3339; '..' open): on collections with time",
            json_schema_extra=DATETIME,
        ),
    ] = None,
) -> Response:
    """Features of a collection, a page at a time (``next`` links), GeoJSON."""
    layer = source.collection(catalogue, collection_id, principal.role if principal else None)
    interval = parse_interval(datetime_)
    out_crs, box_crs = _crs(crs, "crs"), _crs(bbox_crs, "bbox-crs")
    box = None
    if bbox:
        if box_crs == CGCS2000:  # latitude first: reorder to longitude first
            parts = bbox.split(",")
            bbox = ",".join(parts[i] for i in (1, 0, 3, 2)) if len(parts) == 4 else bbox
        box = parse_bbox(bbox)
    if source.is_counts(layer):
        assert principal is not None  # the counts collections need a token
        matched, features = source.count_items(
            session, layer, principal, now=datetime.now(UTC), bbox=box, limit=limit,
            offset=offset, interval=interval,
        )  # fmt: skip
    else:
        matched, features = source.items(
            session, layer, actor=principal, cache=cache, bbox=box, limit=limit, offset=offset
        )
    if out_crs == CGCS2000:  # EPSG:4490's axis order is latitude, longitude
        for f in features:
            f["geometry"]["coordinates"] = _swap(f["geometry"]["coordinates"])
    links = [{"href": _here(request), "rel": "self", "type": GEOJSON}]
    if offset + len(features) < matched:
        links.append({"href": _here(request, offset=offset + limit, limit=limit),
                      "rel": "next", "type": GEOJSON})  # fmt: skip
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    if html.wants_html(request):
        return html.items(collection_id, body)
    return GeoJSONResponse(body, headers={"Content-Crs": f"<{out_crs}>"})


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses={**responses(401, 403), **HTML},
)
def read_item(
    collection_id: Annotated[str, Path(max_length=50)],
    feature_id: Annotated[str, Path(max_length=30)],
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipalDep,
    catalogue: CatalogueDep,
    cache: MapDataDep,
    crs: Annotated[str | None, Query(json_schema_extra=CRS_CHOICE)] = None,
) -> Response:
    """One feature."""
    from gridmap.errors import NotFound

    layer = source.collection(catalogue, collection_id, principal.role if principal else None)
    out_crs = _crs(crs, "crs")
    if source.is_counts(layer):
        assert principal is not None
        _, features = source.count_items(
            session, layer, principal, now=datetime.now(UTC), bbox=None, limit=1, offset=0,
            feature_id=feature_id,
        )  # fmt: skip
    else:
        _, features = source.items(session, layer, actor=principal, cache=cache, bbox=None,
                                   limit=1, offset=0, feature_id=feature_id)  # fmt: skip
    if not features:
        raise NotFound(f"there is no feature {feature_id!r} in {collection_id}")
    feature = features[0]
    if out_crs == CGCS2000:
        feature["geometry"]["coordinates"] = _swap(feature["geometry"]["coordinates"])
    base = _base(request) + f"/collections/{collection_id}"
    feature["links"] = [
        {"href": _here(request), "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    if html.wants_html(request):
        return html.feature(feature)
    return GeoJSONResponse(feature, headers={"Content-Crs": f"<{out_crs}>"})
