"""Boundary plans: prepare a draft's moves while it is a draft, then activate it in seconds.

Preparing (:func:`prepare`) assigns every building, household and work unit to the draft's
cells with the assignment engine and stores, in ``plan_assignment``, only the items whose
cell would change — versioned assignments per plan, as MapIt versions areas by
generation, but sparse. It also builds and saves the draft's assignment index, so the
first request after activation does not pay for it. Preparing reads the registry and
locks nothing in it: the field keeps editing meanwhile.

Activating (:func:`activate`) is then a switch whose cost does not grow with the rows
that move: under a short lock on buildings, households and work units (writes wait,
reads go on), those created or edited since the preparation (ids above its high-water
marks, objects of registry events after its last event) are assigned again, the plan in
force is retired and the draft made active — and it commits. No registry row is updated
in it: a city-wide re-cut moves 1.5 million located rows and 4 million people, which is
what made the switch take a minute and more with the registry blocked.

The registry then catches up behind the switch (:func:`follow`), in batches of short
transactions: the moved buildings, households and work units take the cell stored for
them, then houses follow their building and people their household. A batch only touches
rows not yet under the new plan, so it never overwrites a row written after the switch —
the registry's writes take a copied cell from :func:`gridmap.areas.active.cell_now`, which
answers with the new plan's cell at once — and running it again changes nothing. Its
progress (rows to do and done per table, when it started and finished) is recorded in
``plan.publication`` for the API and the studio; one interrupted by a restart is
finished by the worker (``plan_follow`` job) or ``gridmap plan follow``. What a reader
sees meanwhile: an item the new plan moves shows under its old cell until its batch
commits — on the city seed (2 busy cores) about a minute for a rebalance moving 6% of
households and up to 10 minutes for a city-wide re-cut (64.7%), people last
(docs/benchmarks.md). A new activation or preparation waits until the catch-up is done.

An unprepared draft, or one prepared against another plan in force or cells that
changed since, is prepared inside the switch: the same result, slower.

Why unmoved rows may keep an older ``plan_id``: an item's ``(plan_id, grid_code)`` names
the cell it was assigned to (a foreign key to ``area``). An item that does not move keeps
the code it had, and that code is a cell of the new plan with the same place (otherwise
the item would have moved), so its old reference stays valid and true; retired plans keep
their cells. Readers ask for an item's ``grid_code``, never for its ``plan_id``. Moved
items get the new plan, the new code and the activation time (their followers, their
parent's).
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select, text
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
TABLES = (*LOCATED, *FOLLOWERS)  # the catch-up's order: parents before their followers
EVENT_MARK = "registry_event"
# ids per catch-up transaction, so that an edit waits at most one batch for a row lock
BATCH = {"building": 20_000, "household": 20_000, "work_unit": 20_000, "house": 20_000,
         "person": 5_000}  # fmt: skip
FOLLOW_WORKERS = 1  # connections catching up at once: 2 were slower on 2 busy cores (benchmarks)
STALLED_S = 60.0  # a catch-up without progress this long was interrupted


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
    _refuse_while_following(session, current)
    current_id = current.id if current is not None else None
    return _prepare(session, plan, current_id, cached_index(session, plan, cache_dir), now)


def activate(
    *,
    session: Session,
    plan_id: int,
    cache_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """The switch: make ``plan_id`` the active plan; the registry catches up after it.

    The caller commits, so either all of it changes or nothing does; then it runs
    :func:`follow`, which brings the moved rows and their houses and people to the new
    plan in short transactions. Returns ``prepared`` (1 when a valid preparation was used,
    0 when it had to be done here), ``rechecked`` (items edited or created since the
    preparation, assigned again), ``outside`` (items the new plan moves outside every cell)
    and, per located table, the rows the catch-up will move. Refuses while the plan in
    force is still being caught up (its moves would be judged against stale cells).
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
    _refuse_while_following(session, current)
    index = cached_index(session, plan, cache_dir)  # refuses a plan without cells
    # writes to the registry wait from here to the commit (reads go on): only the re-check
    # of what changed since the preparation happens under this lock, never the moves
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
    todo = dict.fromkeys(LOCATED, 0) | {
        str(t): int(n)
        for t, n in session.execute(
            text(
                "SELECT item_table, count(*) FROM plan_assignment WHERE plan_id = :plan "
                "GROUP BY item_table"
            ),
            {"plan": plan_id},
        )
    }
    counts |= todo
    counts["outside"] = int(
        session.scalar(
            text(
                "SELECT count(*) FROM plan_assignment WHERE plan_id = :plan AND grid_code IS NULL"
            ),
            {"plan": plan_id},
        )
        or 0
    )
    plan.publication = {
        "stage": "follow",
        "prepared_at": plan.prepared_at.isoformat() if plan.prepared_at else None,
        "prepared": bool(usable),
        "rechecked": counts["rechecked"],
        "switched_at": now.isoformat(),
        "follow_started_at": None,
        "finished_at": None,
        "outside": counts["outside"],
        "tables": {t: {"todo": todo.get(t, 0), "done": 0, "rows": 0} for t in TABLES},
    }
    session.flush()
    return counts


