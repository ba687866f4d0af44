"""The registry over HTTP: reads in scope and masked, edits with history and versions,
visits, task sheets, the offline pack and sync, the audit log."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gridmap.auth.models import AuditLog, Role
from gridmap.incidents.models import Channel, Incident
from gridmap.registry.models import Building, House, RegistryEvent, Visit
from tests.helpers import assert_problem
from tests.registry.conftest import CELL, EAST_CELL, id_number
from tests.world import T1, V1, inside


def get(client, world, who, path, **params):
    return client.get("/api/v1" + path, params=params, headers=world.auth(who))


def post(client, world, who, path, body):
    return client.post("/api/v1" + path, json=body, headers=world.auth(who))


# -- reads ------------------------------------------------------------------------------------


def test_a_grid_worker_lists_the_households_of_their_cell_masked(client, world, registry):
    r = get(client, world, "grid", f"/areas/{CELL}/households")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3
    members = [m for hh in body["items"] for m in hh["members"]]
    assert {m["name"] for m in members} == {"陈*伯", "王*户", "王*明", "林*国", "林*"}
    for m in members:
        assert "********" in m["id_number"] and "****" in (m["phone"] or "****")
    assert registry.people["陈老伯"].id_number not in r.text
    elder = next(hh for hh in body["items"] if hh["id"] == registry.households["elder"].id)
    assert elder["address"] == "东湖路1号" and elder["unit_no"] == "101"


@pytest.mark.parametrize(("params", "expected"), [
    ({"tag": "elderly_alone"}, {"elder"}),
    ({"tag": "migrant"}, {"renters"}),
    ({}, {"elder", "renters", "family"}),
])  # fmt: skip
def test_household_filters(client, world, registry, params, expected):
    r = get(client, world, "grid", f"/areas/{CELL}/households", **params)
    ids = {hh["id"] for hh in r.json()["items"]}
    assert ids == {registry.households[k].id for k in expected}


def test_buildings_with_houses_and_units(client, world, registry):
    body = get(client, world, "grid", f"/areas/{CELL}/buildings").json()
    a = next(b for b in body["items"] if b["id"] == registry.buildings["a"].id)
    assert a["households"] == 2 and {h["unit_no"] for h in a["houses"]} == {"101", "102"}
    units = get(client, world, "grid", f"/areas/{CELL}/units").json()["items"]
    assert [u["name"] for u in units] == ["东湖便利店"] and units[0][
        "contact_phone"
    ] == "139****1111"


def test_another_areas_objects_answer_404(client, world, registry):
    east = registry.households["east"]
    assert_problem(get(client, world, "grid", f"/households/{east.id}"), 404, "not_found")
    assert_problem(get(client, world, "grid", f"/areas/{EAST_CELL}/households"), 404, "not_found")
    assert_problem(get(client, world, "t1", f"/buildings/{registry.buildings['east'].id}"), 404,
                   "not_found")  # fmt: skip
    assert get(client, world, "t2", f"/households/{east.id}").status_code == 200


@pytest.mark.parametrize("who", ["planner", "analyst", "labour"])
def test_roles_that_never_read_people_are_refused(client, world, registry, who):
    assert_problem(
        get(client, world, who, f"/areas/{CELL}/households"), 403, "forbidden"
    ) if who != "labour" else None
    r = get(client, world, who, f"/households/{registry.households['elder'].id}")
    assert r.status_code in (403, 404)
    assert_problem(get(client, world, who, "/people", q="陈"), 403, "forbidden")


def test_person_search_by_name_and_by_id_suffix(client, world, registry):
    by_name = get(client, world, "t1", "/people", q="王").json()
    assert {p["name"] for p in by_name} == {"王*户", "王*明"}
    target = registry.people["林芳"]
    by_suffix = get(client, world, "t1", "/people", q=target.id_number[-6:]).json()
    assert [p["id"] for p in by_suffix] == [target.id]
    east = registry.people["郑东"]
    assert get(client, world, "t1", "/people", q=east.id_number[-6:]).json() == []  # not theirs
    assert_problem(get(client, world, "t1", "/people", q="123"), 422, "invalid_input")


@pytest.mark.parametrize("q", ["%", "_", "%%", "王%", "\\", "²³⁴⁵"])
def test_like_wildcards_in_a_search_are_taken_literally(client, world, registry, q):
    """q=% used to match everyone in the reader's area."""
    r = get(client, world, "t1", "/people", q=q)
    assert r.status_code in (200, 422), r.text
    assert r.status_code == 422 or r.json() == []


