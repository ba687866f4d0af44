"""Every error as RFC 9457 problem details (``application/problem+json``).

One mapping from exception to status: our domain errors carry their own; validation
errors, unknown routes and database trouble are translated here. Internals (stack traces,
SQL, database messages) are logged, never returned.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.errors import GridmapError, NotAuthenticated

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


async def _gridmap_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GridmapError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return problem(exc.status, exc.code, exc.detail, title=exc.title, headers=headers, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    return problem(422, "validation_error", f"the request is not valid: {summary}", errors=errors)


_CODES = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated", 403: "forbidden"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
    if exc.status_code == 404 and exc.detail == "Not Found":
        detail = f"there is no resource at {request.url.path}: see /docs for the API"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = str(exc.detail)
    return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


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
        return problem(
            503, "database_unavailable", "the database is not reachable: try again later"
        )
    log.exception("database error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "an internal error occurred; it has been logged")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "an internal error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(GridmapError, _gridmap_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(StaleDataError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
