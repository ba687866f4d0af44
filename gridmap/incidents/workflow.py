"""The incident workflow as data: 报单 → 派单 → 办单 → 办结 → 跟单 → 结单.

States and actions are enums; ``TRANSITIONS`` says, for each action, from which states it
may be taken and which state it leads to. Anything not in the table is illegal and is
refused with an error naming the state and the action.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from gridmap.errors import Conflict
from gridmap.incidents.models import IncidentStatus as S


class Action(enum.StrEnum):
    """What a user can do to an incident (glossary names)."""

    report = "report"  # 报单 (creates the incident; no "from" state)
    dispatch = "dispatch"  # 派单
    self_handle = "self_handle"  # 自办: the receiving centre keeps it
    sign = "sign"  # 签收
    return_ = "return"  # 退单: a unit returns a wrongly routed incident
    transfer = "transfer"  # 转办
    joint = "joint"  # 联办: a lead unit and co-units
    resolve = "resolve"  # 办结, with an outcome
    follow_up = "follow_up"  # 跟单/回访, with satisfaction
    close = "close"  # 结单
    reopen = "reopen"  # 重办: the citizen is not satisfied
    reject = "reject"  # 驳回: invalid
    merge = "merge"  # 合并: a duplicate merged into another incident
    supervise = "supervise"  # 督办: flag an overdue incident (state unchanged)
    escalate = "escalate"  # 上报: to the next level's centre


OPEN = frozenset({S.reported, S.dispatched, S.in_progress})
SAME = None  # marker: the action keeps the current state

TRANSITIONS: Mapping[Action, tuple[frozenset[S], S | None]] = {
    Action.dispatch: (frozenset({S.reported}), S.dispatched),
    Action.self_handle: (frozenset({S.reported}), S.in_progress),
    Action.sign: (frozenset({S.dispatched}), S.in_progress),
    Action.return_: (frozenset({S.dispatched}), S.reported),
    Action.transfer: (frozenset({S.dispatched, S.in_progress}), S.dispatched),
    Action.joint: (frozenset({S.reported, S.dispatched}), S.dispatched),
    Action.resolve: (frozenset({S.in_progress}), S.resolved),
    Action.follow_up: (frozenset({S.resolved}), S.follow_up),
    Action.close: (frozenset({S.follow_up}), S.closed),
    Action.reopen: (frozenset({S.follow_up}), S.in_progress),
    Action.reject: (frozenset({S.reported}), S.rejected),
    Action.merge: (frozenset({S.reported, S.dispatched}), S.rejected),
    Action.supervise: (OPEN, SAME),
    Action.escalate: (OPEN, S.dispatched),
}

TERMINAL = frozenset({S.closed, S.rejected})


class IllegalTransition(Conflict):
    """The action is not allowed from the incident's current state."""

    code = "illegal_transition"
    title = "Illegal workflow transition"


def next_status(state: S, action: Action) -> S:
    """The state ``action`` leads to from ``state``.

    Raises
    ------
    IllegalTransition
        Naming the state, the action, and the actions allowed from that state.
    """
    allowed_from, to = TRANSITIONS.get(action, (frozenset(), None))
    if state not in allowed_from:
        options = ", ".join(a.value for a in allowed_actions(state)) or "none (it is final)"
        raise IllegalTransition(
            f"cannot {action.value} an incident that is {state.value}; allowed now: {options}",
            state=state.value,
            action=action.value,
        )
    return state if to is SAME else to


def allowed_actions(state: S) -> list[Action]:
    """The actions allowed from ``state``, in table order."""
    return [a for a, (sources, _) in TRANSITIONS.items() if state in sources]
