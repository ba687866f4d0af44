"""Coordinates from Chinese phones and maps: WGS84/CGCS2000, GCJ-02 and BD-09.

GCJ-02 (国测局坐标, used by AMap/Tencent) is WGS84 shifted by a published, non-linear
obfuscation; BD-09 (Baidu) is GCJ-02 shifted again. The forward formulas are the widely
published ones (Krasovsky ellipsoid constants, as in the leaked reference code); GCJ-02 →
WGS84 has no closed form and is solved by fixed-point iteration to below a millimetre.
Points outside China pass through unchanged, exactly as the published algorithm does.

CGCS2000 (EPSG:4490) and WGS84 differ by centimetres, far below the accuracy of any phone
fix, so gridmap treats CGCS2000 input as WGS84 (documented in docs/decisions.md).

Every function takes scalars or numpy arrays (any shape) and returns the same.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as in the published algorithm
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_GCJ_TOLERANCE_DEG = 1e-10  # ~0.01 mm: the iteration stops below this step
_GCJ_MAX_ITER = 30

Floats = NDArray[np.float64]
Converter = Callable[[Floats, Floats], tuple[Floats, Floats]]


class CRS(enum.StrEnum):
    """A coordinate reference system a location may arrive in."""

    wgs84 = "wgs84"
    cgcs2000 = "cgcs2000"
    gcj02 = "gcj02"
    bd09 = "bd09"


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """The published bounding box outside which GCJ-02 applies no shift."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon_a < 72.004) | (lon_a > 137.8347) | (lat_a < 0.8293) | (lat_a > 55.8271)


def _gcj_delta(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    """The GCJ-02 offset (degrees) at a WGS84 position."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _wgs84_to_gcj02(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    d_lon, d_lat = _gcj_delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + d_lon), np.where(outside, lat, lat + d_lat)


def _gcj02_to_wgs84(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    # Fixed point of wgs = gcj - delta(wgs); the shift varies slowly, so it converges in a
    # handful of steps everywhere in China.
    w_lon, w_lat = lon.copy(), lat.copy()
    for _ in range(_GCJ_MAX_ITER):
        g_lon, g_lat = _wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if np.all(np.abs(e_lon) < _GCJ_TOLERANCE_DEG) and np.all(
            np.abs(e_lat) < _GCJ_TOLERANCE_DEG
        ):
            break
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, w_lon), np.where(outside, lat, w_lat)


def _gcj02_to_bd09(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _identity(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    return lon, lat


_TO_WGS84: dict[CRS, Converter] = {
    CRS.wgs84: _identity,
    CRS.cgcs2000: _identity,
    CRS.gcj02: _gcj02_to_wgs84,
    CRS.bd09: lambda lon, lat: _gcj02_to_wgs84(*_bd09_to_gcj02(lon, lat)),
}
_FROM_WGS84: dict[CRS, Converter] = {
    CRS.wgs84: _identity,
    CRS.cgcs2000: _identity,
    CRS.gcj02: _wgs84_to_gcj02,
    CRS.bd09: lambda lon, lat: _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat)),
}


@overload
def to_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]: ...
@overload
def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRS | str) -> tuple[Floats, Floats]: ...
def to_wgs84(
    lon: ArrayLike, lat: ArrayLike, crs: CRS | str
) -> tuple[Floats | float, Floats | float]:
    """Convert lon/lat from ``crs`` to WGS84.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees, in ``crs``.
    crs : CRS or str
        One of ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``.

    Returns
    -------
    (lon, lat) in WGS84, floats for scalar input, arrays of the input's shape otherwise.
    """
    return _apply(_TO_WGS84, lon, lat, crs)


@overload
def from_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]: ...
@overload
def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRS | str) -> tuple[Floats, Floats]: ...
def from_wgs84(
    lon: ArrayLike, lat: ArrayLike, crs: CRS | str
) -> tuple[Floats | float, Floats | float]:
    """Convert WGS84 lon/lat to ``crs`` (the inverse of :func:`to_wgs84`)."""
    return _apply(_FROM_WGS84, lon, lat, crs)


def _apply(
    table: Mapping[CRS, Converter], lon: ArrayLike, lat: ArrayLike, crs: CRS | str
) -> tuple[Floats | float, Floats | float]:
    try:
        func = table[CRS(crs)]
    except ValueError:
        allowed = ", ".join(c.value for c in CRS)
        raise ValueError(f"unknown crs {crs!r}: use one of {allowed}") from None
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    out_lon, out_lat = func(lon_a, lat_a)
    if lon_a.ndim == 0:
        return float(out_lon), float(out_lat)
    return np.asarray(out_lon, dtype=float), np.asarray(out_lat, dtype=float)


def to_wgs84_checked(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """One point to WGS84, refusing (InvalidInput) what does not convert to a real position.

    BD-09 and GCJ-02 are defined for China; near the poles their formulas push a point past
    ±90° or give no number at all.
    """
    from gridmap.errors import InvalidInput

    name = CRS(crs).value
    x, y = to_wgs84(lon, lat, name)
    if not (np.isfinite(x) and np.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise InvalidInput(
            f"({lon}, {lat}) in {name} does not convert to a position on Earth: {name} "
            "coordinates are meaningful only in and around China"
        )
    return float(x), float(y)
