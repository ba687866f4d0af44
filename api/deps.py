"""Request dependencies: settings, the per-request transaction, the signed-in user."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gridmap import audit
from gridmap.areas.active import active_plan_id
from gridmap.auth.lockout import SignInGuard
from gridmap.auth.models import User
from gridmap.auth.security import decode_token
from gridmap.calendar import WorkingCalendar
from gridmap.errors import GridmapError, InvalidInput, NotAuthenticated
from gridmap.locate import Locator
from gridmap.maps.features import MapData
from gridmap.maps.layer import Catalogue
from gridmap.ratelimit import RateLimiter, Rules
from gridmap.scope import Actor, require_unmask
from gridmap.settings import Settings

log = logging.getLogger("gridmap.api")
T = TypeVar("T")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_catalogue(request: Request) -> Catalogue:
    """The map layers the app was started with (``layers.LAYERS``, see ``create_app``)."""
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Opening a session does no I/O (it connects on first use), so only the commit or the
    rollback runs in a worker thread: one thread hop per request instead of two.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_rollback_and_close, session)
        raise
    await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_probe_session(request: Request) -> AsyncIterator[Session]:
    """A session on the side pool for health probes, closed on the probes' own threads."""
    session: Session = request.app.state.side_sessionmaker()
    try:
        yield session
    finally:
        await probe(request, session.close)


async def probe(request: Request, work: Callable[[], T]) -> T:
    """Run ``work`` on the probes' threads: never behind the requests' (api/capacity.py)."""
    return await to_thread.run_sync(work, limiter=request.app.state.probe_limiter)


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
ProbeSessionDep = Annotated[Session, Depends(get_probe_session)]
# scope="function": the commit runs before the response is sent, so a failed commit becomes
# an error response instead of a success the database never saw.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# The signed-in user, as every endpoint and the engine see them (gridmap.scope.Actor).
Principal = Actor
# built once: a statement object keeps its compiled form and cache key between requests
_PRINCIPAL = select(
    User.role, User.area_code, User.department_id, User.username, User.is_active,
    User.token_version,
).where(User.id == bindparam("user_id"))  # fmt: skip


def get_principal(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
) -> Actor:
    """The user behind the bearer token; 401 when missing, forged, expired or revoked.

    A token stops working when the account is disabled, its password reset or its role or
    area changed (the user's ``token_version`` moved on).
    """
    if not token:
        raise NotAuthenticated("sign in first: send `Authorization: Bearer <token>`")
    claims = decode_token(token, secret=settings.secret_key.get_secret_value())
    # the few columns scope needs, read on every request: a change takes effect at once
    user = session.connection().execute(_PRINCIPAL, {"user_id": claims.user_id}).first()
    if user is None or not user.is_active:
        raise NotAuthenticated("this account no longer exists or is disabled")
    if user.token_version != claims.version:
        raise NotAuthenticated(
            "this token was revoked (password, role or area changed): sign in again"
        )
    return Actor(claims.user_id, user.role, user.area_code, user.department_id, user.username)


def signed_in(request: Request, actor: Annotated[Actor, Depends(get_principal)]) -> Actor:
    """:func:`get_principal`, noted on the request for its access log line (the user's id)."""
    request.state.user_id = actor.user_id
    return actor


PrincipalDep = Annotated[Actor, Depends(signed_in)]


def get_optional_principal(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
) -> Actor | None:
    """The signed-in user, or None without a token (public endpoints); a bad token is 401."""
    if not token:
        return None
    return signed_in(request, get_principal(token, session, settings))


OptionalPrincipalDep = Annotated[Actor | None, Depends(get_optional_principal)]


