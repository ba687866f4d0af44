"""Hand edits of a draft over HTTP: blocks, a move, undo/redo, the log, locks, refusals.

The world of tests/api/test_plan_jobs.py: township 1's village has a south and a north
cell, five buildings of ten households (four south, one north). A planner's job with a
target of 25 ± 20 % (20–30) draws cells of 20 and 30 households; each block is a
building's, so every move changes both cells by 10.
"""

import shapely
from shapely.geometry import shape
from sqlalchemy import select

from gridmap.plans.models import PlanBlock, PlanDraft
from tests.api.test_plan_jobs import _start
from tests.api.test_plan_jobs import built as built  # the fixture
from tests.helpers import assert_problem
from tests.world import T1


def drafted(client, world):
    r = _start(client, world)
    assert r.status_code == 202, r.text
    job = client.get(f"/api/v1/plans/jobs/{r.json()['id']}", headers=world.auth("planner")).json()
    assert job["state"] == "done", job
    return job["plan_id"]


def state(client, world, draft):
    r = client.get(f"/api/v1/plans/{draft}/blocks", params={"area": T1},
                   headers=world.auth("planner"))  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def a_move(blocks, cells, into=None):
    """A block of the heavier cell (or the other than ``into``) touching the other cell."""
    heavy, light = sorted(cells, key=lambda c: -c["households"])[:2]
    if into is not None and heavy["cell"] == into:
        heavy, light = light, heavy
    features = blocks["features"]
    lit = shapely.union_all([shape(f["geometry"]) for f in features
                             if f["properties"]["cell"] == light["cell"]])  # fmt: skip
    for f in features:
        mine = f["properties"]["cell"] == heavy["cell"] and f["properties"]["households"] > 0
        if mine and shape(f["geometry"]).intersection(lit).length > 0:
            return f["properties"]["block"], light["cell"], heavy["cell"]
    raise AssertionError("no block of the heavier cell touches the lighter one")


def loads(answer):
    return {c["cell"]: c["households"] for c in answer["cells"]}


def test_a_planner_moves_a_block_undoes_redoes_and_reads_the_log(client, session, built):
    draft = drafted(client, built)
    # the run stored its blocks and its rule
    assert session.get(PlanDraft, draft).target == 25
    assert len(session.scalars(select(PlanBlock).where(PlanBlock.plan_id == draft)).all()) == 5
    start = state(client, built, draft)
    assert sorted(loads(start).values()) == [20, 30] and not start["can_undo"]
    assert len(start["blocks"]["features"]) == 5
    block, to, frm = a_move(start["blocks"], start["cells"])
    auth = built.auth("planner")
    r = client.post(f"/api/v1/plans/{draft}/edits", json={"block": block, "to_cell": to},
                    headers=auth)  # fmt: skip
    assert r.status_code == 200, r.text
    assert loads(r.json()) == {to: 30, frm: 20}  # 10 households each way
    assert r.json()["can_undo"] and all(c["geometry"]["type"] == "MultiPolygon"
                                        for c in r.json()["cells"])  # fmt: skip
    assert session.get(PlanBlock, (draft, block)).cell == to
    r = client.post(f"/api/v1/plans/{draft}/edits/undo", headers=auth)
    assert r.status_code == 200 and loads(r.json()) == {to: 20, frm: 30}
    assert r.json()["can_redo"]
    r = client.post(f"/api/v1/plans/{draft}/edits/redo", headers=auth)
    assert r.status_code == 200 and loads(r.json()) == {to: 30, frm: 20}
    r = client.post(f"/api/v1/plans/{draft}/edits/redo", headers=auth)
    assert_problem(r, 409, "conflict")
    log = client.get(f"/api/v1/plans/{draft}/edits", headers=auth).json()
    assert [(e["kind"], e["block"], e["from_cell"], e["to_cell"], e["username"], e["state"])
            for e in log] == [("move", block, frm, to, "planner", "done")]  # fmt: skip
    assert log[0]["created_at"]


