"""The incident workflow as data: 报单 → 派单 → 办单 → 办结 → 跟单 → 结单.

States and actions are enums; ``TRANSITIONS`` says, for each action, from which states it
may be taken, which state it leads to, who takes it (a dispatcher of the area, the
handling unit, or either: what that means is gridmap/incidents/permissions.py) and
whether it needs a note. Anything not in the table is illegal and is refused with an
error naming the state and the action.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from gridmap.errors import Conflict, InvalidInput
from gridmap.incidents.models import FINAL, OPEN
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
    supervise = "supervise"  # 督办: a higher level sets a reason and a deadline (state unchanged)
    respond = "respond"  # 督办回复: the holder answers a supervision (state unchanged)
    co_sign = "co_sign"  # 会办签收: a co-unit of joint handling signs for its part
    co_report = "co_report"  # 会办反馈: a co-unit records its part as done
    whistle = "whistle"  # 吹哨: a township or county dispatcher summons departments
    check_in = "check_in"  # 报到: a summoned department checks in
    escalate = "escalate"  # 上报: to the next level's centre
    note = "note"  # 跟踪落实: a follow-up note (rectification seen, a call made); state unchanged


class By(enum.StrEnum):
    """Who takes an action."""

    dispatcher = "dispatcher"  # a dispatcher of the incident's area, at its handling level
    handler = "handler"  # the unit holding the incident (or a dispatcher for its centre)
    either = "either"
    area = "area"  # anyone working the incident: its area's grid workers and dispatchers, its units
    above = "above"  # a dispatcher of the area at a level above the one holding it (督办)
    co_unit = "co_unit"  # a co-unit of the incident's joint handling (联办)
    whistler = "whistler"  # a township or county dispatcher of the place (吹哨)
    summoned = "summoned"  # a department summoned by a whistle, not yet checked in (报到)


@dataclass(frozen=True)
class Transition:
    """One row of the table: from which states, to which state (None: unchanged), by whom.

    ``needs_note``: the action is refused without a note (the reason, or what was done).
    """

    sources: frozenset[S]
    target: S | None
    by: By
    needs_note: bool = False


SAME = None  # marker: the action keeps the current state
TERMINAL = FINAL  # no action leaves these states

TRANSITIONS: Mapping[Action, Transition] = {
    Action.dispatch: Transition(frozenset({S.reported}), S.dispatched, By.dispatcher),
    Action.self_handle: Transition(frozenset({S.reported}), S.in_progress, By.dispatcher),
    Action.sign: Transition(frozenset({S.dispatched}), S.in_progress, By.handler),
    Action.return_: Transition(frozenset({S.dispatched}), S.reported, By.handler),
    Action.transfer: Transition(
        frozenset({S.dispatched, S.in_progress}), S.dispatched, By.either, needs_note=True
    ),
    Action.joint: Transition(frozenset({S.reported, S.dispatched}), S.dispatched, By.dispatcher),
    Action.resolve: Transition(frozenset({S.in_progress}), S.resolved, By.handler),
    Action.follow_up: Transition(frozenset({S.resolved}), S.follow_up, By.dispatcher),
    Action.close: Transition(frozenset({S.follow_up}), S.closed, By.dispatcher),
    Action.reopen: Transition(frozenset({S.follow_up}), S.in_progress, By.dispatcher),
    Action.reject: Transition(frozenset({S.reported}), S.rejected, By.dispatcher, needs_note=True),
    Action.merge: Transition(frozenset({S.reported, S.dispatched}), S.rejected, By.dispatcher),
    Action.supervise: Transition(OPEN, SAME, By.above, needs_note=True),
    Action.respond: Transition(OPEN, SAME, By.handler, needs_note=True),
    Action.co_sign: Transition(frozenset({S.dispatched, S.in_progress}), SAME, By.co_unit),
    Action.co_report: Transition(
        frozenset({S.dispatched, S.in_progress}), SAME, By.co_unit, needs_note=True
    ),
    Action.whistle: Transition(OPEN, SAME, By.whistler),
    Action.check_in: Transition(OPEN, SAME, By.summoned),
    Action.escalate: Transition(OPEN, S.dispatched, By.dispatcher),
    Action.note: Transition(OPEN | {S.resolved, S.follow_up}, SAME, By.area, needs_note=True),
}


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
    row = TRANSITIONS.get(action)
    if row is None or state not in row.sources:
        options = ", ".join(a.value for a in allowed_actions(state)) or "none (it is final)"
        raise IllegalTransition(
            f"cannot {action.value} an incident that is {state.value}; allowed now: {options}",
            state=state.value,
            action=action.value,
        )
    return state if row.target is SAME else row.target


def require_note(action: Action, note: str | None) -> None:
    """Refuse (422) ``action`` without a note: the one message for every action that needs one.

    :func:`gridmap.incidents.service.act` asks it for the actions whose row ``needs_note``;
    resolving a joint incident before every part is in asks it too.
    """
    if not (note or "").strip():
        raise InvalidInput(
            f"{action.value}: a note is required (note) — the reason, or what was done, for "
            "the incident's history"
        )


def is_legal(state: S, action: Action) -> bool:
    """True if the table allows ``action`` from ``state``."""
    row = TRANSITIONS.get(action)
    return row is not None and state in row.sources


def allowed_actions(state: S) -> list[Action]:
    """The actions allowed from ``state``, in table order."""
    return [a for a, row in TRANSITIONS.items() if state in row.sources]
