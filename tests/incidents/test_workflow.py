"""The transition table, exhaustively, and random walks through the real service."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.calendar import WorkingCalendar
from gridmap.errors import InvalidInput
from gridmap.incidents import service
from gridmap.incidents.models import Channel, IncidentEvent
from gridmap.incidents.models import IncidentStatus as S
from gridmap.incidents.schemas import ActionIn, IncidentCreate
from gridmap.incidents.workflow import (
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    allowed_actions,
    is_legal,
    next_status,
    require_note,
)
from gridmap.locate import Locator
from gridmap.units import codes as unit_codes
from gridmap.units.models import Department
from tests.world import inside

EXPECTED = {
    # (state, action): next state; everything else is illegal
    (S.reported, Action.dispatch): S.dispatched,
    (S.reported, Action.self_handle): S.in_progress,
    (S.reported, Action.joint): S.dispatched,
    (S.reported, Action.reject): S.rejected,
    (S.reported, Action.merge): S.rejected,
    (S.reported, Action.supervise): S.reported,
    (S.reported, Action.respond): S.reported,
    (S.dispatched, Action.respond): S.dispatched,
    (S.in_progress, Action.respond): S.in_progress,
    (S.dispatched, Action.co_sign): S.dispatched,
    (S.in_progress, Action.co_sign): S.in_progress,
    (S.dispatched, Action.co_report): S.dispatched,
    (S.in_progress, Action.co_report): S.in_progress,
    (S.reported, Action.whistle): S.reported,
    (S.dispatched, Action.whistle): S.dispatched,
    (S.in_progress, Action.whistle): S.in_progress,
    (S.reported, Action.check_in): S.reported,
    (S.dispatched, Action.check_in): S.dispatched,
    (S.in_progress, Action.check_in): S.in_progress,
    (S.reported, Action.escalate): S.dispatched,
    (S.dispatched, Action.sign): S.in_progress,
    (S.dispatched, Action.return_): S.reported,
    (S.dispatched, Action.transfer): S.dispatched,
    (S.dispatched, Action.joint): S.dispatched,
    (S.dispatched, Action.merge): S.rejected,
    (S.dispatched, Action.supervise): S.dispatched,
    (S.dispatched, Action.escalate): S.dispatched,
    (S.in_progress, Action.transfer): S.dispatched,
    (S.in_progress, Action.resolve): S.resolved,
    (S.in_progress, Action.supervise): S.in_progress,
    (S.in_progress, Action.escalate): S.dispatched,
    (S.resolved, Action.follow_up): S.follow_up,
    (S.follow_up, Action.close): S.closed,
    (S.follow_up, Action.reopen): S.in_progress,
    (S.reported, Action.note): S.reported,
    (S.dispatched, Action.note): S.dispatched,
    (S.in_progress, Action.note): S.in_progress,
    (S.resolved, Action.note): S.resolved,
    (S.follow_up, Action.note): S.follow_up,
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", [a for a in Action if a != Action.report])
def test_every_state_and_action(state, action):
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(
            IllegalTransition, match=f"cannot {action.value} an incident that is {state.value}"
        ):
            next_status(state, action)
    else:
        assert next_status(state, action) == expected
        assert action in allowed_actions(state)


# the actions refused without a note (the reason, or what was done), written out by hand
NEEDS_NOTE = {Action.transfer, Action.reject, Action.supervise, Action.respond,
              Action.co_report, Action.note}  # fmt: skip


def test_the_actions_that_need_a_note():
    assert {a for a, row in TRANSITIONS.items() if row.needs_note} == NEEDS_NOTE
    with pytest.raises(InvalidInput, match="reject: a note is required"):
        require_note(Action.reject, "  ")
    require_note(Action.reject, "重复报送")


def test_table_and_expectations_agree_in_size():
    assert sum(len(row.sources) for row in TRANSITIONS.values()) == len(EXPECTED)
    assert all(allowed_actions(s) == [] for s in TERMINAL)


def test_random_walks_through_the_service_never_break_the_rules(session, world):
    """Random actions by a city admin on one incident, with or without a note: legal ones
    apply, illegal ones are refused and change nothing, and every applied action leaves
    exactly one event.

    Every refusal is checked against an oracle in the order the service checks: the state
    (``TRANSITIONS``' sources: an illegal transition), who may act (written here for the
    admin, who dispatches everywhere: never a co-unit, never summoned, never whistling, a
    handler only of centres, supervising only below the city), the action's own rules
    (merging into itself, answering a supervision that waits for none, transferring to the
    unit that already holds it, joint handling twice, resolving before the co-unit's part,
    escalating above the city), then a note (``TRANSITIONS``' ``needs_note`` column).
    Nothing else may refuse, and nothing the oracle expects refused may apply.
    """
    locator = Locator.from_database(session)
    calendar = WorkingCalendar.chinese(2024, 2028)
    admin = service.Actor(world.users["admin"], Role.city_admin, "350500", None)
    centre = world.units["t1"].code  # a centre, so the admin may also act as its handler
    up = {AreaLevel.village: AreaLevel.township, AreaLevel.township: AreaLevel.county,
          AreaLevel.county: AreaLevel.city}  # fmt: skip
    deadline = datetime.now(UTC) + timedelta(days=30)

    class Walk(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.savepoint = session.begin_nested()
            lon, lat = inside()
            self.incident, _ = service.create(
                session=session,
                locator=locator,
                calendar=calendar,
                actor=admin,
                data=IncidentCreate(
                    category="labour", channel=Channel.window, lon=lon, lat=lat, description="walk"
                ),
            )
            self.state = S.reported
            self.applied = 1  # the report event
            self.unit = world.units["labour"].code  # labour is routed to the department
            self.level = AreaLevel.village
            self.joint = False
            self.awaiting = False  # a supervision waits for the holder's answer

        def forbidden(self, action):
            """Words of the 403 the admin gets for ``action``, or None."""
            return {
                Action.supervise: "higher level" if self.level == AreaLevel.city else None,
                Action.respond: None if unit_codes.is_centre(self.unit) else "handling unit",
                # the co-unit is the housing bureau: the admin never works for it
                Action.co_sign: "co-unit",
                Action.co_report: "co-unit",
                # the city admin neither whistles (townships and counties do) nor is summoned
                Action.whistle: "township or county",
                Action.check_in: "summoned",
            }.get(action)

        def expected_refusal(self, action, noted):
            """(exception class, words of its message) the service must answer, or None."""
            if not is_legal(self.state, action):
                return IllegalTransition, "cannot"
            if (words := self.forbidden(action)) is not None:
                return service.Forbidden, words
            own_rule = {
                Action.merge: (service.InvalidInput, "into itself"),
                Action.respond: None if self.awaiting
                else (service.Conflict, "no supervision waiting"),
                Action.transfer: (service.InvalidInput, "already with") if self.unit == centre
                else None,
                Action.joint: (service.Conflict, "already handled jointly") if self.joint
                else None,
                # the housing bureau's part is never in, and the walk does not override
                Action.resolve: (service.Conflict, "waiting for") if self.joint else None,
                Action.escalate: (service.Conflict, "city level") if self.level == AreaLevel.city
                else None,
            }.get(action)  # fmt: skip
            if own_rule is None and TRANSITIONS[action].needs_note and not noted:
                return service.InvalidInput, f"{action.value}: a note is required"
            return own_rule

        def applied_effect(self, action):
            if action in (Action.dispatch, Action.transfer, Action.joint):
                self.unit = centre
                self.joint = self.joint or action == Action.joint
            elif action == Action.self_handle:
                self.unit, self.level = "centre-350500", AreaLevel.city  # the admin's own centre
            elif action == Action.escalate:
                self.level = up[self.level]
                self.unit = unit_codes.centre_of(self.incident.grid_code, self.level)
            elif action in (Action.supervise, Action.respond):
                self.awaiting = action == Action.supervise

        @rule(action=st.sampled_from([a for a in Action if a != Action.report]),
              noted=st.booleans())  # fmt: skip
        def take(self, action, noted):
            payload = ActionIn(
                version=self.incident.version,
                note="走访核实" if noted else None,
                unit_code=centre,
                co_unit_codes=[world.units["housing"].code],
                outcome="handled",
                satisfaction=4,
                merged_into=self.incident.code,
                deadline=deadline,
            )
            expected = self.expected_refusal(action, noted)
            before = self.incident.version
            try:
                with session.begin_nested():
                    service.act(
                        session=session,
                        code=self.incident.code,
                        action=action,
                        data=payload,
                        actor=admin,
                    )
            except (service.Conflict, service.InvalidInput, service.Forbidden) as refused:
                assert expected is not None, f"{action} from {self.state} refused: {refused}"
                kind, words = expected
                assert isinstance(refused, kind) and words in refused.detail, refused.detail
                session.refresh(self.incident)
                assert self.incident.status == self.state and self.incident.version == before
                return
            assert expected is None, f"{action} from {self.state} applied; expected {expected}"
            self.state = next_status(self.state, action)
            self.applied += 1
            self.applied_effect(action)
            unit = session.get(Department, self.incident.unit_id)
            assert (unit.code, self.incident.handling_level) == (self.unit, self.level)

        @invariant()
        def history_is_complete_and_chained(self):
            events = session.scalars(
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == self.incident.id)
                .order_by(IncidentEvent.id)
            ).all()
            assert len(events) == self.applied
            assert events[-1].to_status == self.state == self.incident.status
            for a, b in pairwise(events):
                assert a.to_status == b.from_status

        def teardown(self):
            self.savepoint.rollback()

    run_state_machine_as_test(
        Walk, settings=settings(max_examples=60, stateful_step_count=12, deadline=None)
    )
    assert session.scalar(select(func.count()).select_from(IncidentEvent)) == 0
