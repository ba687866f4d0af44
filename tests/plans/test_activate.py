"""Activating a plan moves the registry items whose cell changes; incidents keep their plan."""

import pytest
from sqlalchemy import select

from gridmap.areas.models import Plan, PlanStatus
from gridmap.errors import Conflict, NotFound
from gridmap.plans.service import activate
from tests.factories import make_plan
from tests.plans.conftest import VILLAGE, followed


def test_activation_relinks_everything_and_keeps_incident_history(session, world):
    counts = activate(session=session, plan_id=world["new"].id)
    assert counts == {
        "prepared": 0,  # not prepared: assigned inside the activation
        "rechecked": 0,
        "outside": 0,
        "building": 1,
        "household": 1,
        "work_unit": 1,
    }
    assert followed(session, world["new"].id) == {"building": 1, "household": 1, "work_unit": 1,
                                                  "house": 1, "person": 1}  # fmt: skip
    for item in world["items"]:
        session.refresh(item)
        assert (item.plan_id, item.grid_code) == (world["new"].id, VILLAGE + "001")
    session.refresh(world["incident"])
    assert (world["incident"].plan_id, world["incident"].grid_code) == (
        world["old"].id,
        VILLAGE + "002",
    )
    statuses = dict(session.execute(select(Plan.name, Plan.status)).all())
    assert statuses["old"] == PlanStatus.retired and statuses["new"] == PlanStatus.active


def test_activating_the_active_plan_is_a_conflict(session, world):
    with pytest.raises(Conflict, match="already active"):
        activate(session=session, plan_id=world["old"].id)


def test_a_plan_without_cells_cannot_be_activated(session, world):
    empty = make_plan(session, "empty")
    with pytest.raises(Conflict, match="no grid cells"):
        activate(session=session, plan_id=empty.id)
    assert session.get(Plan, world["old"].id).status == PlanStatus.active


def test_unknown_plan(session, world):
    with pytest.raises(NotFound):
        activate(session=session, plan_id=999_999)