def test_area_summary_counts_special_groups_and_grid_workers(client, world, registry):
    body = get(client, world, "t1", f"/areas/{CELL}").json()
    c = body["counts"]
    assert (c["buildings"], c["households"], c["people"], c["work_units"]) == (2, 3, 5, 1)
    assert c["group_elderly_alone"] == 1 and c["group_migrant"] == 2 and c["renters"] == 1
    assert [w["username"] for w in body["grid_workers"]] == ["grid"]


def test_unmasking_a_person_needs_a_reason_and_is_audited(client, world, registry, session):
    person = registry.people["林芳"]
    path = f"/people/{person.id}"
    assert_problem(get(client, world, "grid", path, unmasked=True), 422, "invalid_input")
    r = get(client, world, "grid", path, unmasked=True, reason="入户核实身份")
    assert r.json()["id_number"] == person.id_number
    assert_problem(get(client, world, "analyst", path, unmasked=True, reason="统计用途"), 403,
                   "forbidden")  # fmt: skip
    log = get(client, world, "admin", "/audit", object_id=str(person.id)).json()
    assert [(e["username"], e["action"]) for e in log] == [
        ("analyst", "read_unmasked_refused"),
        ("grid", "read_unmasked"),
        ("grid", "read_unmasked_refused"),
    ]
    assert log[1]["reason"] == "入户核实身份"
    assert_problem(get(client, world, "t1", "/audit"), 403, "forbidden")


# -- edits ------------------------------------------------------------------------------------


def new_member(seq=901, **extra):  # 901: the 17th digit is odd, a man
    return {"name": "黄新", "gender": "M", "birth_date": "1990-01-01",
            "id_number": id_number(seq, "19900101"), "phone": "13905950000"} | extra  # fmt: skip


def test_registering_a_household_writes_an_event_and_counts_it(client, world, registry, session):
    body = {"building_id": registry.buildings["b"].id, "unit_no": "301",
            "members": [new_member(is_household_head=True)]}  # fmt: skip
    r = post(client, world, "grid", f"/areas/{CELL}/households", body)
    assert r.status_code == 201, r.text
    event = session.get(RegistryEvent, r.json()["event_id"])
    assert event.action == "register_household" and event.after["members"][0]["name"] == "黄新"
    assert "id_number" not in event.after["members"][0]
    session.refresh(registry.buildings["b"])
    assert registry.buildings["b"].households == 2  # the trigger counted it


@pytest.mark.parametrize(("member", "status", "code"), [
    ({"id_number": "350503199001010009"}, 422, "validation_error"),  # wrong check digit
    ({"tags": ["vip"]}, 422, "validation_error"),
    ({"birth_date": "2199-01-01"}, 422, "validation_error"),
])  # fmt: skip
def test_bad_people_are_refused(client, world, registry, member, status, code):
    r = post(client, world, "grid", f"/households/{registry.households['family'].id}/people",
             new_member(**member))  # fmt: skip
    assert_problem(r, status, code)


def test_a_registered_id_number_is_409(client, world, registry):
    taken = registry.people["林芳"].id_number
    r = post(client, world, "grid", f"/households/{registry.households['family'].id}/people",
             {"name": "黄新", "id_number": taken})  # fmt: skip
    assert_problem(r, 409, "conflict")


