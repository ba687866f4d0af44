"""Incident changes as server-sent events: what an open page must redraw, within a second.

The stream says *which* incidents in the reader's scope changed (their codes), never what
they now hold: the page reads them again through the ordinary, scoped, masked endpoints,
so there is one read view and one scope rule. See api/live.py for where the changes come
from.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from api.deps import PrincipalDep, get_principal, oauth2_scheme
from api.live import Announcement, Changes
from api.problems import responses
from gridmap.db.ids import RowId
from gridmap.errors import GridmapError, InvalidInput
from gridmap.incidents.models import Incident, IncidentEvent
from gridmap.scope import Actor, IncidentAccess, incident_filter

router = APIRouter(tags=["incidents"], responses=responses(401))
T = TypeVar("T")

KEEPALIVE_SECONDS = 15.0  # a comment line between changes keeps proxies from closing it
GATHER_SECONDS = 0.1  # changes arriving together go out as one event
CATCH_UP = 500  # incidents a reconnecting page is told of; more, and it reloads


@router.get(
    "/incidents/changes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Server-sent events: `changed`, `reload`, `end`"},
               **responses(403)},
)  # fmt: skip
def changes(
    request: Request,
    principal: PrincipalDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    last_event_id: Annotated[
        RowId | None, Header(alias="Last-Event-ID", description="The last event's id")
    ] = None,
) -> StreamingResponse:
    """Incidents in the reader's scope that changed (new, acted on, closed), as they commit.

    ``event: changed`` with ``{"codes": [...]}`` (roles that see only counts get
    ``{"count": n}``); ``event: reload`` when too much changed at once or the server lost
    track (read the list again); ``event: end`` after ``notification_stream_seconds`` or
    when the token stops being valid. Each event's id is the newest history entry it
    covers: reconnecting with ``Last-Event-ID`` first tells what changed since.
    """
    state = request.app.state
    return StreamingResponse(
        _stream(request, state.changes, token or "", principal, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request, hub: Changes, token: str, actor: Actor, after: int | None
) -> AsyncIterator[str]:
    settings = request.app.state.settings
    queue = hub.subscribe()
    try:
        yield "retry: 2000\n\n"
        if after is not None:
            try:
                caught = await _work(request, _since, request, token, actor, after)
            except GridmapError as exc:
                yield _end(str(exc))
                return
            if caught is not None:
                yield caught
        deadline = time.monotonic() + settings.notification_stream_seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                first = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, left))
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": waiting\n\n"
                continue
            await asyncio.sleep(GATHER_SECONDS)
            batch = [first]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                message = await _work(request, _changed, request, token, actor, batch)
            except GridmapError as exc:  # the token was revoked, the account disabled
                yield _end(str(exc))
                return
            if message is not None:
                yield message
        yield _end("reconnect with Last-Event-ID")
    finally:
        hub.unsubscribe(queue)


async def _work(request: Request, fn: Callable[..., T], *args: Any) -> T:
    # on the streams' own threads and the side pool (api/capacity.py)
    return await to_thread.run_sync(fn, *args, limiter=request.app.state.stream_limiter)


def _changed(request: Request, token: str, actor: Actor, batch: list[Announcement]) -> str | None:
    top = max(a.event for a in batch)
    if any(a.incidents is None for a in batch):
        return _message("reload", top, {"reason": "many incidents changed at once"})
    ids = frozenset().union(*(a.incidents or () for a in batch))
    return _visible(request, token, actor, top, select(Incident.id).where(Incident.id.in_(ids)))


def _since(request: Request, token: str, actor: Actor, after: int) -> str | None:
    """What changed after event ``after``, for a page that reconnects."""
    recent = (
        select(IncidentEvent.incident_id)
        .where(IncidentEvent.id > after)
        .group_by(IncidentEvent.incident_id)
    )
    with request.app.state.side_sessionmaker() as session:
        top = session.scalar(select(func.max(IncidentEvent.id))) or after
    return _visible(request, token, actor, top, recent, catch_up=True)


def _visible(
    request: Request, token: str, actor: Actor, top: int, candidates: Any,
    catch_up: bool = False,
) -> str | None:  # fmt: skip
    """The event for the incidents among ``candidates`` the reader may see, or None."""
    state = request.app.state
    with state.side_sessionmaker() as session:
        if get_principal(token, session, state.settings) != actor:
            raise InvalidInput("your role, area or unit changed: connect again")
        counts_only = actor.policy.incidents == IncidentAccess.aggregate
        query = select(Incident.code).where(
            Incident.id.in_(candidates), incident_filter(actor, aggregate=counts_only)
        )
        codes = session.scalars(query.limit(CATCH_UP + 1)).all()
    if catch_up and len(codes) > CATCH_UP:
        return _message("reload", top, {"reason": "much changed since you were away"})
    if not codes:
        return None
    body = {"count": len(codes)} if counts_only else {"codes": sorted(codes)}
    return _message("changed", top, body)


def _message(kind: str, event_id: int, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _end(reason: str) -> str:
    return f"event: end\ndata: {json.dumps({'reason': reason}, ensure_ascii=False)}\n\n"
