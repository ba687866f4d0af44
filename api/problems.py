"""Every error as RFC 9457 problem details (``application/problem+json``).

One mapping from exception to status: our domain errors carry their own; validation
errors, unknown routes and database trouble are translated here. Internals (stack traces,
SQL, database messages) are logged, never returned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import georeport
from gridmap import audit
from gridmap.errors import GridmapError, ServiceUnavailable

log = logging.getLogger("gridmap.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": f"urn:gridmap:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


class Problem(BaseModel):
    """RFC 9457 problem details: every error gridmap answers has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:gridmap:problem:<code>")
    title: str
    status: int
    detail: str = Field(description="What was wrong and what to do, for a person")
    code: str = Field(description="Stable machine code, e.g. validation_error, stale_version")


_DESCRIPTIONS = {
    400: "The body is not well-formed (not JSON, or a broken form)",
    401: "Not signed in, or the token is invalid, expired or revoked",
    403: "The role, area or unit does not allow this",
    404: "No such resource in your area (existence outside it is not revealed)",
    409: "Conflicts with the current state: illegal transition, stale version, duplicate",
    413: "The body is larger than this endpoint accepts",
    422: "The request is not valid (field errors listed), or its content cannot be used",
    429: "Rate-limited: see Retry-After",
    503: "The database is not reachable: see Retry-After",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem-details answers with these statuses."""
    # the schema by reference only (api/openapi.py puts Problem into the components): a
    # "model" here would also document it under the route's own media type
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# what any route may answer besides its own: validation, limits, the database
COMMON = (400, 413, 422, 503)


async def _gridmap_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GridmapError)
    _write_refusals(request)
    return problem(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers() or None,
        **exc.extra,
    )  # fmt: skip


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return problem(422, "validation_error", f"the request is not valid: {summary}", errors=errors)


def _write_refusals(request: Request) -> None:
    """Audit refused attempts the route noted (its own transaction has rolled back by now)."""
    rows = getattr(request.state, "audit_refusals", None)
    if not rows:
        return
    request.state.audit_refusals = []
    try:
        for row in rows:
            audit.record_apart(request.app.state.audit_sessionmaker, **row)
    except Exception:  # the refusal is still answered; the failure to audit is logged
        log.exception("could not write the audit row of a refused attempt")


_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "not_authenticated",
    403: "forbidden",
    413: "payload_too_large",
    400: "bad_request",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
    if exc.status_code == 404 and exc.detail == "Not Found":
        detail = f"there is no resource at {request.url.path}: see /docs for the API"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = str(exc.detail)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    return problem(exc.status_code, code, detail, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path, sorted.

    The router answers 405 with the ``Allow`` of the first route whose path matched, so
    where two routes share a path (``GET /users`` and ``POST /users``, or routers included
    side by side) it named only one of them; RFC 9110 wants them all.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods:
            match, _ = route.matches(dict(request.scope))
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StaleDataError):
        return problem(
            409,
            "stale_version",
            "someone else changed this record since you loaded it: reload and try again",
        )
    if isinstance(exc, IntegrityError):
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(409, "conflict", "the change conflicts with data already stored")
    if isinstance(exc, OperationalError):
        log.error("database unavailable: %s", exc.orig)
        unavailable = ServiceUnavailable("the database is not reachable: try again shortly")
        return await _gridmap_error(request, unavailable)
    log.exception("database error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "an internal error occurred; it has been logged")


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # never reached while the sizes of api/capacity.py hold; if it is, a 503, not a 500
    log.error("no database connection within the pool timeout on %s %s", request.method,
              request.url.path)  # fmt: skip
    busy = ServiceUnavailable("the server is busy: try again shortly")
    return await _gridmap_error(request, busy)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    # answered by Starlette's outermost layer, outside api.middleware.RequestLog: the id
    # that layer put in the (shared) scope is added here, so the client can quote it
    request_id = (request.scope.get("state") or {}).get("request_id")
    return problem(
        500, "internal_error", "an internal error occurred; it has been logged",
        headers={"X-Request-ID": request_id} if request_id else None,
    )  # fmt: skip


Handler = Callable[[Request, Exception], Awaitable[Response]]


OGC_PREFIX = "/ogc"


def spec_status(path: str, status: int) -> int:
    """The status a standards port answers for ``status``: an invalid value is 400 there.

    OGC API – Features Part 1 (/req/core/query-param-invalid) and GeoReport v2 both answer
    a parameter with an invalid value with 400, where the rest of the API answers 422.
    """
    on_ogc = path == OGC_PREFIX or path.startswith(OGC_PREFIX + "/")
    if status == 422 and (on_ogc or georeport.is_open311(path)):
        return 400
    return status


def _in_each_format(handler: Handler) -> Handler:
    """The same message in each port's terms: GeoReport v2's error format, OGC's 400."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        path = request.url.path
        if georeport.is_open311(path):
            body = json.loads(bytes(response.body))
            kept = {k: v for k, v in response.headers.items()
                    if k.lower() in ("retry-after", "allow")}  # fmt: skip
            return georeport.error(path, response.status_code, body.get("detail", ""), kept or None)
        status = spec_status(path, response.status_code)
        if status == response.status_code:
            return response
        body = json.loads(bytes(response.body))
        for key in ("type", "title", "status"):  # restated for the new status
            body.pop(key, None)
        return problem(status, **body)

    return handle


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(GridmapError, _in_each_format(_gridmap_error))
    app.add_exception_handler(RequestValidationError, _in_each_format(_validation_error))
    app.add_exception_handler(StarletteHTTPException, _in_each_format(_http_error))
    app.add_exception_handler(DBAPIError, _in_each_format(_database_error))
    app.add_exception_handler(StaleDataError, _in_each_format(_database_error))
    app.add_exception_handler(PoolTimeout, _in_each_format(_pool_exhausted))
    app.add_exception_handler(Exception, _in_each_format(_unexpected))
