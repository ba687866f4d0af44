"""Open311 GeoReport v2 under /open311/v2, endpoint by endpoint, on the hand-drawn world.

The required fields of each response are checked against the spec (GeoReport v2: services,
service definitions, POST requests, GET requests, tokens, discovery), in JSON and XML;
every kind of bad request gets the spec's error list and a 4xx, and stores nothing. A
third-party client library reads the same port on a live server in test_open311_live.py.
"""

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from gridmap.crs import CRS, from_wgs84
from gridmap.incidents.models import Incident
from gridmap.open311.clients import create_client, set_active
from tests.world import T1, V1, act, inside, report

BASE = "/open311/v2"
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords",
                  "group"}  # fmt: skip
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
}  # fmt: skip


@pytest.fixture
def key(session, world):
    _, key = create_client(session, "test-app", contact="tests")
    return key


def post(client, key, fmt="json", headers=None, **form):
    lon, lat = inside(1, 1)
    body = {"api_key": key, "service_code": "neighbour", "lat": lat, "long": lon,
            "description": "楼上装修噪音，多次沟通无果"} | form  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    return client.post(f"{BASE}/requests.{fmt}", data=body, headers=headers or {})


def stored(session) -> int:
    return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def assert_error(response, status, words=""):
    assert response.status_code == status, response.text
    if response.headers["content-type"].startswith("text/xml"):
        root = ET.fromstring(response.content)
        assert root.tag == "errors"
        error = root.find("error")
        assert error is not None and int(error.findtext("code")) == status
        description = error.findtext("description") or ""
    else:
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert isinstance(body, list) and body[0]["code"] == status
        description = body[0]["description"]
    assert words.lower() in description.lower(), description
    return description


