"""A county comparison over HTTP (the plan_cells layer): a draft whose first village is cut
by a zigzag finer than a pixel at county zoom, the second village copied as it is.

The cells drawn are simplified for the zoom; which cells changed is still decided on the
stored outlines (PostGIS' ``ST_Equals`` is the reference), neighbouring cells still share
their edges, and the standalone file (``gridmap map plan``) draws what the API answers.
"""

import json

import pytest
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import select, text

from gridmap.areas.models import Area, AreaLevel
from gridmap.maps import export
from layers import LAYERS
from tests.factories import make_area, make_plan
from tests.world import COUNTY, V1, V2, X0, Y0, D

WHOLE = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 2 * D + 0.01},{Y0 + 2 * D + 0.01}"


def _zigzag_draft(session) -> int:
    draft = make_plan(session, "zigzag")
    village = session.scalar(select(Area).where(Area.code == V1))
    edge = [(X0 + D * i / 80, Y0 + D + (0.0002 if i % 2 else 0.0)) for i in range(81)]
    halves = {
        V1 + "001": Polygon([(X0, Y0), (X0 + D, Y0), *edge[::-1]]),
        V1 + "002": Polygon([*edge, (X0 + D, Y0 + 2 * D), (X0, Y0 + 2 * D)]),
    }
    for code, polygon in halves.items():
        session.add(Area(code=code, name=code, level=AreaLevel.grid, parent_id=village.id,
                         parent_level=village.level, plan_id=draft.id,
                         geom=from_shape(MultiPolygon([polygon]), srid=4326)))  # fmt: skip
    other, x = session.scalar(select(Area).where(Area.code == V2)), X0 + D
    # as tests/world.py draws them (x + D is not X0 + 2 * D in floating point)
    make_area(session, V2 + "001", AreaLevel.grid, other, draft, bounds=(x, Y0, x + D, Y0 + D))
    make_area(session, V2 + "002", AreaLevel.grid, other, draft,
              bounds=(x, Y0 + D, x + D, Y0 + 2 * D))  # fmt: skip
    session.flush()
    return draft.id


def _compare(client, world, plan, other, zoom):
    params = {"plan": plan, "area": COUNTY, "zoom": zoom, "bbox": WHOLE}
    if other is not None:
        params["compare"] = other
    r = client.get("/api/v1/layers/plan_cells/features", headers=world.auth("planner"),
                   params=params)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def _reference(session, plan, other) -> dict[str, str]:
    """The change of each cell by PostGIS on the stored outlines."""
    rows = session.execute(text(
        "SELECT a.code, CASE WHEN b.code IS NULL THEN 'added' "
        "WHEN ST_Equals(a.geom, b.geom) THEN 'same' ELSE 'changed' END "
        "FROM area a LEFT JOIN area b ON b.code = a.code AND b.plan_id = :other "
        "WHERE a.plan_id = :plan"), {"plan": plan, "other": other}).all()  # fmt: skip
    return dict(rows)


@pytest.mark.parametrize("zoom", [9, 12, 18])
def test_the_simplified_comparison_marks_exactly_the_changed_cells(client, world, session, zoom):
    draft = _zigzag_draft(session)
    for plan, other in ((draft, world.plan_id), (world.plan_id, draft)):
        fc = _compare(client, world, plan, other, zoom)
        got = {f["id"]: f["properties"]["change"] for f in fc["features"]}
        assert got == _reference(session, plan, other)
        assert sorted(c for c, change in got.items() if change == "changed") == [
            V1 + "001",
            V1 + "002",
        ]


def test_neighbouring_cells_still_share_their_edges_at_county_zoom(client, world, session):
    draft = _zigzag_draft(session)
    stored = {r[0]: shapely.from_wkb(bytes(r[1])) for r in session.execute(
        text("SELECT code, ST_AsBinary(geom) FROM area WHERE plan_id = :p"), {"p": draft})}  # fmt: skip
    drawn = {f["id"]: shape(f["geometry"]) for f in _compare(client, world, draft, None, 10)[
        "features"]}  # fmt: skip
    south, north = drawn[V1 + "001"], drawn[V1 + "002"]
    assert (
        len(shapely.get_coordinates(south)) < len(shapely.get_coordinates(stored[V1 + "001"])) / 4
    )
    union = shapely.union_all(list(drawn.values()))
    assert abs(sum(p.area for p in drawn.values()) - union.area) < 1e-12  # no overlap
    assert shapely.union_all(list(stored.values())).difference(union).area < 1e-12  # no gap
    assert south.intersection(north).length >= D  # they meet along the whole edge
    assert south.intersection(drawn[V2 + "001"]).length == pytest.approx(D, abs=1e-5)


def test_the_standalone_file_draws_what_the_api_answers(
    client, world, session, settings, monkeypatch
):
    draft = _zigzag_draft(session)
    drawn = []
    monkeypatch.setattr(export, "render", lambda config, inline: drawn.append(config.data) or "")
    export.plan_file(session=session, settings=settings, catalogue=LAYERS, plan_id=draft,
                     compare=world.plan_id, target=400, area=COUNTY, lang="zh")  # fmt: skip
    plans = drawn[0]["plans"]
    for plan, other in ((draft, world.plan_id), (world.plan_id, draft)):
        api = _compare(client, world, plan, other, 12)  # the zoom the file's snapshot is taken at
        assert json.loads(json.dumps(plans[str(plan)]["features"])) == api["features"]
