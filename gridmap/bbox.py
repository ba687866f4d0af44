"""Bounding boxes as query parameters: ``minlon,minlat,maxlon,maxlat`` (WGS84 degrees)."""

from __future__ import annotations

import math

from gridmap.errors import InvalidInput

BBox = tuple[float, float, float, float]
_FRACTION = r"(\.[0-9]{1,20})?"
LON = rf"-?(180(\.0{{1,20}})?|(1[0-7][0-9]|[1-9]?[0-9]){_FRACTION})"  # -180 … 180
LAT = rf"-?(90(\.0{{1,20}})?|[1-8]?[0-9]{_FRACTION})"  # -90 … 90
BBOX_PATTERN = rf"^{LON},{LAT},{LON},{LAT}$"  # the ranges in the OpenAPI document too
BBOX_HELP = "bbox is minlon,minlat,maxlon,maxlat in degrees, e.g. 118.5,24.8,118.7,25.0"


def parse_bbox(text: str) -> BBox:
    """Parse and check a bbox; anything malformed or out of range is InvalidInput (422)."""
    parts = text.split(",")
    if len(parts) != 4:
        raise InvalidInput(f"{BBOX_HELP}: got {len(parts)} values")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"{BBOX_HELP}: {text[:60]!r} has a value that is not a number") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidInput(f"{BBOX_HELP}: values must be finite numbers")
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise InvalidInput(f"{BBOX_HELP}: longitudes within ±180, latitudes within ±90")
    if not (x0 < x1 and y0 < y1):
        raise InvalidInput(f"{BBOX_HELP}: min must be below max")
    return x0, y0, x1, y1
