"""Media types the API answers with besides JSON, as response classes the document names."""

from __future__ import annotations

from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """GeoJSON (RFC 7946), sent and documented as ``application/geo+json``."""

    media_type = GEOJSON
