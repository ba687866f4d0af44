"""Masking personal information (PIPL): what every response and export shows by default."""

from __future__ import annotations

import re
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


# Resident ID numbers (18 characters, GB 11643) and mainland mobile numbers typed into free
# text (descriptions, notes). Not part of a longer run of digits or letters, so incident
# codes, dates and building numbers are left alone.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def mask_text(value: str | None) -> str | None:
    """Free text with any ID number or mobile number in it masked like the fields are."""
    if not value:
        return value
    value = _ID_IN_TEXT.sub(lambda m: mask(m.group(0), "id_number") or "", value)
    return _PHONE_IN_TEXT.sub(lambda m: mask(m.group(0), "phone") or "", value)
