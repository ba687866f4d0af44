"""Unit codes: the one place that knows how responsible units are named.

A governance centre (综治中心) is ``centre-<area code>`` at every level; a county bureau is
``<type>-<county code>``; a township office ``<type>-<township code>``; a police station
``police-<county code>-<nn>``. Routing, the workflow, the seed and the maps build codes
only through these functions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel

CENTRE = "centre"
_CENTRE_PREFIX = f"{CENTRE}-"


def centre_code(area_code: str) -> str:
    """The governance centre of an area (any level)."""
    return _CENTRE_PREFIX + area_code


def centre_of(code: str, level: AreaLevel) -> str:
    """The centre at ``level`` above the area (or grid cell) ``code``."""
    return centre_code(area_codes.ancestor(code, level))


def centre_codes(grid_codes: ArrayLike, level: AreaLevel) -> NDArray[np.str_]:
    """Vectorised :func:`centre_of` over grid codes."""
    return np.char.add(_CENTRE_PREFIX, area_codes.ancestor_array(np.asarray(grid_codes), level))


def is_centre(unit_code: str) -> bool:
    """True for a governance centre's code."""
    return unit_code.startswith(_CENTRE_PREFIX)


def area_of_centre(unit_code: str) -> str:
    """The area code a centre's code names."""
    if not is_centre(unit_code):
        raise ValueError(f"{unit_code} is not a governance centre")
    return unit_code[len(_CENTRE_PREFIX) :]


def bureau_code(kind: str, area_code: str) -> str:
    """A county bureau or township office of ``kind`` (labour-350503, justice-350503001)."""
    return f"{kind}-{area_code}"


def bureau_codes(kinds: ArrayLike, areas: ArrayLike) -> NDArray[np.str_]:
    """Vectorised :func:`bureau_code`."""
    return np.char.add(np.char.add(np.asarray(kinds).astype(str), "-"),
                       np.asarray(areas).astype(str))  # fmt: skip


def police_station_code(county_code: str, number: int) -> str:
    """The ``number``-th police station (派出所) of a county."""
    return f"police-{county_code}-{number:02d}"
