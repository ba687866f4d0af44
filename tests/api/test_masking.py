"""Personal data typed into free text comes back masked on every read path (issue 31).

A phone or ID number typed, in one of the ways people type them, into an incident's text,
a visit finding, a task sheet or a work unit's name and address is masked for a reader who
may not unmask (the analyst), in the offline pack, and on the anonymous map layers and OGC
collections; an audited unmasked read shows what was typed. Names are masked as 张*三.
"""

import json
from datetime import UTC, datetime, timedelta

from tests.registry.conftest import CELL
from tests.registry.conftest import registry as registry  # the fixture
from tests.world import X0, Y0, D, act, report

PHONE = "13805956789"
TYPED = "+86 138-0595-6789"  # how it is typed: prefix, dashes
SHOWN = "138****6789"
ID = "35050319900101123X"
TYPED_ID = "ID３５０５０３ １９９００１０１ １２３Ｘ"  # glued label, full-width, spaces
SHOWN_ID = "350503********123X"
WHOLE = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 2 * D + 0.01},{Y0 + 2 * D + 0.01}"


def get(client, world, who, path, **params):
    headers = world.auth(who) if who else {}
    r = client.get(path if path.startswith("/ogc") else "/api/v1" + path, params=params,
                   headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return r


def post(client, world, who, path, body):
    r = client.post("/api/v1" + path, json=body, headers=world.auth(who))
    assert r.status_code in (200, 201), r.text
    return r.json()


def leaks(text: str) -> bool:
    """True if what the masks hide of the phone or the ID is in ``text``, however written."""
    plain = text.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    plain = "".join(c for c in plain if c not in " -　")
    return any(w in plain for w in (PHONE[:7], PHONE[3:], ID[:14], ID[6:]))


def test_an_incidents_text_notes_and_media_url_are_masked_for_an_analyst(client, world):
    incident = report(client, world, description=f"工资纠纷，联系人电话{TYPED}，身份证{TYPED_ID}",
                      media_url=f"https://img.example/a.jpg?tel={PHONE}").json()  # fmt: skip
    act(client, world, "grid", incident["code"], "note", incident["version"],
        note=f"已回电 tel{PHONE}")  # fmt: skip
    r = get(client, world, "analyst", f"/incidents/{incident['code']}")
    body = r.json()
    assert not leaks(r.text), r.text
    assert body["description"] == f"工资纠纷，联系人电话+86 {SHOWN}，身份证ID{SHOWN_ID}"
    assert body["media_url"] == f"https://img.example/a.jpg?tel={SHOWN}"
    assert body["history"][-1]["note"] == f"已回电 tel{SHOWN}"
    assert not leaks(get(client, world, "analyst", "/incidents").text)
    # the audited read shows what was typed
    full = get(client, world, "t1", f"/incidents/{incident['code']}", unmasked=True,
               reason="回访核实").json()  # fmt: skip
    assert TYPED in full["description"] and full["media_url"].endswith(PHONE)


def test_a_visit_finding_is_masked_and_so_is_the_incident_it_becomes(client, world, registry):
    hh = registry.households["family"]
    visit = post(client, world, "grid", f"/households/{hh.id}/visits",
                 {"findings": f"住户反映噪音，电话 {TYPED}", "incident_category": "neighbour"})  # fmt: skip
    assert visit["findings"] == f"住户反映噪音，电话 +86 {SHOWN}"
    r = get(client, world, "analyst", f"/incidents/{visit['incident_code']}")
    assert not leaks(r.text) and SHOWN in r.json()["description"]


def test_a_task_sheets_title_instructions_and_result_are_masked(client, world, registry):
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    task = post(client, world, "t1", "/tasks", {
        "title": f"出租屋排查（联系 tel{PHONE}）", "instructions": f"核对房东身份证{TYPED_ID}",
        "area_code": CELL, "target": "household", "criteria": {"rented": True}, "due_at": due,
    })  # fmt: skip
    assert not leaks(json.dumps(task, ensure_ascii=False))
    as_analyst = get(client, world, "analyst", f"/tasks/{task['id']}")
    assert not leaks(as_analyst.text) and SHOWN_ID in as_analyst.json()["instructions"]
    [item] = get(client, world, "grid", f"/areas/{CELL}/task-items").json()
    assert item["task_title"] == f"出租屋排查（联系 tel{SHOWN}）"
    done = post(client, world, "grid", f"/task-items/{item['id']}/complete",
                {"version": item["version"], "result": f"租户手机{TYPED}，已登记"})  # fmt: skip
    assert done["result"] == f"租户手机+86 {SHOWN}，已登记"
    listed = get(client, world, "t1", f"/areas/{CELL}/task-items", open="false")
    assert not leaks(listed.text) and listed.json()[0]["result"] == done["result"]


def test_a_work_units_name_and_address_are_masked_everywhere(client, world, registry, session):
    unit, building = registry.unit, registry.buildings["a"]
    r = client.patch(f"/api/v1/units/{unit.id}", headers=world.auth("grid"), json={
        "version": 1, "name": f"东湖便利店 {TYPED}", "address": f"东湖路3号 身份证{TYPED_ID}"})  # fmt: skip
    assert r.status_code == 200, r.text
    building.address = f"东湖路1号（房东 {PHONE}）"
    session.flush()
    answers = [
        get(client, world, "analyst", f"/areas/{CELL}/units"),
        get(client, world, "analyst", f"/units/{unit.id}"),
        get(client, world, "analyst", f"/areas/{CELL}/buildings"),
        get(client, world, "grid", f"/areas/{CELL}/households"),
        get(client, world, "grid", f"/areas/{CELL}/visits-due"),
        get(client, world, "grid", f"/areas/{CELL}/pack"),
        # anonymous: the public layers and OGC collections
        get(client, world, None, "/layers/work_units/features", bbox=WHOLE, zoom=17),
        get(client, world, None, "/layers/buildings/features", bbox=WHOLE, zoom=17),
        get(client, world, None, "/ogc/collections/work_units/items"),
        get(client, world, None, "/ogc/collections/buildings/items"),
        get(client, world, None, f"/ogc/collections/work_units/items/{unit.id}"),
    ]
    for answer in answers:
        assert not leaks(answer.text), (answer.url, answer.text)
    names = {f["properties"]["name"] for f in answers[6].json()["features"]}
    assert names == {f"东湖便利店 +86 {SHOWN}"}
    addresses = {f["properties"]["address"] for f in answers[9].json()["features"]}
    assert f"东湖路1号（房东 {SHOWN}）" in addresses
    assert answers[1].json()["address"] == f"东湖路3号 身份证ID{SHOWN_ID}"
    full = get(client, world, "t1", f"/units/{unit.id}", unmasked=True, reason="消防检查").json()
    assert full["name"] == f"东湖便利店 {TYPED}"
    assert TYPED_ID in full["address"]


def test_names_are_masked_like_zhang_star_san_unless_read_unmasked(client, world, registry):
    households = get(client, world, "grid", f"/areas/{CELL}/households").json()["items"]
    names = {m["name"] for hh in households for m in hh["members"]}
    assert names == {"陈*伯", "王*户", "王*明", "林*国", "林*"}
    found = get(client, world, "t1", "/people", q="王").json()
    assert {p["name"] for p in found} == {"王*户", "王*明"}
    pack = get(client, world, "grid", f"/areas/{CELL}/pack")
    assert "陈老伯" not in pack.text and "陈*伯" in pack.text
    person = registry.people["林建国"]
    assert get(client, world, "grid", f"/people/{person.id}").json()["name"] == "林*国"
    full = get(client, world, "grid", f"/people/{person.id}", unmasked=True, reason="入户核实身份")
    assert full.json()["name"] == "林建国"
    log = get(client, world, "admin", "/audit", object_id=str(person.id)).json()
    assert "name" in log[0]["detail"]["fields"]
    incident = report(client, world, reporter_name="欧阳娜娜").json()
    assert incident["reporter_name"] == "欧**娜"
