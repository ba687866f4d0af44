"""Hand edits of a draft, on a hand-drawn lattice whose answers are obvious.

Township 350503001: village V1 is columns 0–3 of a 6 × 3 lattice of square blocks
(0.001°, ~100 m), village V2 columns 4–5. Every block holds 10 households; block ``bCR``
is column C, row R. Cells: A = V1's columns 0–1, B = V1's columns 2–3, C = V2. Target
60, tolerance ±10 % (54–66): all three cells are in the band until a block moves.

    row 2 | A A | B B | C C |
    row 1 | A A | B B | C C |
    row 0 | A A | B B | C C |
        x = 0 1   2 3   4 5
"""

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import select, text

from gridmap.areas.models import AreaLevel, PlanStatus
from gridmap.auth.models import Role
from gridmap.errors import Conflict, InvalidInput
from gridmap.plans import edits
from gridmap.plans.checks import draft_problems
from gridmap.plans.draft_blocks import store_blocks
from gridmap.plans.models import PlanBlock, PlanEdit
from gridmap.registry.models import Building, BuildingUse
from gridmap.scope import Actor
from tests.factories import make_area, make_plan

X0, Y0, S = 118.60, 24.90, 0.001
T = "350503001"
V1, V2 = T + "001", T + "002"
A, B, C = V1 + "001", V1 + "002", V2 + "001"
ROWS = 3


def square(col, row):
    return shapely.box(X0 + col * S, Y0 + row * S, X0 + (col + 1) * S, Y0 + (row + 1) * S)


def cell_of(col):
    return A if col < 2 else B if col < 4 else C


def name(col, row):
    return f"b{col}{row}"


@pytest.fixture
def planner(session, lattice):
    from gridmap.auth.service import create_user

    user = create_user(session=session, username="planner", role=Role.planner,
                       password="Studio-tests-2025", area_code="350503")  # fmt: skip
    return Actor(user_id=user.id, role=Role.planner, area_code="350503", username="planner")


@pytest.fixture
def lattice(session):
    """The plan in force and a draft with the same three cells; buildings at block centres."""
    county = make_area(
        session, "350503", AreaLevel.county, bounds=(X0, Y0, X0 + 6 * S, Y0 + ROWS * S)
    )
    town = make_area(
        session, T, AreaLevel.township, county, bounds=(X0, Y0, X0 + 6 * S, Y0 + ROWS * S)
    )
    v1 = make_area(session, V1, AreaLevel.village, town, bounds=(X0, Y0, X0 + 4 * S, Y0 + ROWS * S))
    v2 = make_area(session, V2, AreaLevel.village, town,
                   bounds=(X0 + 4 * S, Y0, X0 + 6 * S, Y0 + ROWS * S))  # fmt: skip
    active = make_plan(session, "in force", PlanStatus.active)
    draft = make_plan(session, "draft", PlanStatus.draft)
    spans = {A: (0, 2, v1), B: (2, 4, v1), C: (4, 6, v2)}
    for plan in (active, draft):
        for code, (c0, c1, village) in spans.items():
            make_area(session, code, AreaLevel.grid, village, plan,
                      bounds=(X0 + c0 * S, Y0, X0 + c1 * S, Y0 + ROWS * S))  # fmt: skip
    for col in range(6):
        for row in range(ROWS):
            at = square(col, row).centroid
            session.add(Building(use=BuildingUse.residential, floors=3, households=10,
                                 location=f"SRID=4326;{at.wkt}", plan_id=active.id,
                                 grid_code=cell_of(col)))  # fmt: skip
    session.flush()
    return active.id, draft.id


def drafted(session, plan_id):
    """Give the draft its blocks and rule, as a rebalancing run saving it does."""
    frame = gpd.GeoDataFrame(
        {"block_id": [name(c, r) for c in range(6) for r in range(ROWS)],
         "cell": [cell_of(c) for c in range(6) for r in range(ROWS)],
         "village_code": [V1 if c < 4 else V2 for c in range(6) for r in range(ROWS)],
         "households": [10] * 6 * ROWS},
        geometry=[square(c, r) for c in range(6) for r in range(ROWS)], crs=4326,
    )  # fmt: skip
    store_blocks(session, plan_id=plan_id, area=T, blocks=frame, cell_col="cell", target=60,
                 tolerance=0.1)  # fmt: skip
    # the cells as a run saves them: the union of their blocks
    for code in (A, B, C):
        union = shapely.union_all([square(c, r) for c in range(6) for r in range(ROWS)
                                   if cell_of(c) == code])  # fmt: skip
        session.execute(text("UPDATE area SET geom = ST_Multi(ST_GeomFromText(:g, 4326)) "
                             "WHERE plan_id = :p AND code = :c"),
                        {"g": union.wkt, "p": plan_id, "c": code})  # fmt: skip
    return plan_id