def test_moving_a_household_checks_the_version_and_answers_both(client, world, registry, session):
    hh = registry.households["family"]
    path = f"/households/{hh.id}/move"
    target = {"house_id": registry.houses["a101"].id}
    stale = post(client, world, "grid", path, {"version": 99} | target)
    body = assert_problem(stale, 409, "stale_version")
    assert body["current"]["version"] == 1 and body["submitted"]["version"] == 99
    moved = post(client, world, "grid", path, {"version": 1} | target)
    assert moved.status_code == 200 and moved.json()["version"] == 2
    for key, expected in (("a", 3), ("b", 0)):
        session.refresh(registry.buildings[key])
        assert registry.buildings[key].households == expected
    again = post(client, world, "grid", path, {"version": 1} | target)
    assert_problem(again, 409, "stale_version")


@pytest.mark.parametrize(("unit_no", "floor"), [("1²³4", 1), ("1203", 12),
                                                ("9" * 20, 1), ("一单元", 1)])  # fmt: skip
def test_a_new_house_takes_its_floor_from_ascii_digits(client, world, registry, session,
                                                      unit_no, floor):  # fmt: skip
    """str.isdigit accepts "1²³4", which int() then refused: a 500."""
    hh = registry.households["family"]
    body = {"version": 1, "building_id": registry.buildings["a"].id, "unit_no": unit_no}
    r = post(client, world, "grid", f"/households/{hh.id}/move", body)
    assert r.status_code == 200, r.text
    session.refresh(hh)
    house = session.get(House, hh.house_id)
    assert (house.unit_no, house.floor) == (unit_no, floor)


def test_moved_out_and_deceased_keep_everything(client, world, registry, session):
    elder = registry.people["陈老伯"]
    r = post(
        client, world, "grid", f"/people/{elder.id}/status", {"version": 1, "status": "deceased"}
    )
    assert r.status_code == 200
    assert get(client, world, "grid", f"/people/{elder.id}").json()["status"] == "deceased"
    hh = registry.households["renters"]
    r = post(
        client, world, "grid", f"/households/{hh.id}/moved-out", {"version": 1, "note": "租约到期"}
    )
    assert r.status_code == 200
    listed = get(client, world, "grid", f"/areas/{CELL}/households").json()
    assert hh.id not in {h["id"] for h in listed["items"]}
    gone = get(client, world, "grid", f"/areas/{CELL}/households", status="moved_out").json()
    assert [h["id"] for h in gone["items"]] == [hh.id]
    assert all(m["status"] == "moved_out" for m in gone["items"][0]["members"])
    session.refresh(registry.buildings["a"])
    assert registry.buildings["a"].households == 1


def test_updating_a_work_unit_keeps_the_history(client, world, registry, session):
    unit = registry.unit
    r = client.patch(f"/api/v1/units/{unit.id}", json={"version": 1, "employees": 7,
                     "contact_phone": "13705958888"}, headers=world.auth("grid"))  # fmt: skip
    assert r.status_code == 200, r.text
    event = session.get(RegistryEvent, r.json()["event_id"])
    assert event.before["employees"] == 3 and event.after["employees"] == 7
    assert event.after["contact_phone"] == "137****8888"  # the log keeps no phone numbers
    stale = client.patch(f"/api/v1/units/{unit.id}", json={"version": 1, "employees": 9},
                         headers=world.auth("grid"))  # fmt: skip
    assert_problem(stale, 409, "stale_version")


def test_only_registry_editors_edit_and_only_in_their_area(client, world, registry):
    hh = registry.households["family"]
    for who in ("analyst", "planner", "labour"):
        r = post(client, world, who, f"/households/{hh.id}/people", new_member())
        assert r.status_code in (403, 404), who
    east = registry.households["east"]
    r = post(client, world, "grid", f"/households/{east.id}/people", new_member())
    assert_problem(r, 404, "not_found")


