"""Resident ID numbers (GB 11643): 17 digits and a check character."""

from __future__ import annotations

import numpy as np

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


def id_check_digit(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for an array of 17-digit strings."""
    digits = np.frombuffer("".join(first17).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    return ID_CHECK[(digits.astype(np.int64) @ ID_WEIGHTS) % 11]


def valid_id_number(number: str) -> bool:
    """True if ``number`` is an 18-character resident ID with a correct check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return bool(id_check_digit(np.array([number[:17]]))[0] == number[17])
