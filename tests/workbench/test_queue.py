"""The work queue's filters and sorts on GET /incidents (issue 26, item 1)."""

from datetime import UTC, datetime, timedelta

import pytest

from gridmap.incidents.models import Incident, IncidentUnit, IncidentWhistle
from tests.helpers import assert_problem
from tests.world import COUNTY, act, inside, report


def codes(client, world, who="t1", **params):
    r = client.get("/api/v1/incidents", params=params, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return {i["code"] for i in r.json()["items"]}


@pytest.fixture
def queue(client, world):
    """Three incidents in township 1, one in township 2 sharing its words and phone suffix."""
    made = {
        "wages": report(client, world, description="工厂拖欠工资三个月",
                        reporter_phone="13805951234"),
        "noise": report(client, world, category="neighbour", description="楼上装修噪音 100%",
                        reporter_phone="13905955678"),
        "under": report(client, world, category="neighbour", description="a_b 通道堵塞",
                        address="丰泽街 8 号", reporter_phone="13605950000"),
        "east": report(client, world, who="t2", lon=inside(2, 1)[0], lat=inside(2, 1)[1],
                       description="工厂拖欠工资", reporter_phone="13705951234"),
    }  # fmt: skip
    for r in made.values():
        assert r.status_code == 201, r.text
    return {k: r.json() for k, r in made.items()}


def test_q_finds_by_code_prefix_and_by_all_words(client, world, queue):
    wages = queue["wages"]["code"]
    assert codes(client, world, q=wages) == {wages}
    assert codes(client, world, q="拖欠 工资") == {wages}
    assert codes(client, world, q="拖欠 噪音") == set()  # every word must be found
    assert codes(client, world, q="丰泽街") == {queue["under"]["code"]}  # the address


def test_q_never_reads_behind_a_masked_number(client, world):
    """A phone typed into a description shows masked; searching its digits finds nothing."""
    typed = report(client, world, description="请回电 13812345678 或 350503199001011234 核实")
    assert typed.status_code == 201, typed.text
    shown = client.get(f"/api/v1/incidents/{typed.json()['code']}", headers=world.auth("t1"))
    assert "13812345678" not in shown.text  # masked in the answer …
    for probe in ("13812345678", "1234", "2345", "１３８１２３４５６７８", "回电 1381234"):
        assert codes(client, world, q=probe) == set(), probe  # … and in a search
    assert codes(client, world, q="请回电") == {typed.json()["code"]}  # words still found
    code = typed.json()["code"]
    assert codes(client, world, q=code[:8]) >= {code}  # a code prefix with its digits


def test_q_takes_like_wildcards_literally(client, world, queue):
    assert codes(client, world, q="%") == {queue["noise"]["code"]}  # only the one with a %
    assert codes(client, world, q="_") == {queue["under"]["code"]}
    assert codes(client, world, q="a_b") == {queue["under"]["code"]}
    assert codes(client, world, q="\\") == set()


def test_phone_suffix_matches_the_last_four_digits(client, world, queue):
    assert codes(client, world, phone_suffix="1234") == {queue["wages"]["code"]}
    assert codes(client, world, phone_suffix="5678") == {queue["noise"]["code"]}
    assert codes(client, world, phone_suffix="0595") == set()  # inside the number: no
    r = client.get("/api/v1/incidents", params={"phone_suffix": "12%4"},
                   headers=world.auth("t1"))  # fmt: skip
    assert_problem(r, 422, "validation_error")


def test_a_township_dispatcher_never_matches_another_townships_incident(client, world, queue):
    east = queue["east"]["code"]
    for params in ({"q": east}, {"q": "拖欠 工资"}, {"phone_suffix": "1234"}):
        assert east not in codes(client, world, "t1", **params)
        assert east in codes(client, world, "t2", **params)
        assert east in codes(client, world, "county", **params)


def test_queue_mine_is_what_my_centre_or_unit_holds(client, world, queue, session):
    items = client.get("/api/v1/incidents", headers=world.auth("county")).json()["items"]
    held_by_t1 = {i["code"] for i in items if i["unit_code"] == world.units["t1"].code}
    assert held_by_t1, "the neighbour disputes are routed to township 1's centre"
    assert codes(client, world, "t1", queue="mine") == held_by_t1
    labour = {i["code"] for i in items if i["unit_code"] == f"labour-{COUNTY}"}
    assert labour and codes(client, world, "labour", queue="mine") == labour
    # a co-unit (联办) and a summoned unit (吹哨) hold their part too
    noise = session.query(Incident).filter_by(code=queue["noise"]["code"]).one()
    session.add(IncidentUnit(incident_id=noise.id, unit_id=world.units["labour"].id, role="co"))
    session.flush()
    assert codes(client, world, "labour", queue="mine") == labour | {noise.code}
    assert codes(client, world, "county", queue="mine") == set()  # the county centre holds none
    assert codes(client, world, "analyst", queue="mine") == set()  # holds nothing
    r = client.get("/api/v1/stats", params={"queue": "mine"}, headers=world.auth("t1"))
    assert r.status_code == 200 and r.json()[0]["open"] == len(held_by_t1)


def test_flags_supervised_joint_whistle(client, world, queue, session):
    wages, noise, under = (queue[k]["code"] for k in ("wages", "noise", "under"))
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = act(client, world, "county", wages, "supervise", queue["wages"]["version"],
            deadline=due, note="限期办结")  # fmt: skip
    assert r.status_code == 200, r.text
    by_code = {i.code: i for i in session.query(Incident).filter(
        Incident.code.in_([noise, under]))}  # fmt: skip
    session.add(IncidentUnit(incident_id=by_code[noise].id, unit_id=world.units["labour"].id,
                             role="co"))  # fmt: skip
    now = datetime.now(UTC)
    session.add(IncidentWhistle(incident_id=by_code[under].id, unit_id=world.units["housing"].id,
                                called_at=now, due_at=now + timedelta(hours=1)))  # fmt: skip
    session.flush()
    assert codes(client, world, supervised="true") == {wages}
    assert codes(client, world, joint="true") == {noise}
    assert codes(client, world, whistle="true") == {under}
    assert codes(client, world, supervised="false") == {noise, under}
    assert codes(client, world, joint="false", whistle="false") == {wages}
    # the flags over the whistles and parts themselves (the fuzz's 500: the subquery's table
    # was swallowed by the outer query's)
    for flag in ("true", "false"):
        r = client.get("/api/v1/stats/whistles", params={"whistle": flag, "joint": flag},
                       headers=world.auth("county"))  # fmt: skip
        assert r.status_code == 200, r.text
    summoned = client.get("/api/v1/stats/whistles", params={"whistle": "true"},
                          headers=world.auth("county")).json()  # fmt: skip
    assert sum(row["summoned"] for row in summoned) == 1
    none = client.get("/api/v1/stats/whistles", params={"whistle": "false"},
                      headers=world.auth("county")).json()  # fmt: skip
    assert none == []


@pytest.mark.parametrize(
    "key", ["code", "status", "unit", "place", "deadline", "reported_at", "time_left"]
)
def test_sorts_order_the_page(client, world, queue, key):
    field = {"unit": "unit_code", "place": "grid_code", "deadline": "resolve_due_at",
             "time_left": "time_left_hours"}.get(key, key)  # fmt: skip
    order = ["reported", "dispatched", "in_progress", "resolved", "follow_up", "closed",
             "rejected"]  # fmt: skip
    wages = queue["wages"]
    act(client, world, "t1", wages["code"], "dispatch", wages["version"],
        unit_code=f"labour-{COUNTY}")  # fmt: skip
    for direction in ("", "-"):
        r = client.get("/api/v1/incidents", params={"sort": direction + key},
                       headers=world.auth("county"))  # fmt: skip
        assert r.status_code == 200, r.text
        values = [i[field] for i in r.json()["items"]]
        assert len(values) == 4
        present = [order.index(v) if key == "status" else v for v in values if v is not None]
        assert present == sorted(present, reverse=direction == "-")
        assert values[len(present) :] == [None] * (len(values) - len(present))  # nulls last


def test_an_unknown_sort_is_422(client, world):
    r = client.get("/api/v1/incidents", params={"sort": "title"}, headers=world.auth("t1"))
    assert_problem(r, 422, "validation_error")


def test_an_incident_names_its_areas_county_to_cell_in_lists_and_alone(
    client, world, queue, session
):
    from gridmap.areas.models import Area

    code = queue["wages"]["code"]
    alone = client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()
    listed = client.get("/api/v1/incidents", params={"q": code}, headers=world.auth("t1")).json()
    assert listed["items"][0]["areas"] == alone["areas"]
    assert [a["level"] for a in alone["areas"]] == ["county", "township", "village", "grid"]
    assert alone["areas"][-1]["code"] == alone["grid_code"]
    assert all(alone["grid_code"].startswith(a["code"]) for a in alone["areas"])
    names = dict(session.query(Area.code, Area.name).filter(
        Area.code.in_([a["code"] for a in alone["areas"]])).all())  # fmt: skip
    assert {a["code"]: a["name"] for a in alone["areas"]} == names
