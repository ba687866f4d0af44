r"""Guards in front of every route (pure ASGI, so they see the raw bytes).

- ``RequestGuard``: refuses a body larger than the endpoint accepts — by its declared
  length at once, or while it streams in, never after reading it whole — and a NUL
  character anywhere in the path, query, headers or a JSON, form or text body
  (PostgreSQL refuses ``\\x00`` in text, so it could only ever end in an error).
- ``RequestLog``: one JSON access line and the request metrics per request, with its id.
- ``SecurityHeaders``: no sniffing, no framing, no referrer, a restrictive content security
  policy, and ``Cache-Control: no-store`` on every API answer (they may carry personal data).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api import georeport
from gridmap.ops import counters, logs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM = b"application/problem+json"


def _read_as_text(content_type: bytes) -> bool:
    """Whether a body is read as text, where a NUL would reach a field.

    JSON of any kind (FastAPI parses every ``+json`` type), forms, ``text/*``, and a body
    that declares no type; multipart uploads carry binary files and are left alone.
    """
    return (
        content_type in (b"", b"application/json", b"application/x-www-form-urlencoded")
        or content_type.endswith(b"+json")
        or content_type.startswith(b"text/")
    )


async def problem_answer(
    send: Send, status: int, code: str, title: str, detail: str, path: str = "",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    """Answer with a problem-details body (the Open311 port: its spec's error format)."""
    content_type = PROBLEM
    if georeport.is_open311(path):  # the Open311 port answers in its spec's error format
        status, media_type, body = georeport.error_body(path, status, detail)
        content_type = media_type.encode()
        await _send(send, status, content_type, body, headers)
        return
    body = json.dumps(
        {
            "type": f"urn:gridmap:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        },
        ensure_ascii=False,
    ).encode()
    await _send(send, status, content_type, body, headers)


async def _send(
    send: Send, status: int, content_type: bytes, body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# a JSON escape of NUL, not itself escaped (``\\u0000`` is a backslash and "u0000")
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _has_nul(raw: bytes, *, percent: bool = True, json_escape: bool = False) -> bool:
    """A NUL in ``raw``: the byte itself, ``%00`` (URL or form encoded), or a JSON escape."""
    return (
        b"\x00" in raw
        or (percent and b"%00" in raw)
        or (json_escape and _JSON_NUL.search(raw) is not None)
    )


class RequestGuard:
    """Size limits enforced while the body streams in; NUL characters refused up front."""

    def __init__(
        self, app: ASGIApp, *, max_body: int, max_upload: int, body_seconds: float = 30.0
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        nul_where = None
        if "\x00" in scope.get("path", "") or _has_nul(scope.get("raw_path") or b""):
            nul_where = "the path"
        elif _has_nul(scope.get("query_string") or b""):
            nul_where = "the query string"
        elif any(b"\x00" in v for v in headers.values()):
            nul_where = "a header"
        if nul_where:
            await _refuse_nul(send, nul_where, scope.get("path", ""))
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        limit = self.max_upload if content_type.startswith(b"multipart/") else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await problem_answer(
                    send, 400, "bad_request", "Bad Request", "Content-Length is not a number",
                    scope.get("path", ""),
                )  # fmt: skip
                return
            if too_big:
                await _refuse_size(send, limit, scope.get("path", ""))
                return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # read the body, counting as it arrives; refuse as soon as it passes the limit, or
        # when it trickles in slower than body_seconds allow (a slow body holds a coroutine
        # here, never a slot of the gate behind: api/capacity.py)
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await _refuse_size(send, limit, scope.get("path", ""))
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await problem_answer(
                send, 408, "request_timeout", "Request Timeout",
                f"the request body did not arrive within {self.body_seconds:g} s: send it again",
                scope.get("path", ""), [(b"connection", b"close")],
            )  # fmt: skip
            return
        body = b"".join(chunks)
        form = b"application/x-www-form-urlencoded"
        if _read_as_text(content_type) and _has_nul(
            body, percent=content_type in (b"", form), json_escape=content_type != form
        ):
            await _refuse_nul(send, "the body", scope.get("path", ""))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse_nul(send: Send, where: str, path: str) -> None:
    await problem_answer(
        send,
        422,
        "validation_error",
        "Unprocessable Content",
        f"{where} contains a NUL character (\\u0000), which no field accepts: remove it",
        path,
    )


async def _refuse_size(send: Send, limit: int, path: str) -> None:
    await problem_answer(
        send,
        413,
        "payload_too_large",
        "Content Too Large",
        f"the request body is larger than this endpoint accepts ({limit // 1024:,} KB)",
        path,
    )


STATIC_PREFIXES = ("/static/",)  # versioned assets may be cached; nothing else
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    """Headers every response carries; API answers are never cached."""

    def __init__(self, app: ASGIApp, *, img_sources: str = "") -> None:
        self.app = app
        self.page_csp = PAGE_CSP
        if img_sources:  # a configured base-map tile server
            self.page_csp = PAGE_CSP.replace(
                b"img-src 'self' data: blob:", b"img-src 'self' data: blob: " + img_sources.encode()
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                content_type = dict(headers).get(b"content-type", b"")
                csp = self.page_csp if content_type.startswith(b"text/html") else API_CSP
                extra.append((b"content-security-policy", csp))
                if not path.startswith(STATIC_PREFIXES):
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


# a request id a client or proxy may send: short, and nothing a log could be confused by
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("gridmap.access")


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/incidents/{code}``), never the path.

    Bounded: metrics keep one series per template, and the log line carries no value a
    client typed. A request no route took is ``unmatched``.
    """
    # FastAPI keeps the included route's full template (its routers' prefixes added) in
    # its part of the scope; ``scope["route"].path`` lacks the prefixes
    chosen = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(chosen, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestLog:
    """One JSON access line and the request metrics per request; ``X-Request-ID`` both ways.

    The outermost layer: it also sees the refusals of the guard and the gate. A request id
    sent by the client (or the proxy in front) is kept when it is well-formed, else one is
    made; the answer carries it, and so does every line logged for the request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # not reset after: the 500 of an unexpected error is answered and its trace logged
        # by Starlette's outermost layer, after this one, in the same task (each request
        # has its own, so the id never leaks into another request's lines)
        logs.request_id.set(request_id)
        status = 500  # what the client gets if the app fails before it answers
        started = time.perf_counter()

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = scope.get("method", "")
            counters.REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            counters.LATENCY.labels(method=method, route=route).observe(seconds)
            state = scope.get("state") or {}
            access_log.info(
                "%s %s %s", method, route, status,
                extra={"request_id": request_id, "user_id": state.get("user_id"),
                       "method": method, "route": route, "status": status,
                       "duration_ms": round(seconds * 1000, 1)},
            )  # fmt: skip
