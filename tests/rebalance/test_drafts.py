"""A draft plan from new cells of one township, and the change-impact report checked by
hand on the hand-drawn world: township 1's two cells are redrawn as a west and an east
strip, so every household of the grid worker's cell moves to the new east cell."""

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import shapely
from sqlalchemy import func, select

from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.plans.drafts import draft_from_cells, impact
from gridmap.registry.models import Visit
from tests.registry.conftest import CELL
from tests.registry.conftest import registry as registry  # the fixture
from tests.world import T1, T2, V1, X0, Y0, D, report


def test_a_draft_and_its_impact(client, session, world, registry):
    cut = X0 + 0.3 * D  # the registry's buildings stand at 0.5 D and 0.6 D: east of the cut
    cells = gpd.GeoDataFrame(
        {"code": [V1 + "001", V1 + "003"]},
        geometry=[shapely.box(X0, Y0, cut, Y0 + 2 * D), shapely.box(cut, Y0, X0 + D, Y0 + 2 * D)],
        crs=4326,
    )  # fmt: skip
    incident = report(client, world, who="t1").json()  # open, in the grid worker's cell
    # the family was visited last week: not due; the elder and the renters never were
    session.add(Visit(household_id=registry.households["family"].id, grid_code=CELL,
                      visited_at=datetime.now(UTC) - timedelta(days=7)))  # fmt: skip
    session.flush()
    draft = draft_from_cells(session, "strips", T1, cells)
    assert draft.status == PlanStatus.draft
    codes = set(session.scalars(select(Area.code).where(Area.plan_id == draft.id)))
    # township 2's cells are copied, township 1's replaced
    assert codes == {V1 + "001", V1 + "003", T2 + "001001", T2 + "001002"}
    active = session.scalar(select(Plan.id).where(Plan.status == PlanStatus.active))

    report_ = impact(session, active, draft.id, T1)
    assert report_["cells_added"] == [V1 + "003"]
    assert report_["cells_removed"] == [V1 + "002"]
    assert report_["households"] == 3  # elder, renters, family (the east household is T2's)
    assert report_["households_moved"] == 3 and report_["people_moved"] == 5
    # per pair of cells: all three from the grid worker's cell into the new east strip
    assert report_["moved_by_cell"] == [
        {"from": CELL, "to": V1 + "003", "households": 3, "people": 5}
    ]
    assert report_["cells_changed"] == [
        {"cell": CELL, "households_before": 3, "households_after": 0}
    ]
    assert report_["grid_workers"] == [{
        "username": "grid", "cell": CELL, "households_before": 3, "households_after": 0,
        "leaving": 3, "joining": 0, "cell_removed": False,
    }]  # fmt: skip
    assert report_["open_incidents_moving"] == [
        {"code": incident["code"], "from": CELL, "to": V1 + "003"}
    ]
    assert report_["visits_due_moving"] == 2
    assert report_["visits_due_moving_by_cell"] == [
        {"from": CELL, "to": V1 + "003", "households": 2}
    ]
    # nothing of the registry changed: the draft is not active
    assert session.scalar(select(func.count()).select_from(Area).where(
        Area.plan_id == active)) == 4  # fmt: skip


def test_a_draft_refuses_cells_outside_its_area(session, world):
    cells = gpd.GeoDataFrame({"code": [T2 + "001009"]},
                             geometry=[shapely.box(X0, Y0, X0 + D, Y0 + D)], crs=4326)  # fmt: skip
    import pytest

    from gridmap.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not 15-digit cells of 350503001"):
        draft_from_cells(session, "bad", T1, cells)


def test_the_plans_api_shows_the_impact_and_the_admin_activates(client, session, world,
                                                                registry):  # fmt: skip
    cut = X0 + 0.3 * D
    cells = gpd.GeoDataFrame(
        {"code": [V1 + "001", V1 + "003"]},
        geometry=[shapely.box(X0, Y0, cut, Y0 + 2 * D), shapely.box(cut, Y0, X0 + D, Y0 + 2 * D)],
        crs=4326,
    )  # fmt: skip
    report(client, world, who="t1")
    draft = draft_from_cells(session, "strips", T1, cells)
    listed = client.get("/api/v1/plans", headers=world.auth("planner")).json()
    assert [(p["name"], p["status"], p["cells"]) for p in listed][-1] == ("strips", "draft", 4)
    r = client.get(f"/api/v1/plans/{draft.id}/impact", params={"area": T1},
                   headers=world.auth("planner"))  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["households_moved"] == 3 and body["open_incidents_moving"] == 1
    assert body["visits_due_moving"] == 3  # nobody visited yet
    assert "QZ" not in r.text  # no incident named to a planner
    assert client.post(f"/api/v1/plans/{draft.id}/activate",
                       headers=world.auth("planner")).status_code == 403  # fmt: skip
    # the planner prepares it (in the background): the moves are stored, nothing moves yet
    r = client.post(f"/api/v1/plans/{draft.id}/prepare", headers=world.auth("planner"))
    assert r.status_code == 202 and r.json()["prepared_at"] is None, r.text
    session.expire_all()  # the job wrote through a session of its own
    shown = client.get(f"/api/v1/plans/{draft.id}", headers=world.auth("planner")).json()
    assert shown["prepared_at"] is not None and shown["status"] == "draft"
    r = client.post(f"/api/v1/plans/{draft.id}/activate", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    # the switch, then the catch-up (run after the response): its stages and counts
    shown = client.get(f"/api/v1/plans/{draft.id}/publication", headers=world.auth("planner"))
    publication = shown.json()
    assert publication["stage"] == "done" and publication["prepared"] is True, shown.text
    households = publication["tables"]["household"]
    assert (households["todo"], households["done"], households["rows"]) == (3, 3, 3)
    assert publication["switched_at"] <= publication["finished_at"]
    r = client.post(f"/api/v1/plans/{draft.id}/prepare", headers=world.auth("planner"))
    assert r.status_code == 409 and "only a draft" in r.text
    # the registry follows: the grid worker's cell now holds none of those households
    session.expire_all()
    moved = client.get(f"/api/v1/areas/{V1}003/households", headers=world.auth("admin")).json()
    assert moved["total"] == 3


def test_the_impact_of_a_draft_moving_more_households_than_a_statement_has_parameters(
    session, world, registry
):
    """A county's re-cut moves 200,000 households: their ids go to the database as one array
    (an IN list takes a parameter each, and a statement at most 65,535)."""
    from sqlalchemy import text

    session.execute(
        text("INSERT INTO household (size, status, location, grid_code, plan_id, assigned_at) "
             "SELECT size, status, location, grid_code, plan_id, assigned_at "
             "FROM household, generate_series(1, 70000) WHERE id = :family"),
        {"family": registry.households["family"].id},
    )  # fmt: skip
    cut = X0 + 0.3 * D  # every household of the grid worker's cell moves east
    cells = gpd.GeoDataFrame(
        {"code": [V1 + "001", V1 + "003"]},
        geometry=[shapely.box(X0, Y0, cut, Y0 + 2 * D), shapely.box(cut, Y0, X0 + D, Y0 + 2 * D)],
        crs=4326,
    )  # fmt: skip
    draft = draft_from_cells(session, "strips", T1, cells)
    report_ = impact(session, world.plan_id, draft.id, T1)
    assert report_["households_moved"] == 70_003
    assert report_["visits_due_moving"] == 70_003  # none of them ever visited