# -- visits -----------------------------------------------------------------------------------


def test_a_visit_far_from_the_building_is_recorded_with_a_warning(client, world, registry):
    hh = registry.households["family"]
    lon, lat = inside(1, 1)
    near = post(client, world, "grid", f"/households/{hh.id}/visits",
                {"findings": "一切正常", "lon": lon + 0.0012, "lat": lat})  # fmt: skip
    assert near.status_code == 201 and near.json()["warning"] is None
    far = post(client, world, "grid", f"/households/{hh.id}/visits",
               {"findings": "门锁着", "lon": lon + 0.01, "lat": lat})  # fmt: skip
    assert far.status_code == 201 and "from the household's building" in far.json()["warning"]
    assert 900 < far.json()["distance_m"] < 1200


def test_visits_due_follow_the_special_groups(client, world, registry, session):
    due = {
        d["household_id"]: d for d in get(client, world, "grid", f"/areas/{CELL}/visits-due").json()
    }
    assert set(due) == {registry.households[k].id for k in ("elder", "renters", "family")}
    assert due[registry.households["elder"].id]["interval_days"] == 30
    assert due[registry.households["renters"].id]["interval_days"] == 90
    for key, days_ago in (("elder", 40), ("family", 40)):
        session.add(Visit(household_id=registry.households[key].id, grid_code=CELL,
                          visited_at=datetime.now(UTC) - timedelta(days=days_ago)))  # fmt: skip
    session.flush()
    due = {
        d["household_id"]: d for d in get(client, world, "grid", f"/areas/{CELL}/visits-due").json()
    }
    # the elderly man living alone is due again after a month; the family only after 180 days
    assert registry.households["elder"].id in due and registry.households["family"].id not in due
    assert due[registry.households["elder"].id]["overdue_days"] == 10


@pytest.mark.parametrize(
    "when",
    ["2100-01-01T09:00:00+08:00", "1999-12-31T09:00:00+08:00", "9999-12-31T23:59:59-14:00",
     "2026-03-01T09:30:00"],  # the last has no time zone
)  # fmt: skip
def test_a_visit_dated_in_the_future_or_before_2000_is_refused(client, world, registry, when):
    """A visit dated 2100 was stored and its household dropped out of the visits due."""
    hh = registry.households["elder"]
    r = post(client, world, "grid", f"/households/{hh.id}/visits", {"visited_at": when})
    assert_problem(r, 422, "validation_error")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = post(client, world, "grid", f"/households/{hh.id}/visits", {"visited_at": tomorrow})
    assert "future" in assert_problem(r, 422, "validation_error")["detail"]
    # the same visit uploaded from a phone that was offline is refused the same way
    offline = {"client_id": "v-1", "kind": "visit", "target_id": hh.id,
               "data": {"visited_at": when}}  # fmt: skip
    sync = post(client, world, "grid", f"/areas/{CELL}/sync", {"edits": [offline]})
    assert sync.status_code == 200 and sync.json()[0]["status"] == "refused"
    due = get(client, world, "grid", f"/areas/{CELL}/visits-due").json()
    assert hh.id in {d["household_id"] for d in due}
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = post(client, world, "grid", f"/households/{hh.id}/visits", {"visited_at": hour_ago})
    assert r.status_code == 201, r.text


def test_the_visit_service_bounds_a_time_that_skipped_the_schema(session, world, registry):
    from gridmap.errors import InvalidInput
    from gridmap.registry import schemas, visits
    from gridmap.scope import Actor

    grid = Actor(world.users["grid"], Role.grid_worker, CELL, None, "grid")
    unchecked = schemas.VisitCreate().model_copy(
        update={"visited_at": datetime(2100, 1, 1, tzinfo=UTC)}
    )
    with pytest.raises(InvalidInput, match="visited_at is in the future"):
        visits.record(session, grid, registry.households["elder"].id, unchecked)


