"""Workflow actions over HTTP: roles, units, scope, states, versions, history."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select

from gridmap.auth.models import AuditLog
from tests.helpers import assert_problem
from tests.world import COUNTY, T1, V1, act, inside, report


def test_full_path_dispatch_sign_resolve_follow_up_close(client, world):
    inc = report(client, world).json()
    code = inc["code"]
    steps = [
        ("t1", "dispatch", {"unit_code": f"labour-{COUNTY}"}, "dispatched"),
        ("labour", "sign", {}, "in_progress"),
        ("labour", "resolve", {"outcome": "mediated", "note": "工资已支付"}, "resolved"),
        ("t1", "follow_up", {"satisfaction": 5}, "follow_up"),
        ("t1", "close", {}, "closed"),
    ]
    version = inc["version"]
    for who, action, payload, status in steps:
        r = act(client, world, who, code, action, version, **payload)
        assert r.status_code == 200, (action, r.text)
        body = r.json()
        assert body["status"] == status
        assert body["version"] == version + 1
        version = body["version"]
    history = body["history"]
    assert [e["action"] for e in history] == [
        "report",
        "dispatch",
        "sign",
        "resolve",
        "follow_up",
        "close",
    ]
    assert all(a["to_status"] == b["from_status"] for a, b in pairwise(history))
    assert history[2]["actor"] == "labour" and history[2]["unit_code"] == f"labour-{COUNTY}"
    assert body["outcome"] == "mediated" and body["satisfaction"] == 5 and body["closed_at"]
    assert body["allowed_actions"] == []


def test_illegal_transition_is_409_naming_state_and_action(client, world):
    inc = report(client, world).json()
    r = act(client, world, "t1", inc["code"], "close", inc["version"])
    body = assert_problem(r, 409, "illegal_transition")
    assert "cannot close an incident that is reported" in body["detail"]
    assert body["state"] == "reported" and body["action"] == "close"
    assert (
        client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t1")).json()["status"]
        == "reported"
    )


def test_stale_version_is_409_and_changes_nothing(client, world):
    inc = report(client, world).json()
    assert act(client, world, "t1", inc["code"], "self_handle", 1).status_code == 200
    r = act(client, world, "county", inc["code"], "reject", 1)
    assert_problem(r, 409, "stale_version")
    got = client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t1")).json()
    assert got["status"] == "in_progress" and len(got["history"]) == 2


def test_only_the_handling_unit_signs(client, world):
    inc = report(client, world).json()
    act(client, world, "t1", inc["code"], "dispatch", 1, unit_code=f"labour-{COUNTY}")
    assert_problem(
        act(client, world, "housing", inc["code"], "sign", 2), 404, "not_found"
    )  # not theirs
    assert_problem(act(client, world, "t1", inc["code"], "sign", 2), 403, "forbidden")
    assert act(client, world, "labour", inc["code"], "sign", 2).status_code == 200


def test_a_unit_can_return_a_wrongly_routed_incident(client, world):
    inc = report(client, world).json()
    act(client, world, "t1", inc["code"], "dispatch", 1, unit_code=f"housing-{COUNTY}")
    r = act(client, world, "housing", inc["code"], "return", 2, note="不属于住建")
    assert r.json()["status"] == "reported"
    r = act(client, world, "t1", inc["code"], "dispatch", 3, unit_code=f"labour-{COUNTY}")
    assert r.json()["unit_code"] == f"labour-{COUNTY}"


def test_the_lead_unit_named_as_a_co_unit_is_refused_in_words_not_a_conflict(client, world):
    """Found from the page: it answered 409 "conflicts with data already stored"."""
    inc = report(client, world).json()
    lead = f"labour-{COUNTY}"
    r = act(client, world, "t1", inc["code"], "joint", 1, unit_code=lead,
            co_unit_codes=[lead, f"housing-{COUNTY}"])  # fmt: skip
    assert_problem(r, 422, "invalid_input")
    assert lead in r.json()["detail"] and "co-unit" in r.json()["detail"]
    twice = act(client, world, "t1", inc["code"], "joint", 1, unit_code=lead,
                co_unit_codes=[f"housing-{COUNTY}", f"housing-{COUNTY}"])  # fmt: skip
    assert twice.status_code == 200, twice.text  # the same co-unit twice: once


def test_joint_handling_lets_co_units_see_it(client, world):
    inc = report(client, world).json()
    r = act(
        client,
        world,
        "t1",
        inc["code"],
        "joint",
        1,
        unit_code=f"labour-{COUNTY}",
        co_unit_codes=[f"housing-{COUNTY}"],
    )
    assert r.status_code == 200 and r.json()["unit_code"] == f"labour-{COUNTY}"
    assert (
        client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("housing")).status_code
        == 200
    )
    assert_problem(
        act(client, world, "t1", inc["code"], "joint", 2, unit_code=f"labour-{COUNTY}"),
        422,
        "invalid_input",
    )  # no co-units
    again = act(
        client,
        world,
        "t1",
        inc["code"],
        "joint",
        2,
        unit_code=f"labour-{COUNTY}",
        co_unit_codes=[f"housing-{COUNTY}"],
    )
    assert_problem(again, 409, "conflict")


def test_escalation_climbs_one_level_at_a_time(client, world):
    inc = report(client, world, category="labour").json()  # a department's: village level
    assert inc["unit_code"] == f"labour-{COUNTY}"
    r = act(client, world, "t1", inc["code"], "escalate", 1)
    assert r.json()["unit_code"] == f"centre-{T1}" and r.json()["status"] == "dispatched"
    r = act(client, world, "county", inc["code"], "escalate", 2)
    assert r.json()["unit_code"] == f"centre-{COUNTY}"
    r = act(client, world, "county", inc["code"], "escalate", 3)
    assert r.json()["unit_code"] == "centre-350500"
    assert_problem(act(client, world, "admin", inc["code"], "escalate", 4), 409, "conflict")


def test_supervision_by_a_higher_level_with_a_reason_a_deadline_and_an_answer(client, world):
    """督办: any higher level, any open incident (not only overdue ones); the holder answers."""
    inc = report(client, world).json()  # labour: held by the bureau, at village level
    code = inc["code"]
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    # the village worker is not above the village level; a reason and a deadline are needed
    r = act(client, world, "village", code, "supervise", 1, note="催办", deadline=deadline)
    assert_problem(r, 403, "forbidden")
    assert_problem(act(client, world, "t1", code, "supervise", 1, deadline=deadline), 422,
                   "invalid_input")  # fmt: skip
    assert_problem(
        act(client, world, "t1", code, "supervise", 1, note="催办"), 422, "invalid_input"
    )
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert_problem(act(client, world, "t1", code, "supervise", 1, note="催办", deadline=past), 422,
                   "invalid_input")  # fmt: skip
    # nothing to answer yet: not offered, and refused
    held = client.get(f"/api/v1/incidents/{code}", headers=world.auth("labour")).json()
    assert "respond" not in held["allowed_actions"]
    r = act(client, world, "labour", code, "respond", 1, note="已处理")
    assert_problem(r, 409, "conflict")
    r = act(client, world, "county", code, "supervise", 1, note="三日内化解", deadline=deadline)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["supervised"] and body["supervised_by"] == f"centre-{COUNTY}"
    assert body["status"] == "reported" and not body["overdue"]  # not overdue, still supervised
    assert body["resolve_due_at"] == body["supervision_due_at"]
    assert datetime.fromisoformat(body["supervision_due_at"]) == datetime.fromisoformat(deadline)
    # only the holder answers, once; the answer is offered only while one is awaited
    held = client.get(f"/api/v1/incidents/{code}", headers=world.auth("labour")).json()
    assert "respond" in held["allowed_actions"]
    assert_problem(act(client, world, "t1", code, "respond", 2, note="好"), 403, "forbidden")
    r = act(client, world, "labour", code, "respond", 2, note="已约谈企业，三日内支付")
    assert r.status_code == 200 and r.json()["supervision_answered_at"] is not None
    assert "respond" not in r.json()["allowed_actions"]
    assert_problem(act(client, world, "labour", code, "respond", 3, note="再答"), 409, "conflict")
    history = client.get(f"/api/v1/incidents/{code}", headers=world.auth("county")).json()
    assert [e["action"] for e in history["history"]][-2:] == ["supervise", "respond"]
    stats = client.get("/api/v1/stats", headers=world.auth("county")).json()[0]
    assert (stats["supervised"], stats["supervision_answered"]) == (1, 1)
    assert stats["supervision_answer_rate"] == 1.0


def test_joint_handling_waits_for_each_co_units_part(client, world):
    """联办: the lead resolves only when every co-unit has signed for and recorded its part,
    or overrides with a reason."""
    inc = report(client, world).json()
    code = inc["code"]

    def version():
        return client.get(f"/api/v1/incidents/{code}", headers=world.auth("admin")).json()[
            "version"]  # fmt: skip

    r = act(client, world, "t1", code, "joint", 1, unit_code=f"labour-{COUNTY}",
            co_unit_codes=[f"housing-{COUNTY}"])  # fmt: skip
    assert r.status_code == 200, r.text
    parts = {p["unit_code"]: p for p in r.json()["joint_units"]}
    assert (
        parts[f"labour-{COUNTY}"]["role"] == "lead" and parts[f"housing-{COUNTY}"]["role"] == "co"
    )
    # the co-unit reads it and works its part; the lead bureau cannot act for it
    assert client.get(f"/api/v1/incidents/{code}", headers=world.auth("housing")).status_code == 200
    assert_problem(act(client, world, "labour", code, "co_sign", version()), 403, "forbidden")
    r = act(client, world, "housing", code, "co_report", version(), note="查了")
    assert_problem(r, 409, "conflict")  # sign for the part first
    assert act(client, world, "housing", code, "co_sign", version()).status_code == 200
    assert_problem(act(client, world, "housing", code, "co_sign", version()), 409, "conflict")
    assert act(client, world, "labour", code, "sign", version()).status_code == 200
    # the lead cannot resolve while the housing bureau's part is missing...
    r = act(client, world, "labour", code, "resolve", version(), outcome="handled")
    body = assert_problem(r, 409, "conflict")
    assert f"housing-{COUNTY}" in body["detail"]
    # ...unless it overrides, with a reason
    assert_problem(act(client, world, "labour", code, "resolve", version(), outcome="handled",
                       override=True), 422, "invalid_input")  # fmt: skip
    assert_problem(act(client, world, "housing", code, "co_report", version()), 422,
                   "invalid_input")  # fmt: skip
    r = act(client, world, "housing", code, "co_report", version(), note="已核查租赁合同，责令整改")
    assert r.status_code == 200
    part = {p["unit_code"]: p for p in r.json()["joint_units"]}[f"housing-{COUNTY}"]
    assert part["signed_at"] and part["done_at"] and part["part_note"] == "已核查租赁合同，责令整改"
    r = act(client, world, "labour", code, "resolve", version(), outcome="handled")
    assert r.status_code == 200 and r.json()["status"] == "resolved"


def test_the_lead_may_override_a_missing_part_with_a_reason(client, world):
    inc = report(client, world).json()
    code = inc["code"]
    r = act(client, world, "t1", code, "joint", 1, unit_code=f"labour-{COUNTY}",
            co_unit_codes=[f"housing-{COUNTY}"])  # fmt: skip
    r = act(client, world, "labour", code, "sign", r.json()["version"])
    assert r.status_code == 200
    r = act(client, world, "labour", code, "resolve", r.json()["version"], outcome="mediated",
            override=True, note="住建部门未反馈，已调解成功")  # fmt: skip
    assert r.status_code == 200, r.text
    history = client.get(f"/api/v1/incidents/{code}", headers=world.auth("t1")).json()["history"]
    assert history[-1]["action"] == "resolve" and "未反馈" in history[-1]["note"]


def test_whistle_summons_departments_who_check_in(client, world):
    """吹哨报到: the township summons departments; each checks in within two office hours;
    the check-in rate and time per department are KPIs."""
    code = report(client, world).json()["code"]  # labour, held by the labour bureau
    summon = {"summoned": [f"housing-{COUNTY}", f"labour-{COUNTY}"]}
    assert_problem(act(client, world, "village", code, "whistle", 1, **summon), 403, "forbidden")
    assert_problem(act(client, world, "admin", code, "whistle", 1, **summon), 403, "forbidden")
    assert_problem(act(client, world, "t1", code, "whistle", 1), 422, "invalid_input")
    r = act(client, world, "t1", code, "whistle", 1, summoned=[f"centre-{V1}"])
    assert_problem(r, 422, "invalid_input")  # centres are not summoned: departments are
    # the housing bureau cannot see the incident before it is summoned
    assert client.get(f"/api/v1/incidents/{code}", headers=world.auth("housing")).status_code == 404
    r = act(client, world, "t1", code, "whistle", 1, **summon)
    assert r.status_code == 200, r.text
    whistles = {w["unit_code"]: w for w in r.json()["whistles"]}
    assert set(whistles) == {f"housing-{COUNTY}", f"labour-{COUNTY}"}
    due = datetime.fromisoformat(whistles[f"housing-{COUNTY}"]["due_at"])
    called = datetime.fromisoformat(whistles[f"housing-{COUNTY}"]["called_at"])
    assert timedelta(hours=2) <= due - called <= timedelta(days=5)  # two office hours
    # summoned again before checking in: refused
    again = act(client, world, "t1", code, "whistle", 1, summoned=[f"housing-{COUNTY}"])
    assert_problem(again, 409, "conflict")
    # the summoned bureau now reads it and checks in, once; a bureau not summoned cannot
    seen = client.get(f"/api/v1/incidents/{code}", headers=world.auth("housing")).json()
    assert "check_in" in seen["allowed_actions"]
    r = act(client, world, "housing", code, "check_in", 1, note="已派员到场")
    assert r.status_code == 200, r.text
    mine = {w["unit_code"]: w for w in r.json()["whistles"]}[f"housing-{COUNTY}"]
    assert mine["checked_in_at"] is not None and mine["on_time"] is True
    assert_problem(act(client, world, "housing", code, "check_in", 1), 403, "forbidden")
    rows = {r["unit_code"]: r for r in
            client.get("/api/v1/stats/whistles", headers=world.auth("county")).json()}  # fmt: skip
    assert rows[f"housing-{COUNTY}"]["summoned"] == 1
    assert rows[f"housing-{COUNTY}"]["check_in_rate"] == 1.0
    assert rows[f"housing-{COUNTY}"]["on_time_rate"] == 1.0
    assert rows[f"labour-{COUNTY}"]["checked_in"] == 0
    assert rows[f"labour-{COUNTY}"]["check_in_rate"] == 0.0
    assert rows[f"labour-{COUNTY}"]["mean_minutes_to_check_in"] is None


def test_merge_and_reject(client, world):
    a = report(client, world).json()
    b = report(client, world).json()
    r = act(client, world, "t1", b["code"], "merge", 1, merged_into=a["code"])
    assert r.json()["status"] == "rejected"
    c = report(client, world).json()
    assert (
        act(client, world, "t1", c["code"], "reject", 1, note="无效").json()["status"] == "rejected"
    )


def test_resolve_needs_an_outcome_and_follow_up_a_satisfaction(client, world):
    inc = report(client, world).json()
    act(client, world, "t1", inc["code"], "self_handle", 1)
    assert_problem(act(client, world, "t1", inc["code"], "resolve", 2), 422, "invalid_input")
    assert act(client, world, "t1", inc["code"], "resolve", 2, outcome="handled").status_code == 200
    assert_problem(act(client, world, "t1", inc["code"], "follow_up", 3), 422, "invalid_input")


def test_scoping_other_township_cannot_list_read_or_act(client, world):
    inc = report(client, world).json()  # in township 1
    assert client.get("/api/v1/incidents", headers=world.auth("t2")).json()["total"] == 0
    assert client.get("/api/v1/incidents", headers=world.auth("t1")).json()["total"] == 1
    assert_problem(
        client.get(f"/api/v1/incidents/{inc['code']}", headers=world.auth("t2")), 404, "not_found"
    )
    assert_problem(
        act(client, world, "t2", inc["code"], "dispatch", 1, unit_code=f"labour-{COUNTY}"),
        404,
        "not_found",
    )


def test_department_sees_only_what_it_was_assigned(client, world):
    mine = report(client, world).json()  # routed to labour, not yet dispatched
    other = report(client, world, category="neighbour").json()
    listed = client.get("/api/v1/incidents", headers=world.auth("labour")).json()
    assert [i["code"] for i in listed["items"]] == [mine["code"]]
    assert_problem(
        client.get(f"/api/v1/incidents/{other['code']}", headers=world.auth("labour")),
        404,
        "not_found",
    )


def test_unmasked_read_needs_a_reason_and_is_audited_with_refusals(client, world, session):
    inc = report(client, world).json()
    url = f"/api/v1/incidents/{inc['code']}"
    no_reason = client.get(url, params={"unmasked": True}, headers=world.auth("t1"))
    assert_problem(no_reason, 422, "invalid_input")
    r = client.get(url, params={"unmasked": True, "reason": "回访核实"}, headers=world.auth("t1"))
    assert r.json()["reporter_phone"] == "13805951234"
    allowed = session.scalars(
        select(AuditLog).where(
            AuditLog.object_id == inc["code"], AuditLog.action == "read_unmasked"
        )
    ).all()
    assert [(e.user_id, e.reason) for e in allowed] == [(world.users["t1"], "回访核实")]
    assert_problem(
        client.get(
            url, params={"unmasked": True, "reason": "统计分析"}, headers=world.auth("analyst")
        ),
        403,
        "forbidden",
    )
    refused = session.scalars(
        select(AuditLog)
        .where(AuditLog.object_id == inc["code"], AuditLog.action == "read_unmasked_refused")
        .order_by(AuditLog.id)
    ).all()
    assert [(e.user_id, e.detail["refused"]) for e in refused] == [
        (world.users["t1"], "invalid_input"),
        (world.users["analyst"], "forbidden"),
    ]


def test_list_filters_and_paging(client, world):
    for i in range(5):
        lon, lat = inside(1 + i % 2, 1)
        report(
            client,
            world,
            who="county",
            lon=lon,
            lat=lat,
            category="labour" if i < 3 else "neighbour",
        )
    h = world.auth("county")
    assert (
        client.get("/api/v1/incidents", params={"category": "neighbour"}, headers=h).json()["total"]
        == 2
    )
    assert client.get("/api/v1/incidents", params={"area": T1}, headers=h).json()["total"] == 3
    page = client.get(
        "/api/v1/incidents", params={"page_size": 2, "page": 3, "sort": "code"}, headers=h
    ).json()
    assert page["total"] == 5 and len(page["items"]) == 1
    lon, lat = inside(2, 1)
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    assert client.get("/api/v1/incidents", params={"bbox": box}, headers=h).json()["total"] == 2
    assert_problem(
        client.get("/api/v1/incidents", params={"bbox": "1,1,0,0"}, headers=h), 422, "invalid_input"
    )
    assert (
        client.get("/api/v1/incidents", params={"due_within_days": 60}, headers=h).json()["total"]
        == 5
    )


def test_office_hours_for_the_check_in_limit():
    from datetime import timezone

    from gridmap.calendar import WorkingCalendar

    cal = WorkingCalendar.chinese(2025, 2026)
    tz = timezone(timedelta(hours=8))
    at = lambda *a: datetime(*a, tzinfo=tz)  # noqa: E731
    assert cal.add_working_hours(at(2025, 3, 4, 10, 0), 2) == at(2025, 3, 4, 12, 0)
    assert cal.add_working_hours(at(2025, 3, 4, 7, 0), 2) == at(
        2025, 3, 4, 10, 30
    )  # before opening
    # Friday 16:30 + 2 h: one hour on Friday, one on Monday
    assert cal.add_working_hours(at(2025, 3, 7, 16, 30), 2) == at(2025, 3, 10, 9, 30)
    # National Day week 2025: from 30 September 17:00 to the first working day, 9 October
    assert cal.add_working_hours(at(2025, 9, 30, 17, 0), 2) == at(2025, 10, 9, 10, 0)
    # the makeup Saturday of 28 September 2025 is a working day
    assert cal.add_working_hours(at(2025, 9, 28, 9, 0), 1) == at(2025, 9, 28, 10, 0)


def test_a_mediator_works_what_the_centre_holds_and_dispatches_nothing(client, world):
    """调解员: signs, answers supervision and resolves for the centre; follows up nothing."""
    inc = report(client, world).json()  # the labour bureau's: not the centre's
    code = inc["code"]
    assert_problem(client.get(f"/api/v1/incidents/{code}", headers=world.auth("mediator")), 404,
                   "not_found")  # fmt: skip
    assert_problem(act(client, world, "mediator", code, "sign", 1), 404, "not_found")
    r = act(client, world, "t1", code, "escalate", 1)  # now township 1's centre holds it
    assert r.json()["unit_code"] == f"centre-{T1}" and r.json()["status"] == "dispatched"
    held = client.get(f"/api/v1/incidents/{code}", headers=world.auth("mediator")).json()
    assert "sign" in held["allowed_actions"] and "escalate" not in held["allowed_actions"]
    assert_problem(act(client, world, "mediator", code, "escalate", 2), 403, "forbidden")
    r = act(client, world, "mediator", code, "joint", 2, unit_code=f"centre-{T1}",
            co_unit_codes=[f"housing-{COUNTY}"])  # fmt: skip
    assert_problem(r, 403, "forbidden")
    r = act(client, world, "mediator", code, "sign", 2)
    assert r.status_code == 200 and r.json()["status"] == "in_progress", r.text
    assert r.json()["history"][-1]["actor"] == "mediator"
    deadline = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert_problem(act(client, world, "mediator", code, "supervise", 3, note="催", deadline=deadline),
                   403, "forbidden")  # fmt: skip
    r = act(client, world, "county", code, "supervise", 3, note="两日内化解", deadline=deadline)
    assert r.status_code == 200, r.text
    r = act(client, world, "mediator", code, "respond", 4, note="已约双方调解")
    assert r.status_code == 200 and r.json()["supervision_answered_at"], r.text
    r = act(client, world, "mediator", code, "resolve", 5, outcome="mediated", note="达成协议")
    assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
    # following up and closing are the dispatcher's
    assert_problem(act(client, world, "mediator", code, "follow_up", 6, satisfaction=5), 403,
                   "forbidden")  # fmt: skip
    assert act(client, world, "t1", code, "follow_up", 6, satisfaction=5).status_code == 200
