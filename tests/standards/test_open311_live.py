"""Open311 GeoReport v2 on a live uvicorn server, read by a third-party client unchanged.

``georeport`` (a GeoReport v2 client library from PyPI) reads the services, a definition
and requests in both formats; reports are posted form-encoded with ``requests`` exactly as
the spec's example does (georeport cannot post). The database is the writable demo seed.
"""

import os
import uuid

import pytest
import requests as http
import shapely
from georeport import GeoReport
from sqlalchemy import text

from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from gridmap.open311.clients import create_client


@pytest.fixture(scope="module")
def live(fresh):
    from benchmarks.common import api_server

    url, data = fresh
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        _, key = create_client(session, f"live-{uuid.uuid4().hex[:8]}")
    os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "false"
    with api_server(url) as base:
        yield base + "/open311/v2", key, data, engine
    engine.dispose()


def test_georeport_reads_the_services_in_json_and_xml(live):
    base, _, _, engine = live
    with engine.connect() as conn:
        categories = dict(conn.execute(text("SELECT category, name FROM routing_rule")).all())
    for fmt in ("json", "xml"):
        client = GeoReport(base, jurisdiction="350500", output_format=fmt)
        services = client.get_service_list()
        assert {s["service_code"]: s["service_name"] for s in services} == categories
        definition = client.get_service_definition("labour")
        assert definition["service_code"] == "labour"
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = attributes["attribute"]
        assert [a["code"] for a in attributes] == ["title", "people_involved", "occurred_at"]


def test_a_report_posted_as_the_spec_shows_is_read_back_by_georeport(live):
    base, key, data, _ = live
    grid = data.areas[data.areas.level == "grid"].iloc[0]
    point = shapely.point_on_surface(grid.geometry)
    # the fields of the spec's POST example, form-encoded
    form = {
        "api_key": key, "service_code": "road_damage", "lat": f"{point.y:.6f}",
        "long": f"{point.x:.6f}", "email": "citizen@example.org", "device_id": "phone-1",
        "account_id": "", "first_name": "明", "last_name": "陈", "phone": "13805951234",
        "description": "路灯不亮，井盖缺失", "media_url": "https://photos.example/1.jpg",
    }  # fmt: skip
    r = http.post(f"{base}/requests.json", data=form, timeout=10)
    assert r.status_code == 201, r.text
    code = r.json()[0]["service_request_id"]
    for fmt in ("json", "xml"):
        client = GeoReport(base, output_format=fmt)
        one = client.get_service_request(code)
        assert one["service_request_id"] == code and one["status"] == "open"
        assert one["service_code"] == "road_damage" and one["agency_responsible"]
        assert one["address"].startswith("泉州市")
        listed = client.get_service_requests(service_request_id=code)
        listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one is a dict
        assert [r["service_request_id"] for r in listed] == [code]
    token = r.json()[0]["token"]
    assert http.get(f"{base}/tokens/{token}.json", timeout=10).json()[0][
        "service_request_id"] == code  # fmt: skip


def test_a_window_of_the_seeds_appeals_matches_the_database(live):
    base, _, _, engine = live
    with engine.connect() as conn:
        start, end = conn.execute(text(
            "SELECT max(reported_at) - interval '30 days', max(reported_at) FROM incident "
            "WHERE channel IN ('citizen_app', 'window', 'hotline', 'online') "
            "AND reported_at < now() - interval '1 day'")).one()  # the seed's history  # fmt: skip
        expected = conn.execute(text(
            "SELECT code FROM incident WHERE channel IN ('citizen_app', 'window', 'hotline', "
            "'online') AND reported_at BETWEEN :s AND :e ORDER BY reported_at DESC, id DESC "
            "LIMIT 1000"), {"s": start, "e": end}).scalars().all()  # fmt: skip
    client = GeoReport(base)
    got = client.get_service_requests(start_date=start.isoformat(), end_date=end.isoformat())
    assert len(expected) > 10
    assert [r["service_request_id"] for r in got] == list(expected)
    assert all(r["description"] is None for r in got)  # published without the citizen's text
