"""Who may act on an incident: a table from the workflow's ``By`` to its checks.

``TRANSITIONS`` (gridmap/incidents/workflow.py) says, for each action, who takes it; this
module says what that means. Each check is a small function of a :class:`Case` that
returns the reason for a refusal, or None; ``CHECKS`` lists the checks of each kind of
actor, and the first reason found is the answer (a 403 in the API). A check reads the
actor's role and area, the incident's place and handling level, and — only when it asks —
the actor's ties to the incident that need the database (holding it, a co-unit's part, a
summons), so the table is tested without one (tests/incidents/test_permissions.py).

A dispatcher acts on incidents in their area that are handled at their level or below (an
incident escalated higher has left their hands); the handling unit acts on what it holds,
and a dispatcher acts as the handler when a centre in their area holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gridmap.areas.levels import AreaLevel, above
from gridmap.incidents.workflow import TRANSITIONS, Action, By
from gridmap.scope import Actor


def _no() -> bool:
    return False


@dataclass(frozen=True)
class Case:
    """An actor asking to take an action on an incident: what the checks look at.

    ``holds``, ``co_unit`` and ``summoned`` are the actor's ties to the incident that need
    the database; they are asked only by the checks that need them.
    """

    actor: Actor
    action: Action
    code: str  # the incident's public code, for the messages
    grid_code: str | None
    handling_level: AreaLevel | None
    holds: Callable[[], bool] = _no  # works for the unit holding it (a centre's dispatcher too)
    co_unit: Callable[[], bool] = _no  # works for a co-unit of its joint handling (联办)
    summoned: Callable[[], bool] = _no  # its department is summoned, not checked in (报到)

    @property
    def held_at(self) -> AreaLevel:
        """The level the incident is handled at (the village until a centre takes it)."""
        return self.handling_level or AreaLevel.village

    @property
    def dispatches(self) -> bool:
        """A dispatcher of the incident's place, at its handling level or above."""
        return (
            self.actor.policy.dispatches
            and self.actor.covers(self.grid_code)
            and self.actor.dispatches_at(self.handling_level)
        )


Check = Callable[[Case], str | None]


def works_on_it(case: Case) -> str | None:
    """Reports, and works the incident: a unit sees only what it holds, the others their area."""
    policy = case.actor.policy
    if policy.reports and (policy.unit or case.actor.covers(case.grid_code)):
        return None
    return f"a {case.actor.role.value} cannot {case.action.value} incidents"


def takes_workflow_actions(case: Case) -> str | None:
    """A dispatcher or a unit's member: read-only roles never move an incident."""
    policy = case.actor.policy
    if policy.dispatches or policy.unit:
        return None
    return f"a {case.actor.role.value} cannot {case.action.value} incidents"


def dispatcher(case: Case) -> str | None:
    """A dispatcher of the place, at the incident's handling level or above."""
    if case.dispatches:
        return None
    if case.actor.policy.dispatches and not case.actor.dispatches_at(case.handling_level):
        return (
            f"incident {case.code} is handled at {case.held_at.value} level, above yours: only "
            f"a dispatcher at that level can {case.action.value} it"
        )
    return f"only a dispatcher of this area can {case.action.value} incident {case.code}"


def handler(case: Case) -> str | None:
    """The unit holding the incident, or a dispatcher for the centre holding it."""
    if case.holds():
        return None
    return f"only the handling unit can {case.action.value} incident {case.code}"


def dispatcher_or_handler(case: Case) -> str | None:
    """Either of the two above."""
    if case.dispatches or case.holds():
        return None
    return (
        f"only a dispatcher of this area or the handling unit can {case.action.value} "
        f"incident {case.code}"
    )


def higher_level(case: Case) -> str | None:
    """A dispatcher of the place at a level above the one holding it (督办)."""
    mine = case.actor.policy.level
    if (
        case.actor.policy.dispatches
        and mine is not None
        and case.actor.covers(case.grid_code)
        and above(mine, case.held_at)
    ):
        return None
    return (
        f"incident {case.code} is held at {case.held_at.value} level: only a higher level "
        "supervises it (督办)"
    )


def co_unit(case: Case) -> str | None:
    """A co-unit of the incident's joint handling (联办)."""
    if case.co_unit():
        return None
    return (
        f"only a co-unit of incident {case.code}'s joint handling (联办) can {case.action.value} it"
    )


def whistler(case: Case) -> str | None:
    """A township or county dispatcher of the place (吹哨)."""
    if case.actor.policy.level in (AreaLevel.township, AreaLevel.county) and case.actor.covers(
        case.grid_code
    ):
        return None
    return "only a township or county dispatcher of the place blows the whistle (吹哨)"


def summoned(case: Case) -> str | None:
    """A department summoned by a whistle that has not checked in yet (报到)."""
    if case.summoned():
        return None
    return f"your unit has not been summoned to incident {case.code} (报到)"


# Who may act, per kind of actor in the transition table: every check must pass.
CHECKS: Mapping[By, tuple[Check, ...]] = {
    By.area: (works_on_it,),
    By.dispatcher: (takes_workflow_actions, dispatcher),
    By.handler: (takes_workflow_actions, handler),
    By.either: (takes_workflow_actions, dispatcher_or_handler),
    By.above: (takes_workflow_actions, higher_level),
    By.co_unit: (takes_workflow_actions, co_unit),
    By.whistler: (takes_workflow_actions, whistler),
    By.summoned: (takes_workflow_actions, summoned),
}


def refusal(case: Case) -> str | None:
    """Why ``case.actor`` may not take ``case.action`` (the first check that fails), or None."""
    for check in CHECKS[TRANSITIONS[case.action].by]:
        if (reason := check(case)) is not None:
            return reason
    return None
