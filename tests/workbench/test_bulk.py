"""Bulk workflow actions (issue 26, item 3): per-item results, checked against the database."""

from sqlalchemy import func, select

from gridmap.incidents.models import Incident, IncidentEvent
from tests.helpers import assert_problem
from tests.world import COUNTY, act, inside, report


def bulk(client, world, who="t1", **body):
    return client.post("/api/v1/incidents/bulk", json=body, headers=world.auth(who))


def state(session, code):
    session.expire_all()
    incident = session.scalar(select(Incident).where(Incident.code == code))
    events = session.scalar(
        select(func.count()).select_from(IncidentEvent).where(
            IncidentEvent.incident_id == incident.id)
    )  # fmt: skip
    return incident.status, incident.unit_id, incident.version, events


def test_bulk_dispatch_over_mixed_states(client, world, session):
    fresh = [report(client, world).json() for _ in range(3)]
    signed = report(client, world).json()
    r = act(client, world, "t1", signed["code"], "dispatch", signed["version"],
            unit_code=f"labour-{COUNTY}")  # fmt: skip
    assert (
        act(client, world, "labour", signed["code"], "sign", r.json()["version"]).status_code == 200
    )
    east = report(client, world, who="t2", lon=inside(2, 1)[0], lat=inside(2, 1)[1]).json()
    codes = [i["code"] for i in fresh] + [signed["code"], east["code"], "QZ000000000000"]
    before = {c: state(session, c) for c in codes[:5]}

    r = bulk(client, world, action="dispatch", codes=codes,
             params={"unit_code": f"housing-{COUNTY}", "note": "批量派单"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["done"], body["refused"]) == (3, 3)
    results = {x["code"]: x for x in body["results"]}
    assert [x["code"] for x in body["results"]] == codes  # in the order given
    housing = world.units["housing"].id
    for c in codes[:3]:
        assert results[c] == {"code": c, "outcome": "done", "status": "dispatched", "detail": None}
        status, unit, version, events = state(session, c)
        assert (status, unit) == ("dispatched", housing)
        assert (version, events) == (before[c][2] + 1, before[c][3] + 1)  # one event each
    # in progress: an illegal transition, refused with the single action's words, unchanged
    refused = results[signed["code"]]
    assert refused["outcome"] == "refused" and refused["status"] == "in_progress"
    single = act(client, world, "t1", signed["code"], "dispatch", before[signed["code"]][2],
                 unit_code=f"housing-{COUNTY}")  # fmt: skip
    assert refused["detail"] == single.json()["detail"]
    assert state(session, signed["code"]) == before[signed["code"]]
    # township 2's incident and an unknown code: not found, nothing told of its state
    for c in (east["code"], "QZ000000000000"):
        assert results[c]["outcome"] == "refused" and results[c]["status"] is None
        assert "no incident" in results[c]["detail"]
    assert state(session, east["code"]) == before[east["code"]]


def test_a_refused_effect_changes_nothing(client, world, session):
    """A unit not responsible for the place (the effect's own rule) rolls back that item."""
    inc = report(client, world).json()
    before = state(session, inc["code"])
    r = bulk(client, world, action="dispatch", codes=[inc["code"]],
             params={"unit_code": "centre-350503002"})  # township 2's centre  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["outcome"] == "refused"
    assert state(session, inc["code"]) == before


def test_bulk_by_filter_and_the_limit(client, world, session, monkeypatch):
    from gridmap.incidents import bulk as engine

    made = [report(client, world, category="neighbour").json()["code"] for _ in range(3)]
    report(client, world)  # labour: not matched
    r = bulk(client, world, action="note", filter={"category": "neighbour"},
             params={"note": "已电话回访"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert sorted(x["code"] for x in r.json()["results"]) == sorted(made)
    monkeypatch.setattr(engine, "MAX_BULK", 2)
    r = bulk(client, world, action="note", filter={"category": "neighbour"},
             params={"note": "x"})  # fmt: skip
    body = assert_problem(r, 422, "invalid_input")
    assert "more than 2" in body["detail"]


def test_bad_bulk_requests_are_422(client, world):
    cases = [
        {"action": "dispatch"},  # neither codes nor filter
        {"action": "dispatch", "codes": ["x"], "filter": {}},  # both
        {"action": "dispatch", "codes": ["x"] * 501},
        {"action": "fly", "codes": ["x"]},
        {"action": "dispatch", "codes": ["x"], "params": {"version": 3}},  # no version here
        {"action": "dispatch", "filter": {"colour": "red"}},
        {"action": "dispatch", "filter": {"phone_suffix": "12"}},  # the list's own rules
    ]
    for body in cases:
        assert_problem(bulk(client, world, **body), 422, "validation_error")
    assert_problem(bulk(client, world, action="report", codes=["x"]), 422, "invalid_input")


def test_a_role_that_sees_only_counts_acts_on_none(client, world):
    inc = report(client, world).json()
    r = bulk(client, world, "planner", action="note", codes=[inc["code"]], params={"note": "x"})
    assert_problem(r, 403, "forbidden")