def publication(session: Session, plan_id: int) -> dict[str, Any]:
    """How far a plan's publication is: prepare → switch → follow → done, with counts.

    The API's ``GET /plans/{id}/publication`` and the studio's publish panel read this.
    ``stage`` is ``draft`` or ``prepared`` before the switch, ``follow`` while the registry
    catches up, ``done`` after; ``tables`` gives, per registry table, the rows (for houses
    and people: the moved buildings and households) to do and done, and ``rows`` updated.
    """
    plan = session.get(Plan, plan_id, populate_existing=True)  # the catch-up writes elsewhere
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    record = dict(plan.publication or {})
    if not record:
        record["stage"] = "prepared" if plan.prepared_at is not None else plan.status.value
        record["prepared_at"] = plan.prepared_at.isoformat() if plan.prepared_at else None
        record["tables"] = {}
    return {"plan_id": plan.id, "status": plan.status.value} | record


def unfinished(session: Session, quiet_s: float = STALLED_S) -> list[int]:
    """Plans whose catch-up has not finished and made no progress for ``quiet_s`` seconds.

    A catch-up records progress after every batch (seconds apart), so one quiet for a
    minute was interrupted (a restart, a crash): the worker finishes it.
    """
    return [
        int(i)
        for i in session.scalars(
            text(
                "SELECT id FROM plan WHERE status = 'active' "
                "AND publication ->> 'stage' = 'follow' AND coalesce(CAST(publication ->> "
                "'progress_at' AS timestamptz), '-infinity') <= now() - make_interval(secs => :q)"
            ),
            {"q": quiet_s},
        )
    ]


def _refuse_while_following(session: Session, current: Plan | None) -> None:
    if current is None:
        return
    session.refresh(current, ["publication"])  # the catch-up writes it in its own transactions
    if (current.publication or {}).get("stage") == "follow":
        raise Conflict(
            f"plan {current.id} is still being followed by the registry: wait until it is "
            f"done (or finish it: gridmap plan follow {current.id})"
        )


def follow(
    factory: sessionmaker[Session],
    plan_id: int,
    batch: int | None = None,
    workers: int | None = None,
) -> dict[str, int]:
    """The registry catches up with the switch, in short transactions; restartable.

    Run right after :func:`activate` commits (the API and CLI do; the worker finishes one
    that was interrupted). First the moved buildings, households and work units take their
    stored new cell, ``batch`` ids at a time in id order, each batch a transaction of its
    own; only rows not yet under the new plan are touched, so a row written after the
    switch (the registry's writes ask :func:`gridmap.areas.active.cell_now`, which gives
    the new plan's cell) is never overwritten, and running it again changes nothing. Then
    houses follow their building and people their household, copying the parent's row as
    it is now. Progress goes to ``plan.publication`` after each batch. Until its batch
    commits an item shows under its old cell (docs/benchmarks.md, "Publishing a plan",
    for how long at city scale).

    ``workers`` connections work on disjoint batches of a table at once (default
    ``FOLLOW_WORKERS``; one when ``factory`` is bound to a single connection, as in tests).
    Returns the rows updated per table.
    """
    if workers is None:
        bound = getattr(factory, "kw", {}).get("bind")
        workers = 1 if isinstance(bound, Connection) else FOLLOW_WORKERS
    done: dict[str, int] = dict.fromkeys(TABLES, 0)
    _follow(factory, plan_id, done, batch, max(1, workers))
    return done


