"""Masking personal information (PIPL): what every response and export shows by default."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

Kind = Literal["id_number", "phone", "name"]
# characters kept at the start, the stars in between, characters kept at the end
RULES: dict[Kind, tuple[int, str, int]] = {
    "id_number": (6, "********", 4),  # region code … last four: 350503********123X
    "phone": (3, "****", 4),  # carrier prefix … last four: 138****5678
    "name": (1, "**", 0),  # the surname: 陈**
}


def mask(value: str | None, kind: Kind) -> str | None:
    """One value, masked."""
    if value is None:
        return None
    head, stars, tail = RULES[kind]
    return value[:head] + stars + (value[-tail:] if tail else "")


def mask_array(values: ArrayLike, kind: Kind) -> NDArray[np.object_]:
    """Many values, masked (vectorised; None stays None)."""
    head, stars, tail = RULES[kind]
    s = pd.Series(np.asarray(values, dtype=object))
    masked = (s.str[:head] + stars + (s.str[-tail:] if tail else "")).to_numpy(dtype=object)
    masked[s.isna().to_numpy()] = None
    return masked
