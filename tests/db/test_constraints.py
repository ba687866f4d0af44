"""The database itself refuses data that breaks the model's rules."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gridmap.areas.models import AreaLevel, PlanStatus
from gridmap.auth.models import AuditLog
from tests.factories import make_area, make_plan


def test_hierarchy_with_codes_per_level_is_accepted(session):
    plan = make_plan(session)
    county = make_area(session, "350503", AreaLevel.county)
    township = make_area(session, "350503001", AreaLevel.township, county)
    village = make_area(session, "350503001001", AreaLevel.village, township)
    grid = make_area(session, "350503001001001", AreaLevel.grid, village, plan)
    assert grid.parent_level == AreaLevel.village


def test_child_level_must_be_below_parent(session):
    township = make_area(session, "350503001", AreaLevel.township)
    with pytest.raises(IntegrityError, match="child_below_parent"), session.begin_nested():
        make_area(session, "350503", AreaLevel.county, township)


def test_parent_level_must_match_the_parent_row(session):
    county = make_area(session, "350503", AreaLevel.county)
    with (
        pytest.raises(IntegrityError, match="fk_area_parent_id_parent_level_area"),
        session.begin_nested(),
    ):
        # lie about the parent's level: the composite foreign key catches it
        from gridmap.areas.models import Area
        from tests.factories import rect

        session.add(
            Area(
                code="350503001001",
                name="x",
                level=AreaLevel.village,
                parent_id=county.id,
                parent_level=AreaLevel.township,
                geom=rect(0, 0, 1, 1),
            )
        )
        session.flush()


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("35050", AreaLevel.county),
        ("3505030010", AreaLevel.township),
        ("35050300100A", AreaLevel.village),
    ],
)
def test_code_length_follows_level(session, code, level):
    with pytest.raises(IntegrityError, match="code_format"), session.begin_nested():
        make_area(session, code, level)


def test_grid_cells_belong_to_a_plan(session):
    with pytest.raises(IntegrityError, match="grid_has_plan"), session.begin_nested():
        make_area(session, "350503001001001", AreaLevel.grid)


def test_only_one_plan_can_be_active(session):
    make_plan(session, "a", PlanStatus.active)
    make_plan(session, "b", PlanStatus.draft)
    with pytest.raises(IntegrityError, match="uq_plan_one_active"), session.begin_nested():
        make_plan(session, "c", PlanStatus.active)


def test_audit_log_is_append_only(session):
    entry = AuditLog(action="read_unmasked", object_type="person", object_id="1")
    session.add(entry)
    session.flush()
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE audit_log SET action = 'x' WHERE id = :id"), {"id": entry.id})
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entry.id})
    assert (
        session.execute(
            text("SELECT action FROM audit_log WHERE id = :id"), {"id": entry.id}
        ).scalar()
        == "read_unmasked"
    )
