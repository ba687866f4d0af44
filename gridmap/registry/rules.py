"""A valid person (人口): each rule written once, for every door a person comes in by.

The API's :class:`~gridmap.registry.schemas.PersonCreate` (a household's registration, a
person added to one, an offline edit) and the resident importer (which builds the same
schema from each row) check a person here, and the edits check the ID number again before
they write (:func:`check_id_number`), so a refusal reads the same whichever door it
comes from:

- **ID number** (公民身份号码, GB 11643-1999): 18 ASCII characters, 17 digits and a check
  character (0-9 or X; a lower-case x is taken as X and stored upper-case); the check
  character right (:func:`gridmap.registry.ids.valid_id_number`); digits 7–14 a real date
  between 1900-01-01 and today.
- **birth date**: the ID number's; one given must be the same date.
- **gender**: the ID number's 17th digit (odd: M, even: F); one given must agree.
- **name**: 1–50 characters, not only spaces; stored without the spaces around it.
- **phone**: :mod:`gridmap.phones` (people, work units and reporters share it).

Each ``…_refusal`` function answers why a value is refused — a phrase that follows the
field's name — or None. A refusal never shows a whole ID number: at most its masked form
(:func:`gridmap.privacy.mask`), whose hidden middle is the birth date, so that is never
shown either.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from gridmap.errors import InvalidInput
from gridmap.privacy import mask
from gridmap.registry.ids import valid_id_number

ID_PATTERN = r"^[0-9]{17}[0-9Xx]$"
"""The form of an ID number as a regular expression (JSON Schema's ``pattern``)."""
EARLIEST_BIRTH = date(1900, 1, 1)
NAME_LENGTH = 50

_ID_FORM = re.compile(r"[0-9]{17}[0-9X]")


def id_number_refusal(value: str, *, today: date | None = None) -> str | None:
    """Why ``value`` is no resident ID number, or None (a lower-case x is fine)."""
    id_number = value.upper()
    if not _ID_FORM.fullmatch(id_number):
        return (
            "must be 18 characters: 17 digits (0-9, not full-width) and a check character "
            "(0-9 or X)"
        )
    if not valid_id_number(id_number):
        return f"{mask(id_number, 'id_number')} has a wrong check digit: check the number"
    born = _birth_date(id_number)
    if born is None or not EARLIEST_BIRTH <= born <= (today or date.today()):
        return (
            f"{mask(id_number, 'id_number')} holds no birth date between "
            f"{EARLIEST_BIRTH.year} and today (its digits 7–14)"
        )
    return None


def _birth_date(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def birth_date_of(id_number: str) -> date:
    """The birth date an ID number holds (its digits 7–14); the number is a valid one."""
    born = _birth_date(id_number)
    assert born is not None, "birth_date_of needs a valid ID number"
    return born


def gender_of(id_number: str) -> Literal["M", "F"]:
    """The gender an ID number holds: its 17th digit, odd for men, even for women."""
    return "M" if int(id_number[16]) % 2 else "F"


def gender_refusal(given: str, id_number: str) -> str | None:
    """Why ``given`` cannot be the gender of the person ``id_number`` names, or None."""
    if given != gender_of(id_number):
        return "does not match the ID number (its 17th digit)"
    return None


def birth_date_refusal(given: date, id_number: str) -> str | None:
    """Why ``given`` cannot be the birth date of the person ``id_number`` names, or None."""
    if given != birth_date_of(id_number):
        return "does not match the ID number (its digits 7–14)"
    return None


def name_refusal(value: str) -> str | None:
    """Why ``value`` is no name, or None."""
    if len(value) > NAME_LENGTH:
        return f"is longer than {NAME_LENGTH} characters"
    if not value.strip():
        return "is empty: give the person's name"
    return None


def check_id_number(value: str, *, name: str = "id_number") -> str:
    """``value`` upper-cased, or InvalidInput naming ``name`` (the domain's check)."""
    reason = id_number_refusal(value)
    if reason:
        raise InvalidInput(f"{name}: {reason}")
    return value.upper()


def refuse(code: str, reason: str | None) -> None:
    """Raise ``reason`` as a pydantic error of type ``code`` (its words unchanged)."""
    if reason:
        raise PydanticCustomError(code, reason)


def reasons(exc: ValidationError) -> str:
    """A schema's refusal in words: each field's name and its reason, as the API lists them."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors()
    )


def _id_number(value: str) -> str:
    refuse("id_number", id_number_refusal(value))
    return value.upper()


def _name(value: str) -> str:
    refuse("name", name_refusal(value))
    return value.strip()


IdNumber = Annotated[
    str,
    AfterValidator(_id_number),
    Field(
        json_schema_extra={"pattern": ID_PATTERN},
        description="Resident ID number (GB 11643): 18 characters, the check character "
        "checked; a lower-case x is stored as X",
    ),
]
"""A resident ID number as a pydantic/FastAPI type: refused in the rule's words."""

PersonName = Annotated[
    str,
    AfterValidator(_name),
    Field(json_schema_extra={"minLength": 1, "maxLength": NAME_LENGTH}),
]
"""A person's name as a pydantic/FastAPI type: stored without the spaces around it."""
