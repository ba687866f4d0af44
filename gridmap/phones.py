r"""Phone numbers (联系电话): one rule for every phone number a person or a client gives.

A person's phone, a work unit's contact, a reporter's number: each is checked by
:func:`refusal`, through the pydantic type :data:`Phone` at the edge (so the pattern shows
in the OpenAPI document) and by the same function wherever a number arrives another way.

- a mainland mobile number: 11 digits in a segment from 13 to 19 (号段; ``10``–``12`` are
  no mobile segments, so ``12012345678`` is a typo, not a phone);
- a landline: 0, the rest of the area code (2–3 digits) and 7–8 digits, with or without a
  dash (``0595-22345678``);
- ASCII digits only (``\d`` would also take full-width ``１３８``).

The free-text masker (:func:`gridmap.privacy.mask_text`) hides more than this on purpose:
every 11-digit number starting with 1 typed into a note, whether this rule takes it or not.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from gridmap.privacy import mask

MOBILE = r"1[3-9][0-9]{9}"
LANDLINE = r"0[0-9]{2,3}-?[0-9]{7,8}"
PATTERN = rf"^(?:{MOBILE}|{LANDLINE})$"
"""The whole rule as a regular expression (JSON Schema's ``pattern``)."""

_NUMBER = re.compile(rf"{MOBILE}|{LANDLINE}")


def refusal(value: str) -> str | None:
    """Why ``value`` is no phone number (a phrase that follows the field's name), or None.

    The number is shown masked, as everywhere (138****5678).
    """
    if _NUMBER.fullmatch(value):
        return None
    return (
        f"{mask(value, 'phone')} is not a mainland mobile number (11 digits from 13 to 19) "
        "or a landline (0 and the area code, e.g. 0595-22345678)"
    )


def _validate(value: str) -> str:
    reason = refusal(value)
    if reason:
        raise PydanticCustomError("phone", reason)
    return value


Phone = Annotated[
    str,
    AfterValidator(_validate),
    Field(json_schema_extra={"pattern": PATTERN}, description="A mobile or landline number"),
]
"""A phone number as a pydantic/FastAPI type (the rule's message, the rule's pattern)."""
