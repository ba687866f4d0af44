"""Saved work-queue filters (issue 26): a user's own, and those shared with their team."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session

from gridmap.auth.models import User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.incidents.models import SavedFilter
from gridmap.scope import Actor
from gridmap.units.codes import centre_code
from gridmap.units.models import Department

MAX_PER_USER = 50


def team_of(actor: Actor) -> ColumnElement[str]:
    """SQL: who a shared filter is shared with, as a unit code.

    The actor's unit (a handler's bureau, a mediator's centre), or their own centre (a
    dispatcher's): a centre's mediators and dispatchers are one team.
    """
    if actor.policy.unit and actor.department_id is not None:
        code = select(Department.code).where(Department.id == actor.department_id)
        return code.scalar_subquery()
    return literal(centre_code(actor.area_code))


def _visible(actor: Actor) -> ColumnElement[bool]:
    return or_(
        SavedFilter.owner_id == actor.user_id,
        and_(SavedFilter.shared.is_(True), SavedFilter.team == team_of(actor)),
    )


def listed(session: Session, actor: Actor) -> list[tuple[SavedFilter, str]]:
    """The actor's filters and those shared with their team, with the owner's username."""
    rows = session.execute(
        select(SavedFilter, User.username)
        .join(User, User.id == SavedFilter.owner_id)
        .where(_visible(actor))
        .order_by(SavedFilter.owner_id != actor.user_id, SavedFilter.name, SavedFilter.id)
    ).all()
    return [(f, name) for f, name in rows]


def _own(session: Session, actor: Actor, filter_id: int) -> SavedFilter:
    row = session.scalar(
        select(SavedFilter).where(SavedFilter.id == filter_id, _visible(actor)).with_for_update()
    )
    if row is None:
        raise NotFound(f"there is no saved filter {filter_id} of yours or your team's")
    if row.owner_id != actor.user_id:
        raise Forbidden(f"saved filter {filter_id} is shared with you: only its owner changes it")
    return row


def save(
    *,
    session: Session,
    actor: Actor,
    name: str,
    query: str,
    shared: bool,
    default: bool,
    filter_id: int | None = None,
) -> SavedFilter:
    """Create (``filter_id`` None) or replace one of the actor's filters.

    The query string is checked by the caller (the list's own rules, api/filters.py).
    Making one the default makes the actor's other filters not.
    """
    clash = session.scalar(
        select(SavedFilter.id).where(
            SavedFilter.owner_id == actor.user_id, SavedFilter.name == name
        )
    )
    if clash is not None and clash != filter_id:
        raise Conflict(f"you already have a saved filter named {name!r}")
    row = None if filter_id is None else _own(session, actor, filter_id)
    if default:  # before the new row exists: a flush must not meet it half-filled
        session.execute(
            update(SavedFilter)
            .where(SavedFilter.owner_id == actor.user_id, SavedFilter.is_default.is_(True))
            .values(is_default=False)
            .execution_options(synchronize_session="fetch")
        )
    if row is None:
        count = session.scalar(
            select(func.count()).select_from(SavedFilter)
            .where(SavedFilter.owner_id == actor.user_id)
        )  # fmt: skip
        if (count or 0) >= MAX_PER_USER:
            raise InvalidInput(f"a user keeps at most {MAX_PER_USER} saved filters: delete one")
        row = SavedFilter(owner_id=actor.user_id)
    row.name, row.query, row.shared, row.is_default = name, query, shared, default
    row.team = session.scalar(select(team_of(actor))) or centre_code(actor.area_code)
    session.add(row)
    session.flush()
    return row


def delete(session: Session, actor: Actor, filter_id: int) -> None:
    """Delete one of the actor's filters."""
    session.delete(_own(session, actor, filter_id))
    session.flush()
