"""Masking personal information (PIPL): what every response and export shows by default."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray


def _masked(values: ArrayLike, keep_head: int, stars: str, keep_tail: int) -> NDArray[np.object_]:
    s = pd.Series(np.asarray(values, dtype=object))
    tail = s.str[-keep_tail:] if keep_tail else ""
    masked = s.str[:keep_head] + stars + tail
    return masked.where(s.notna(), None).to_numpy(dtype=object)


def mask_id_number(values: ArrayLike) -> NDArray[np.object_]:
    """Keep the region code and the last four characters: ``350503********123X``."""
    return _masked(values, 6, "********", 4)


def mask_phone(values: ArrayLike) -> NDArray[np.object_]:
    """Keep the carrier prefix and the last four digits: ``138****5678``."""
    return _masked(values, 3, "****", 4)


def mask_name(values: ArrayLike) -> NDArray[np.object_]:
    """Keep the surname: ``陈**`` (given names are one or two characters)."""
    return _masked(values, 1, "**", 0)
