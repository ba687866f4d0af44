"""The map's feature endpoint and the OGC items read a layer through one builder
(gridmap/maps/query.py): for every collection a reader may read, the same objects carry the
same property names and values (masked alike) at both doors; the map adds only what it draws
with (DRAWING)."""

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from gridmap.auth.models import Role
from gridmap.maps.collections import PER_CELL, collections
from gridmap.maps.layer import DRAWING
from gridmap.registry.models import Building, BuildingUse, House, Household, WorkUnit
from layers import LAYERS
from tests.world import V1, X0, Y0, D, inside, report

WHOLE = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 2 * D + 0.01},{Y0 + 2 * D + 0.01}"
PHONE = "13805951234"


@pytest.fixture
def places(session, world, client):
    """A building and a work unit with a phone typed into their text, a household, incidents."""
    lon, lat = inside(1, 1)
    where = {"plan_id": world.plan_id, "grid_code": V1 + "001"}
    point = from_shape(Point(lon, lat), srid=4326)
    building = Building(use=BuildingUse.mixed, floors=4, location=point,
                        address=f"东街1号 房东{PHONE}", **where)  # fmt: skip
    session.add(building)
    session.flush()
    house = House(building_id=building.id, unit_no="101", **where)
    session.add(house)
    session.flush()
    session.add(Household(house_id=house.id, size=2, location=point, **where))
    session.add(WorkUnit(name=f"便利店 电话{PHONE}", type="shop", employees=3, location=point,
                         building_id=building.id, **where))  # fmt: skip
    session.flush()
    for township, cell in ((1, 1), (1, 1), (2, 2)):
        x, y = inside(township, cell)
        assert report(client, world, who="county", lon=x, lat=y).status_code == 201


def _map(client, world, who, layer_id):
    layer = LAYERS[layer_id.removesuffix(PER_CELL)]
    zoom = 15 if layer_id.endswith(PER_CELL) else max(15, layer.min_zoom)  # counts: by cell
    r = client.get(f"/api/v1/layers/{layer.id}/features", headers=world.auth(who) if who else {},
                   params={"bbox": WHOLE, "zoom": zoom})  # fmt: skip
    assert r.status_code == 200, r.text
    return {f["id"]: f["properties"] for f in r.json()["features"]}


def _ogc(client, world, who, layer_id):
    r = client.get(f"/ogc/collections/{layer_id}/items", headers=world.auth(who) if who else {},
                   params={"limit": 1000})  # fmt: skip
    assert r.status_code == 200, r.text
    return {f["id"]: f["properties"] for f in r.json()["features"]}


@pytest.mark.parametrize(("who", "role"), [(None, None), ("county", Role.county_dispatcher),
                                           ("t1", Role.township_dispatcher),
                                           ("planner", Role.planner)])  # fmt: skip
def test_every_collection_carries_what_the_map_carries(client, world, places, who, role):
    readable = [layer.id for layer in collections(LAYERS, role)]
    assert {"counties", "townships", "villages", "grids", "buildings", "work_units"} <= set(
        readable
    )
    for layer_id in readable:
        on_map, in_ogc = _map(client, world, who, layer_id), _ogc(client, world, who, layer_id)
        assert in_ogc, layer_id  # something to compare
        assert set(on_map) == set(in_ogc), layer_id  # the same objects: same rows, same scope
        for fid, properties in in_ogc.items():
            drawn = {k: v for k, v in on_map[fid].items() if k not in DRAWING}
            assert drawn == properties, (layer_id, fid)
    if who is not None:
        assert "incidents_per_cell" in readable  # the counts were compared too


def test_text_is_masked_alike_and_numbers_are_the_declared_ones(client, world, places):
    building = next(iter(_ogc(client, world, None, "buildings").values()))
    assert PHONE not in building["address"] and building["households"] == 1
    assert building["use"] == "mixed" and set(building) == set(LAYERS["buildings"].properties)
    unit = next(iter(_ogc(client, world, None, "work_units").values()))
    assert PHONE not in unit["name"] and unit["type"] == "shop"
    cells = _ogc(client, world, None, "grids")
    assert cells[V1 + "001"]["households"] == 1
