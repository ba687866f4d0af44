"""The one time window (gridmap/timebounds.py): its edges, and the same answer from the
pydantic types (the edge) and from ``check`` (the domain)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from gridmap.errors import InvalidInput
from gridmap.timebounds import (
    CLOCK_SKEW,
    EARLIEST,
    HORIZON,
    EventTime,
    Moment,
    check,
    refusal,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("value", "event", "refused"),
    [
        (EARLIEST, True, False),
        (EARLIEST - SECOND, False, True),
        (NOW + CLOCK_SKEW, True, False),
        (NOW + CLOCK_SKEW + SECOND, True, True),
        (NOW + HORIZON, False, False),
        (NOW + HORIZON + SECOND, False, True),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), False, True),
        (datetime(1, 1, 1, tzinfo=UTC), True, True),
        (datetime(2026, 1, 1), False, True),  # no time zone
    ],
)
def test_the_window_edges(value, event, refused):
    assert (refusal(value, event=event, now=NOW) is not None) == refused


def test_year_10000_in_utc_is_refused_without_overflowing():
    """9999-12-31T23:59:59-14:00 is 10000-01-01 in UTC, past what Python can hold."""
    late = datetime.fromisoformat("9999-12-31T23:59:59-14:00")
    assert "ahead" in (refusal(late, event=False) or "")
    with pytest.raises(InvalidInput, match="deadline is more than 366 days ahead"):
        check(late, name="deadline", event=False)


@pytest.mark.parametrize("kind", [Moment, EventTime])
@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "1999-12-31T23:59:59+08:00",
     "2026-01-01T00:00:00", "2100-01-01T00:00:00+08:00"],
)  # fmt: skip
def test_the_edge_and_the_domain_agree(kind, text):
    """The pydantic type refuses exactly what the domain's check refuses."""
    event = kind is EventTime
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(text)
    parsed = datetime.fromisoformat(text)
    with pytest.raises(InvalidInput):
        check(parsed, name="t", event=event)


def test_an_hour_ago_passes_both():
    text = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for kind, event in ((Moment, False), (EventTime, True)):
        value = TypeAdapter(kind).validate_python(text)
        assert check(value, name="t", event=event) == value


def test_the_static_bound_is_in_the_json_schema():
    schema = TypeAdapter(Moment).json_schema()
    assert schema["formatMinimum"] == "2000-01-01T00:00:00Z"
    assert "366 days" in schema["description"]
