"""Boundary plans: prepare a draft's moves while it is a draft, then activate it in seconds.

Preparing (:func:`prepare`) assigns every building, household and work unit to the draft's
cells with the assignment engine and stores, in ``plan_assignment``, only the items whose
cell would change — versioned assignments per plan, as MapIt versions areas by
generation, but sparse. It also builds and saves the draft's assignment index, so the
first request after activation does not pay for it. Preparing reads the registry and
locks nothing in it: the field keeps editing meanwhile.

Activating (:func:`activate`) is then a switch: the plan in force is retired, the draft
made active, buildings, households and work units are locked against writes (reads go
on), those created or edited since the preparation (ids above its high-water marks,
objects of registry events after its last event) are assigned again, and only the moved
rows are updated. Houses and people then follow their building and household in short
transactions of their own (:func:`follow`): the people of 6% of a city's households are
half a million rows, each touching seven indexes, which is what made one transaction
take minutes. An unprepared draft, or one prepared against another plan in force or
cells that changed since, is prepared inside the activation transaction: the same
result, slower.

Why unmoved rows may keep an older ``plan_id``: an item's ``(plan_id, grid_code)`` names
the cell it was assigned to (a foreign key to ``area``). An item that does not move keeps
the code it had, and that code is a cell of the new plan with the same place (otherwise
the item would have moved), so its old reference stays valid and true; retired plans keep
their cells. Readers ask for an item's ``grid_code``, never for its ``plan_id``. Moved
items get the new plan, the new code and the activation time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from gridmap.areas.active import current_plan
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.assign import AssignmentIndex
from gridmap.errors import Conflict, NotFound
from gridmap.locate import cached_index, plan_digest
from gridmap.plans.checks import refuse_problems

# Located registry tables, re-assigned from their own point; the others follow them.
LOCATED = ("building", "household", "work_unit")
FOLLOWERS = {
    "house": ("building", "building_id"),
    "person": ("household", "household_id"),
}
EVENT_MARK = "registry_event"
FOLLOW_BATCH = 20_000  # moved parents per follower transaction: ~2 s of people at city scale


@dataclass(frozen=True)
class Moves:
    """What a preparation found: items per located table, and those whose cell changes."""

    items: dict[str, int]
    moved: dict[str, int]
    outside: int


def plan_rows(session: Session, plan_id: int | None = None) -> list[dict[str, Any]]:
    """Every plan (or only ``plan_id``) with its number of cells: the API's and CLI's list."""
    query = (
        select(Plan, func.count(Area.id))
        .outerjoin(Area, Area.plan_id == Plan.id)
        .group_by(Plan.id)
        .order_by(Plan.id)
    )
    if plan_id is not None:
        query = query.where(Plan.id == plan_id)
    return [
        {"id": p.id, "name": p.name, "status": p.status.value, "note": p.note, "cells": n,
         "created_at": p.created_at, "activated_at": p.activated_at, "retired_at": p.retired_at,
         "prepared_at": p.prepared_at}
        for p, n in session.execute(query)
    ]  # fmt: skip


def prepare(
    *, session: Session, plan_id: int, cache_dir: Path | None = None, now: datetime | None = None
) -> Moves:
    """Compute and store a draft's moves against the plan in force; the caller commits.

    Takes the registry's high-water marks first, so anything written while the registry is
    read is caught again at activation. Refuses a plan that is not a draft.
    """
    plan = session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status != PlanStatus.draft:
        raise Conflict(f"plan {plan_id} is {plan.status.value}: only a draft is prepared")
    refuse_problems(session, plan_id)  # a cell breaking a rule: named, nothing prepared
    current = current_plan(session)
    current_id = current.id if current is not None else None
    return _prepare(session, plan, current_id, cached_index(session, plan, cache_dir), now)


def activate(
    *,
    session: Session,
    plan_id: int,
    cache_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Make ``plan_id`` the active plan and move the located items whose cell changes.

    The caller commits, so either all of it changes or nothing does; then it runs
    :func:`follow` for houses and people. Returns the rows updated per located table,
    ``outside`` (located items outside every new cell), ``rechecked`` (items edited or
    created since the preparation, assigned again) and ``prepared`` (1 when a valid
    preparation was used, 0 when it had to be done here).
    """
    plan = session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status == PlanStatus.active:
        raise Conflict(f"plan {plan_id} is already active")
    if plan.status == PlanStatus.draft:
        refuse_problems(session, plan_id)  # a cell breaking a rule: named, nothing switched
    now = now or datetime.now(UTC)
    current = current_plan(session, for_update=True)
    index = cached_index(session, plan, cache_dir)  # refuses a plan without cells
    # writes to the registry wait from here to the commit; reads go on
    session.execute(text(f"LOCK TABLE {', '.join(LOCATED)} IN SHARE ROW EXCLUSIVE MODE"))
    current_id = current.id if current is not None else None
    usable = (
        plan.prepared_at is not None
        and plan.prepared_marks is not None
        and plan.prepared_against == current_id
        and plan.prepared_digest == plan_digest(session, plan.id)
    )
    counts: dict[str, int] = {"prepared": int(usable), "rechecked": 0}
    if usable:
        assert plan.prepared_marks is not None
        counts["rechecked"] = _recheck(session, plan, index, plan.prepared_marks)
    else:
        _prepare(session, plan, current_id, index, now)
    if current is not None:
        current.status = PlanStatus.retired
        current.retired_at = now
        session.flush()
    plan.status = PlanStatus.active
    plan.activated_at = now
    plan.retired_at = None
    session.flush()
    conn = session.connection()
    params = {"plan": plan_id, "now": now}
    for table in LOCATED:
        counts[table] = conn.execute(
            text(
                f"UPDATE {table} t SET grid_code = m.grid_code, plan_id = :plan, "
                "assigned_at = :now FROM plan_assignment m WHERE m.plan_id = :plan "
                "AND m.item_table = :table AND m.item_id = t.id"
            ),
            {**params, "table": table},
        ).rowcount
    counts["outside"] = sum(
        int(session.scalar(text(f"SELECT count(*) FROM {t} WHERE grid_code IS NULL")) or 0)
        for t in LOCATED
    )
    return counts