def test_locks_and_refusals_are_problem_details(client, session, built):
    draft = drafted(client, built)
    start = state(client, built, draft)
    block, to, frm = a_move(start["blocks"], start["cells"])
    auth = built.auth("planner")
    r = client.put(f"/api/v1/plans/{draft}/locks/{to}", headers=auth)
    assert r.status_code == 200 and r.json()["locked_cells"] == [to]
    assert state(client, built, draft)["locked"] == [to]
    r = client.post(f"/api/v1/plans/{draft}/edits", json={"block": block, "to_cell": to},
                    headers=auth)  # fmt: skip
    assert_problem(r, 409, "conflict")
    assert f"cell {to} is locked" in r.json()["detail"]
    r = client.delete(f"/api/v1/plans/{draft}/locks/{to}", headers=auth)
    assert r.status_code == 200 and r.json()["locked_cells"] == []
    for body, status, code, words in [
        ({"block": block, "to_cell": "x"}, 422, "validation_error", "to_cell"),
        ({"block": "b\x00", "to_cell": to}, 422, "validation_error", "NUL"),
        ({"block": "drop table", "to_cell": to}, 422, "validation_error", "block"),
        ({"block": "b99999999", "to_cell": to}, 422, "invalid_input", "no block b99999999"),
        ({"block": block, "to_cell": frm}, 422, "invalid_input", "already in cell"),
        ({"block": block, "to_cell": T1 + "002001"}, 422, "invalid_input", "has no cell"),
    ]:
        r = client.post(f"/api/v1/plans/{draft}/edits", json=body, headers=auth)
        assert_problem(r, status, code)
        assert words in r.text, r.text
    r = client.post(f"/api/v1/plans/{draft}/edits/undo", headers=auth)
    assert_problem(r, 409, "conflict")
    assert "no move to undo" in r.json()["detail"]
    r = client.post(f"/api/v1/plans/{built.plan_id}/edits", json={"block": block, "to_cell": to},
                    headers=auth)  # the plan in force is not edited  # fmt: skip
    assert_problem(r, 409, "conflict")
    assert "only a draft is edited" in r.json()["detail"]
    r = client.post("/api/v1/plans/999999/edits", json={"block": block, "to_cell": to},
                    headers=auth)  # fmt: skip
    assert_problem(r, 404, "not_found")
    r = client.get(f"/api/v1/plans/{draft}/blocks", params={"area": "35"}, headers=auth)
    assert_problem(r, 422, "validation_error")


def test_a_draft_out_of_the_band_is_not_prepared_nor_activated(client, session, built):
    draft = drafted(client, built)
    auth = built.auth("planner")
    into = None
    for _ in range(2):  # two blocks the same way: 40 | 10 against 20–30
        now = state(client, built, draft)
        block, into, _frm = a_move(now["blocks"], now["cells"], into)
        r = client.post(f"/api/v1/plans/{draft}/edits", json={"block": block, "to_cell": into},
                        headers=auth)  # fmt: skip
        assert r.status_code == 200, r.text
    assert sorted(loads(r.json()).values()) == [10, 40]
    problems = client.get(f"/api/v1/plans/{draft}/problems", headers=auth).json()
    assert sorted((p["rule"], p["blocking"]) for p in problems) == [("balance", True)] * 2
    r = client.post(f"/api/v1/plans/{draft}/prepare", headers=auth)
    assert_problem(r, 409, "conflict")
    assert "cannot be published" in r.json()["detail"] and "(balance)" in r.json()["detail"]
    assert {p["cell"] for p in r.json()["problems"]} == {p["cell"] for p in problems}
    r = client.post(f"/api/v1/plans/{draft}/activate", headers=built.auth("admin"))
    assert_problem(r, 409, "conflict")
    # undone once: back in the band, and preparation is accepted
    client.post(f"/api/v1/plans/{draft}/edits/undo", headers=auth)
    assert client.get(f"/api/v1/plans/{draft}/problems", headers=auth).json() == []
    assert client.post(f"/api/v1/plans/{draft}/prepare", headers=auth).status_code == 202
