"""Offline edits' ids (issue 31, finding 4): a ``client_id`` names one edit of one user.

Uploaded again with the same kind, target and content it is a replay and answers what the
first upload did; used for anything else it is a 409 ``client_id_reused`` naming what it
was first used for — never another object, never a 500.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gridmap.registry.models import RegistryEvent, TaskItem, Visit, WorkUnit
from gridmap.registry.schemas import PersonCreate, VisitCreate, WorkUnitUpdate
from tests.helpers import assert_problem
from tests.registry.conftest import CELL, id_number
from tests.world import T1


def post(client, world, who, path, body):
    return client.post("/api/v1" + path, json=body, headers=world.auth(who))


def patch(client, world, who, path, body):
    return client.patch("/api/v1" + path, json=body, headers=world.auth(who))


@pytest.fixture
def task_row(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    sheet = {"title": "出租屋排查", "area_code": T1, "target": "household",
             "criteria": {"rented": True}, "due_at": due}  # fmt: skip
    assert post(client, world, "t1", "/tasks", sheet).status_code == 201
    [item] = client.get(f"/api/v1/areas/{CELL}/task-items", headers=world.auth("grid")).json()
    return item


def test_an_id_used_for_a_unit_edit_is_refused_for_a_task_row_not_answered_with_another(
    client, world, registry, task_row, session
):
    """The issue's reproduction: PATCH a unit with "V", then complete a task row with "V"."""
    unit = registry.unit
    r = patch(client, world, "grid", f"/units/{unit.id}", {"version": 1, "employees": 7,
                                                          "client_id": "V"})  # fmt: skip
    assert r.status_code == 200, r.text
    r = post(client, world, "grid", f"/task-items/{task_row['id']}/complete",
             {"version": task_row["version"], "result": "已核查", "client_id": "V"})  # fmt: skip
    body = assert_problem(r, 409, "client_id_reused")
    assert "'V'" in body["detail"] and "update_work_unit" in body["detail"]
    assert body["first_use"] == {"kind": "update_work_unit", "target_id": unit.id}
    item = session.get(TaskItem, task_row["id"])
    session.refresh(item)
    assert item.done_at is None  # nothing was done, nothing else answered


def test_the_same_id_for_the_same_edit_with_other_content_is_refused(client, world, registry):
    unit = registry.unit
    first = patch(client, world, "grid", f"/units/{unit.id}",
                  {"version": 1, "employees": 7, "client_id": "e-1"})  # fmt: skip
    assert first.status_code == 200, first.text
    other = patch(client, world, "grid", f"/units/{unit.id}",
                  {"version": 1, "employees": 8, "client_id": "e-1"})  # fmt: skip
    body = assert_problem(other, 409, "client_id_reused")
    assert "different content" in body["detail"]


def test_the_same_id_for_another_target_is_refused(client, world, registry):
    family, elder = registry.households["family"], registry.households["elder"]
    body = {"findings": "正常", "client_id": "v-1"}
    assert post(client, world, "grid", f"/households/{family.id}/visits", body).status_code == 201
    r = post(client, world, "grid", f"/households/{elder.id}/visits", body)
    problem = assert_problem(r, 409, "client_id_reused")
    assert problem["first_use"] == {"kind": "visit", "target_id": family.id}


def test_a_visit_id_is_refused_for_a_registry_edit(client, world, registry, session):
    """Visits and registry edits share one namespace of ids per user."""
    family = registry.households["family"]
    assert post(client, world, "grid", f"/households/{family.id}/visits",
                {"findings": "正常", "client_id": "x-1"}).status_code == 201  # fmt: skip
    r = patch(client, world, "grid", f"/units/{registry.unit.id}",
              {"version": 1, "employees": 77, "client_id": "x-1"})  # fmt: skip
    assert_problem(r, 409, "client_id_reused")
    assert session.get(WorkUnit, registry.unit.id).employees != 77


