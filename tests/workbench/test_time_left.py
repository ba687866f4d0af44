"""Time left on the working-day calendar (issue 26): a column and a sort of the work queue."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridmap.calendar import CHINA_TZ, WorkingCalendar
from gridmap.incidents.models import Incident
from tests.world import report

# 2025-01-06 is a Monday; Saturday 11th is a makeup working day, Monday 13th a holiday
DAYS = ["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-09", "2025-01-10", "2025-01-11",
        "2025-01-14"]  # fmt: skip
CAL = WorkingCalendar(np.array(DAYS, dtype="datetime64[D]"))


def china(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (china(9, 16, 30), china(10, 23, 59), 10.0),  # Thursday's last hour and all of Friday
        (china(9, 10), china(9, 12, 30), 2.5),  # within one morning
        (china(9, 7), china(9, 8, 30), 0.0),  # before the office opens
        (china(10, 17), china(14, 9, 30), 0.5 + 9 + 1),  # the makeup Saturday, not the holiday
        (china(12, 10), china(13, 23), 0.0),  # Sunday to the holiday
        (china(10, 23, 59), china(9, 16, 30), -10.0),  # past the deadline: negative
    ],
)
def test_working_hours_count_office_time_on_working_days(start, end, hours):
    assert CAL.working_hours(start, end) == pytest.approx(hours)


def test_working_hours_outside_the_calendar_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="does not cover"):
        CAL.working_hours(china(9, 10), datetime(2025, 2, 3, tzinfo=UTC))


def test_time_left_is_the_overdue_rule_and_sorts_on_the_server(client, world, session):
    made = [report(client, world, description=f"time left {n}") for n in range(3)]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    wages, noise, under = (r.json()["code"] for r in made)
    now = datetime.now(UTC)
    due = {wages: now - timedelta(days=2), noise: now + timedelta(days=9),
           under: now + timedelta(days=3)}  # fmt: skip
    for incident in session.query(Incident).filter(Incident.code.in_(list(due))):
        incident.resolve_due_at = due[incident.code]
        incident.sign_due_at = None  # the resolution deadline alone runs
    session.flush()
    for direction, expected in (("", [wages, under, noise]), ("-", [noise, under, wages])):
        r = client.get("/api/v1/incidents", params={"sort": direction + "time_left"},
                       headers=world.auth("t1"))  # fmt: skip
        assert r.status_code == 200, r.text
        items = [i for i in r.json()["items"] if i["code"] in due]
        assert [i["code"] for i in items] == expected
        for i in items:  # negative exactly when the overdue flag says so
            assert (i["time_left_hours"] < 0) == i["overdue"], i
    left = {i["code"]: i["time_left_hours"] for i in items}
    calendar = WorkingCalendar.configured(None)
    assert left[under] == pytest.approx(calendar.working_hours(now, due[under]), abs=0.1)