def _follow(
    factory: sessionmaker[Session],
    plan_id: int,
    done: dict[str, int],
    batch: int | None,
    workers: int,
) -> None:
    with factory.begin() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or plan.status != PlanStatus.active:
            return  # retired meanwhile, or never activated: nothing to catch up
        record = dict(plan.publication or {})
        if record.get("stage") == "done":
            return
        record["follow_started_at"] = record["progress_at"] = datetime.now(UTC).isoformat()
        plan.publication = record
    counting = threading.Lock()
    for table in TABLES:
        parent, key = FOLLOWERS.get(table, (table, "id"))
        with factory() as session:
            ids = np.array(
                session.scalars(
                    text(
                        "SELECT item_id FROM plan_assignment WHERE plan_id = :plan "
                        "AND item_table = :parent ORDER BY item_id"
                    ),
                    {"plan": plan_id, "parent": parent},
                ).all(),
                dtype=np.int64,
            )
        statement = _catch_up_statement(table, parent, key)
        size = batch or BATCH[table]
        began = time.perf_counter()
        finished = [0]

        def one_batch(chunk: np.ndarray, table: str = table, statement: Any = statement,
                      todo: int = len(ids), began: float = began,
                      finished: list[int] = finished) -> None:  # fmt: skip
            with factory.begin() as session:
                conn = session.connection()
                result = conn.execute(
                    statement,
                    {"plan": plan_id, "table": table, "lo": int(chunk[0]), "hi": int(chunk[-1])},
                )
                with counting:
                    done[table] += max(result.rowcount, 0)
                    finished[0] += len(chunk)
                    counts = {"todo": todo, "done": finished[0], "rows": done[table]}
                _progress(conn, plan_id, table, **counts, seconds=time.perf_counter() - began)

        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        if workers == 1 or len(chunks) < 2:
            for chunk in chunks:
                one_batch(chunk)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one_batch, chunks))  # raises the first failure
        if len(ids) == 0:
            with factory.begin() as session:
                _progress(session.connection(), plan_id, table, todo=0, done=0, rows=0, seconds=0)
    with factory.begin() as session:
        session.connection().execute(
            text(
                "UPDATE plan SET publication = publication || jsonb_build_object("
                "'stage', 'done', 'finished_at', CAST(:at AS text)) WHERE id = :plan"
            ),
            {"plan": plan_id, "at": datetime.now(UTC).isoformat()},
        )


def _catch_up_statement(table: str, parent: str, key: str) -> Any:
    """One batch: the moved rows (or the followers of moved parents) with ids in lo..hi.

    ``plan_id IS DISTINCT FROM :plan`` is what makes it safe and restartable: a row already
    under the new plan (caught up before, or written after the switch) is left alone.
    """
    if table == parent:  # a located table: its stored new cell
        return text(
            f"UPDATE {table} t SET grid_code = m.grid_code, plan_id = :plan, "
            "assigned_at = p.activated_at FROM plan_assignment m, plan p "
            "WHERE p.id = :plan AND m.plan_id = :plan AND m.item_table = :table "
            "AND m.item_id BETWEEN :lo AND :hi AND t.id = m.item_id "
            "AND t.plan_id IS DISTINCT FROM :plan"
        )
    return text(  # a follower: its parent's cell as it is now
        f"UPDATE {table} t SET grid_code = p.grid_code, plan_id = p.plan_id, "
        f"assigned_at = p.assigned_at FROM {parent} p, plan_assignment m "
        f"WHERE m.plan_id = :plan AND m.item_table = '{parent}' "
        f"AND m.item_id BETWEEN :lo AND :hi AND p.id = m.item_id AND t.{key} = p.id "
        "AND t.plan_id IS DISTINCT FROM :plan"
    )


def _progress(
    conn: Any, plan_id: int, table: str, *, todo: int, done: int, rows: int, seconds: float
) -> None:
    # batches of parallel workers may commit out of order: a count never goes back
    conn.execute(
        text(
            "UPDATE plan SET publication = jsonb_set(publication, ARRAY['tables', :table], "
            "jsonb_build_object('todo', CAST(:todo AS int), 'done', greatest(CAST(:done AS int), "
            "CAST(publication #>> ARRAY['tables', :table, 'done'] AS int)), 'rows', "
            "greatest(CAST(:rows AS int), CAST(publication #>> ARRAY['tables', :table, 'rows'] "
            "AS int)), 'seconds', round(CAST(:seconds AS numeric), 1))) "
            "|| jsonb_build_object('progress_at', now()) WHERE id = :plan"
        ),
        {
            "plan": plan_id,
            "table": table,
            "todo": todo,
            "done": done,
            "rows": rows,
            "seconds": seconds,
        },
    )


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
