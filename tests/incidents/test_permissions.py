"""Who may act (gridmap/incidents/permissions.py): the table of checks, without a database.

The actors are hand-made (role, area, unit); the incident is a code, a cell and a handling
level; the ties that need the database (holding it, a co-unit's part, a summons) are given
as answers. The API's own matrix of every role on every action is tests/api/test_abuse.py.
"""

import pytest

from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.incidents.permissions import CHECKS, Case, refusal
from gridmap.incidents.workflow import TRANSITIONS, Action, By
from gridmap.scope import Actor

CELL = "350503001001001"  # township 350503001, county 350503
ACTORS = {
    "city": Actor(1, Role.city_admin, "350500"),
    "county": Actor(2, Role.county_dispatcher, "350503"),
    "township": Actor(3, Role.township_dispatcher, "350503001"),
    "other_township": Actor(4, Role.township_dispatcher, "350503002"),
    "village": Actor(5, Role.village_worker, "350503001001"),
    "grid": Actor(6, Role.grid_worker, CELL),
    "bureau": Actor(7, Role.department_handler, "350503", department_id=70),
    "mediator": Actor(8, Role.mediator, "350503001", department_id=80),
    "analyst": Actor(9, Role.analyst, "350500"),
    "planner": Actor(10, Role.planner, "350500"),
}


def ask(who, action, held=AreaLevel.village, holds=False, co_unit=False, summoned=False):
    return refusal(Case(ACTORS[who], action, "QZ202600000001", CELL, held,
                        holds=lambda: holds, co_unit=lambda: co_unit,
                        summoned=lambda: summoned))  # fmt: skip


def test_every_kind_of_actor_in_the_transition_table_has_its_checks():
    assert {row.by for row in TRANSITIONS.values()} <= set(CHECKS)
    assert set(CHECKS) == set(By)  # no kind of actor without its checks


@pytest.mark.parametrize(
    "who, held, allowed",
    [
        ("city", AreaLevel.county, True),
        ("county", AreaLevel.county, True),
        ("township", AreaLevel.township, True),
        ("village", AreaLevel.village, True),
        ("village", AreaLevel.township, False),  # escalated above the village: out of its hands
        ("other_township", AreaLevel.village, False),  # another place
        ("grid", AreaLevel.village, False),  # grid workers do not dispatch
        ("bureau", AreaLevel.village, False),
        ("analyst", AreaLevel.village, False),
    ],
)
def test_a_dispatcher_of_the_place_at_its_level_or_above(who, held, allowed):
    reason = ask(who, Action.dispatch, held)
    assert (reason is None) == allowed, reason


def test_the_refusals_say_why():
    assert "handled at township level, above yours" in ask(
        "village", Action.dispatch, AreaLevel.township
    )
    assert ask("other_township", Action.dispatch) == (
        "only a dispatcher of this area can dispatch incident QZ202600000001"
    )
    assert ask("analyst", Action.dispatch).endswith("analyst cannot dispatch incidents")
    assert "only the handling unit can sign" in ask("bureau", Action.sign)
    assert "joint handling (联办)" in ask("bureau", Action.co_sign)
    assert "has not been summoned" in ask("bureau", Action.check_in)
    assert "township or county dispatcher" in ask("city", Action.whistle)
    assert "only a higher level supervises it" in ask("county", Action.supervise, AreaLevel.county)
    assert "a dispatcher of this area or the handling unit" in ask("bureau", Action.transfer)


def test_the_handler_is_whoever_holds_it():
    assert ask("bureau", Action.sign, holds=True) is None
    assert ask("mediator", Action.resolve, holds=True) is None
    assert ask("bureau", Action.sign) is not None
    # holding is not enough for a role that never moves an incident
    assert ask("analyst", Action.sign, holds=True) is not None


def test_either_a_dispatcher_or_the_holder_transfers():
    assert ask("township", Action.transfer) is None
    assert ask("bureau", Action.transfer, holds=True) is None
    assert ask("bureau", Action.transfer) is not None


def test_supervision_only_from_a_higher_level():
    assert ask("township", Action.supervise, AreaLevel.village) is None
    assert ask("township", Action.supervise, AreaLevel.township) is not None
    assert ask("city", Action.supervise, AreaLevel.county) is None
    assert ask("city", Action.supervise, AreaLevel.city) is not None
    assert ask("other_township", Action.supervise, AreaLevel.village) is not None


def test_co_units_and_summoned_departments_by_their_ties():
    assert ask("bureau", Action.co_report, co_unit=True) is None
    assert ask("bureau", Action.check_in, summoned=True) is None
    assert ask("city", Action.co_sign, co_unit=False) is not None
    # a summons is no co-unit's part, and the other way round
    assert ask("bureau", Action.co_sign, summoned=True) is not None
    assert ask("bureau", Action.check_in, co_unit=True) is not None


def test_whistles_from_townships_and_counties_of_the_place():
    assert ask("township", Action.whistle) is None
    assert ask("county", Action.whistle) is None
    assert ask("village", Action.whistle) is not None
    assert ask("other_township", Action.whistle) is not None


@pytest.mark.parametrize(
    "who, allowed",
    [("grid", True), ("village", True), ("bureau", True), ("mediator", True),
     ("other_township", False), ("analyst", False), ("planner", False)],
)  # fmt: skip
def test_a_note_by_anyone_working_the_incident(who, allowed):
    assert (ask(who, Action.note) is None) == allowed


def test_the_database_is_asked_only_when_a_check_needs_it():
    def never():
        raise AssertionError("looked up without need")

    township = ACTORS["township"]
    for action in (Action.dispatch, Action.transfer, Action.supervise, Action.whistle):
        case = Case(township, action, "QZ1", CELL, AreaLevel.village, never, never, never)
        assert refusal(case) is None, action
    # a read-only role is refused before any lookup
    for action in (Action.sign, Action.co_sign, Action.check_in):
        case = Case(ACTORS["analyst"], action, "QZ1", CELL, None, never, never, never)
        assert refusal(case) is not None
