"""Check characters: resident ID numbers (GB 11643), credit codes (GB 32100, GB 11714)."""

from __future__ import annotations

import numpy as np

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


def id_check_digit(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for an array of 17-digit strings."""
    digits = np.frombuffer("".join(first17).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    return ID_CHECK[(digits.astype(np.int64) @ ID_WEIGHTS) % 11]


def valid_id_number(number: str) -> bool:
    """True if ``number`` is an 18-character resident ID with a correct check character.

    ASCII digits only: ``str.isdigit`` also takes full-width ones (３５０…).
    """
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    return bool(id_check_digit(np.array([number[:17]]))[0] == number[17])


# Unified social credit codes (GB 32100-2015): 18 characters from 31 (no I, O, S, V, Z); the
# last is a check character over the first 17, weights 3^(i) mod 31.
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)])
# the organisation code inside it (GB 11714, characters 9–17): 8 characters and a check
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _values(codes: np.ndarray, width: int) -> np.ndarray:
    """Each character's value in ``CREDIT_CHARS`` (GB 11714 reads letters the same way)."""
    table = np.full(128, -1, dtype=np.int64)
    for v, c in enumerate(CREDIT_CHARS):
        table[ord(c)] = v
    raw = np.frombuffer("".join(codes).encode(), dtype=np.uint8).reshape(-1, width)
    return table[raw]


def org_check_char(first8: np.ndarray) -> np.ndarray:
    """GB 11714 check characters (0–9 or X) of 8-character organisation code bodies."""
    c = (11 - (_values(np.asarray(first8), 8) @ ORG_WEIGHTS) % 11) % 11
    return np.where(c == 10, "X", c.astype(str))


def credit_check_char(first17: np.ndarray) -> np.ndarray:
    """GB 32100 check characters for an array of 17-character credit code bodies."""
    v = (31 - (_values(np.asarray(first17), 17) @ CREDIT_WEIGHTS) % 31) % 31
    return np.array(list(CREDIT_CHARS))[v]


def valid_credit_code(code: str) -> bool:
    """True if ``code`` is a unified social credit code with correct check characters."""
    if len(code) != 18 or any(c not in CREDIT_CHARS for c in code):
        return False
    org_ok = org_check_char(np.array([code[8:16]]))[0] == code[16]
    return bool(org_ok and credit_check_char(np.array([code[:17]]))[0] == code[17])
