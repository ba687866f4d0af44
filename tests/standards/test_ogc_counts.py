"""The incident counts per grid cell as an OGC API – Features collection: token-scoped,
counted like the map's badges, filtered by ``datetime``; checked against reports made by
hand in the hand-drawn world."""

from datetime import UTC, datetime, timedelta

from tests.world import V1, V2, inside, report

ITEMS = "/ogc/collections/incidents_per_cell/items"


def _counts(client, world, who, **params):
    r = client.get(ITEMS, params=params, headers=world.auth(who) if who else {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    return r.json(), {f["id"]: f["properties"] for f in r.json()["features"]}


def test_counts_per_cell_match_the_reports(client, world):
    for _ in range(3):
        assert report(client, world, who="t1").status_code == 201
    east = inside(2, 2)
    assert report(client, world, who="t2", lon=east[0], lat=east[1]).status_code == 201
    body, cells = _counts(client, world, "county")
    assert body["numberMatched"] == 4 == len(cells)  # every cell of the county, counted or not
    assert cells[V1 + "001"]["total"] == 3 and cells[V1 + "001"]["open"] == 3
    assert cells[V2 + "002"]["total"] == 1
    assert cells[V1 + "002"] == {"code": V1 + "002", "name": cells[V1 + "002"]["name"],
                                 "total": 0, "open": 0, "overdue": 0, "due_soon": 0, "closed": 0}  # fmt: skip
    # the township sees its own cells only; the grid worker its cell
    _, t1 = _counts(client, world, "t1")
    assert set(t1) == {V1 + "001", V1 + "002"}
    _, grid = _counts(client, world, "grid")
    assert set(grid) == {V1 + "001"} and grid[V1 + "001"]["total"] == 3
    # a planner counts (never reads) incidents: counts are what it gets
    _, planner = _counts(client, world, "planner")
    assert planner[V1 + "001"]["total"] == 3


def test_datetime_filters_and_a_single_cell(client, world):
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    assert report(client, world, who="t1", reported_at=old).status_code == 201
    assert report(client, world, who="t1").status_code == 201
    week = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    _, recent = _counts(client, world, "county", datetime=f"{week}/..")
    _, before = _counts(client, world, "county", datetime=f"../{week}")
    _, every = _counts(client, world, "county")
    assert (recent[V1 + "001"]["total"], before[V1 + "001"]["total"]) == (1, 1)
    assert every[V1 + "001"]["total"] == 2
    one = client.get(f"{ITEMS}/{V1}001", headers=world.auth("county"))
    assert one.status_code == 200 and one.json()["properties"]["total"] == 2
    assert client.get(f"{ITEMS}/{V2}001", headers=world.auth("t1")).status_code == 404


def test_restricted_without_a_token_and_bad_datetimes_refused(client, world):
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert "incidents_per_cell" not in ids and "grids" in ids
    assert client.get(ITEMS).status_code == 404
    staff = [c["id"] for c in client.get("/ogc/collections",
                                          headers=world.auth("t1")).json()["collections"]]  # fmt: skip
    assert "incidents_per_cell" in staff
    for bad in ("yesterday", "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z", ".."):
        r = client.get(ITEMS, params={"datetime": bad}, headers=world.auth("t1"))
        assert 400 <= r.status_code < 500 and "datetime" in r.json()["detail"]