def test_a_finding_becomes_an_incident_in_one_step(client, world, registry, session):
    hh = registry.households["family"]
    r = post(client, world, "grid", f"/households/{hh.id}/visits",
             {"findings": "邻居噪音纠纷", "incident_category": "neighbour"})  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["incident_code"]
    incident = session.scalar(select(Incident).where(Incident.code == code))
    assert incident.channel == Channel.grid_app and incident.grid_code == CELL
    assert incident.created_by_id == world.users["grid"]


def test_a_visit_uploaded_twice_is_recorded_once(client, world, registry, session):
    hh = registry.households["family"]
    body = {"findings": "离线记录", "client_id": "phone-1-visit-7"}
    first = post(client, world, "grid", f"/households/{hh.id}/visits", body)
    again = post(client, world, "grid", f"/households/{hh.id}/visits", body)
    assert first.json()["id"] == again.json()["id"] and again.json()["duplicate"] is True
    assert (
        session.scalar(select(func.count()).select_from(Visit).where(Visit.household_id == hh.id))
        == 1
    )


def test_an_empty_client_id_is_refused_not_shared(client, world, registry):
    """Found by fuzzing: "" was one id for every upload of a user (the second got a 409)."""
    hh = registry.households["family"]
    r = post(
        client, world, "grid", f"/households/{hh.id}/visits", {"findings": "x", "client_id": ""}
    )
    assert r.status_code == 422 and "client_id" in r.text


# -- task sheets ----------------------------------------------------------------------------------