def test_an_exact_replay_answers_the_first_result_once(client, world, registry, session):
    unit = registry.unit
    body = {"version": 1, "employees": 7, "client_id": "r-1"}
    first = patch(client, world, "grid", f"/units/{unit.id}", body)
    again = patch(client, world, "grid", f"/units/{unit.id}", body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert again.json()["object_id"] == unit.id
    events = select(func.count()).select_from(RegistryEvent).where(RegistryEvent.client_id == "r-1")
    assert session.scalar(events) == 1


def test_each_user_has_their_own_ids(client, world, registry, session):
    """The village worker's "s-1" is not the grid worker's "s-1"."""
    family = registry.households["family"]
    body = {"findings": "正常", "client_id": "s-1"}
    for who in ("grid", "village"):
        assert post(client, world, who, f"/households/{family.id}/visits", body).status_code == 201
    visits = select(func.count()).select_from(Visit).where(Visit.client_id == "s-1")
    assert session.scalar(visits) == 2


def test_a_completed_task_row_replayed_answers_it(client, world, registry, task_row):
    body = {"version": task_row["version"], "result": "已核查", "client_id": "t-1"}
    path = f"/task-items/{task_row['id']}/complete"
    first = post(client, world, "grid", path, body)
    again = post(client, world, "grid", path, body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["id"] == task_row["id"] and again.json()["result"] == "已核查"


def test_sync_reports_applied_replayed_and_reused_per_edit(client, world, registry, task_row):
    unit, family = registry.unit, registry.households["family"]
    edits = {"edits": [
        {"client_id": "y-1", "kind": "update_work_unit", "target_id": unit.id,
         "data": {"version": 1, "employees": 5}},
        {"client_id": "y-1", "kind": "complete_task_row", "target_id": task_row["id"],
         "data": {"version": task_row["version"], "result": "已核查"}},
        {"client_id": "y-2", "kind": "visit", "target_id": family.id,
         "data": {"findings": "正常"}},
    ]}  # fmt: skip
    r = post(client, world, "grid", f"/areas/{CELL}/sync", edits)
    assert r.status_code == 200, r.text
    got = [(x["client_id"], x["status"], x["code"]) for x in r.json()]
    assert got == [("y-1", "applied", None), ("y-1", "conflict", "client_id_reused"),
                   ("y-2", "applied", None)]  # fmt: skip
    assert "update_work_unit" in r.json()[1]["detail"]
    # the same upload again: the applied edits are replays, the reuse is still refused
    again = post(client, world, "grid", f"/areas/{CELL}/sync", edits).json()
    assert [(x["status"], x["code"]) for x in again] == [
        ("duplicate", None),
        ("conflict", "client_id_reused"),
        ("duplicate", None),
    ]
    assert again[0]["object_id"] == unit.id and again[2]["object_id"] == r.json()[2]["object_id"]


def test_an_edit_uploaded_by_sync_then_directly_is_one_edit(client, world, registry):
    """The phone's two doors to one edit: a replay through the other is recognised."""
    unit = registry.unit
    data = {"version": 1, "employees": 9}
    r = post(
        client,
        world,
        "grid",
        f"/areas/{CELL}/sync",
        {
            "edits": [
                {"client_id": "z-1", "kind": "update_work_unit", "target_id": unit.id, "data": data}
            ]
        },
    )
    assert r.json()[0]["status"] == "applied"
    direct = patch(client, world, "grid", f"/units/{unit.id}", data | {"client_id": "z-1"})
    assert direct.status_code == 200 and direct.json()["duplicate"] is True


# -- the content digest (no database) -------------------------------------------------------


def test_the_digest_ignores_spelling_and_the_id_but_not_content():
    from gridmap.registry import offline

    a = WorkUnitUpdate(version=1, employees=5, client_id="a")
    b = WorkUnitUpdate.model_validate({"employees": 5, "version": 1, "client_id": "b"})
    assert offline.digest(a) == offline.digest(b)
    assert offline.digest(a) != offline.digest(WorkUnitUpdate(version=1, employees=6))
    tags = {"name": "甲", "gender": "M", "birth_date": "1990-01-01",
            "id_number": id_number(1, "19900101")}  # fmt: skip
    assert offline.digest(PersonCreate(**tags, tags=["migrant", "disabled"])) == offline.digest(
        PersonCreate(**tags, tags=["disabled", "migrant"])
    )
    assert offline.digest(VisitCreate(findings="x")) != offline.digest(VisitCreate(findings="y"))


def test_the_sync_knows_every_kind_of_offline_edit():
    from gridmap.registry import offline, pack

    assert set(pack.KINDS) == set(offline.KINDS)
