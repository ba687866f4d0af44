"""Bulk workflow actions: one action on many incidents, each on its own, each answered.

Every incident goes through :func:`gridmap.incidents.service.act` — the same scope,
transition table, permission table and effects as a single action — inside its own
SAVEPOINT, so a refused incident changes nothing and the others still go through, and each
done one has its own history entry. The caller commits once at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gridmap.calendar import WorkingCalendar
from gridmap.errors import GridmapError, InvalidInput
from gridmap.incidents import service
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.models import Incident, IncidentStatus
from gridmap.incidents.queries import scoped_where
from gridmap.incidents.schemas import ActionIn, ActionParams
from gridmap.incidents.workflow import Action
from gridmap.scope import Actor, incident_filter

MAX_BULK = 500  # incidents one bulk action may touch (the target: 500 in ≤ 3 s)


@dataclass(frozen=True)
class ItemResult:
    """What happened to one incident of a bulk action."""

    code: str
    outcome: Literal["done", "refused"]
    status: IncidentStatus | None  # the new state, or the unchanged one (None: not found)
    detail: str | None = None  # the refusal's words (the problem detail a single action gives)


def matching_codes(
    *, session: Session, actor: Actor, now: datetime, filters: IncidentFilter
) -> list[str]:
    """The codes of the incidents in scope that match ``filters`` (at most :data:`MAX_BULK`).

    Raises
    ------
    InvalidInput
        When more than :data:`MAX_BULK` match: narrow the filter.
    """
    codes = session.scalars(
        select(Incident.code)
        .where(*scoped_where(actor, filters, now))
        .order_by(Incident.id)
        .limit(MAX_BULK + 1)
    ).all()
    if len(codes) > MAX_BULK:
        raise InvalidInput(
            f"more than {MAX_BULK} incidents match this filter: narrow it down (a bulk action "
            f"takes at most {MAX_BULK})"
        )
    return list(codes)


def act_on_many(
    *,
    session: Session,
    action: Action,
    codes: Sequence[str],
    params: ActionParams,
    actor: Actor,
    calendar: WorkingCalendar | None = None,
    now: datetime | None = None,
) -> list[ItemResult]:
    """Take ``action`` on each incident of ``codes`` (in order, once each); one result each.

    An incident acts at the version it has now: the transition table, not a version the
    user saw, decides (the page shows the answer per incident). An incident outside the
    actor's scope is refused as not found, like a single action.

    Raises
    ------
    Forbidden
        When the actor sees incidents only as counts.
    InvalidInput
        When ``action`` is not one taken on an existing incident, or too many codes.
    """
    incident_filter(actor)  # a role that sees only counts acts on none
    if action == Action.report:
        raise InvalidInput("report is not an action on an existing incident: POST /incidents")
    unique = list(dict.fromkeys(codes))
    if len(unique) > MAX_BULK:
        raise InvalidInput(f"a bulk action takes at most {MAX_BULK} incidents, not {len(unique)}")
    now = now or datetime.now(UTC)
    # every incident in one query (the same scope as service.get), not one per item; a
    # refused item changes nothing, so its state is the one read here
    found = {
        i.code: i
        for i in session.scalars(
            select(Incident).where(Incident.code.in_(unique), incident_filter(actor))
        )
    }
    fields = params.model_dump()
    out = []
    for code in unique:
        before = found[code].status if code in found else None
        try:
            # not read above: outside the scope, refused by the single action's 404
            incident = found.get(code) or service.get(session=session, code=code, actor=actor)
            with session.begin_nested():
                data = ActionIn(version=incident.version, **fields)
                done = service.act(session=session, code=code, action=action, data=data,
                                   actor=actor, now=now, calendar=calendar,
                                   loaded=incident)  # fmt: skip
            out.append(ItemResult(code, "done", done.status))
        except GridmapError as exc:
            out.append(ItemResult(code, "refused", before, exc.detail))
        except StaleDataError:
            out.append(ItemResult(code, "refused", _status(session, code, actor),
                                  f"incident {code} changed meanwhile: try it again"))  # fmt: skip
    return out


def _status(session: Session, code: str, actor: Actor) -> IncidentStatus | None:
    """The state of an incident left unchanged (None outside the actor's scope)."""
    return session.scalar(
        select(Incident.status).where(Incident.code == code, incident_filter(actor))
    )