def test_discovery_names_the_endpoint_and_its_formats(client):
    body = client.get(f"{BASE}/discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith(BASE) and set(endpoint["formats"]) == {"text/xml",
                                                                           "application/json"}  # fmt: skip
    root = ET.fromstring(client.get(f"{BASE}/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


def test_services_in_json_and_xml(client, world):
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = {s["service_code"]: s for s in r.json()}
    assert set(services) == {"labour", "neighbour", "road_damage"}  # the world's categories
    for s in services.values():
        assert set(s) == SERVICE_FIELDS
        assert s["metadata"] is True and s["type"] == "realtime"
    assert services["labour"]["group"] == "纠纷化解"  # the category group's name
    assert services["road_damage"]["group"] == "城市管理"
    # in the groups' order (纠纷化解 first), then by code
    assert [s["service_code"] for s in r.json()] == ["labour", "neighbour", "road_damage"]
    assert "15 个工作日内办结" in services["labour"]["description"]  # its time limit
    r = client.get(f"{BASE}/services.xml")
    assert r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "services"
    codes = {s.findtext("service_code") for s in root.findall("service")}
    assert codes == set(services)
    assert {s.findtext("metadata") for s in root.findall("service")} == {"true"}


def test_service_definition_and_unknown_codes(client, world):
    body = client.get(f"{BASE}/services/neighbour.json").json()
    assert body["service_code"] == "neighbour"
    fields = {"variable", "code", "datatype", "required", "datatype_description", "order",
              "description", "values"}  # fmt: skip
    assert all(set(a) == fields for a in body["attributes"])
    assert [a["order"] for a in body["attributes"]] == sorted(
        a["order"] for a in body["attributes"]
    )
    root = ET.fromstring(client.get(f"{BASE}/services/neighbour.xml").content)
    assert root.tag == "service_definition"
    assert [a.findtext("code") for a in root.iter("attribute")] == [a["code"] for a in
                                                                    body["attributes"]]  # fmt: skip
    assert_error(client.get(f"{BASE}/services/nope.json"), 404, "nope")
    assert_error(client.get(f"{BASE}/services/nope.xml"), 404, "services.json")
    assert_error(client.get(f"{BASE}/services.csv"), 400, "json")
    assert_error(client.get(f"{BASE}/services.json", params={"jurisdiction_id": "110000"}), 404,
                 "350500")  # fmt: skip
    assert (
        client.get(f"{BASE}/services.json", params={"jurisdiction_id": "350500"}).status_code == 200
    )


def test_a_posted_request_goes_through_the_same_intake(client, world, session, key):
    r = post(client, key, first_name="小明", last_name="王", phone="13812345678",
             media_url="https://photos.example/a.jpg",
             **{"attribute[people_involved]": "3", "attribute[title]": "楼上噪音"})  # fmt: skip
    assert r.status_code == 201, r.text
    (created,) = r.json()
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    assert "10 个工作日内办结" in created["service_notice"]
    code = created["service_request_id"]
    # the same incident staff work on, located, assigned and routed like a JSON report
    staff = client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()
    twin = report(client, world, who=None, channel="citizen_app", category="neighbour").json()
    assert staff["channel"] == "citizen_app" and staff["status"] == "reported"
    assert staff["grid_code"] == twin["grid_code"] == V1 + "001"
    assert staff["unit_code"] == twin["unit_code"] and staff["routing_reason"] == twin[
        "routing_reason"]  # fmt: skip
    assert staff["people_involved"] == 3 and staff["title"] == "楼上噪音"
    assert staff["media_url"] == "https://photos.example/a.jpg"
    assert staff["reporter_name"] == "王*明"  # masked like every channel's
    assert staff["resolve_due_at"] is not None
    row = session.scalar(select(Incident).where(Incident.code == code))
    assert row.reporter_name == "王小明" and row.reporter_phone == "13812345678"
    assert row.api_client_id is not None


def test_xml_answer_to_a_post(client, world, key):
    r = post(client, key, fmt="xml")
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/xml")
    request = ET.fromstring(r.content).find("request")
    assert request is not None and request.findtext("service_request_id").startswith("QZ")
    assert request.findtext("token")


def test_bad_posts_get_the_specs_errors_and_store_nothing(client, world, session, key):
    before = stored(session)
    cases = [
        (dict(api_key=None), 403, "api_key is missing"),
        (dict(api_key="not-a-key"), 403, "api_key is not valid"),
        (dict(service_code=None), 400, "service_code is missing"),
        (dict(service_code="nope"), 400, "service_code 'nope'"),
        (dict(lat=None, long=None), 400, "location is missing"),
        (dict(long=None), 400, "both lat and long"),
        (dict(lat="north"), 400, "lat='north' is not a number"),
        (dict(lat="nan"), 400, "not a number"),
        (dict(lat=95), 400, "lat"),
        (dict(lat=39.9, long=116.4), 400, "outside the jurisdiction"),
        (dict(crs="utm"), 400, "crs"),
        (dict(phone="12345"), 400, "phone"),
        (dict(media_url="javascript:alert(1)"), 400, "media_url"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour] is not an attribute"),
        ({"attribute[people_involved]": "many"}, 400, "not a whole number"),
        ({"attribute[people_involved]": "0"}, 400, "attribute[people_involved]"),
        ({"attribute[occurred_at]": "yesterday"}, 400, "not a date-time"),
        ({"attribute[occurred_at]": "2099-01-01T00:00:00+08:00"}, 400, "future"),
        (dict(address_id="12x", lat=None, long=None), 400, "not a building id"),
        (dict(address_id="999999999999999999", lat=None, long=None), 400, "not a building id"),
        (dict(address_id="²", lat=None, long=None), 400, "not a building id"),
        (dict(address_id="2147483648", lat=None, long=None), 400, "not a building id"),
        (dict(address_id="999999", lat=None, long=None), 400, "not an address we know"),
        (dict(address_string="无此地址", lat=None, long=None), 400, "not an address we know"),
        (dict(jurisdiction_id="110000"), 404, "jurisdiction_id"),
    ]
    for form, status, words in cases:
        assert_error(post(client, key, **form), status, words)
    assert_error(post(client, key, fmt="xml", service_code="nope"), 400, "nope")
    assert stored(session) == before  # nothing half-stored


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_control_characters_in_an_error_still_make_a_well_formed_answer(client, world, key, fmt):
    """A control character in an attribute's key or the path made the XML error unreadable."""
    r = post(client, key, fmt=fmt, **{"attribute[a\x01\x1b]": "x"})
    assert_error(r, 400, "is not an attribute")  # assert_error parses the XML
    if fmt == "xml":  # written out, as XML cannot carry them
        assert "attribute[a\\x01\\x1b]" in r.text
    else:  # JSON escapes them itself
        assert "attribute[a\x01\x1b]" in r.json()[0]["description"]
    assert_error(client.get(f"{BASE}/services/a%01b%0B.{fmt}"), 404, "is not a service")


def test_a_disabled_client_is_refused_at_once(client, world, session, key):
    assert post(client, key).status_code == 201
    set_active(session, "test-app", False)
    session.flush()
    assert_error(post(client, key), 403, "not valid")


def test_gcj02_and_bd09_coordinates_from_chinese_phone_maps(client, world, key):
    lon, lat = inside(2, 2)
    for crs in (CRS.gcj02, CRS.bd09):
        x, y = from_wgs84(lon, lat, crs)
        code = post(client, key, lat=y, long=x, crs=crs.value).json()[0]["service_request_id"]
        staff = client.get(f"/api/v1/incidents/{code}", headers=world.auth("county")).json()
        assert staff["reported_crs"] == crs.value
        assert abs(staff["lon"] - lon) < 2e-5 and abs(staff["lat"] - lat) < 2e-5  # ~2 m
        # sent as WGS84 the same numbers land hundreds of metres away
        assert abs(x - lon) + abs(y - lat) > 0.003


def test_an_address_id_or_address_string_locates_the_building(client, world, session, key):
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from gridmap.registry.models import Building

    lon, lat = inside(2, 1)
    where = {"plan_id": world.plan_id, "grid_code": "350503002001001"}
    building = Building(use="residential", floors=6, location=from_shape(Point(lon, lat), 4326),
                        address="东街88号", **where)  # fmt: skip
    twin = Building(use="residential", floors=6, location=from_shape(Point(lon, lat), 4326),
                    address="西街1号", **where)  # fmt: skip
    again = Building(use="residential", floors=6, location=from_shape(Point(lon, lat), 4326),
                     address="西街1号", **where)  # fmt: skip
    session.add_all([building, twin, again])
    session.flush()
    for form in ({"address_id": str(building.id)}, {"address_string": "东街88号"}):
        r = post(client, key, lat=None, long=None, **form)
        assert r.status_code == 201, r.text
        code = r.json()[0]["service_request_id"]
        staff = client.get(f"/api/v1/incidents/{code}", headers=world.auth("county")).json()
        assert staff["grid_code"] == "350503002001001"
    assert_error(post(client, key, lat=None, long=None, address_string="西街1号"), 400, "several")


def test_idempotency_key_per_client(client, world, session, key):
    _, other = create_client(session, "other-app")
    header = {"Idempotency-Key": "phone-42"}
    first = post(client, key, headers=header)
    retry = post(client, key, headers=header)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == retry.json()[0]["service_request_id"]
    assert_error(post(client, key, headers=header, description="另一件事"), 409)
    theirs = post(client, other, headers=header)
    assert theirs.status_code == 201
    assert theirs.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]


def test_get_requests_publishes_status_and_no_personal_data(client, world, session, key):
    lon, lat = inside(1, 1)
    lon, lat = lon + 0.003, lat - 0.004  # a house near the cell's corner
    created = post(client, key, first_name="小明", last_name="王", phone="13812345678", lat=lat,
                   long=lon,
                   description="王小明家楼上噪音 身份证350503199001011234",
                   media_url="https://photos.example/private.jpg")  # fmt: skip
    code = created.json()[0]["service_request_id"]
    r = client.get(f"{BASE}/requests/{code}.json")
    assert r.status_code == 200
    (one,) = r.json()
    assert set(one) == REQUEST_FIELDS
    assert one["status"] == "open" and one["status_notes"] == "已受理，等待派单"
    assert one["service_code"] == "neighbour" and one["agency_responsible"] == f"centre-{T1}"
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert one[field].endswith("+08:00"), one[field]  # ISO 8601 with the offset
    text = r.text + client.get(f"{BASE}/requests.json").text + client.get(
        f"{BASE}/requests/{code}.xml").text  # fmt: skip
    for secret in ("小明", "13812345678", "350503199001011234", "private.jpg", "楼上噪音"):
        assert secret not in text
    # the location is the cell's representative point, not where the reporter stood
    assert (one["long"], one["lat"]) != (round(lon, 6), round(lat, 6))
    cell = session.execute(select(func.ST_X(func.ST_PointOnSurface(text_geom(V1 + "001"))),
                                  func.ST_Y(func.ST_PointOnSurface(text_geom(V1 + "001"))))).one()  # fmt: skip
    assert (one["long"], one["lat"]) == (round(cell[0], 6), round(cell[1], 6))
    # an incident from another channel (a grid worker's) is not published
    internal = report(client, world, who="grid").json()["code"]
    assert_error(client.get(f"{BASE}/requests/{internal}.json"), 404, internal)
    assert_error(client.get(f"{BASE}/requests/QZ000.xml"), 404)


def text_geom(code):
    from gridmap.areas.models import Area

    return select(Area.geom).where(Area.code == code).scalar_subquery()


def test_status_follows_the_workflow(client, world, key):
    code = post(client, key).json()[0]["service_request_id"]

    def status():
        (one,) = client.get(f"{BASE}/requests/{code}.json").json()
        return one["status"], one["status_notes"]

    incident = client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()
    version = incident["version"]
    assert (
        act(client, world, "t1", code, "dispatch", version, unit_code=f"centre-{V1}").status_code
        == 200
    )
    assert status() == ("open", "已派单，等待承办单位签收")
    assert act(client, world, "village", code, "sign", version + 1).status_code == 200
    assert status() == ("open", "承办单位正在办理")
    assert act(client, world, "village", code, "resolve", version + 2,
               outcome="mediated").status_code == 200  # fmt: skip
    assert status() == ("closed", "已办结，等待回访")


def test_get_requests_filters(client, world, key):
    a = post(client, key).json()[0]["service_request_id"]
    b = post(client, key, service_code="road_damage").json()[0]["service_request_id"]
    codes = lambda **p: [r["service_request_id"] for r in  # noqa: E731
                         client.get(f"{BASE}/requests.json", params=p).json()]  # fmt: skip
    assert set(codes()) >= {a, b}
    assert codes(service_request_id=f"{a},{b}") == [b, a]  # newest first
    assert b in codes(service_code="road_damage") and a not in codes(service_code="road_damage")
    assert set(codes(status="open")) >= {a, b} and a not in codes(status="closed")
    assert codes(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z") == []
    # the ids override the other filters, as the spec says
    assert codes(service_request_id=a, service_code="road_damage") == [a]
    xml = ET.fromstring(
        client.get(f"{BASE}/requests.xml", params={"service_request_id": a}).content
    )
    assert xml.tag == "service_requests" and xml.find("request/service_request_id").text == a
    bad = [({"start_date": "yesterday"}, "start_date"), ({"status": "pending"}, "status"),
           ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
           ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before")]  # fmt: skip
    for params, words in bad:
        assert_error(client.get(f"{BASE}/requests.json", params=params), 400, words)


def test_tokens_stand_for_their_request_only(client, world, key):
    created = post(client, key).json()[0]
    token = created["token"]
    r = client.get(f"{BASE}/tokens/{token}.json")
    assert r.json() == [{"service_request_id": created["service_request_id"], "token": token}]
    xml = ET.fromstring(client.get(f"{BASE}/tokens/{token}.xml").content)
    assert xml.find("request/service_request_id").text == created["service_request_id"]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert_error(client.get(f"{BASE}/tokens/{forged}.json"), 404, "token")
    assert_error(client.get(f"{BASE}/tokens/nothing.json"), 404, "token")
    # found by fuzzing: a non-ASCII token made the constant-time comparison raise (500)
    assert_error(client.get(f"{BASE}/tokens/{created['service_request_id']}-令牌.json"), 404)


def test_the_staff_api_keeps_its_scope_for_port_reports(client, world, key):
    """The port is public; the staff API still refuses the incident outside a user's area."""
    code = post(client, key).json()[0]["service_request_id"]  # in township 1
    assert client.get(f"/api/v1/incidents/{code}", headers=world.auth("t2")).status_code == 404
    assert client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).status_code == 200
    assert T1 in client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()[
        "grid_code"]  # fmt: skip
