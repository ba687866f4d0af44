"""POST /incidents: located, assigned, routed, due dates, idempotent, clear refusals."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from gridmap.crs import from_wgs84
from gridmap.incidents.models import Incident, IncidentEvent
from tests.helpers import assert_problem
from tests.world import COUNTY, V1, act, inside, report


def test_report_is_assigned_routed_and_given_due_dates(client, world):
    r = report(client, world)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "reported" and body["version"] == 1
    assert body["grid_code"] == V1 + "001" and body["plan_id"] == world.plan_id
    assert body["unit_code"] == f"labour-{COUNTY}"
    assert body["routing_reason"].startswith("functional: labour")
    due = datetime.fromisoformat(body["resolve_due_at"])
    assert (
        due
        > datetime.fromisoformat(body["sign_due_at"])
        > datetime.fromisoformat(body["reported_at"])
    )
    assert body["reporter_phone"] == "138****1234" and body["reporter_name"] == "陈*"
    # allowed_actions are what the reader may do: a grid worker notes but does not dispatch
    assert body["allowed_actions"] == ["note"] and body["overdue"] is False
    as_dispatcher = client.get(f"/api/v1/incidents/{body['code']}", headers=world.auth("t1"))
    assert "dispatch" in as_dispatcher.json()["allowed_actions"]


def test_territorial_category_goes_to_the_township_centre(client, world):
    """属地 per the source: the county platform hands it to the township (乡镇)."""
    body = report(client, world, category="neighbour").json()
    assert body["unit_code"] == f"centre-{V1[:9]}"
    assert body["routing_reason"] == "territorial: township centre"
    # held at the township: the village worker cannot dispatch it, the township can
    assert "dispatch" not in client.get(f"/api/v1/incidents/{body['code']}",
                                        headers=world.auth("village")).json()["allowed_actions"]  # fmt: skip
    r = act(client, world, "t1", body["code"], "dispatch", 1, unit_code=f"centre-{V1}")
    assert r.status_code == 200 and r.json()["unit_code"] == f"centre-{V1}"
    # the village centre now holds it, and the village worker signs for it as its handler
    r = act(client, world, "village", body["code"], "sign", 2)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"


def test_a_rule_may_name_the_village_level(client, world, session):
    from gridmap.units.models import RoutingRule

    session.get(RoutingRule, "neighbour").territorial_level = "village"
    session.flush()
    body = report(client, world, category="neighbour").json()
    assert body["unit_code"] == f"centre-{V1}"
    assert body["routing_reason"] == "territorial: village centre"


def test_fallback_to_the_township_centre_when_no_department_covers(client, world):
    body = report(client, world, category="road_damage").json()  # no urban_management unit
    assert body["unit_code"] == f"centre-{V1[:9]}" and body["routing_reason"].startswith("fallback")


def test_gcj02_location_is_converted_and_kept_as_reported(client, world):
    lon, lat = inside(2, 2)
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    body = report(client, world, who="t2", lon=g_lon, lat=g_lat, crs="gcj02").json()
    assert body["grid_code"] == "350503002001002"
    assert body["reported_crs"] == "gcj02" and body["reported_lon"] == g_lon
    assert abs(body["lon"] - lon) < 1e-7 and abs(body["lat"] - lat) < 1e-7


def test_retry_with_the_same_idempotency_key_creates_one_incident(client, world, session):
    key = {"Idempotency-Key": "phone-42-attempt"}
    lon, lat = inside()
    body = {
        "category": "labour",
        "channel": "citizen_app",
        "lon": lon,
        "lat": lat,
        "description": "欠薪",
    }
    a = client.post("/api/v1/incidents", json=body, headers=key)
    b = client.post("/api/v1/incidents", json=body, headers=key)
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json()["code"] == b.json()["code"]
    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert session.scalar(select(func.count()).select_from(IncidentEvent)) == 1
    other = client.post("/api/v1/incidents", json=body | {"description": "另一件事"}, headers=key)
    assert_problem(other, 409, "conflict")


def test_outside_the_jurisdiction_is_422_with_the_nearest_cell(client, world):
    r = report(client, world, lon=118.70, lat=24.90)
    body = assert_problem(r, 422, "invalid_input")
    assert "outside the jurisdiction" in body["detail"] and body["nearest_grid_code"].startswith(
        "350503"
    )
    assert body["distance_m"] > 1000


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"category": "ufo"}, "invalid_input"),
        ({"lon": 500}, "validation_error"),
        ({"lat": "north"}, "validation_error"),
        ({"crs": "epsg:3857"}, "validation_error"),
        ({"description": ""}, "validation_error"),
        ({"people_involved": 0}, "validation_error"),
        ({"reporter_phone": "12345"}, "validation_error"),
        ({"reported_at": "2025-03-01T09:00:00"}, "validation_error"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, world, overrides, code):
    r = report(client, world, **overrides)
    assert_problem(r, 422, code)


def test_anonymous_only_through_the_citizen_port(client, world):
    assert report(client, world, who=None, channel="citizen_app").status_code == 201
    assert_problem(report(client, world, who=None, channel="window"), 403, "forbidden")


def test_analyst_cannot_report(client, world):
    assert_problem(report(client, world, who="analyst"), 403, "forbidden")


def test_possible_duplicates_are_suggested_to_the_dispatcher(client, world):
    first = report(client, world).json()
    lon, lat = inside()
    second = report(client, world, lon=lon + 0.0005, lat=lat).json()  # ~50 m away, same category
    far = report(client, world, lon=lon, lat=lat + 0.005).json()  # ~550 m away
    third = report(client, world, category="neighbour").json()

    def hints(code):
        return client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()[
            "possible_duplicates"
        ]

    assert hints(second["code"]) == [first["code"]]
    assert set(hints(first["code"])) == {second["code"]}
    assert far["code"] not in hints(first["code"])
    assert hints(third["code"]) == []


def test_fast_track_has_hour_limits_and_is_shown_apart(client, world):
    """民意事件速办: signed for within two office hours, resolved by the end of the next
    working day; staff mark it (not the anonymous port); lists and KPIs filter on it."""
    from datetime import datetime

    from gridmap.calendar import CHINA_TZ

    monday = "2025-03-10T10:00:00+08:00"  # a working Monday, office hours
    fast = report(client, world, category="labour", reported_at=monday, fast_track=True).json()
    slow = report(client, world, category="labour", reported_at=monday).json()
    assert fast["fast_track"] is True and slow["fast_track"] is False
    sign_due = datetime.fromisoformat(fast["sign_due_at"]).astimezone(CHINA_TZ)
    resolve_due = datetime.fromisoformat(fast["resolve_due_at"]).astimezone(CHINA_TZ)
    assert sign_due.isoformat() == "2025-03-10T12:00:00+08:00"
    assert resolve_due.isoformat() == "2025-03-11T23:59:59+08:00"
    # the ordinary labour limits: 1 working day to sign, 15 to resolve
    assert datetime.fromisoformat(slow["resolve_due_at"]) > resolve_due
    r = report(client, world, who=None, channel="citizen_app", fast_track=True)
    assert r.status_code == 403
    listed = client.get("/api/v1/incidents", params={"fast_track": True},
                        headers=world.auth("county")).json()  # fmt: skip
    assert [i["code"] for i in listed["items"]] == [fast["code"]]
    stats = client.get("/api/v1/stats", params={"fast_track": True},
                       headers=world.auth("county")).json()  # fmt: skip
    assert stats[0]["open"] == 1
