"""The boundary plan in force: the one place that asks which plan is active.

Like MapIt's ``Generation.objects.current()``: every caller — the locator, drafts,
preparation and activation, area lookups, the maps, health — asks here, and a missing
plan is refused with one error (409, "load a seed or activate a plan first").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from gridmap.areas.models import Plan, PlanAssignment, PlanStatus
from gridmap.errors import Conflict

NO_ACTIVE_PLAN = "no boundary plan is active: load a seed or activate a plan first"


def current_plan(session: Session, *, for_update: bool = False) -> Plan | None:
    """The plan in force, or None before any is (a database without a seed)."""
    query = select(Plan).where(Plan.status == PlanStatus.active)
    return session.scalar(query.with_for_update() if for_update else query)


def active_plan(session: Session) -> Plan:
    """The plan in force; 409 when none is."""
    plan = current_plan(session)
    if plan is None:
        raise Conflict(NO_ACTIVE_PLAN)
    return plan


def active_plan_id(session: Session) -> int:
    """The id of the plan in force; 409 when none is."""
    plan_id = session.scalar(select(Plan.id).where(Plan.status == PlanStatus.active))
    if plan_id is None:
        raise Conflict(NO_ACTIVE_PLAN)
    return int(plan_id)


def active_plan_subquery() -> ScalarSelect[int]:
    """The active plan's id, to compare with inside a query: ``Area.plan_id == …``."""
    return select(Plan.id).where(Plan.status == PlanStatus.active).scalar_subquery()


_ASK = object()  # cell_now: look the plan in force up


def cell_now(
    session: Session, table: str, row: Any, in_force: int | object | None = _ASK
) -> tuple[str | None, int | None]:
    """A located row's ``(grid_code, plan_id)`` under the plan in force, to copy or keep.

    Right after a switch the registry catches up behind it (gridmap.plans.service.follow):
    until its batch commits, a building, household or work unit moved by the new plan
    still holds its old cell. A write that copies a row's cell (a new house in a building,
    a household moving into a house, a person joining a household) asks here, so what it
    writes is under the new plan; the catch-up then leaves it alone (it only touches rows
    not yet under the new plan). A row that is not moved keeps its code: it is a cell of
    the plan in force too. A caller asking for many rows passes ``in_force`` (the plan in
    force's id, or None), read once; the common case then costs no query at all.
    """
    if in_force is _ASK:
        current = current_plan(session)
        in_force = current.id if current is not None else None
    plan_id = in_force if isinstance(in_force, int) else None
    if plan_id is None or row.plan_id == plan_id:
        return row.grid_code, row.plan_id
    found = session.execute(
        select(PlanAssignment.grid_code).where(
            PlanAssignment.plan_id == plan_id,
            PlanAssignment.item_table == table,
            PlanAssignment.item_id == row.id,
        )
    ).first()
    return (found[0] if found is not None else row.grid_code), int(plan_id)