def households(answer):
    return {c["cell"]: c["households"] for c in answer["cells"]}


def test_a_move_changes_both_loads_by_the_blocks_households(session, lattice, planner):
    draft = drafted(session, lattice[1])
    answer = edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=B, user=planner)
    assert households(answer) == {A: 50, B: 70}
    # the database agrees: the block is in B, B's outline covers it and A's no longer does
    assert session.get(PlanBlock, (draft, name(1, 0))).cell == B
    [(in_b, in_a)] = session.execute(text(
        "SELECT ST_Covers(b.geom, ST_PointOnSurface(k.geom)), ST_Covers(a.geom, "
        "ST_PointOnSurface(k.geom)) FROM plan_block k, area a, area b WHERE k.plan_id = :p "
        "AND k.block_id = :k AND a.plan_id = :p AND a.code = :a AND b.plan_id = :p "
        "AND b.code = :b"), {"p": draft, "k": name(1, 0), "a": A, "b": B}).all()  # fmt: skip
    assert (in_b, in_a) == (True, False)
    # both out of the band now (50 and 70 against 54–66): named with the figure
    problems = {(p["cell"], p["rule"]) for c in answer["cells"] for p in c["problems"]}
    assert problems == {(A, "balance"), (B, "balance")}
    [a] = [c for c in answer["cells"] if c["cell"] == A]
    assert "50 households, -16.7%" in a["problems"][0]["reason"]
    assert answer["can_undo"] and not answer["can_redo"]
    edit = session.scalar(select(PlanEdit).where(PlanEdit.plan_id == draft))
    assert (edit.username, edit.block_id, edit.from_cell, edit.to_cell) == (
        "planner",
        name(1, 0),
        A,
        B,
    )
    assert edit.created_at is not None


def test_moves_refused_in_words(session, lattice, planner):
    draft = drafted(session, lattice[1])
    with pytest.raises(InvalidInput, match=r"does not touch cell .*neighbouring"):
        edits.move_block(session, plan_id=draft, block=name(0, 0), to_cell=B, user=planner)
    with pytest.raises(InvalidInput, match=r"in village 350503001002 .* never crosses"):
        edits.move_block(session, plan_id=draft, block=name(3, 0), to_cell=C, user=planner)
    with pytest.raises(InvalidInput, match="has no cell 350503001001009"):
        edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=V1 + "009",
                         user=planner)  # fmt: skip
    with pytest.raises(InvalidInput, match="already in cell"):
        edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=A, user=planner)
    with pytest.raises(InvalidInput, match="has no block nope"):
        edits.move_block(session, plan_id=draft, block="nope", to_cell=A, user=planner)
    assert session.scalar(select(PlanEdit.id).where(PlanEdit.plan_id == draft)) is None


def test_undo_restores_the_outlines_exactly_and_redo_makes_the_move_again(
    session, lattice, planner
):
    draft = drafted(session, lattice[1])
    before = dict(session.execute(text(
        "SELECT code, geom FROM area WHERE plan_id = :p"), {"p": draft}).all())  # fmt: skip
    edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=B, user=planner)
    moved = dict(session.execute(text(
        "SELECT code, geom FROM area WHERE plan_id = :p"), {"p": draft}).all())  # fmt: skip
    answer = edits.undo(session, plan_id=draft, user=planner)
    assert households(answer) == {A: 60, B: 60} and answer["can_redo"]
    for code, geom in before.items():
        assert session.scalar(
            text(
                "SELECT ST_Equals(geom, :g) AND ST_AsBinary(geom) = ST_AsBinary(CAST(:g AS geometry)) "
                "FROM area WHERE plan_id = :p AND code = :c"
            ),
            {"g": geom, "p": draft, "c": code},
        )
    assert session.get(PlanBlock, (draft, name(1, 0))).cell == A
    assert draft_problems(session, draft) == []
    with pytest.raises(Conflict, match="no move to undo"):
        edits.undo(session, plan_id=draft, user=planner)
    answer = edits.redo(session, plan_id=draft, user=planner)
    assert households(answer) == {A: 50, B: 70} and not answer["can_redo"]
    for code in (A, B):
        assert session.scalar(text(
            "SELECT ST_Equals(geom, :g) FROM area WHERE plan_id = :p AND code = :c"),
            {"g": moved[code], "p": draft, "c": code})  # fmt: skip
    # a new move after an undo drops the redo
    edits.undo(session, plan_id=draft, user=planner)
    edits.move_block(session, plan_id=draft, block=name(2, 1), to_cell=A, user=planner)
    with pytest.raises(Conflict, match="no move to redo"):
        edits.redo(session, plan_id=draft, user=planner)
    log = edits.edit_log(session, draft)
    assert [(e["block"], e["state"]) for e in log] == [(name(1, 0), "dropped"),
                                                       (name(2, 1), "done")]  # fmt: skip