def test_a_task_sheet_fans_out_and_is_completed(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    sheet = {"title": "出租屋排查", "area_code": T1, "target": "household",
             "criteria": {"rented": True}, "due_at": due}  # fmt: skip
    assert_problem(post(client, world, "grid", "/tasks", sheet), 403, "forbidden")
    r = post(client, world, "t1", "/tasks", sheet)
    assert r.status_code == 201, r.text
    task = r.json()
    assert (task["total"], task["done"]) == (1, 0)
    [item] = get(client, world, "grid", f"/areas/{CELL}/task-items").json()
    assert item["target_id"] == registry.households["renters"].id
    since = get(client, world, "grid", f"/areas/{CELL}/pack").json()["generated_at"]
    done = post(client, world, "grid", f"/task-items/{item['id']}/complete",
                {"version": item["version"], "result": "已登记2名租户"})  # fmt: skip
    assert done.status_code == 200 and done.json()["result"] == "已登记2名租户"
    # a phone that pulls the changes learns the row is done (done on another phone, say)
    delta = get(client, world, "grid", f"/areas/{CELL}/pack", since=since).json()
    assert delta["done_task_items"] == [item["id"]] and delta["task_items"] == []
    progress = get(client, world, "t1", f"/tasks/{task['id']}").json()
    assert progress["done"] == 1
    assert progress["by_cell"] == [{"key": CELL, "total": 1, "done": 1}]
    assert progress["by_worker"] == [{"key": "grid", "total": 1, "done": 1}]
    assert get(client, world, "grid", f"/areas/{CELL}/task-items").json() == []


@pytest.mark.parametrize(("target", "criteria", "rows"), [
    ("work_unit", {"type": "shop"}, 1), ("building", {"use": "residential"}, 1),
    ("household", {"tag": "elderly_alone"}, 1), ("building", {}, 2),
])  # fmt: skip
def test_task_criteria(client, world, registry, target, criteria, rows):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    r = post(client, world, "village", "/tasks", {"title": "检查", "area_code": V1, "target": target,
                                                  "criteria": criteria, "due_at": due})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["total"] == rows


def test_bad_task_sheets_are_refused(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    base = {"title": "检查", "area_code": V1, "target": "household", "due_at": due}
    assert_problem(post(client, world, "village", "/tasks", base | {"criteria": {"use": "x"}}),
                   422, "invalid_input")  # fmt: skip
    assert_problem(post(client, world, "village", "/tasks", base | {"area_code": T1 + "002"}), 403,
                   "forbidden")  # fmt: skip


@pytest.mark.parametrize(
    ("target", "criteria"),
    [("household", {"rented": "false"}), ("household", {"rented": 0}),
     ("household", {"tag": ["migrant"]}), ("building", {"use": ["residential"]}),
     ("work_unit", {"type": {"a": 1}}), ("household", {"owner": "x"})],
)  # fmt: skip
def test_task_criteria_of_the_wrong_type_are_refused(client, world, registry, target, criteria):
    """ "rented": "false" was read as true; a list for tag or use was a 500."""
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    sheet = {
        "title": "检查",
        "area_code": V1,
        "target": target,
        "criteria": criteria,
        "due_at": due,
    }
    assert_problem(post(client, world, "village", "/tasks", sheet), 422, "validation_error")


def test_a_task_criteria_key_no_database_can_store_is_refused(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    sheet = {"title": "t", "area_code": V1, "target": "household", "due_at": due}
    raw = json.dumps(sheet)[:-1] + ', "criteria": {"\\ud800": 1}}'  # a lone surrogate
    r = client.post("/api/v1/tasks", content=raw.encode(),
                    headers={"Content-Type": "application/json"} | world.auth("village"))  # fmt: skip
    assert_problem(r, 422, "validation_error")


def test_rented_false_selects_the_houses_not_rented(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    sheet = {"title": "检查", "area_code": V1, "target": "household", "due_at": due}
    for rented, rows in ((True, 1), (False, 2)):
        r = post(client, world, "village", "/tasks", sheet | {"criteria": {"rented": rented}})
        assert r.status_code == 201 and r.json()["total"] == rows, r.text
        assert r.json()["criteria"] == {"rented": rented}


@pytest.mark.parametrize("due", ["2100-01-01T00:00:00+08:00", "1999-01-01T00:00:00+08:00",
                                 "2026-12-01T00:00:00"])  # fmt: skip
def test_a_task_sheet_due_outside_the_window_is_refused(client, world, registry, due):
    sheet = {"title": "检查", "area_code": V1, "target": "building", "due_at": due}
    assert_problem(post(client, world, "village", "/tasks", sheet), 422, "validation_error")


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                   "2026-01-01T00:00:00"])  # fmt: skip
def test_an_offline_pack_since_outside_the_window_is_422(client, world, registry, since):
    r = get(client, world, "grid", f"/areas/{CELL}/pack", since=since)
    assert_problem(r, 422, "validation_error")


# -- offline pack and sync ------------------------------------------------------------------------


def test_the_offline_pack_holds_the_cell_masked_and_then_only_changes(client, world, registry):
    r = get(client, world, "grid", f"/areas/{CELL}/pack")
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert len(bundle["households"]) == 3 and len(bundle["buildings"]) == 2
    assert len(bundle["units"]) == 1 and len(bundle["visits_due"]) == 3
    assert registry.people["林芳"].id_number not in r.text and "13905951111" not in r.text
    since = bundle["generated_at"]
    nothing = get(client, world, "grid", f"/areas/{CELL}/pack", since=since).json()
    assert nothing["households"] == [] and nothing["buildings"] == []
    hh = registry.households["family"]
    post(client, world, "grid", f"/households/{hh.id}/people", new_member())
    changed = get(client, world, "grid", f"/areas/{CELL}/pack", since=since).json()
    assert [h["id"] for h in changed["households"]] == [hh.id]


def test_sync_applies_each_edit_once_and_answers_conflicts_with_both_versions(
    client, world, registry
):
    hh = registry.households["family"]
    unit = registry.unit
    edits = {"edits": [
        {"client_id": "c-1", "kind": "register_person", "target_id": hh.id, "data": new_member()},
        {"client_id": "c-2", "kind": "update_work_unit", "target_id": unit.id,
         "data": {"version": 1, "employees": 5}},
        {"client_id": "c-3", "kind": "visit", "target_id": hh.id, "data": {"findings": "正常"}},
        {"client_id": "c-4", "kind": "move_household", "target_id": hh.id,
         "data": {"version": 7, "house_id": registry.houses["a101"].id}},
        {"client_id": "c-5", "kind": "no_such_edit", "target_id": hh.id, "data": {}},
    ]}  # fmt: skip
    r = post(client, world, "grid", f"/areas/{CELL}/sync", edits)
    assert r.status_code == 200, r.text
    first = {x["client_id"]: x for x in r.json()}
    assert [first[c]["status"] for c in ("c-1", "c-2", "c-3", "c-4", "c-5")] == [
        "applied",
        "applied",
        "applied",
        "conflict",
        "refused",
    ]
    # the household's version moved when c-1 added a member: c-4 was made on version 7
    assert first["c-4"]["current"]["version"] == 2 and first["c-4"]["submitted"]["version"] == 7
    again = {
        x["client_id"]: x for x in post(client, world, "grid", f"/areas/{CELL}/sync", edits).json()
    }
    assert [again[c]["status"] for c in ("c-1", "c-2", "c-3")] == ["duplicate"] * 3
    assert again["c-1"]["object_id"] == first["c-1"]["object_id"]
    members = get(client, world, "grid", f"/households/{hh.id}").json()["members"]
    assert sum(m["name"] == "黄*" for m in members) == 1  # 黄新, masked


def test_the_building_count_trigger_agrees_with_a_recount(session, registry):
    from sqlalchemy import text

    rows = session.execute(text(
        "SELECT b.id, b.households, (SELECT count(*) FROM household h JOIN house ho ON "
        "ho.id = h.house_id WHERE ho.building_id = b.id AND h.status = 'active') FROM building b"
    )).all()  # fmt: skip
    assert rows and all(stored == counted for _, stored, counted in rows)
    assert session.scalar(select(func.count()).select_from(Building)) == 3
    assert session.scalar(select(func.count()).select_from(AuditLog)) >= 0


# -- follow-up on incidents of the cell (跟踪落实整改) -------------------------------------------


def test_a_grid_worker_adds_a_follow_up_note_and_photo_but_cannot_close(client, world):
    import io

    from PIL import Image

    from tests.world import act, report

    inc = report(client, world, who="t1").json()
    code = inc["code"]
    dispatched = act(client, world, "t1", code, "dispatch", inc["version"],
                     unit_code="labour-350503").json()  # fmt: skip
    assert "note" in get(client, world, "grid", f"/incidents/{code}").json()["allowed_actions"]
    empty = act(client, world, "grid", code, "note", dispatched["version"], note="  ")
    assert_problem(empty, 422, "invalid_input")
    assert "a note is required" in empty.json()["detail"]
    noted = act(client, world, "grid", code, "note", dispatched["version"],
                note="已上门查看，工厂承诺月底前发放")  # fmt: skip
    assert noted.status_code == 200, noted.text
    body = noted.json()
    # a note changes neither the state nor the version: a dispatcher's next action is not stale
    assert body["status"] == "dispatched" and body["version"] == dispatched["version"]
    last = body["history"][-1]
    assert last["action"] == "note" and last["note"] == "已上门查看，工厂承诺月底前发放"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "JPEG")
    photo = client.post(f"/api/v1/incidents/{code}/photos",
                        files={"photo": ("fix.jpg", buf.getvalue(), "image/jpeg")},
                        headers=world.auth("grid"))  # fmt: skip
    assert photo.status_code == 201, photo.text
    for action in ("close", "transfer", "supervise"):
        r = act(client, world, "grid", code, action, body["version"])
        assert r.status_code in (403, 409), (action, r.text)
        assert r.status_code == 403 or "cannot" in r.json()["detail"]
    # another cell's grid worker does not see it at all
    east = report(client, world, who="t2", lon=inside(2, 1)[0], lat=inside(2, 1)[1]).json()
    r = act(client, world, "grid", east["code"], "note", east["version"], note="路过看看")
    assert r.status_code == 404


def test_a_pack_since_names_the_incidents_closed_meanwhile(client, world, registry):
    from tests.world import act, report

    inc = report(client, world, who="t1").json()
    first = get(client, world, "grid", f"/areas/{CELL}/pack").json()
    assert inc["code"] in [i["code"] for i in first["incidents"]]
    assert first["closed_incidents"] == [] and first["done_task_items"] == []
    rejected = act(client, world, "t1", inc["code"], "reject", inc["version"], note="无效")
    assert rejected.json()["status"] == "rejected", rejected.text
    delta = get(client, world, "grid", f"/areas/{CELL}/pack", since=first["generated_at"]).json()
    assert delta["closed_incidents"] == [inc["code"]] and delta["incidents"] == []


def test_visits_due_come_most_urgent_first_by_the_interval_rule(client, world, registry):
    """Special groups (the shortest interval) first, then never visited, then most overdue."""
    from gridmap.registry import schemas
    from gridmap.registry.visits import urgency

    due = get(client, world, "grid", f"/areas/{CELL}/visits-due").json()
    intervals = [d["interval_days"] for d in due]
    assert intervals == sorted(intervals) and intervals[0] == 30, due
    assert due[0]["household_id"] == registry.households["elder"].id
    assert [d["household_id"] for d in due] == [
        d.household_id
        for d in sorted((schemas.DueVisit.model_validate(d) for d in due), key=urgency)
    ]


def test_a_phone_is_updated_alike_through_the_api_and_the_sync(client, world, registry, session):
    """One edit, two doors (PATCH /people/{id} and the sync's update_person), one validator."""
    person = registry.people["林芳"]
    path = f"/people/{person.id}"
    bad = client.patch("/api/v1" + path, json={"version": person.version, "phone": "12012345678"},
                       headers=world.auth("grid"))  # fmt: skip
    assert bad.status_code == 422
    synced_bad = post(client, world, "grid", f"/areas/{CELL}/sync", {"edits": [{
        "client_id": "phone-bad", "kind": "update_person", "target_id": person.id,
        "data": {"version": person.version, "phone": "12012345678"}}]}).json()[0]  # fmt: skip
    assert synced_bad["status"] == "refused" and synced_bad["code"] == "invalid_input"
    assert "phone" in synced_bad["detail"] and "phone" in bad.json()["detail"]
    first = client.patch("/api/v1" + path, json={"version": person.version, "phone": "13905951234"},
                         headers=world.auth("grid"))  # fmt: skip
    assert first.status_code == 200, first.text
    session.refresh(person)
    assert person.phone == "13905951234" and person.version == first.json()["version"]
    # the phone, offline on the old version: a conflict with both versions
    stale = post(client, world, "grid", f"/areas/{CELL}/sync", {"edits": [{
        "client_id": "phone-old", "kind": "update_person", "target_id": person.id,
        "data": {"version": first.json()["version"] - 1, "phone": "13905955678"}}]}).json()[0]  # fmt: skip
    assert stale["status"] == "conflict" and stale["code"] == "stale_version"
    assert stale["current"]["version"] == person.version
    again = {"client_id": "phone-new", "kind": "update_person", "target_id": person.id,
             "data": {"version": person.version, "phone": "13905955678"}}  # fmt: skip
    applied = post(client, world, "grid", f"/areas/{CELL}/sync", {"edits": [again, again]}).json()
    assert [a["status"] for a in applied] == ["applied", "duplicate"]
    session.refresh(person)
    assert person.phone == "13905955678"
    outside = client.patch("/api/v1" + path, json={"version": person.version, "phone": "13905950000"},
                           headers=world.auth("analyst"))  # fmt: skip
    assert outside.status_code in (403, 404)
