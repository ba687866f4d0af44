"""Reminders: an inbox per unit with read/unread, and a server-sent-events stream of it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CalendarDep, PrincipalDep, SessionDep, get_principal, oauth2_scheme
from api.problems import responses
from gridmap.calendar import WorkingCalendar
from gridmap.db.ids import RowId
from gridmap.errors import GridmapError, InvalidInput
from gridmap.incidents import reminders
from gridmap.incidents.schemas import MarkRead, NotificationPage
from gridmap.scope import Actor
from gridmap.settings import Settings

router = APIRouter(prefix="/notifications", tags=["notifications"], responses=responses(401))


@router.get("", response_model=NotificationPage)
def list_notifications(
    session: SessionDep,
    principal: PrincipalDep,
    calendar: CalendarDep,
    unread: Annotated[bool, Query(description="Only those not read yet")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The reader's reminders, newest first: due soon, overdue, supervised, summoned, returned.

    A department handler reads their department's, a dispatcher their own centre's
    (docs/api.md, "Reminders"). Reading brings the inbox up to date first.
    """
    units = reminders.inbox_units(session, principal)
    reminders.sweep(session, datetime.now(UTC), calendar, units)
    items = reminders.inbox(session, principal, unread_only=unread, limit=limit)
    return {"items": [asdict(i) for i in items],
            "unread": reminders.unread_count(session, principal)}  # fmt: skip


@router.post("/read", responses=responses(404, 422))
def mark_read(body: MarkRead, session: SessionDep, principal: PrincipalDep) -> dict[str, int]:
    """Mark notifications read: ``{"ids": [...]}`` or ``{"all": true}``."""
    if (body.ids is None) == (not body.all):
        raise InvalidInput('give either "ids" (a list) or "all": true')
    marked = reminders.mark_read(session, principal, None if body.all else body.ids,
                                 datetime.now(UTC))  # fmt: skip
    return {"marked": marked, "unread": reminders.unread_count(session, principal)}


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
def stream(
    request: Request,
    principal: PrincipalDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    last_event_id: Annotated[
        RowId | None, Header(alias="Last-Event-ID", description="The last event's id")
    ] = None,
) -> StreamingResponse:
    """Server-sent events: the reader's reminders as they arise (``event: notification``).

    Each event's id is the notification's. Without ``Last-Event-ID`` it starts with the
    unread ones; with it, after that id. A comment line keeps the connection alive between
    polls. The stream ends after ``notification_stream_seconds`` (the client reconnects
    with ``Last-Event-ID``), or at once when the token stops being valid.
    """
    state = request.app.state
    return StreamingResponse(
        _events(
            request, state.settings, state.side_sessionmaker, token or "", principal, last_event_id
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, settings: Settings, sessionmaker: Any, token: str, actor: Actor,
    after: int | None,
) -> AsyncIterator[str]:  # fmt: skip
    deadline = time.monotonic() + settings.notification_stream_seconds
    calendar: WorkingCalendar = await _calendar(request)
    yield f"retry: {int(settings.notification_poll_seconds * 1000)}\n\n"
    while time.monotonic() < deadline:
        try:
            # on the streams' own threads and the side pool: open streams never take
            # what ordinary requests need (api/capacity.py)
            items, after = await to_thread.run_sync(
                _poll, sessionmaker, settings, token, actor, calendar, after,
                limiter=request.app.state.stream_limiter,
            )  # fmt: skip
        except GridmapError as exc:  # the token was revoked or the account disabled
            yield f"event: end\ndata: {json.dumps({'reason': str(exc)})}\n\n"
            return
        for item in items:
            data = json.dumps(asdict(item), default=_iso, ensure_ascii=False)
            yield f"id: {item.id}\nevent: notification\ndata: {data}\n\n"
        if not items:
            yield ": waiting\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(settings.notification_poll_seconds)
    yield 'event: end\ndata: {"reason": "reconnect with Last-Event-ID"}\n\n'


def _poll(
    sessionmaker: Any, settings: Settings, token: str, actor: Actor,
    calendar: WorkingCalendar, after: int | None,
) -> tuple[list[reminders.Item], int | None]:  # fmt: skip
    with sessionmaker() as session:
        now_actor = get_principal(token, session, settings)  # revoked → NotAuthenticated
        if now_actor != actor:
            raise InvalidInput("your role, area or unit changed: connect again")
        reminders.sweep(session, datetime.now(UTC), calendar, reminders.inbox_units(session, actor))
        if after is None:  # first look: the unread ones, oldest first; then what comes after
            items = list(reversed(reminders.inbox(session, actor, unread_only=True)))
            latest = reminders.inbox(session, actor, limit=1)
            after = latest[0].id if latest else 0
        else:
            items = reminders.inbox(session, actor, after_id=after)
            after = max([after, *(i.id for i in items)])
        session.commit()
    return items, after


async def _calendar(request: Request) -> WorkingCalendar:
    from api.deps import get_calendar

    return await get_calendar(request, request.app.state.settings)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
