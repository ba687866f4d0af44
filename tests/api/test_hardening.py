"""The defects of the hardening issue, one test each: every one answered 5xx or let something
through before it was fixed."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from PIL import Image
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select

from api.app import create_app
from gridmap.areas.levels import AreaLevel
from gridmap.auth import service as auth_service
from gridmap.auth.models import Role
from gridmap.auth.security import create_token
from gridmap.incidents.models import Incident
from gridmap.settings import Settings
from gridmap.units.models import Department
from tests.helpers import TEST_SECRET, assert_problem
from tests.world import COUNTY, T1, V1, X0, Y0, D, act, inside, report

# -- 5. inputs that used to end in a 500 ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/incidents", {"json": {"description": "a\u0000b"}}),
        ("get", "/api/v1/incidents?category=%00", {}),
        ("get", "/api/v1/incidents/QZ2025%0000001", {}),
        ("post", "/api/v1/auth/token", {"data": {"username": "ad\u0000min", "password": "x"}}),
        ("get", "/api/v1/locate?lon=118.6&lat=24.9&category=lab%00our", {}),
    ],
)
def test_a_nul_character_anywhere_is_422(client, world, method, path, kwargs):
    r = getattr(client, method)(path, headers=world.auth("t1"), **kwargs)
    body = assert_problem(r, 422, "validation_error")
    assert "NUL" in body["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/merge-patch+json", "application/vnd.api+json", "application/problem+json",
     "text/plain", "text/csv; charset=utf-8", ""],
)  # fmt: skip
def test_a_nul_in_any_json_or_text_body_is_422(client, world, content_type):
    """The check covered three content types; FastAPI parses every +json type as JSON."""
    inc = report(client, world).json()
    body = b'{"version": 1, "note": "a\\u0000b"}'
    headers = world.auth("t1") | ({"Content-Type": content_type} if content_type else {})
    r = client.post(f"/api/v1/incidents/{inc['code']}/actions/note", content=body,
                    headers=headers)  # fmt: skip
    assert "NUL" in assert_problem(r, 422, "validation_error")["detail"]


def test_bd09_near_the_pole_is_422_not_a_nan(client, world):
    r = client.get("/api/v1/locate", params={"lon": 118.6, "lat": -90, "crs": "bd09"})
    body = assert_problem(r, 422, "invalid_input")
    assert "does not convert" in body["detail"]
    lon, _ = inside()
    r = report(client, world, lon=lon, lat=-90, crs="bd09")
    assert_problem(r, 422, "invalid_input")


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "2100-01-01T00:00:00+08:00",
             "1999-12-31T00:00:00+08:00"],
)  # fmt: skip
def test_reported_at_far_from_now_is_422(client, world, when):
    assert_problem(report(client, world, reported_at=when), 422, "validation_error")


def test_reported_at_tomorrow_is_422(client, world):
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = assert_problem(report(client, world, reported_at=tomorrow), 422, "validation_error")
    assert "future" in body["detail"]


@pytest.mark.parametrize(
    "params",
    [{"page": "1e18"}, {"page": str(10**18)}, {"bbox": "1..2,3,4,5"}, {"bbox": "1,2,3"},
     {"bbox": "nan,1,2,3"}, {"bbox": "5,5,1,1"}, {"page_size": "100000"}],
)  # fmt: skip
def test_bad_paging_and_bbox_are_422(client, world, params):
    r = client.get("/api/v1/incidents", params=params, headers=world.auth("t1"))
    assert r.status_code == 422, r.text


def test_a_signed_token_with_a_huge_user_id_is_401(client, world):
    token = create_token(secret=TEST_SECRET, user_id=2**40, username="x", role=Role.city_admin,
                         area_code="350500", minutes=5)  # fmt: skip
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401, "not_authenticated")


# -- 6. scope holes in writes ----------------------------------------------------------------


def test_another_users_idempotency_key_does_not_return_their_incident(client, world):
    key = {"Idempotency-Key": "shared-key-1"}
    first = report(client, world, who="t1", headers_extra=key)
    assert first.status_code == 201
    # the grid worker replays the same key and body: a new incident of their own
    replay = report(client, world, who="grid", headers_extra=key)
    assert replay.status_code == 201
    assert replay.json()["code"] != first.json()["code"]


def test_an_empty_idempotency_key_is_refused(client, world):
    r = report(client, world, headers_extra={"Idempotency-Key": ""})
    assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize("change", [{"channel": "window"}, {"reporter_name": "林芳"},
                                    {"people_involved": 3}])  # fmt: skip
def test_a_key_reused_with_a_different_report_is_409(client, world, change):
    key = {"Idempotency-Key": "retry-7"}
    assert report(client, world, who="t1", headers_extra=key).status_code == 201
    again = report(client, world, who="t1", headers_extra=key, **change)
    assert_problem(again, 409, "conflict")


@pytest.fixture
def other_county(session):
    """Units of a neighbouring county (350502), whose jurisdiction is elsewhere."""
    far = MultiPolygon([box(X0 - 3 * D, Y0, X0 - D, Y0 + 2 * D)])
    units = {}
    for code, kind, level in (("labour-350502", "labour", AreaLevel.county),
                              ("centre-350502", "centre", AreaLevel.county)):  # fmt: skip
        unit = Department(code=code, name=code, type=kind, level=level, area_code="350502",
                          jurisdiction=from_shape(far, srid=4326))  # fmt: skip
        session.add(unit)
        units[kind] = unit
    session.flush()
    return units


def test_no_transfer_to_a_unit_of_another_county(client, world, other_county):
    inc = report(client, world).json()
    r = act(client, world, "t1", inc["code"], "dispatch", 1, unit_code="labour-350502")
    assert_problem(r, 403, "forbidden")
    act(client, world, "t1", inc["code"], "dispatch", 1, unit_code=f"labour-{COUNTY}")
    r = act(client, world, "labour", inc["code"], "transfer", 2, unit_code="centre-350502")
    body = assert_problem(r, 403, "forbidden")
    assert "works in area 350502" in body["detail"]
    r = act(client, world, "labour", inc["code"], "transfer", 2, unit_code=f"centre-{V1}")
    assert_problem(r, 422, "invalid_input")  # 转办 needs a reason
    r = act(client, world, "labour", inc["code"], "transfer", 2, unit_code=f"centre-{V1}",
            note="不属劳动争议，属邻里纠纷")  # fmt: skip
    assert r.status_code == 200, r.text


def test_after_escalation_to_the_city_the_village_cannot_act(client, world):
    inc = report(client, world).json()
    code, v = inc["code"], 1
    for who in ("village", "t1", "county"):
        r = act(client, world, who, code, "escalate", v)
        assert r.status_code == 200, (who, r.text)
        v = r.json()["version"]
    assert r.json()["unit_code"] == "centre-350500"
    soon = datetime.now(UTC) + timedelta(days=30)
    for action, payload in (("transfer", {"unit_code": f"labour-{COUNTY}"}),
                            ("supervise", {"note": "催办", "deadline": soon.isoformat()}),
                            ("escalate", {})):  # fmt: skip
        r = act(client, world, "village", code, action, v, **payload)
        assert_problem(r, 403, "forbidden")
    assert act(client, world, "admin", code, "sign", v).status_code == 200


def test_reporters_report_only_within_their_own_area(client, world):
    east = inside(township=2)
    r = report(client, world, who="grid", lon=east[0], lat=east[1])
    assert_problem(r, 403, "forbidden")
    r = report(client, world, who="labour", lon=X0 + 5 * D, lat=Y0 + 5 * D)
    assert_problem(r, 422, "invalid_input")  # outside the jurisdiction altogether
    mine = report(client, world, who="labour", category="neighbour").json()
    # routed to the township centre (属地), not to the labour bureau: its reporter still reads it
    r = client.get(f"/api/v1/incidents/{mine['code']}", headers=world.auth("labour"))
    assert r.status_code == 200 and r.json()["unit_code"] == f"centre-{V1[:9]}"


def test_possible_duplicates_lists_only_what_the_reader_may_see(client, world):
    west = report(client, world, who="t1", lon=X0 + D - 0.0005, lat=Y0 + 0.5 * D).json()
    east = report(client, world, who="t2", lon=X0 + D + 0.0005, lat=Y0 + 0.5 * D).json()
    as_t1 = client.get(f"/api/v1/incidents/{west['code']}", headers=world.auth("t1")).json()
    as_admin = client.get(f"/api/v1/incidents/{west['code']}", headers=world.auth("admin")).json()
    assert as_admin["possible_duplicates"] == [east["code"]]
    assert as_t1["possible_duplicates"] == []


def test_merging_back_into_a_merged_incident_is_refused(client, world):
    a = report(client, world, description="一").json()
    b = report(client, world, description="二").json()
    assert act(client, world, "t1", a["code"], "merge", 1, merged_into=b["code"]).status_code == 200
    r = act(client, world, "t1", b["code"], "merge", 1, merged_into=a["code"])
    body = assert_problem(r, 409, "conflict")
    assert "rejected" in body["detail"]


# -- 7. sizes and content ----------------------------------------------------------------------


def test_a_huge_json_body_is_413_before_it_is_read(client, world):
    big = b'{"description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = client.post("/api/v1/incidents", content=big,
                    headers={"Content-Type": "application/json"} | world.auth("t1"))  # fmt: skip
    assert_problem(r, 413, "payload_too_large")


def test_an_image_header_followed_by_html_is_not_a_photo(client, world):
    inc = report(client, world).json()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(buf, format="JPEG")
    forged = buf.getvalue()[:40] + b"<html><script>alert(1)</script><?php system($_GET['c']); ?>"
    r = client.post(f"/api/v1/incidents/{inc['code']}/photos",
                    files={"photo": ("x.jpg", forged, "image/jpeg")}, headers=world.auth("grid"))  # fmt: skip
    assert_problem(r, 422, "invalid_input")


def test_a_photo_keeps_its_gps_and_loses_the_rest_of_its_metadata(client, world, settings):
    inc = report(client, world).json()
    image = Image.new("RGB", (16, 12), (10, 200, 10))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker-secret-serial-123"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (24.0, 54.0, 36.0), 3: "E", 4: (118.0, 36.0, 18.0)})
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    r = client.post(f"/api/v1/incidents/{inc['code']}/photos",
                    files={"photo": ("x.jpg", buf.getvalue(), "image/jpeg")},
                    headers=world.auth("grid"))  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["gps_lat"] == pytest.approx(24.91) and body["gps_lon"] == pytest.approx(118.605)
    stored = settings.data_dir / "photos" / inc["code"] / f"{body['sha256']}.jpg"
    data = stored.read_bytes()
    assert b"CameraMaker-secret-serial-123" not in data
    with Image.open(stored) as again:
        assert len(again.getexif()) == 0


# -- 8. personal data ----------------------------------------------------------------------------


def test_ids_and_phones_typed_into_free_text_are_masked(client, world):
    text = "当事人身份证350503199001011234，电话13805951234，请联系"
    inc = report(client, world, description=text).json()
    assert "350503********1234" in inc["description"] and "138****1234" in inc["description"]
    read = client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t1"))
    assert "350503199001011234" not in read.text and "13805951234" not in read.text
    unmasked = client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t1"),
                          params={"unmasked": True, "reason": "联系当事人"})  # fmt: skip
    assert unmasked.json()["description"] == text


def test_answers_are_never_cached_and_carry_security_headers(client, world):
    inc = report(client, world).json()
    r = client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t1"))
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    problem = client.get("/api/v1/incidents/QZ1", headers=world.auth("t1"))
    assert problem.headers["cache-control"] == "no-store"


# -- 9. the smaller ones ---------------------------------------------------------------------


def test_a_disabled_account_costs_a_password_hash_like_any_failure(
    client, world, session, monkeypatch
):
    from gridmap.auth.models import User

    calls = []
    real = auth_service.verify_password
    monkeypatch.setattr(auth_service, "verify_password",
                        lambda h, p: calls.append(1) or real(h, p))  # fmt: skip
    session.get(User, world.users["grid"]).is_active = False
    session.flush()
    r = client.post("/api/v1/auth/token", data={"username": "grid", "password": "password-123"})
    assert_problem(r, 401, "not_authenticated")
    assert calls == [1]  # the same work as a wrong password: the timing tells nothing


def test_production_hides_docs_schema_and_versions(settings):
    prod = settings.model_copy(update={"environment": "production",
                                       "secret_key": "p" * 48})  # fmt: skip
    with TestClient(create_app(prod), raise_server_exceptions=False) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/openapi.json").status_code == 404
        health = c.get("/api/v1/health").json()
        assert health["version"] is None and health["postgis_version"] is None


def test_an_unreachable_database_is_503_with_retry_after(tmp_path):
    settings = Settings(environment="test", data_dir=tmp_path, secret_key=TEST_SECRET,
                        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = c.get("/api/v1/health")
    body = assert_problem(r, 503, "database_unavailable")
    assert r.headers["retry-after"].isdigit() and "try again" in body["detail"]


def test_error_answers_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    act_op = spec["paths"]["/api/v1/incidents/{code}/actions/{action}"]["post"]["responses"]
    assert {"401", "403", "404", "409", "422"} <= set(act_op)
    problem = act_op["409"]["content"]["application/problem+json"]["schema"]
    assert problem["$ref"].endswith("/Problem")


def test_incidents_in_the_database_are_untouched_by_refusals(client, world, session):
    inc = report(client, world).json()
    act(client, world, "village", inc["code"], "escalate", 1)
    before = session.scalar(select(Incident).where(Incident.code == inc["code"]))
    version = before.version
    act(client, world, "grid", inc["code"], "resolve", version, outcome="handled")
    session.refresh(before)
    assert before.version == version and before.status.value == "dispatched"


@pytest.mark.parametrize("path", ["/api/v1/maps/facets", "/api/v1/incidents", "/api/v1/users",
                                  "/api/v1/people?q=陈"])  # fmt: skip
def test_an_area_of_no_level_is_422(client, world, path):
    """Found by the longer fuzz run: ten digits passed `\\d{6,15}` and then failed (500)
    where the level was needed; every area parameter takes the one code pattern now."""
    sep = "&" if "?" in path else "?"
    r = client.get(f"{path}{sep}area=0000000000", headers=world.auth("admin"))
    assert_problem(r, 422, "validation_error")


# -- issue 31: one window for every date and time a client sends ------------------------------

FAR = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC: PostgreSQL stores it, Python cannot read it


def test_a_far_future_deadline_is_refused_and_poisons_nothing(client, world):
    inc = report(client, world, who="t1", channel="citizen_app").json()
    for deadline in (FAR, "2100-01-01T00:00:00+08:00", "2026-03-01T18:00:00"):
        r = act(client, world, "t1", inc["code"], "supervise", 1, note="催办", deadline=deadline)
        assert_problem(r, 422, "validation_error")
    # every reader of the incident still answers
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{inc['code']}", "/api/v1/notifications"):
        assert client.get(path, headers=world.auth("t1")).status_code == 200, path
    for fmt in ("json", "xml"):
        assert client.get(f"/open311/v2/requests.{fmt}").status_code == 200
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = act(client, world, "t1", inc["code"], "supervise", 1, note="催办", deadline=soon)
    assert r.status_code == 200, r.text


def test_the_domain_bounds_times_that_skipped_the_schema(session, world):
    """A command or an import calls the service, not the route: the service checks too."""
    from gridmap.calendar import WorkingCalendar
    from gridmap.errors import InvalidInput
    from gridmap.incidents import service
    from gridmap.incidents.schemas import ActionIn, IncidentCreate
    from gridmap.incidents.workflow import Action
    from gridmap.locate import Locator
    from gridmap.scope import Actor

    t1 = Actor(world.users["t1"], Role.township_dispatcher, T1, None, "t1")
    year = datetime.now(UTC).year
    common = {"session": session, "locator": Locator.from_database(session), "actor": t1,
              "calendar": WorkingCalendar.chinese(year - 1, year + 1)}  # fmt: skip
    lon, lat = inside()
    valid = IncidentCreate(category="labour", channel="grid_app", lon=lon, lat=lat,
                           description="欠薪")  # fmt: skip
    unchecked = valid.model_copy(update={"reported_at": datetime(2100, 1, 1, tzinfo=UTC)})
    with pytest.raises(InvalidInput, match="reported_at is in the future"):
        service.create(data=unchecked, **common)
    incident, _ = service.create(data=valid, **common)
    far = ActionIn(version=1, note="催办").model_copy(
        update={"deadline": datetime.fromisoformat(FAR)}
    )
    common.pop("locator")
    with pytest.raises(InvalidInput, match="deadline is more than 366 days ahead"):
        service.act(code=incident.code, action=Action.supervise, data=far, **common)


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/v1/incidents", {"since": "0001-01-01T00:00:00Z"}),
     ("/api/v1/incidents", {"until": FAR}),
     ("/api/v1/incidents", {"since": "2026-01-01T00:00:00"}),  # no time zone
     ("/api/v1/stats", {"since": "1999-12-31T00:00:00Z"})],
)  # fmt: skip
def test_filter_times_outside_the_window_are_422(client, world, path, params):
    r = client.get(path, params=params, headers=world.auth("t1"))
    assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize(
    "params",
    [{"start_date": "9999-12-31T23:59:59Z"}, {"end_date": "0001-01-01T00:00:00Z"},
     {"start_date": "1999-12-01T00:00:00+08:00"}],
)  # fmt: skip
def test_open311_dates_outside_the_window_are_400(client, world, params):
    for fmt in ("json", "xml"):
        r = client.get(f"/open311/v2/requests.{fmt}", params=params)
        assert r.status_code == 400, r.text
        assert "2000-01-01" in r.text or "days ahead" in r.text


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z/..", f"../{FAR}", "1999-01-01/.."]
)
def test_ogc_datetime_outside_the_window_is_400(client, world, when):
    r = client.get("/ogc/collections/grids/items", params={"datetime": when})
    assert_problem(r, 400, "invalid_input")


# -- issue 31: one id type, so an id beyond the integer column is 422 or 404, never 500 --------


@pytest.mark.parametrize("bad", [str(2**31), str(2**63), str(2**64), "0", "²"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/v1/task-items/{}/complete"), ("get", "/api/v1/households/{}"),
     ("get", "/api/v1/people/{}"), ("get", "/api/v1/tasks/{}"), ("get", "/api/v1/plans/{}"),
     ("get", "/api/v1/areas/350503/households?building={}")],
)  # fmt: skip
def test_every_path_id_out_of_range_is_422(client, world, method, path, bad):
    body = {"json": {"version": 1, "result": "x"}} if method == "post" else {}
    r = getattr(client, method)(path.format(bad), headers=world.auth("admin"), **body)
    assert_problem(r, 422, "validation_error")


def test_the_largest_ids_are_simply_not_found(client, world):
    for path in (
        "/api/v1/task-items/2147483646/complete",
        "/api/v1/task-items/2147483647/complete",
    ):
        r = client.post(path, json={"version": 1, "result": "x"}, headers=world.auth("grid"))
        assert_problem(r, 404, "not_found")


@pytest.mark.parametrize("ids", [[2**64], [2**40], [2**31], [0], [1, -5]])
def test_notification_ids_out_of_range_are_422(client, world, ids):
    r = client.post("/api/v1/notifications/read", json={"ids": ids}, headers=world.auth("t1"))
    assert_problem(r, 422, "validation_error")
    r = client.post("/api/v1/notifications/read", json={"ids": [2**31 - 1]},
                    headers=world.auth("t1"))  # fmt: skip
    assert_problem(r, 404, "not_found")  # in range: looked up, and not there


@pytest.mark.parametrize("last", [str(2**63), str(2**31), "-1", "abc", "１２".encode()])
def test_a_last_event_id_out_of_range_is_422_before_the_stream_starts(client, world, last):
    """≥ 2^63 used to pass int() and then end the stream in a database error."""
    headers = world.auth("t1") | {"Last-Event-ID": last}
    with client.stream("GET", "/api/v1/notifications/stream", headers=headers) as r:
        r.read()
    assert_problem(r, 422, "validation_error")


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "no-referrer", "cache-control": "no-store"}  # fmt: skip


def test_the_guards_own_refusals_carry_the_security_headers(client, world):
    """A 413 or a NUL refusal came from the guard, outside the headers' middleware."""
    big = client.post("/api/v1/incidents", content=b"x" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    nul = client.get("/api/v1/incidents?category=%00", headers=world.auth("t1"))
    for r, status in ((big, 413), (nul, 422)):
        assert r.status_code == status
        assert {k: r.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
        assert "default-src 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    "query",
    ["bbox=1,2,3", "bbox=nan,1,2,3", "limit=0", "limit=x", "offset=-1", "crs=EPSG:3857",
     "datetime=yesterday", "datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"],
)  # fmt: skip
def test_ogc_answers_an_invalid_parameter_value_with_400(client, world, query):
    """OGC API – Features Part 1, Requirement 9 /req/core/query-param-invalid."""
    r = client.get(f"/ogc/collections/grids/items?{query}")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 400 and r.json()["detail"]


def test_the_id_type_shows_its_range_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json()
    [param] = spec["paths"]["/api/v1/task-items/{item_id}/complete"]["post"]["parameters"]
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**31 - 1


# -- issue 31: absolute links name the public address, never the Host header -----------------


def _links(value):
    """Every href (OGC) and endpoint url (Open311) in an answer."""
    if isinstance(value, list):
        return [link for item in value for link in _links(item)]
    if not isinstance(value, dict):
        return []
    found = [value[k] for k in ("href", "url") if isinstance(value.get(k), str)]
    return found + [link for inner in value.values() for link in _links(inner)]


@pytest.mark.parametrize("public", [None, "https://grid.example.cn"])
def test_links_name_the_public_address_not_the_host_header(settings, session, world, public):
    from tests.helpers import override_for_test

    configured = settings.model_copy(update={"public_url": public})
    base = public or "http://127.0.0.1:8000"
    app = override_for_test(create_app(configured), session)
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    with TestClient(app, raise_server_exceptions=False) as c:
        answers = [c.get(p, headers=forged) for p in (
            "/ogc", "/ogc/collections", "/ogc/collections/grids",
            "/ogc/collections/grids/items?limit=1", "/open311/v2/discovery.json")]  # fmt: skip
    links = [link for r in answers for link in _links(r.json())]
    assert all(r.status_code == 200 for r in answers)
    assert links and all(link.startswith(base + "/") for link in links), links
    assert "evil.example" not in "".join(r.text for r in answers)
    next_link = next(link for link in _links(answers[3].json()) if "offset=1" in link)
    assert next_link.startswith(base + "/ogc/collections/grids/items?")
