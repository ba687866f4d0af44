"""Area codes: the one place that knows how wide each level's code is and how codes nest.

Codes follow GB/T 2260 and the statistical division codes: county 6 digits (350583),
township 9 (350583101), village 12 (350583101201), grid 15 (350583101201003). A city code
is also 6 digits but ends in ``00`` (350500): its counties share only its first four
digits, so "everything in the city" is the prefix ``3505``, not ``350500``. Every other
code is the prefix of all its descendants.

Everything else in gridmap — scope, queries, routing, the seed, the maps — asks this
module instead of typing widths.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmap.areas.levels import AreaLevel

# Code length per level (GB/T 2260 and the statistical division codes).
CODE_LENGTH: dict[AreaLevel, int] = {
    AreaLevel.city: 6,
    AreaLevel.county: 6,
    AreaLevel.township: 9,
    AreaLevel.village: 12,
    AreaLevel.grid: 15,
}
# The levels above a grid cell whose codes are prefixes of the cell's code, nearest first.
ANCESTOR_LEVELS = (AreaLevel.village, AreaLevel.township, AreaLevel.county)
CODE_PATTERN = re.compile(r"^(\d{6}|\d{9}|\d{12}|\d{15})$")
CELL_PATTERN = re.compile(r"^\d{15}$")
CHILD_WIDTH = 3  # a township, village or cell adds three digits to its parent's code


def level_of(code: str) -> AreaLevel:
    """The level a code names; a 6-digit code ending in ``00`` is a city.

    Raises
    ------
    ValueError
        If ``code`` is not 6, 9, 12 or 15 digits.
    """
    if not CODE_PATTERN.match(code):
        raise ValueError(f"{code!r} is not an area code: 6, 9, 12 or 15 digits")
    if len(code) == 6:
        return AreaLevel.city if code.endswith("00") else AreaLevel.county
    return next(lvl for lvl, n in CODE_LENGTH.items() if n == len(code) and n != 6)


def is_area_code(code: str) -> bool:
    """True if ``code`` has the shape of an area code."""
    return bool(CODE_PATTERN.match(code))


def prefix(code: str) -> str:
    """The prefix every descendant's code starts with (a city's is its first four digits)."""
    if len(code) == 6 and code.endswith("00"):
        return code[:4]
    return code


def like(code: str) -> str:
    """The SQL ``LIKE`` pattern matching ``code`` and every code inside it (a city's too)."""
    return prefix(code) + "%"


def child(parent: str, number: int) -> str:
    """The code of ``parent``'s ``number``-th child one level down.

    ``child("350503001", 3)`` is ``"350503001003"``.

    Counties are not numbered under their city (their codes are national), so a city has
    no ``child``.
    """
    if level_of(parent) in (AreaLevel.city, AreaLevel.grid):
        raise ValueError(f"{parent} has no numbered children")
    if not 1 <= number < 10**CHILD_WIDTH:
        raise ValueError(f"child number {number} does not fit in {CHILD_WIDTH} digits")
    return f"{parent}{number:0{CHILD_WIDTH}d}"


def contains(outer: str, inner: str | None) -> bool:
    """True if the area ``inner`` lies in (or is) the area ``outer``."""
    if inner is None:
        return False
    if outer == inner:
        return True
    return inner.startswith(prefix(outer)) and len(inner) >= len(outer)


def city_of(code: str) -> str:
    """The city code of any code (its first four digits and ``00``)."""
    return code[:4] + "00"


def ancestor(code: str, level: AreaLevel) -> str:
    """The code of the area at ``level`` that contains ``code``."""
    if level == AreaLevel.city:
        return city_of(code)
    width = CODE_LENGTH[level]
    if len(code) < width:
        raise ValueError(f"{code} is above the {level.value} level: it has no {level.value}")
    return code[:width]


def ancestors(code: str) -> list[str]:
    """The codes of every area containing ``code``, nearest first, the city last."""
    out = [code[: CODE_LENGTH[lvl]] for lvl in ANCESTOR_LEVELS if CODE_LENGTH[lvl] < len(code)]
    city = city_of(code)
    if city != code:
        out.append(city)
    return out


def parent_code(code: str) -> str | None:
    """The code of the parent area, or None for a city."""
    up = ancestors(code)
    return up[0] if up else None


def ancestor_array(codes: NDArray[np.str_], level: AreaLevel) -> NDArray[np.str_]:
    """Vectorised :func:`ancestor` for an array of grid (or lower-level) codes."""
    codes = np.asarray(codes).astype(str)
    if level == AreaLevel.city:
        return np.char.add(codes.astype("U4"), "00")
    return codes.astype(f"U{CODE_LENGTH[level]}")


def ancestor_series(codes: pd.Series, level: AreaLevel) -> pd.Series:
    """:func:`ancestor` for a pandas Series of codes (missing codes stay missing)."""
    if level == AreaLevel.city:
        return codes.str[:4] + "00"
    return codes.str[: CODE_LENGTH[level]]


def sql_width(level: AreaLevel) -> int:
    """How many leading characters of a grid code name its ``level`` (not for the city)."""
    if level == AreaLevel.city:
        raise ValueError("a city is not a prefix of a grid code: use prefix()")
    return CODE_LENGTH[level]
