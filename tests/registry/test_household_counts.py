"""One count of a cell's households (gridmap/registry/counts.py) behind every door that shows
it: the area summary (a cell counted live, a village from the per-cell table), the map's
grid badges, the OGC grid cells, and the plan loads — of the plan in force (the registry's
links) and of another plan (every household assigned to its cells: city-wide with the
index, in one county with a tree of its cells). They must agree after a household moves to
another cell and after one moves out (moved-out households are no one's workload)."""

from sqlalchemy import select

from gridmap.areas import codes
from gridmap.areas.models import Area, AreaLevel
from tests.factories import make_area, make_plan
from tests.registry.conftest import CELL, EAST_CELL
from tests.world import COUNTY, T1, T2, V1, V2, X0, Y0, D

WHOLE = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 2 * D + 0.01},{Y0 + 2 * D + 0.01}"
CELLS = (V1 + "001", V1 + "002", V2 + "001", V2 + "002")


def _same_cells_in_a_draft(session, world) -> int:
    """Another plan with cells of the same codes and outlines: its loads are assigned."""
    draft = make_plan(session, "copy")
    for code in CELLS:
        cell = session.scalar(select(Area).where(Area.code == code, Area.plan_id == world.plan_id))
        village = session.scalar(select(Area).where(Area.code == codes.parent_code(code)))
        x = X0 if code.startswith(T1) else X0 + D
        y = Y0 if code.endswith("001") else Y0 + D
        make_area(session, code, AreaLevel.grid, village, draft, bounds=(x, y, x + D, y + D),
                  name=cell.name)  # fmt: skip
    return draft.id


def _households(client, world, draft: int) -> dict[str, dict[str, int]]:
    """Households per cell as each door shows them."""
    county = world.auth("county")

    def layer(layer_id, who, **params):
        r = client.get(f"/api/v1/layers/{layer_id}/features", headers=who,
                       params={"bbox": WHOLE, "zoom": 15} | params)  # fmt: skip
        assert r.status_code == 200, r.text
        return {f["id"]: f["properties"]["households"] for f in r.json()["features"]}

    def summary(code):
        r = client.get(f"/api/v1/areas/{code}", headers=county)
        assert r.status_code == 200, r.text
        return r.json()["counts"]["households"]

    ogc = client.get("/ogc/collections/grids/items").json()["features"]
    planner = world.auth("planner")
    return {
        "area summary": {code: summary(code) for code in CELLS},
        "map badges": layer("grids", None),
        "OGC grid cells": {f["id"]: f["properties"]["households"] for f in ogc},
        "plan in force": layer("plan_cells", planner),
        "another plan": layer("plan_cells", planner, plan=draft),
        "another plan, one county": layer("plan_cells", planner, plan=draft, area=COUNTY),
    }


def _agree(client, world, draft, expected: dict[str, int]) -> None:
    seen = _households(client, world, draft)
    wanted = {code: expected.get(code, 0) for code in CELLS}
    for door, counts in seen.items():
        assert counts == wanted, door
    # the village and the township above the cells sum the same per-cell table
    by_village = {V1: wanted[CELLS[0]] + wanted[CELLS[1]], V2: wanted[CELLS[2]] + wanted[CELLS[3]]}
    for code, total in (*by_village.items(), (T1, by_village[V1]), (T2, by_village[V2])):
        r = client.get(f"/api/v1/areas/{code}", headers=world.auth("county"))
        assert r.json()["counts"]["households"] == total, code


def test_every_door_counts_the_same_households_after_a_move_and_a_move_out(
    client, world, registry, session
):
    draft = _same_cells_in_a_draft(session, world)
    _agree(client, world, draft, {CELL: 3, EAST_CELL: 1})

    family = registry.households["family"]
    moved = client.post(f"/api/v1/households/{family.id}/move", headers=world.auth("county"),
                        json={"version": 1, "house_id": registry.houses["east"].id})  # fmt: skip
    assert moved.status_code == 200, moved.text
    _agree(client, world, draft, {CELL: 2, EAST_CELL: 2})

    elder = registry.households["elder"]
    out = client.post(f"/api/v1/households/{elder.id}/moved-out", headers=world.auth("grid"),
                      json={"version": 1, "note": "随子女迁往外地"})  # fmt: skip
    assert out.status_code == 200, out.text
    _agree(client, world, draft, {CELL: 1, EAST_CELL: 2})
