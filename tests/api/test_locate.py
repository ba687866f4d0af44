"""GET /api/v1/locate on the seeded demo."""

import numpy as np
import pytest
import shapely

from gridmap.crs import from_wgs84
from tests.helpers import assert_problem


@pytest.fixture(scope="module")
def sample(seeded):
    _, data = seeded
    grids = data.areas[data.areas.level == "grid"]
    cell = grids.iloc[len(grids) // 2]
    point = shapely.point_on_surface(cell.geometry)
    return data, cell, point


def test_point_gives_the_whole_hierarchy(seeded_client, sample):
    data, cell, point = sample
    r = seeded_client.get("/api/v1/locate", params={"lon": point.x, "lat": point.y})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inside"] is True and body["plan"]["id"] == 1
    levels = {a["level"]: a for a in body["areas"]}
    assert levels["grid"]["code"] == cell.code and levels["grid"]["name"] == cell["name"]
    assert levels["village"]["code"] == cell.code[:12]
    assert levels["township"]["code"] == cell.code[:9]
    assert levels["county"]["code"] == cell.code[:6]
    assert levels["city"]["code"] == "350500"
    names = data.areas.set_index("code")["name"]
    assert levels["township"]["name"] == names[cell.code[:9]]


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000"])
def test_phone_coordinates_are_converted(seeded_client, sample, crs):
    _, cell, point = sample
    lon, lat = from_wgs84(point.x, point.y, crs)
    body = seeded_client.get("/api/v1/locate", params={"lon": lon, "lat": lat, "crs": crs}).json()
    assert body["areas"][0]["code"] == cell.code
    assert np.allclose(body["wgs84"], [point.x, point.y], atol=1e-7)


def test_category_routes_to_a_unit_with_the_reason(seeded_client, sample):
    _, cell, point = sample
    labour = seeded_client.get(
        "/api/v1/locate", params={"lon": point.x, "lat": point.y, "category": "labour"}
    ).json()
    assert (
        labour["unit"]["type"] == "labour" and labour["unit"]["code"] == f"labour-{cell.code[:6]}"
    )
    assert labour["routing_reason"].startswith("functional: labour")
    neighbour = seeded_client.get(
        "/api/v1/locate", params={"lon": point.x, "lat": point.y, "category": "neighbour"}
    ).json()
    assert neighbour["unit"]["code"] == f"centre-{cell.code[:9]}"  # 属地: the township
    assert neighbour["routing_reason"] == "territorial: township centre"
    police = seeded_client.get(
        "/api/v1/locate", params={"lon": point.x, "lat": point.y, "category": "public_order"}
    ).json()
    assert police["unit"]["code"].startswith(
        f"police-{cell.code[:6]}-"
    )  # the station, not the bureau


def test_outside_point_is_outside_with_nearest_cell(seeded_client):
    r = seeded_client.get("/api/v1/locate", params={"lon": 118.75, "lat": 24.70})  # at sea
    assert r.status_code == 200
    body = r.json()
    assert body["inside"] is False and body["areas"] == []
    assert body["nearest"]["code"] and body["nearest"]["distance_m"] > 1000
    assert "outside the jurisdiction" in body["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 200, "lat": 24.9},
        {"lon": 118.6, "lat": -91},
        {"lon": "abc", "lat": 24.9},
        {"lat": 24.9},
        {"lon": 118.6, "lat": 24.9, "crs": "epsg:3857"},
        {"lon": "nan", "lat": 24.9},
    ],
)
def test_bad_coordinates_are_422(seeded_client, params):
    assert_problem(seeded_client.get("/api/v1/locate", params=params), 422, "validation_error")


def test_unknown_category_is_422_naming_the_known_ones(seeded_client, sample):
    _, _, point = sample
    r = seeded_client.get(
        "/api/v1/locate", params={"lon": point.x, "lat": point.y, "category": "ufo"}
    )
    body = assert_problem(r, 422, "invalid_input")
    assert "labour" in body["detail"]


def test_no_active_plan_is_409(client):
    assert_problem(
        client.get("/api/v1/locate", params={"lon": 118.6, "lat": 24.9}), 409, "conflict"
    )
