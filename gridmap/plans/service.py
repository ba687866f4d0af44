"""Boundary plans: activating one re-links the whole registry to its cells, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.areas.models import Plan, PlanStatus
from gridmap.errors import Conflict, NotFound
from gridmap.locate import build_index

# Located registry tables, re-assigned from their own point; the others follow them.
LOCATED = ("building", "household", "work_unit")
FOLLOWERS = {
    "house": ("building", "building_id"),
    "person": ("household", "household_id"),
}


def activate(*, session: Session, plan_id: int, now: datetime | None = None) -> dict[str, int]:
    """Make ``plan_id`` the active plan and re-link the registry to its cells.

    The plan in force is retired; buildings, households and work units are assigned to the
    new cells from their locations, houses follow their building and people their
    household. Incidents keep the plan they were assigned under. The caller commits, so
    either everything changes or nothing does. Returns rows re-linked per table and the
    number of located items that fall outside the new cells (``outside``).
    """
    plan = session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status == PlanStatus.active:
        raise Conflict(f"plan {plan_id} is already active")
    index = build_index(session, plan_id)  # refuses a plan without cells
    now = now or datetime.now(UTC)
    current = session.scalar(select(Plan).where(Plan.status == PlanStatus.active).with_for_update())
    if current is not None:
        current.status = PlanStatus.retired
        current.retired_at = now
        session.flush()
    plan.status = PlanStatus.active
    plan.activated_at = now
    plan.retired_at = None
    session.flush()
    counts: dict[str, int] = {"outside": 0}
    conn = session.connection()
    raw = conn.connection.driver_connection
    for table in LOCATED:
        rows = session.execute(
            text(f"SELECT id, ST_X(location), ST_Y(location) FROM {table}")
        ).all()
        if not rows:
            counts[table] = 0
            continue
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        xy = np.array([(r[1], r[2]) for r in rows], dtype=float)
        codes = index.codes_of(index.assign(xy[:, 0], xy[:, 1], nearest=False).cell)
        counts["outside"] += int(sum(c is None for c in codes))
        session.execute(text("CREATE TEMP TABLE relink (id bigint, grid_code text) ON COMMIT DROP"))
        with raw.cursor() as cur, cur.copy("COPY relink (id, grid_code) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row_id, code in zip(ids.tolist(), codes, strict=True):
                copy.write_row((row_id, code))
        counts[table] = conn.execute(
            text(
                f"UPDATE {table} t SET grid_code = r.grid_code, plan_id = :plan, "
                "assigned_at = :now FROM relink r WHERE r.id = t.id"
            ),
            {"plan": plan_id, "now": now},
        ).rowcount
        session.execute(text("DROP TABLE relink"))
    for table, (parent, key) in FOLLOWERS.items():
        counts[table] = conn.execute(
            text(
                f"UPDATE {table} t SET grid_code = p.grid_code, plan_id = p.plan_id, "
                f"assigned_at = p.assigned_at FROM {parent} p WHERE p.id = t.{key}"
            )
        ).rowcount
    return counts