async def get_limiter(request: Request) -> RateLimiter:
    """The app's rate limiter (counters in the database, shared by every worker)."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_rules(request: Request) -> Rules:
    """The configured rate limits."""
    rules: Rules = request.app.state.rate_rules
    return rules


async def get_sign_in_guard(request: Request) -> SignInGuard:
    """Failed sign-ins per account and address (counters in the database)."""
    guard: SignInGuard = request.app.state.sign_in_guard
    return guard


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: list it in GRIDMAP_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
RulesDep = Annotated[Rules, Depends(get_rules)]
ClientDep = Annotated[str, Depends(client_address)]
SignInGuardDep = Annotated[SignInGuard, Depends(get_sign_in_guard)]

_locator_lock = threading.Lock()


PLAN_CHECK_SECONDS = 1.0  # how stale the "which plan is active" answer may be


async def get_locator(request: Request) -> Locator:
    """The in-memory locator of the active plan, rebuilt when another plan becomes active.

    Which plan is active is re-checked at most once a second, by one request at a time, on
    the side pool (never the request's own), and the others go on with the locator they
    have meanwhile; a lookup in between touches no database and no thread.
    """
    state = request.app.state
    locator: Locator | None = getattr(state, "locator", None)
    if locator is not None and (
        time.monotonic() - getattr(state, "plan_checked_at", 0.0) < PLAN_CHECK_SECONDS
        or _locator_lock.locked()  # another request is checking right now
    ):
        return locator
    return await run_in_threadpool(_refresh_locator, request)


def preload_locator(app: Any) -> None:
    """Load the active plan's locator and map outlines at start-up (later, without a plan)."""
    try:
        _refresh_state(app.state)
        app.state.map_data = MapData()
        with app.state.sessionmaker() as session:
            app.state.map_data.preload(session)
            app.state.cell_counts.table(session)
    except (GridmapError, OperationalError) as exc:
        log.warning("nothing preloaded at start-up (%s): built on first use instead", exc)
    # What start-up built (modules, the index, outlines, counts) lives as long as the process:
    # moved out of the collector's reach, a full collection no longer walks it, and the
    # 100–300 ms pauses it caused in one request in thirty are gone (docs/decisions.md).
    if app.state.settings.environment != "test":  # tests make hundreds of apps in one process
        gc.collect()
        gc.freeze()


def _refresh_locator(request: Request) -> Locator:
    return _refresh_state(request.app.state)


def _refresh_state(state: Any) -> Locator:
    settings: Settings = state.settings
    with _locator_lock, state.side_sessionmaker() as session:
        active = active_plan_id(session)
        locator: Locator | None = getattr(state, "locator", None)
        if locator is None or locator.plan_id != active:
            locator = Locator.from_database(session, settings.data_dir / "index")
            state.locator = locator
        state.plan_checked_at = time.monotonic()
        return locator


LocatorDep = Annotated[Locator, Depends(get_locator)]


async def get_calendar(request: Request, settings: SettingsDep) -> WorkingCalendar:
    """The working-day calendar: the configured file, or China's official one."""
    calendar: WorkingCalendar | None = getattr(request.app.state, "calendar", None)
    if calendar is None:
        calendar = WorkingCalendar.configured(settings.calendar_file)
        request.app.state.calendar = calendar
    return calendar


CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]


async def get_map_data(request: Request) -> MapData:
    """The map caches of this process (outlines, households per cell, incident counts).

    Shared by the map's feature endpoints and the OGC items, so both read one count.
    """
    data: MapData | None = getattr(request.app.state, "map_data", None)
    if data is None:
        data = request.app.state.map_data = MapData()
    return data


MapDataDep = Annotated[MapData, Depends(get_map_data)]


def permitted(check: Callable[[Actor], None]) -> Callable[[Actor], Actor]:
    """A dependency that admits whom ``check`` (a rule of gridmap/scope.py) does not refuse.

    ``Depends(permitted(scope.require_users))``: the route names the rule, the policy table
    says which roles it admits — no route lists roles.
    """

    def admit(principal: PrincipalDep) -> Actor:
        check(principal)
        return principal

    return admit


def authorise_unmask(
    request: Request, session: Session, actor: Actor, object_type: str, object_id: str,
    fields: list[str], reason: str | None, limiter: Any, rules: Any, client: str,
    load: Callable[[], object],
) -> None:  # fmt: skip
    """Allow an unmasked read (role, reason, rate limit, the object in scope) and audit it.

    A refusal is audited too: noted on the request and written by the error handler after
    the request's transaction has rolled back.
    """
    row: dict[str, Any] = {
        "actor": actor, "object_type": object_type, "object_id": object_id,
        "detail": {"fields": fields}, "reason": reason, "client_ip": client,
    }  # fmt: skip
    try:
        require_unmask(actor)
        if not reason or len(reason.strip()) < audit.MIN_REASON:
            raise InvalidInput(
                "reading personal data unmasked needs a reason (reason=…, at least "
                f"{audit.MIN_REASON} characters), for the audit log"
            )
        limiter.hit(rules.unmask, str(actor.user_id))
        load()
    except GridmapError as exc:
        row["detail"] = {**row["detail"], "refused": exc.code}
        request.state.audit_refusals = [{"action": "read_unmasked_refused", **row}]
        raise
    audit.record(session, action=audit.UNMASKED_READ, **row)