def follow(
    factory: sessionmaker[Session], plan_id: int, batch: int = FOLLOW_BATCH
) -> dict[str, int]:
    """Houses follow their building and people their household, in short transactions.

    Run right after :func:`activate` commits (the CLI and the API do). Each batch copies
    the cell of ``batch`` moved buildings or households to their houses or people, in a
    transaction of its own, so no row is held longer than one batch. It copies from the
    parent's row as it is now, not from the stored moves, so an edit made meanwhile (a
    household moving again) is never undone; running it again changes nothing. Until a
    person's batch commits they show under their old cell: seconds at city scale.
    """
    done: dict[str, int] = {}
    for table, (parent, key) in FOLLOWERS.items():
        with factory() as session:
            ids = session.scalars(
                text(
                    "SELECT item_id FROM plan_assignment WHERE plan_id = :plan "
                    "AND item_table = :parent ORDER BY item_id"
                ),
                {"plan": plan_id, "parent": parent},
            ).all()
        copy = text(
            f"UPDATE {table} t SET grid_code = p.grid_code, plan_id = p.plan_id, "
            f"assigned_at = p.assigned_at FROM {parent} p WHERE p.id = t.{key} "
            "AND p.id = ANY(:ids) AND (t.grid_code IS DISTINCT FROM p.grid_code "
            "OR t.plan_id IS DISTINCT FROM p.plan_id)"
        )
        done[table] = 0
        for start in range(0, len(ids), batch):
            with factory.begin() as session:
                result = session.connection().execute(
                    copy, {"ids": list(ids[start : start + batch])}
                )
                done[table] += result.rowcount
    return done


