"""Reminders (提醒): made at the right working-day moments, told to the right units, read
and unread per person, and streamed over a real HTTP server as server-sent events."""

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap.calendar import CHINA_TZ, WorkingCalendar
from gridmap.db import migrate
from gridmap.db.session import make_engine
from gridmap.incidents import reminders
from gridmap.incidents.models import Incident, Notification
from tests.helpers import assert_problem
from tests.pages.conftest import serve
from tests.world import COUNTY, T1, V1, act, build_world, report

CALENDAR = WorkingCalendar.chinese(2025, 2027)
LABOUR, VILLAGE, TOWNSHIP = f"labour-{COUNTY}", f"centre-{V1}", f"centre-{T1}"


def china(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


def made(session, code: str) -> set[tuple[str, str, datetime]]:
    """(unit code, kind, moment) of the notifications of incident ``code``."""
    from gridmap.units.models import Department

    rows = session.execute(
        select(Department.code, Notification.kind, Notification.at)
        .join(Department, Department.id == Notification.unit_id)
        .join(Incident, Incident.id == Notification.incident_id)
        .where(Incident.code == code)
    )
    return {(u, k, at.astimezone(CHINA_TZ)) for u, k, at in rows}


def set_deadlines(session, code: str, **values) -> None:
    session.execute(update(Incident).where(Incident.code == code).values(**values))


def test_due_soon_arises_at_the_opening_of_the_last_working_day(client, world, session):
    """Due on Monday 2026-12-14 (end of day): nothing on Friday evening or over the weekend,
    due soon from Monday 08:30; a deadline at 08:00 Monday is due soon from Friday 08:30."""
    code = report(client, world).json()["code"]
    set_deadlines(session, code, sign_due_at=None, resolve_due_at=china("2026-12-14T23:59:59"))
    for moment in ("2026-12-11T17:00", "2026-12-13T12:00", "2026-12-14T08:29"):
        reminders.sweep(session, china(moment), CALENDAR)
        assert made(session, code) == set(), moment
    reminders.sweep(session, china("2026-12-14T08:31"), CALENDAR)
    assert made(session, code) == {(LABOUR, "due_soon", china("2026-12-14T08:30"))}

    other = report(client, world).json()["code"]
    set_deadlines(session, other, sign_due_at=None, resolve_due_at=china("2026-12-14T08:00"))
    reminders.sweep(session, china("2026-12-11T08:29"), CALENDAR)
    assert made(session, other) == set()
    reminders.sweep(session, china("2026-12-11T09:00"), CALENDAR)
    assert made(session, other) == {(LABOUR, "due_soon", china("2026-12-11T08:30"))}


def test_the_last_working_day_skips_a_holiday_break_and_counts_a_makeup_day():
    """A hand-made calendar: 30 Sep, then the break, back on 8 Oct, Saturday 10 Oct worked."""
    days = ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12"]
    calendar = WorkingCalendar(np.array(days, dtype="datetime64[D]"))
    assert calendar.opening_before(china("2026-10-08T08:00")) == china("2026-09-30T08:30")
    assert calendar.opening_before(china("2026-10-08T23:59:59")) == china("2026-10-08T08:30")
    assert calendar.opening_before(china("2026-10-11T23:59:59")) == china("2026-10-10T08:30")
    assert calendar.opening_before(china("2026-10-12T08:30")) == china("2026-10-10T08:30")
    with pytest.raises(ValueError, match="extend it"):
        calendar.opening_before(china("2026-09-30T08:00"))


def test_overdue_tells_the_holder_and_the_centre_that_dispatches_it(client, world, session):
    """A department's overdue case is the village centre's too (the incident is handled at
    village level); a centre's overdue case is its own only. Once per deadline."""
    code = report(client, world).json()["code"]  # labour: the bureau holds it, unsigned
    sign_due = china("2026-12-10T23:59:59")
    set_deadlines(session, code, sign_due_at=sign_due, resolve_due_at=china("2026-12-30T23:59:59"))
    reminders.sweep(session, china("2026-12-10T23:00"), CALENDAR)
    assert made(session, code) == set()
    assert reminders.sweep(session, china("2026-12-11T00:00:01"), CALENDAR) >= 2
    assert made(session, code) == {(LABOUR, "overdue", sign_due), (VILLAGE, "overdue", sign_due)}
    # swept again: nothing new
    before = session.scalar(select(func.count()).select_from(Notification))
    reminders.sweep(session, china("2026-12-11T09:00"), CALENDAR)
    assert session.scalar(select(func.count()).select_from(Notification)) == before

    held = report(client, world, category="neighbour").json()  # 属地: the township centre
    assert held["unit_code"] == TOWNSHIP
    due = china("2026-12-10T23:59:59")
    set_deadlines(session, held["code"], sign_due_at=due, resolve_due_at=due)
    reminders.sweep(session, china("2026-12-11T08:00"), CALENDAR)
    assert made(session, held["code"]) == {(TOWNSHIP, "overdue", due)}  # one deadline passed


def test_a_moved_deadline_is_a_new_reminder_and_a_closed_case_makes_none(client, world, session):
    code = report(client, world).json()["code"]
    set_deadlines(session, code, sign_due_at=None, resolve_due_at=china("2026-12-14T23:59:59"))
    reminders.sweep(session, china("2026-12-15T00:00:01"), CALENDAR)
    assert {k for _, k, _ in made(session, code)} == {"overdue"}
    set_deadlines(session, code, resolve_due_at=china("2026-12-18T23:59:59"))  # supervised anew
    reminders.sweep(session, china("2026-12-18T09:00"), CALENDAR)
    assert (LABOUR, "due_soon", china("2026-12-18T08:30")) in made(session, code)
    closed = report(client, world).json()["code"]
    set_deadlines(session, closed, status="closed", resolve_due_at=china("2026-12-14T23:59:59"))
    reminders.sweep(session, china("2026-12-20T09:00"), CALENDAR)
    assert made(session, closed) == set()


def test_supervision_whistle_late_check_in_and_return_reach_their_units(client, world, session):
    code = report(client, world).json()["code"]
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = act(client, world, "county", code, "supervise", 1, note="三日内化解", deadline=deadline)
    assert r.status_code == 200, r.text
    r = act(client, world, "t1", code, "whistle", 2, summoned=[f"housing-{COUNTY}"])
    assert r.status_code == 200, r.text
    whistle = r.json()["whistles"][0]
    called, due = (datetime.fromisoformat(whistle[k]) for k in ("called_at", "due_at"))
    supervised_at = datetime.fromisoformat(r.json()["supervised_at"])
    reminders.sweep(session, called + timedelta(minutes=1), CALENDAR)
    kinds = {(u, k) for u, k, _ in made(session, code)}
    assert (LABOUR, "supervised") in kinds and (f"housing-{COUNTY}", "whistle") in kinds
    assert (LABOUR, "supervised", supervised_at.astimezone(CHINA_TZ)) in made(session, code)
    assert (TOWNSHIP, "check_in_late") not in kinds
    reminders.sweep(session, due + timedelta(seconds=1), CALENDAR)
    assert (TOWNSHIP, "check_in_late", due.astimezone(CHINA_TZ)) in made(session, code)

    other = report(client, world).json()["code"]
    act(client, world, "t1", other, "dispatch", 1, unit_code=f"housing-{COUNTY}")
    act(client, world, "housing", other, "return", 2, note="不属于住建")
    reminders.sweep(session, datetime.now(UTC), CALENDAR)
    assert {(u, k) for u, k, _ in made(session, other)} == {(VILLAGE, "returned")}


def test_inbox_read_and_unread_are_per_person_and_scoped(client, world, session):
    code = report(client, world).json()["code"]
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    act(client, world, "county", code, "supervise", 1, note="三日内化解", deadline=deadline)
    r = client.get("/api/v1/notifications", headers=world.auth("labour"))
    assert r.status_code == 200, r.text
    body = r.json()
    mine = [i for i in body["items"] if i["incident_code"] == code]
    assert [i["kind"] for i in mine] == ["supervised"] and body["unread"] >= 1
    item = mine[0]
    assert item["unit_code"] == LABOUR and not item["read"] and item["still_open"]
    from gridmap.units.models import RoutingRule

    name = session.scalar(select(RoutingRule.name).where(RoutingRule.category == "labour"))
    assert item["message"].startswith(f"督办：{code}（{name}）")
    assert item["message_en"].startswith(f"Supervised: {code}")
    # another township's dispatcher, a planner and a grid worker have no such item
    for who in ("t2", "planner", "grid", "housing"):
        got = client.get("/api/v1/notifications", headers=world.auth(who)).json()["items"]
        assert all(i["incident_code"] != code for i in got), who
    # someone else cannot mark it; the holder can, once; unread count follows
    assert_problem(client.post("/api/v1/notifications/read", json={"ids": [item["id"]]},
                               headers=world.auth("housing")), 404, "not_found")  # fmt: skip
    assert_problem(client.post("/api/v1/notifications/read", json={},
                               headers=world.auth("labour")), 422, "invalid_input")  # fmt: skip
    r = client.post("/api/v1/notifications/read", json={"ids": [item["id"]]},
                    headers=world.auth("labour"))  # fmt: skip
    assert r.status_code == 200 and r.json()["marked"] == 1
    assert r.json()["unread"] == body["unread"] - 1
    again = client.post("/api/v1/notifications/read", json={"ids": [item["id"]]},
                        headers=world.auth("labour"))  # fmt: skip
    assert again.json()["marked"] == 0
    unread = client.get("/api/v1/notifications?unread=true", headers=world.auth("labour")).json()
    assert all(i["id"] != item["id"] for i in unread["items"])
    r = client.post("/api/v1/notifications/read", json={"all": True}, headers=world.auth("labour"))
    assert r.json()["unread"] == 0


# --- the stream, over a real server ------------------------------------------------------


@pytest.fixture(scope="module")
def live(pg_cluster, tmp_path_factory):
    pg_cluster.create_database("reminders")
    url = pg_cluster.url("reminders")
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        world = build_world(s)
        s.commit()
    data = tmp_path_factory.mktemp("data")
    with serve(url, data, notification_poll_seconds=0.2, notification_stream_seconds=20) as base:
        yield base, world, engine
    engine.dispose()


def _events(response, wanted: int, out: list[dict]) -> None:
    event: dict = {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and event:
            out.append(event)
            event = {}
            if len(out) >= wanted or out[-1]["event"] == "end":
                return


def test_the_stream_delivers_a_supervision_as_it_happens_and_resumes(live):
    base, world, _ = live
    with httpx.Client(base_url=base, timeout=30) as http:
        code = report(http, world).json()["code"]
        got: list[dict] = []
        with http.stream("GET", "/api/v1/notifications/stream",
                         headers=world.auth("labour")) as response:  # fmt: skip
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = threading.Thread(target=_events, args=(response, 1, got))
            reader.start()
            deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
            r = act(http, world, "county", code, "supervise", 1, note="三日内化解",
                    deadline=deadline)  # fmt: skip
            assert r.status_code == 200, r.text
            reader.join(15)
        assert got and got[0]["event"] == "notification", got
        first = got[0]
        assert first["data"]["kind"] == "supervised" and first["data"]["incident_code"] == code
        # resume after it: the whistle's reminder goes to the housing bureau, not here;
        # a second supervision (new deadline) is a new reminder
        later = (datetime.now(UTC) + timedelta(days=5)).isoformat()
        r = act(http, world, "county", code, "supervise", 2, note="再次督办", deadline=later)
        assert r.status_code == 200, r.text
        resumed: list[dict] = []
        headers = world.auth("labour") | {"Last-Event-ID": str(first["id"])}
        with http.stream("GET", "/api/v1/notifications/stream", headers=headers) as response:
            _events(response, 1, resumed)
        assert resumed[0]["event"] == "notification" and resumed[0]["id"] > first["id"]
        assert resumed[0]["data"]["kind"] == "supervised"
        # without a token: 401, as a problem
        r = http.get("/api/v1/notifications/stream")
        assert r.status_code == 401


def test_a_revoked_account_ends_the_stream(live):
    base, world, engine = live
    from gridmap.auth.models import User

    with httpx.Client(base_url=base, timeout=30) as http:
        got: list[dict] = []
        with http.stream("GET", "/api/v1/notifications/stream",
                         headers=world.auth("housing")) as response:  # fmt: skip
            reader = threading.Thread(target=_events, args=(response, 5, got))
            reader.start()
            with Session(engine) as s:
                s.execute(update(User).where(User.username == "housing").values(is_active=False))
                s.commit()
            reader.join(15)
        assert got and got[-1]["event"] == "end", got
        assert "disabled" in got[-1]["data"]["reason"]
