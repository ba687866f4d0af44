"""One error hierarchy: each error carries its HTTP status, a stable code and a safe message.

The API turns these into RFC 9457 problem details; the CLI prints the message. The message
is written for the person who sent the request: it says what was wrong and what to do.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GridmapError(Exception):
    """Base of every error gridmap raises on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def headers(self) -> dict[str, str]:
        """HTTP headers the response should carry."""
        return {}


class InvalidInput(GridmapError):
    """The request is well-formed but its content cannot be used."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"


class NotFound(GridmapError):
    """The thing asked for does not exist (or is outside the user's area)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(GridmapError):
    """The request conflicts with the current state (illegal transition, stale version...)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class NotAuthenticated(GridmapError):
    """No valid credentials."""

    status = 401
    code = "not_authenticated"
    title = "Not authenticated"

    def headers(self) -> dict[str, str]:  # noqa: D102
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(GridmapError):
    """Authenticated, but the user's role or area does not allow this."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class RateLimited(GridmapError):
    """Too many requests: the extra ``retry_after`` (seconds) becomes a Retry-After header."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def headers(self) -> dict[str, str]:  # noqa: D102
        return {"Retry-After": str(self.extra.get("retry_after", 60))}


class PayloadTooLarge(GridmapError):
    """The request body is larger than the endpoint accepts."""

    status = 413
    code = "payload_too_large"
    title = "Content too large"


class ServiceUnavailable(GridmapError):
    """The database is not reachable (a restart, a failover): try again shortly."""

    status = 503
    code = "database_unavailable"
    title = "Service unavailable"
    RETRY_AFTER = 5

    def headers(self) -> dict[str, str]:  # noqa: D102
        return {"Retry-After": str(self.RETRY_AFTER)}


class ClusterError(GridmapError):
    """The embedded PostgreSQL cluster cannot be set up or started."""

    status = 503
    code = "cluster_error"
    title = "Embedded database error"
