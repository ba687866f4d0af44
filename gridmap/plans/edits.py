"""Hand edits of a draft (草案): move a block to a neighbouring cell, undo, redo, lock cells.

Rules of a move, each refused in words: only a draft is edited, and not while it is being
prepared or activated (its row is locked then); the block and the cell exist in the draft;
the cell is in the block's village (nesting) and touches the block (the engine's
adjacency); neither cell is locked; a cell keeps at least one block. A move that leaves a
cell out of the band or in pieces is made, and the answer names the problem
(:mod:`gridmap.plans.checks`): a planner often needs two moves to get there, and a draft
with a problem cannot be published.

The two cells are drawn again as the union of their blocks. Each edit is a row of
``plan_edit`` with both outlines before and after, so undo and redo put back exactly what
was there. Undo takes back the last move still done; redo makes again the last one undone;
a new move drops what could be redone. Services do not commit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.errors import Conflict, InvalidInput, NotFound
from gridmap.plans.checks import cell_rows, edited_cells
from gridmap.plans.draft_blocks import ensure_blocks, village_blocks
from gridmap.plans.models import EditKind, EditState, PlanBlock, PlanDraft, PlanEdit
from gridmap.scope import Actor


def editable_draft(session: Session, plan_id: int) -> Plan:
    """The draft ``plan_id``, its row locked for this edit; refused while it is published.

    Preparation and activation lock the plan's row: an edit meanwhile would change cells
    under them, so it is refused at once (409) rather than made to wait.
    """
    try:
        plan = session.get(Plan, plan_id, with_for_update={"nowait": True})
    except OperationalError:
        raise Conflict(
            f"draft {plan_id} is being prepared or activated: edit it when that ends"
        ) from None
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status != PlanStatus.draft:
        raise Conflict(f"plan {plan_id} is {plan.status.value}: only a draft is edited")
    return plan


def move_block(
    session: Session, *, plan_id: int, block: str, to_cell: str, user: Actor
) -> dict[str, Any]:
    """Move ``block`` to ``to_cell``; the two cells' new figures and problems.

    Raises
    ------
    InvalidInput
        No such block or cell in the draft, the block already in it, another village,
        a cell that does not touch the block, the last block of its cell.
    Conflict
        Not a draft, being published, or a locked cell.
    """
    plan = editable_draft(session, plan_id)
    to_cell = str(to_cell)
    if session.scalar(select(Area.id).where(Area.plan_id == plan_id, Area.code == to_cell)) is None:
        raise InvalidInput(f"draft {plan_id} has no cell {to_cell}")
    village = codes.ancestor(to_cell, AreaLevel.village)
    row = session.get(PlanBlock, (plan_id, block))
    if row is None:  # a draft without stored blocks (from a file): derive them, then look
        ensure_blocks(session, plan_id, village)
        row = session.get(PlanBlock, (plan_id, block))
    if row is None:
        raise InvalidInput(f"draft {plan_id} has no block {block} in village {village}")
    rule = ensure_blocks(session, plan_id, row.village_code)
    from_cell = row.cell
    if from_cell == to_cell:
        raise InvalidInput(f"block {block} is already in cell {to_cell}")
    if row.village_code != village:
        raise InvalidInput(
            f"cell {to_cell} is in village {village} and block {block} in village "
            f"{row.village_code}: a cell never crosses its village's boundary"
        )
    for cell in (from_cell, to_cell):
        if cell in rule.locked:
            raise Conflict(f"cell {cell} is locked: unlock it to move blocks in or out")
    data = village_blocks(session, plan_id, [village], [from_cell, to_cell])
    i = data.index(block)
    labels = data.frame["cell"].to_numpy(dtype=object)
    if not any(labels[n] == to_cell for n in data.blocks.neighbours[i]):
        raise InvalidInput(
            f"block {block} does not touch cell {to_cell}: a block moves only to a "
            "neighbouring cell"
        )
    if int((labels == from_cell).sum()) == 1:
        raise InvalidInput(
            f"block {block} is the last of cell {from_cell}: a cell cannot be emptied"
        )
    session.execute(
        update(PlanEdit)
        .where(PlanEdit.plan_id == plan_id, PlanEdit.state == EditState.undone.value)
        .values(state=EditState.dropped.value)
    )  # a new move: nothing left to redo
    edit = PlanEdit(plan_id=plan_id, kind=EditKind.move.value, block_id=block,
                    from_cell=from_cell, to_cell=to_cell, user_id=user.user_id,
                    username=user.username or str(user.user_id))  # fmt: skip
    session.add(edit)
    session.flush()
    _keep_outlines(session, edit, "before")
    row.cell = to_cell
    session.flush()
    _redraw(session, plan_id, block, from_cell, to_cell)
    _keep_outlines(session, edit, "after")
    plan.prepared_at = None  # the cells changed: a preparation no longer holds
    labels[i] = to_cell
    data.frame["cell"] = labels
    return _answer(session, rule, plan_id, edit, [from_cell, to_cell], data)


def undo(session: Session, *, plan_id: int, user: Actor) -> dict[str, Any]:
    """Take back the last move still done (409 when there is none)."""
    return _replay(session, plan_id, _last_move(session, plan_id, EditState.done), back=True)


def redo(session: Session, *, plan_id: int, user: Actor) -> dict[str, Any]:
    """Make again the last move undone (409 when there is none, or a new move dropped it)."""
    return _replay(session, plan_id, _last_move(session, plan_id, EditState.undone), back=False)


def _last_move(session: Session, plan_id: int, state: EditState) -> PlanEdit:
    """The move to undo (the newest done) or to redo (the first undone: undone last)."""
    editable_draft(session, plan_id)
    newest_first = state == EditState.done
    edit = session.scalar(
        select(PlanEdit).where(PlanEdit.plan_id == plan_id, PlanEdit.kind == EditKind.move.value,
                               PlanEdit.state == state.value)
        .order_by(PlanEdit.id.desc() if newest_first else PlanEdit.id.asc()).limit(1))  # fmt: skip
    if edit is None:
        raise Conflict(f"draft {plan_id} has no move to {'undo' if newest_first else 'redo'}")
    return edit


def _replay(session: Session, plan_id: int, edit: PlanEdit, *, back: bool) -> dict[str, Any]:
    rule = session.get(PlanDraft, plan_id)
    assert rule is not None and edit.from_cell and edit.to_cell and edit.block_id
    for cell in (edit.from_cell, edit.to_cell):
        if cell in rule.locked:
            raise Conflict(f"cell {cell} is locked: unlock it to undo or redo a move through it")
    row = session.get(PlanBlock, (plan_id, edit.block_id))
    assert row is not None
    row.cell = edit.from_cell if back else edit.to_cell
    side = "before" if back else "after"
    session.execute(text(
        f"UPDATE area a SET geom = CASE a.code WHEN :f THEN e.from_{side} ELSE e.to_{side} END "
        "FROM plan_edit e WHERE e.id = :e AND a.plan_id = :p AND a.code IN (:f, :t)"),
        {"e": edit.id, "p": plan_id, "f": edit.from_cell, "t": edit.to_cell})  # fmt: skip
    edit.state = (EditState.undone if back else EditState.done).value
    edit.undone_at = datetime.now(UTC) if back else None
    plan = session.get(Plan, plan_id)
    assert plan is not None
    plan.prepared_at = None
    session.flush()
    village = codes.ancestor(edit.to_cell, AreaLevel.village)
    data = village_blocks(session, plan_id, [village], [edit.from_cell, edit.to_cell])
    return _answer(session, rule, plan_id, edit, [edit.from_cell, edit.to_cell], data)


def set_lock(
    session: Session, *, plan_id: int, cell: str, locked: bool, user: Actor
) -> dict[str, Any]:
    """Lock (or unlock) a cell of the draft: no block moves in or out, reruns keep it."""
    editable_draft(session, plan_id)
    if session.scalar(select(Area.id).where(Area.plan_id == plan_id, Area.code == cell)) is None:
        raise NotFound(f"draft {plan_id} has no cell {cell}")
    rule = ensure_blocks(session, plan_id, codes.ancestor(cell, AreaLevel.village))
    now = set(rule.locked)
    if (cell in now) != locked:
        rule.locked = sorted(now | {cell}) if locked else sorted(now - {cell})
        session.add(PlanEdit(plan_id=plan_id, kind=(EditKind.lock if locked else
                                                     EditKind.unlock).value,
                             from_cell=cell, user_id=user.user_id,
                             username=user.username or str(user.user_id)))  # fmt: skip
        session.flush()
    return {"cell": cell, "locked": locked, "locked_cells": list(rule.locked)}


def edit_log(session: Session, plan_id: int) -> list[dict[str, Any]]:
    """Every edit of a draft, oldest first: who, when, what, and whether it is undone."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"there is no plan {plan_id}")
    edits = session.scalars(select(PlanEdit).where(PlanEdit.plan_id == plan_id)
                            .order_by(PlanEdit.id))  # fmt: skip
    return [
        {"id": e.id, "kind": e.kind, "state": e.state, "block": e.block_id,
         "from_cell": e.from_cell, "to_cell": e.to_cell, "username": e.username,
         "created_at": e.created_at, "undone_at": e.undone_at}
        for e in edits
    ]  # fmt: skip


