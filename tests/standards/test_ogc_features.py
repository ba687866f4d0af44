"""OGC API – Features against a live uvicorn server on the seeded database, read by
existing clients unchanged: GDAL's OAPIF driver (through pyogrio) and OWSLib; and the
required fields of Part 1 Core checked endpoint by endpoint."""

import os

import httpx
import pyogrio
import pytest
import shapely


@pytest.fixture(scope="module")
def base(seeded):
    """A uvicorn server in a process of its own (GDAL holds the interpreter while it reads,
    so a server thread in this process could not answer it)."""
    from benchmarks.common import api_server

    url, _ = seeded
    os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "false"
    with api_server(url) as base:
        yield base


def test_gdal_reads_a_collection_whole_across_pages_and_with_a_bbox(base, seeded):
    _, data = seeded
    townships = data.areas[data.areas.level == "township"]
    # PAGE_SIZE=3: GDAL follows the "next" links until the last page
    frame = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="townships", PAGE_SIZE="3")
    assert sorted(frame["code"]) == sorted(townships.code)
    assert set(frame["name"]) == set(townships.name)
    assert frame.crs.to_string() == "OGC:CRS84"
    one = townships.iloc[0]
    box = shapely.box(*shapely.buffer(one.geometry.centroid, 0.001).bounds)
    hit = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="townships", bbox=box.bounds)
    assert one.code in set(hit["code"]) and len(hit) < len(townships)
    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{base}/ogc")}
    assert {"counties", "townships", "villages", "grids", "buildings", "work_units"} <= layers
    assert "incidents" not in layers  # restricted: not for an anonymous reader


def test_owslib_reads_the_landing_page_collections_and_items(base, seeded):
    from owslib.ogcapi.features import Features

    _, data = seeded
    api = Features(f"{base}/ogc")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()[
        "conformsTo"]  # fmt: skip
    ids = [c["id"] for c in api.collections()["collections"]]
    assert "counties" in ids and "buildings" in ids
    page = api.collection_items("townships", limit=2)
    assert page["numberReturned"] == 2
    assert page["numberMatched"] == int((data.areas.level == "township").sum()) > 2
    assert any(link["rel"] == "next" for link in page["links"])


def test_required_fields_of_part_1_core(base, seeded):
    _, data = seeded
    landing = httpx.get(f"{base}/ogc").json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "service-desc", "conformance",
                                                           "data"}  # fmt: skip
    assert httpx.get(f"{base}/openapi.json").status_code == 200  # service-desc resolves
    collection = httpx.get(f"{base}/ogc/collections/grids").json()
    assert collection["id"] == "grids" and collection["itemType"] == "feature"
    assert {"items", "self"} <= {link["rel"] for link in collection["links"]}
    assert len(collection["extent"]["spatial"]["bbox"][0]) == 4
    r = httpx.get(f"{base}/ogc/collections/grids/items", params={"limit": 5})
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] == int((data.areas.level == "grid").sum())
    assert "timeStamp" in body and {"self", "next"} <= {link["rel"] for link in body["links"]}
    first = body["features"][0]
    item = httpx.get(f"{base}/ogc/collections/grids/items/{first['id']}")
    assert item.status_code == 200 and item.json()["id"] == first["id"]
    assert item.json()["geometry"] == first["geometry"]
    # no personal data in any collection's properties
    for cid in ("buildings", "work_units"):
        feats = httpx.get(f"{base}/ogc/collections/{cid}/items", params={"limit": 50}).json()
        for f in feats["features"]:
            assert not {"id_number", "phone", "contact_phone", "name_of_head"} & set(
                f["properties"]
            )


def test_part_2_crs_cgcs2000_swaps_to_latitude_first(base):
    plain = httpx.get(f"{base}/ogc/collections/counties/items", params={"limit": 1}).json()
    r = httpx.get(f"{base}/ogc/collections/counties/items", params={
        "limit": 1, "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})  # fmt: skip
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    lon, lat = plain["features"][0]["geometry"]["coordinates"][0][0][0]
    assert r.json()["features"][0]["geometry"]["coordinates"][0][0][0] == [lat, lon]
    # a bbox given latitude first in bbox-crs finds the same county
    b = shapely.geometry.shape(plain["features"][0]["geometry"]).bounds
    r = httpx.get(f"{base}/ogc/collections/counties/items", params={
        "bbox": f"{b[1]},{b[0]},{b[3]},{b[2]}", "bbox-crs": "EPSG:4490"})  # fmt: skip
    assert plain["features"][0]["id"] in {f["id"] for f in r.json()["features"]}


@pytest.mark.parametrize(("path", "status"), [
    ("/ogc/collections/nope", 404), ("/ogc/collections/incidents/items", 404),
    ("/ogc/collections/grids/items?bbox=1,2,3", 400), ("/ogc/collections/grids/items?crs=EPSG:3857", 400),
    ("/ogc/collections/grids/items?limit=0", 400), ("/ogc/collections/grids/items/999", 404),
])  # fmt: skip
def test_errors_are_problems_not_500s(base, path, status):
    r = httpx.get(base + path)
    assert r.status_code == status, r.text  # an invalid value is 400 (query-param-invalid)
    assert r.headers["content-type"].startswith("application/problem+json")


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_gets_pages_and_clients_keep_json(base):
    """Accept: text/html (a browser) → a page holding the JSON document's contents."""
    items = httpx.get(f"{base}/ogc/collections/townships/items", params={"limit": 2}).json()
    one = items["features"][0]["id"]
    for path, words in [
        ("/ogc", ["gridmap", f"{base}/ogc/collections"]),
        ("/ogc/collections", ["townships", "counties", "buildings"]),
        ("/ogc/collections/townships", ["townships", f"{base}/ogc/collections/townships/items"]),
        ("/ogc/collections/townships/items?limit=2", [str(f["id"]) for f in items["features"]]),
        (f"/ogc/collections/townships/items/{one}", [str(one)]),
    ]:
        page = httpx.get(base + path, headers=BROWSER)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html"), path
        assert all(w in page.text for w in words), (path, words)
        for accept in (None, "application/geo+json, application/json", "*/*",
                       "text/html;q=0.5, application/json"):  # fmt: skip
            answer = httpx.get(base + path, headers={"Accept": accept} if accept else {})
            assert "json" in answer.headers["content-type"], (path, accept)
            answer.json()
