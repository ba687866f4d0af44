"""The unit picker (GET /incidents/{code}/units) lists exactly what the action accepts.

One rule (``service.takers``) is both the list and the action's check: every listed unit
is taken by the action, and a unit in the user's scope but not listed is refused.
"""

from tests.helpers import assert_problem
from tests.world import COUNTY, T1, T2, V1, V2, act, report


def units(client, world, who, code, action):
    r = client.get(f"/api/v1/incidents/{code}/units", params={"action": action},
                   headers=world.auth(who))  # fmt: skip
    assert r.status_code == 200, r.text
    return [u["code"] for u in r.json()]


def test_every_listed_unit_is_dispatched_to_and_an_unlisted_one_is_refused(client, world):
    first = report(client, world).json()  # west: township 1's grid cell
    listed = units(client, world, "county", first["code"], "dispatch")
    responsible = {"centre-350500", f"centre-{COUNTY}", f"centre-{T1}", f"centre-{V1}",
                   f"labour-{COUNTY}", f"housing-{COUNTY}"}  # fmt: skip
    assert set(listed) == responsible
    for n, unit in enumerate(listed):  # each on a fresh incident
        inc = first if n == 0 else report(client, world, description=f"欠薪 {n}").json()
        r = act(client, world, "county", inc["code"], "dispatch", inc["version"], unit_code=unit)
        assert r.status_code == 200, (unit, r.text)
        assert r.json()["unit_code"] == unit
    # township 2's centres are in the county dispatcher's scope, not responsible for the place
    inc = report(client, world, description="欠薪 east").json()
    assert units(client, world, "county", inc["code"], "dispatch") == listed
    for unit in (f"centre-{T2}", f"centre-{V2}"):
        assert unit not in listed
        r = act(client, world, "county", inc["code"], "dispatch", inc["version"], unit_code=unit)
        assert_problem(r, 403, "forbidden")


def test_transfer_lists_every_responsible_unit_but_the_holder(client, world):
    inc = report(client, world).json()
    r = act(client, world, "t1", inc["code"], "dispatch", inc["version"], unit_code=f"centre-{V1}")
    assert r.status_code == 200, r.text
    listed = units(client, world, "t1", inc["code"], "transfer")
    assert f"centre-{V1}" not in listed and f"centre-{T1}" in listed
    refused = act(
        client, world, "t1", inc["code"], "transfer", 2, unit_code=f"centre-{V1}", note="转办"
    )
    assert_problem(refused, 422, "invalid_input")
    r = act(client, world, "t1", inc["code"], "transfer", 2, unit_code=listed[-1], note="转办")
    assert r.status_code == 200, r.text


def test_joint_and_whistle_lists_are_what_those_actions_take(client, world):
    inc = report(client, world).json()
    joint = units(client, world, "t1", inc["code"], "joint")
    assert joint == units(client, world, "t1", inc["code"], "dispatch")
    whistle = units(client, world, "t1", inc["code"], "whistle")
    assert whistle == [f"housing-{COUNTY}", f"labour-{COUNTY}"]  # departments, not centres
    r = act(client, world, "t1", inc["code"], "joint", inc["version"],
            unit_code=f"centre-{T1}", co_unit_codes=[u for u in joint if u.startswith("labour")])  # fmt: skip
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    r = act(client, world, "t1", inc["code"], "whistle", version, summoned=[f"centre-{V1}"])
    assert_problem(r, 422, "invalid_input")  # a centre is not summoned
    r = act(client, world, "t1", inc["code"], "whistle", version, summoned=whistle)
    assert r.status_code == 200, r.text


def test_nothing_to_pick_for_a_user_who_may_not_take_the_action(client, world):
    inc = report(client, world).json()
    assert units(client, world, "analyst", inc["code"], "dispatch") == []  # reads, never acts
    assert units(client, world, "grid", inc["code"], "dispatch") == []
    r = client.get(f"/api/v1/incidents/{inc['code']}/units", params={"action": "dispatch"},
                   headers=world.auth("t2"))  # fmt: skip
    assert_problem(r, 404, "not_found")  # outside township 2's scope, like reading it


def test_an_action_that_hands_to_no_unit_is_a_clear_error(client, world):
    inc = report(client, world).json()
    for action, code in (("close", "invalid_input"), ("nonsense", "validation_error")):
        r = client.get(f"/api/v1/incidents/{inc['code']}/units", params={"action": action},
                       headers=world.auth("county"))  # fmt: skip
        assert_problem(r, 422, code)