def draft_state(session: Session, plan_id: int, area: str) -> dict[str, Any]:
    """A draft's blocks in ``area`` (GeoJSON), its rule, its cells' figures and problems.

    What the studio draws the hand-edit map from; a draft without stored blocks gets them.
    """
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status != PlanStatus.draft:
        raise Conflict(f"plan {plan_id} is {plan.status.value}: only a draft is edited")
    rule = ensure_blocks(session, plan_id, area)
    villages = sorted(set(session.scalars(
        select(PlanBlock.village_code).where(PlanBlock.plan_id == plan_id,
                                             PlanBlock.village_code.startswith(codes.prefix(area)))
        .distinct())))  # fmt: skip
    data = village_blocks(session, plan_id, villages)
    features = session.execute(text(
        "SELECT block_id, cell, households, ST_AsGeoJSON(geom, 6) FROM plan_block "
        "WHERE plan_id = :p AND village_code = ANY(:v) ORDER BY block_id"),
        {"p": plan_id, "v": villages}).all()  # fmt: skip
    edits = session.execute(text(
        "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'undone') "
        "FROM plan_edit WHERE plan_id = :p AND kind = 'move'"), {"p": plan_id}).one()  # fmt: skip
    return {
        "plan_id": plan_id, "area": area, "target": rule.target, "tolerance": rule.tolerance,
        "locked": list(rule.locked), "can_undo": edits[0] > 0, "can_redo": edits[1] > 0,
        "cells": cell_rows(rule, data, edited=edited_cells(session, plan_id)),
        "blocks": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": b, "geometry": _raw(g),
             "properties": {"block": b, "cell": c, "households": h}}
            for b, c, h, g in features
        ]},
    }  # fmt: skip


