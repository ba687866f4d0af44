"""Map layers over HTTP: declarations, features at every zoom, scope, counts that equal /stats."""

import dataclasses
import json

import pytest

from gridmap.maps.layer import PERSONAL, Aggregation, Field, Layer, Source, Text
from layers import LAYERS
from tests.helpers import assert_problem
from tests.world import COUNTY, T1, T2, V1, X0, Y0, D, inside, report

WHOLE = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 2 * D + 0.01},{Y0 + 2 * D + 0.01}"


def features(client, world, layer, who="county", **params):
    params = {"bbox": WHOLE, "zoom": 12} | params
    headers = world.auth(who) if who else {}
    r = client.get(f"/api/v1/layers/{layer}/features", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r.json()


def stats(client, world, who="county", **params):
    return client.get("/api/v1/stats", params=params, headers=world.auth(who)).json()[0]


@pytest.fixture
def incidents(client, world):
    """Five incidents: three labour and two neighbour, in both townships."""
    made = []
    for i in range(5):
        lon, lat = inside(1 + i % 2, 1 + (i // 2) % 2)
        who = "t1" if i % 2 == 0 else "t2"
        made.append(
            report(
                client,
                world,
                who=who,
                lon=lon,
                lat=lat,
                category="labour" if i < 3 else "neighbour",
            ).json()
        )
    return made


def test_every_declared_layer_is_listed_for_the_roles_that_may_read_it(client, world):
    anonymous = {d["id"] for d in client.get("/api/v1/layers").json()}
    assert anonymous == {i for i, layer in LAYERS.items() if layer.public}
    assert "incidents" not in anonymous and "counties" in anonymous
    planner = {d["id"] for d in client.get("/api/v1/layers", headers=world.auth("planner")).json()}
    assert "plan_cells" in planner
    grid = {d["id"] for d in client.get("/api/v1/layers", headers=world.auth("grid")).json()}
    assert "plan_cells" not in grid and "incidents" in grid
    english = client.get("/api/v1/layers", params={"lang": "en"}).json()
    assert {d["title"] for d in english} >= {"Counties", "Grid cells"}


def test_no_layer_declares_personal_data():
    for layer in LAYERS.values():
        assert not {f.name for f in layer.popup} & PERSONAL
    with pytest.raises(ValueError, match="personal data"):
        Layer(
            id="x",
            title=Text("x", "x"),
            source=Source.table,
            geometry="point",
            table="person",
            popup=(Field("id_number", Text("身份证", "ID")),),
        )


@pytest.mark.parametrize(
    ("zoom", "level", "codes"),
    [
        (9, "county", {COUNTY}),
        (11, "township", {T1, T2}),
        (13, "village", {V1, T2 + "001"}),
        (15, "grid", {V1 + "001", V1 + "002", T2 + "001001", T2 + "001002"}),
    ],
)
def test_incidents_are_counted_along_the_hierarchy(client, world, incidents, zoom, level, codes):
    fc = features(client, world, "incidents", zoom=zoom)
    assert fc["level"] == level
    assert {f["properties"]["code"] for f in fc["features"]} == codes
    totals = {
        k: sum(f["properties"][k] for f in fc["features"]) for k in ("total", "open", "overdue")
    }
    s = stats(client, world)
    assert totals == {"total": 5, "open": s["open"], "overdue": s["overdue"]} and s["open"] == 5


def test_counts_follow_the_filters_of_incidents(client, world, incidents):
    fc = features(client, world, "incidents", zoom=9, category="labour")
    [county] = fc["features"]
    assert county["properties"]["total"] == 3
    listed = client.get(
        "/api/v1/incidents", params={"category": "labour"}, headers=world.auth("county")
    )
    assert listed.json()["total"] == 3
    assert stats(client, world, category="labour")["open"] == 3


def test_close_in_incidents_are_points_without_personal_data(client, world, incidents):
    fc = features(client, world, "incidents", zoom=17)
    assert fc["level"] == "points" and len(fc["features"]) == 5
    props = fc["features"][0]["properties"]
    assert {"code", "category_name", "status", "state", "_color"} <= set(props)
    text = json.dumps(fc, ensure_ascii=False)
    assert "陈明" not in text and "13805951234" not in text and "reporter" not in text


def test_a_township_dispatcher_gets_only_their_township(client, world, incidents):
    for zoom in (11, 13, 15, 17):
        fc = features(client, world, "incidents", who="t1", zoom=zoom)
        codes = [f["properties"]["code"] for f in fc["features"]]
        grids = (
            [f["properties"]["grid_code"] for f in fc["features"]]
            if fc["level"] == "points"
            else codes
        )
        assert codes and all(c.startswith(T1) for c in grids), (zoom, codes)


def test_planners_never_get_points(client, world, incidents):
    fc = features(client, world, "incidents", who="planner", zoom=18)
    assert fc["level"] == "grid" and sum(f["properties"]["total"] for f in fc["features"]) == 5


def test_too_many_points_are_counted_by_cell_instead(client, world, incidents, monkeypatch):
    small = dataclasses.replace(
        LAYERS["incidents"],
        aggregation=Aggregation(steps=LAYERS["incidents"].aggregation.steps, max_points=3),
    )
    monkeypatch.setitem(LAYERS, "incidents", small)
    fc = features(client, world, "incidents", zoom=18)
    assert fc["level"] == "grid" and fc["truncated"] is True


def test_heat_weights_add_up_to_the_incidents(client, world, incidents):
    fc = features(client, world, "incident_heat", zoom=12)
    assert sum(f["properties"]["weight"] for f in fc["features"]) == 5


def test_area_outlines_are_public_and_answer_the_bbox(client, world):
    fc = features(client, world, "townships", who=None, zoom=12)
    assert {f["properties"]["code"] for f in fc["features"]} == {T1, T2}
    west = f"{X0 + 0.001},{Y0 + 0.001},{X0 + 0.002},{Y0 + 0.002}"
    fc = features(client, world, "grids", who=None, zoom=15, bbox=west)
    assert [f["properties"]["code"] for f in fc["features"]] == [V1 + "001"]


def test_restricted_layers_need_a_token(client, world):
    r = client.get("/api/v1/layers/incidents/features", params={"bbox": WHOLE})
    assert_problem(r, 404, "not_found")  # not even listed for anonymous users


@pytest.mark.parametrize(
    "params", [{"bbox": "1,2,3"}, {"zoom": "30"}, {"bbox": "118,24,117,25"}, {"lang": "fr"}]
)
def test_bad_map_requests_are_4xx(client, world, params):
    r = client.get("/api/v1/layers/counties/features", params=params)
    assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json"


def test_facets_count_each_value_as_the_list_would(client, world, incidents):
    facets = client.get("/api/v1/maps/facets", headers=world.auth("county")).json()
    by_category = {f["value"]: f["count"] for f in facets["category"]}
    assert by_category == {"labour": 3, "neighbour": 2}
    by_area = {f["value"]: f["count"] for f in facets["area"]}
    assert by_area == {T1: 3, T2: 2}
    # a facet ignores its own criterion, so the other values stay visible
    narrowed = client.get(
        "/api/v1/maps/facets", params={"category": "labour"}, headers=world.auth("county")
    ).json()
    assert {f["value"] for f in narrowed["category"]} == {"labour", "neighbour"}
    assert {f["value"]: f["count"] for f in narrowed["area"]} == {T1: 2, T2: 1}


def test_pages_are_served_and_hold_no_data(client):
    for path in ("/maps/dispatch", "/maps/grid/350503001001001", "/maps/plans/1?compare=2"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "cdn" not in r.text.lower() and "https://" not in r.text.split("</head>")[0]
    english = client.get("/maps/dispatch", params={"lang": "en"}).text
    assert "dispatch map" in english and 'lang="en"' in english


def test_the_field_app_its_manifest_and_its_worker(client):
    """The grid worker's app: one scope for page, manifest and worker; every asset local."""
    import json
    import re

    assert client.get("/field", follow_redirects=False).headers["location"] == "/field/"
    page = client.get("/field/", params={"lang": "en"})
    assert page.status_code == 200 and 'lang="en"' in page.text
    assert "https://" not in page.text.split("</head>")[0]
    manifest = client.get("/field/manifest.webmanifest").json()
    assert manifest["scope"] == manifest["start_url"] == "/field/"
    worker = client.get("/field/sw.js")
    # the worker's own policy lets it fetch what it keeps (the API's forbids every fetch)
    assert worker.headers["content-security-policy"].startswith("default-src 'self'")
    kept = json.loads(re.search(r"const ASSETS = (\[.*?\]);", worker.text).group(1))
    assert "/field/" in kept and all(client.get(url).status_code == 200 for url in kept)
    assert set(re.findall(r'(?:src|href)="(/static/maps/[^"]+)"', page.text)) <= set(kept)


def test_map_assets_are_served_locally(client):
    html = client.get("/maps/dispatch").text
    for src in ("leaflet.js", "leaflet-heat.js", "gridmap-map.js", "leaflet.css"):
        assert src in html
    import re

    for url in re.findall(r'(?:src|href)="(/static/maps/[^"]+)"', html):
        assert client.get(url).status_code == 200, url


def test_display_in_gcj02_shifts_every_coordinate_with_gridmap_crs(client, world, incidents):
    from gridmap.crs import from_wgs84

    plain = features(client, world, "incidents", zoom=17)
    shifted = features(client, world, "incidents", zoom=17, display_crs="gcj02")
    a = {f["id"]: f["geometry"]["coordinates"] for f in plain["features"]}
    b = {f["id"]: f["geometry"]["coordinates"] for f in shifted["features"]}
    assert a.keys() == b.keys()
    for code, (x, y) in a.items():
        gx, gy = from_wgs84(x, y, "gcj02")
        assert abs(b[code][0] - gx) < 2e-6 and abs(b[code][1] - gy) < 2e-6
        assert abs(b[code][0] - x) > 1e-4  # a shift of hundreds of metres, really applied
    import shapely

    before = features(client, world, "townships", who=None)["features"][0]
    after = features(client, world, "townships", who=None, display_crs="gcj02")["features"][0]
    c0 = shapely.from_geojson(json.dumps(before["geometry"])).centroid
    c1 = shapely.from_geojson(json.dumps(after["geometry"])).centroid
    gx, gy = from_wgs84(c0.x, c0.y, "gcj02")
    assert abs(c1.x - gx) < 1e-5 and abs(c1.y - gy) < 1e-5


def test_buildings_carry_their_household_counts_and_no_people(client, world, session):
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from gridmap.registry.models import Building, House, Household, Person

    lon, lat = inside(1, 1)
    where = {"plan_id": world.plan_id, "grid_code": V1 + "001"}
    point = from_shape(Point(lon, lat), srid=4326)
    full = Building(use="residential", floors=6, location=point, address="东街1号", **where)
    empty = Building(use="commercial", floors=2, location=point, address="东街2号", **where)
    session.add_all([full, empty])
    session.flush()
    houses = [House(building_id=full.id, unit_no=f"10{i}", **where) for i in range(2)]
    session.add_all(houses)
    session.flush()
    for house, n in ((houses[0], 2), (houses[1], 1)):
        for _ in range(n):
            hh = Household(house_id=house.id, size=3, location=point, **where)
            session.add(hh)
            session.flush()
            session.add(Person(household_id=hh.id, name="林某", gender="F", birth_date="1980-01-01",
                               id_number=f"35050319800101{hh.id % 1000:03d}X", **where))  # fmt: skip
    session.flush()
    fc = features(client, world, "buildings", who=None, zoom=17)
    by_address = {f["properties"]["address"]: f["properties"] for f in fc["features"]}
    assert by_address["东街1号"]["households"] == 3 and by_address["东街2号"]["households"] == 0
    assert by_address["东街1号"]["_color"] != by_address["东街2号"]["_color"]
    assert "林某" not in json.dumps(fc, ensure_ascii=False)
    hidden = features(client, world, "buildings", who=None, zoom=12)
    assert hidden["features"] == [] and "hidden" in hidden