def test_a_locked_cell_refuses_moves_in_and_out(session, lattice, planner):
    draft = drafted(session, lattice[1])
    edits.set_lock(session, plan_id=draft, cell=B, locked=True, user=planner)
    with pytest.raises(Conflict, match=f"cell {B} is locked"):
        edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=B, user=planner)
    with pytest.raises(Conflict, match=f"cell {B} is locked"):
        edits.move_block(session, plan_id=draft, block=name(2, 0), to_cell=A, user=planner)
    edits.set_lock(session, plan_id=draft, cell=B, locked=False, user=planner)
    edits.move_block(session, plan_id=draft, block=name(2, 0), to_cell=A, user=planner)
    assert [e["kind"] for e in edits.edit_log(session, draft)] == ["lock", "unlock", "move"]


def test_a_draft_with_a_cell_out_of_the_band_cannot_be_prepared_or_activated(
    session, lattice, planner
):
    from gridmap.plans import service

    draft = drafted(session, lattice[1])
    edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=B, user=planner)
    problems = draft_problems(session, draft)
    assert {(p.cell, p.rule, p.blocking) for p in problems} == {
        (A, "balance", True),
        (B, "balance", True),
    }
    with pytest.raises(Conflict, match=f"cell {A} \\(balance\\): 50 households"):
        service.prepare(session=session, plan_id=draft)
    with pytest.raises(Conflict, match="cannot be published"):
        service.activate(session=session, plan_id=draft)
    # moved back (a move, not an undo): nothing left to refuse
    edits.move_block(session, plan_id=draft, block=name(1, 0), to_cell=A, user=planner)
    assert draft_problems(session, draft) == []


def test_a_cell_in_pieces_is_named(session, lattice, planner):
    draft = drafted(session, lattice[1])
    # B's middle row leaves for A, one block at a time: B is then rows 0 and 2, apart
    edits.move_block(session, plan_id=draft, block=name(2, 1), to_cell=A, user=planner)
    answer = edits.move_block(session, plan_id=draft, block=name(3, 1), to_cell=A, user=planner)
    [b] = [c for c in answer["cells"] if c["cell"] == B]
    assert not b["contiguous"]
    assert {(p["rule"], p["reason"]) for p in b["problems"]} >= {
        ("contiguity", "its blocks do not form one piece")
    }
    assert (B, "contiguity", True) in {(p.cell, p.rule, p.blocking)
                                        for p in draft_problems(session, draft)}  # fmt: skip


def test_a_draft_without_stored_blocks_gets_them_from_the_registry(session, lattice, planner):
    draft = lattice[1]  # like a draft from a file: cells, no blocks
    state = edits.draft_state(session, draft, T)
    assert len(state["blocks"]["features"]) == 6 * ROWS
    assert {c["cell"]: c["households"] for c in state["cells"]} == {A: 60, B: 60, C: 60}
    assert state["target"] == 60 and state["tolerance"] == 0.1
    block = next(f["properties"]["block"] for f in state["blocks"]["features"]
                 if f["properties"]["cell"] == A and shapely.geometry.shape(f["geometry"])
                 .centroid.x > X0 + S)  # fmt: skip
    answer = edits.move_block(session, plan_id=draft, block=block, to_cell=B, user=planner)
    assert households(answer) == {A: 50, B: 70}