def _raw(geojson: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(geojson)
    return value


def _keep_outlines(session: Session, edit: PlanEdit, side: str) -> None:
    session.execute(text(
        f"UPDATE plan_edit e SET from_{side} = f.geom, to_{side} = t.geom FROM area f, area t "
        "WHERE e.id = :e AND f.plan_id = e.plan_id AND f.code = e.from_cell "
        "AND t.plan_id = e.plan_id AND t.code = e.to_cell"), {"e": edit.id})  # fmt: skip


def _redraw(session: Session, plan_id: int, block: str, from_cell: str, to_cell: str) -> None:
    """The two cells after ``block`` left ``from_cell`` for ``to_cell``.

    Each cell is the union of its blocks, kept so by two small overlays: the block taken
    out of one outline and added to the other. Unioning every block of both cells again
    cost 1.2 s per edit on the demo seed (profiled: 11.7 of 12.9 s for 10 moves); the
    overlays take milliseconds. Where GEOS cannot node them exactly (blocks cut from
    cells that were themselves unions of blocks), again with snap-rounding to 1e-9°.
    """
    update = (
        "UPDATE area a SET geom = ST_Multi(ST_CollectionExtract(CASE a.code "
        "WHEN :f THEN ST_Difference(a.geom, k.geom{grid}) "
        "ELSE ST_Union(a.geom, k.geom{grid}) END, 3)) FROM plan_block k "
        "WHERE k.plan_id = :p AND k.block_id = :b AND a.plan_id = :p AND a.code IN (:f, :t)"
    )
    params = {"p": plan_id, "b": block, "f": from_cell, "t": to_cell}
    try:
        with session.begin_nested():
            session.execute(text(update.format(grid="")), params)
    except DBAPIError:
        session.execute(text(update.format(grid=", 1e-9")), params)


def _answer(
    session: Session, rule: PlanDraft, plan_id: int, edit: PlanEdit, cells: list[str], data: Any
) -> dict[str, Any]:
    outlines: dict[str, str] = dict(session.execute(text(
        "SELECT code, ST_AsGeoJSON(geom, 6) FROM area WHERE plan_id = :p AND code = ANY(:c)"),
        {"p": plan_id, "c": cells}).all())  # fmt: skip
    rows = cell_rows(rule, data, cells, edited=edited_cells(session, plan_id))
    for r in rows:
        r["geometry"] = _raw(outlines[r["cell"]])
    counts = session.execute(text(
        "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'undone') "
        "FROM plan_edit WHERE plan_id = :p AND kind = 'move'"), {"p": plan_id}).one()  # fmt: skip
    return {
        "edit": {"id": edit.id, "block": edit.block_id, "from_cell": edit.from_cell,
                 "to_cell": edit.to_cell, "state": edit.state, "username": edit.username},
        "block_cell": {edit.block_id: (edit.from_cell if edit.state == EditState.undone.value
                                       else edit.to_cell)},
        "cells": rows, "can_undo": counts[0] > 0, "can_redo": counts[1] > 0,
    }  # fmt: skip
