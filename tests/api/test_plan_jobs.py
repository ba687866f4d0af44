"""The studio's rebalancing jobs over HTTP: start, watch, cancel, one at a time, refusals.

The world: township 1's village has two cells (south, north); five buildings of ten
households stand in it, four in the south cell, one in the north one, so a target of 25
moves a building or so north. A job started with POST runs after the response (the test
client runs background tasks before it returns), in the test's transaction.
"""

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text

from gridmap.areas.models import Plan, PlanStatus
from gridmap.plans.jobs import JobState
from gridmap.plans.rebalancing import Cancelled, Stage, rebalance_area
from gridmap.registry.models import Building, BuildingUse
from tests.helpers import assert_problem
from tests.world import T1, T2, V1, X0, Y0, D

SOUTH, NORTH = V1 + "001", V1 + "002"


@pytest.fixture
def built(session, world):
    """Four buildings of ten households in the south cell, one in the north one."""
    spots = [((X0 + D * (i + 1) / 6, Y0 + D * 0.5), SOUTH) for i in range(4)]
    spots.append(((X0 + D * 0.5, Y0 + D * 1.5), NORTH))
    for (x, y), cell in spots:
        session.add(Building(use=BuildingUse.residential, floors=2, households=10,
                             location=from_shape(Point(x, y), srid=4326),
                             plan_id=world.plan_id, grid_code=cell))  # fmt: skip
    session.flush()
    return world


def _start(client, world, who="planner", **body):
    return client.post("/api/v1/plans/drafts", headers=world.auth(who),
                       json={"area": T1, "target": 25, "tolerance": 0.2} | body)  # fmt: skip


def test_a_planner_drafts_a_township_as_a_job(client, session, built):
    r = _start(client, built, name="南北均衡")
    assert r.status_code == 202, r.text
    job = client.get(f"/api/v1/plans/jobs/{r.json()['id']}", headers=built.auth("planner")).json()
    assert job["state"] == "done", job
    assert job["stages"] == ["blocks", "balanced", "saved"] == job["stages_all"]
    assert job["summary"]["cells"] == 2 and job["summary"]["within"] == 2
    assert sorted(row["households"] for row in job["summary"]["table"]) == [20, 30]
    plan = session.get(Plan, job["plan_id"])
    assert plan.status == PlanStatus.draft and plan.name == "南北均衡"
    assert "by planner" in plan.note
    # the draft: township 1 redrawn, township 2 copied from the plan in force
    codes = session.scalars(text("SELECT code FROM area WHERE plan_id = :p ORDER BY code"),
                            {"p": plan.id}).all()  # fmt: skip
    assert codes == [SOUTH, NORTH, T2 + "001001", T2 + "001002"]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"target": 0}, "validation_error", "target"),
        ({"tolerance": 1.5}, "validation_error", "tolerance"),
        ({"area": "35050300"}, "validation_error", "area"),
        # a county: the studio drafts a township or a village
        ({"area": "350503"}, "validation_error", "area"),
        ({"locked": [T2 + "001001"]}, "invalid_input", "not grid cells of 350503001"),
        ({"locked": ["x" * 15]}, "invalid_input", "not grid cells"),
        ({"name": "a\x01b"}, "validation_error", "name"),
    ],
)
def test_bad_input_is_a_problem_and_starts_no_job(client, built, body, code, words):
    r = _start(client, built, **body)
    assert_problem(r, 422, code)
    assert words in r.text, r.text
    assert client.app.state.plan_jobs._jobs == {}


def test_an_unknown_area_or_job_is_named(client, built):
    r = _start(client, built, area="350503009")
    assert_problem(r, 422, "invalid_input")
    assert "350503009" in r.json()["detail"]
    r = client.get("/api/v1/plans/jobs/" + "0" * 32, headers=built.auth("planner"))
    assert_problem(r, 404, "not_found")
    r = client.get("/api/v1/plans/jobs/not-a-job", headers=built.auth("planner"))
    assert_problem(r, 422, "validation_error")


def test_a_job_that_fails_says_why_in_words(client, built):
    # a 15-digit cell of township 1 that the plan in force does not have
    r = _start(client, built, locked=[V1 + "009"])
    assert r.status_code == 202, r.text
    job = client.get(f"/api/v1/plans/jobs/{r.json()['id']}", headers=built.auth("planner")).json()
    assert job["state"] == "failed" and job["plan_id"] is None
    assert f"locked cells ['{V1}009'] are not cells of {T1} in force" in job["error"]


def test_one_job_at_a_time_the_next_is_told_when_to_come_back(client, built):
    jobs = client.app.state.plan_jobs
    waiting = jobs.submit(owner=built.users["admin"], area=T2, parameters={})
    r = _start(client, built)
    assert_problem(r, 503, "busy")
    assert r.headers["Retry-After"] == "15" and T2 in r.json()["detail"]
    # cancelled while queued: at once, and the work never runs
    r = client.delete(f"/api/v1/plans/jobs/{waiting.id}", headers=built.auth("planner"))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    ran = []
    assert jobs.run(waiting.id, lambda *a: ran.append(a) or (None, {})).state == JobState.cancelled
    assert ran == []
    r = client.delete(f"/api/v1/plans/jobs/{waiting.id}", headers=built.auth("planner"))
    assert_problem(r, 409, "conflict")
    assert _start(client, built).status_code == 202  # the server is free again


def test_a_running_job_cancelled_stops_before_saving_anything(client, session, built):
    jobs = client.app.state.plan_jobs
    job = jobs.submit(owner=built.users["planner"], area=T1, parameters={})
    drafts_before = session.scalar(select(func.count()).select_from(Plan))

    def work(progress, cancelled):
        def told(stage):
            progress(stage)
            if stage == Stage.blocks:  # the planner presses cancel while it balances
                r = client.delete(f"/api/v1/plans/jobs/{job.id}", headers=built.auth("planner"))
                assert r.json()["state"] == "running" and r.status_code == 200

        run = rebalance_area(session, area=T1, target=25, tolerance=0.2, draft="never",
                             progress=told, cancelled=cancelled)  # fmt: skip
        return run.plan_id, {}

    jobs.run(job.id, work)
    read = client.get(f"/api/v1/plans/jobs/{job.id}", headers=built.auth("planner")).json()
    assert read["state"] == "cancelled" and read["stages"] == ["blocks"]
    assert session.scalar(select(func.count()).select_from(Plan)) == drafts_before


def test_the_engine_function_refuses_to_save_once_cancelled(session, built):
    told: list[str] = []
    with pytest.raises(Cancelled, match="before saved"):
        rebalance_area(session, area=T1, target=25, draft="x",
                       cancelled=lambda: told == ["blocks", "balanced"],
                       progress=lambda s: told.append(s.value))  # fmt: skip
    assert session.scalar(select(func.count()).where(Plan.name == "x")) == 0


def test_a_locked_cell_is_kept_as_it_is(client, session, built):
    r = _start(client, built, locked=[SOUTH])
    job = client.get(f"/api/v1/plans/jobs/{r.json()['id']}", headers=built.auth("planner")).json()
    assert job["state"] == "done", job
    table = {row["cell"]: row["households"] for row in job["summary"]["table"]}
    assert table == {SOUTH: 40, NORTH: 10}  # out of the band, but locked: not touched
