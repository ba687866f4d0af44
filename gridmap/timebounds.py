"""Time bounds: one rule for every date and time a person or a client sends.

Why it exists: PostgreSQL's ``timestamptz`` stores years up to 294276, Python's ``datetime``
stops at 9999. A deadline of ``9999-12-31T23:59:59-14:00`` is year 10000 in UTC: it was
stored, and every list, map, inbox and offline pack that read it back answered 500. A visit
dated 2100 was stored too, and its household dropped out of the visits due for 75 years.

So every time that comes in is checked against one window, at the edge (the pydantic
types below, used by the schemas and the query parameters, so the limits show in the
OpenAPI document) and again in the domain (:func:`check`, called by the services that
store a time, so an import or a command is bounded the same way):

- every time: a time zone, and not before :data:`EARLIEST`;
- an event (reported, visited, occurred): not after now + :data:`CLOCK_SKEW`;
- anything else (a deadline, a due date, a filter's ``since`` or ``end_date``): not more
  than :data:`HORIZON` ahead.

A time without a zone is refused here; the two standards ports that define a rule for one
(Open311: the city's time, OGC: UTC) apply that rule before the check.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from gridmap.errors import InvalidInput

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # gridmap holds nothing older
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock may run a little fast
HORIZON = timedelta(days=366)  # no deadline, due date or filter reaches further ahead
WINDOW_HELP = (
    f"a date-time with a time zone (e.g. 2026-03-01T09:30:00+08:00) from {EARLIEST:%Y-%m-%d}"
)


def refusal(value: datetime, *, event: bool, now: datetime | None = None) -> str | None:
    """Why ``value`` is refused (a phrase that follows its name), or None when it is fine.

    ``event``: the time something happened, which cannot lie in the future.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return "needs a time zone, e.g. 2026-03-01T09:30:00+08:00"
    if value < EARLIEST:
        return f"is before {EARLIEST:%Y-%m-%d}: check the date"
    now = now or datetime.now(UTC)
    if event and value > now + CLOCK_SKEW:
        return "is in the future: check the device's clock and time zone"
    if value > now + HORIZON:
        return f"is more than {HORIZON.days} days ahead: check the date"
    return None


def check(value: datetime, *, name: str, event: bool, now: datetime | None = None) -> datetime:
    """``value`` if it lies in the window, else InvalidInput naming ``name`` (the domain)."""
    reason = refusal(value, event=event, now=now)
    if reason:
        raise InvalidInput(f"{name} {reason} (got {value.isoformat()})")
    return value


def _moment(value: datetime) -> datetime:
    reason = refusal(value, event=False)
    if reason:
        raise ValueError(reason)
    return value


def _event(value: datetime) -> datetime:
    reason = refusal(value, event=True)
    if reason:
        raise ValueError(reason)
    return value


_LOWEST = {"formatMinimum": EARLIEST.isoformat().replace("+00:00", "Z")}

ISO_INSTANT = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?"
)
"""A date or date-time as the standards ports read one (Open311's ``start_date``, OGC's
``datetime``): ISO 8601 as :meth:`datetime.fromisoformat` reads it, the zone optional. The
OpenAPI document states it; what it cannot state is the calendar (a 31 February matches)."""
_ISO_INSTANT = re.compile(ISO_INSTANT)


def parse_iso(text: str) -> datetime | None:
    """``text`` as :data:`ISO_INSTANT` describes it, or None when it is not one."""
    if not _ISO_INSTANT.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a day the month does not have
        return None


Moment = Annotated[
    AwareDatetime,
    AfterValidator(_moment),
    Field(
        description=f"{WINDOW_HELP} to {HORIZON.days} days from now",
        json_schema_extra=_LOWEST,
    ),
]
"""A deadline, a due date or a filter's bound: from 2000-01-01 to a year ahead, zone required."""

EventTime = Annotated[
    AwareDatetime,
    AfterValidator(_event),
    Field(
        description=f"{WINDOW_HELP} to now (a phone's clock may be "
        f"{CLOCK_SKEW.seconds // 60} minutes fast)",
        json_schema_extra=_LOWEST,
    ),
]
"""When something happened: from 2000-01-01 to now (+ the clock skew), zone required."""