def _prepare(
    session: Session, plan: Plan, current: int | None, index: AssignmentIndex, now: datetime | None
) -> Moves:
    marks = _marks(session)
    session.execute(text("DELETE FROM plan_assignment WHERE plan_id = :plan"), {"plan": plan.id})
    items: dict[str, int] = {}
    moved: dict[str, int] = {}
    outside = 0
    for table in LOCATED:
        ids, codes, n_outside = _changed(session, index, table, "")
        items[table] = _count(session, table)
        moved[table] = _store(session, plan.id, table, ids, codes)
        outside += n_outside
    plan.prepared_at = now or datetime.now(UTC)
    plan.prepared_against = current
    plan.prepared_digest = plan_digest(session, plan.id)
    plan.prepared_marks = marks
    session.flush()
    return Moves(items, moved, outside)


def _recheck(session: Session, plan: Plan, index: AssignmentIndex, marks: dict[str, int]) -> int:
    """Assign again what was created or edited after the preparation; replace its moves."""
    total = 0
    for table in LOCATED:
        # two index conditions on the key, so a bitmap of both (never a scan of the table)
        where = (
            f"WHERE id > {int(marks[table])} OR id = ANY(ARRAY(SELECT object_id FROM "
            f"registry_event WHERE id > {int(marks[EVENT_MARK])} AND object_type = '{table}'))"
        )
        touched = [
            int(i) for (i,) in session.execute(text(f"SELECT id FROM {table} {where}")).all()
        ]
        if not touched:
            continue
        total += len(touched)
        session.execute(
            text(
                "DELETE FROM plan_assignment WHERE plan_id = :plan AND item_table = :table "
                "AND item_id = ANY(:ids)"
            ),
            {"plan": plan.id, "table": table, "ids": touched},
        )
        ids, codes, _ = _changed(session, index, table, where)
        _store(session, plan.id, table, ids, codes)
    return total


def _marks(session: Session) -> dict[str, int]:
    marks = {
        table: int(session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}")) or 0)
        for table in LOCATED
    }
    marks[EVENT_MARK] = int(
        session.scalar(text("SELECT coalesce(max(id), 0) FROM registry_event")) or 0
    )
    return marks


def _count(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _changed(
    session: Session, index: AssignmentIndex, table: str, where: str
) -> tuple[np.ndarray, list[str | None], int]:
    """Ids and new codes of the rows of ``table`` whose cell changes under ``index``."""
    buffer = io.BytesIO()
    raw = session.connection().connection.driver_connection
    query = (
        f"COPY (SELECT id, ST_X(location), ST_Y(location), coalesce(grid_code, '') "
        f"FROM {table} {where}) TO STDOUT"
    )
    with raw.cursor() as cur, cur.copy(query) as copy:  # type: ignore[union-attr]
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return np.empty(0, dtype=np.int64), [], 0
    buffer.seek(0)
    frame = pd.read_csv(
        buffer, sep="\t", header=None, names=["id", "x", "y", "code"],
        dtype={"id": np.int64, "x": float, "y": float, "code": str}, keep_default_na=False,
    )  # fmt: skip
    found = index.assign(frame["x"].to_numpy(), frame["y"].to_numpy(), nearest=False)
    new = index.codes_of(found.cell)
    new_arr = np.array(["" if c is None else c for c in new], dtype=object)
    changed = new_arr != frame["code"].to_numpy(dtype=object)
    ids = frame["id"].to_numpy()[changed]
    codes = [c or None for c in new_arr[changed].tolist()]
    return ids, codes, int((new_arr == "").sum())


def _store(
    session: Session, plan_id: int, table: str, ids: np.ndarray, codes: list[str | None]
) -> int:
    if len(ids) == 0:
        return 0
    raw = session.connection().connection.driver_connection
    query = "COPY plan_assignment (plan_id, item_table, item_id, grid_code) FROM STDIN"
    with raw.cursor() as cur, cur.copy(query) as copy:  # type: ignore[union-attr]
        for item_id, code in zip(ids.tolist(), codes, strict=True):
            copy.write_row((plan_id, table, item_id, code))
    return len(ids)
