"""Structured logs: one JSON object a line, with personal data scrubbed.

The access line (one per request, written by ``api.middleware.RequestLog``) carries only
the request id, the user's id, the method, the route *template* (``/api/v1/registry/
people/{person_id}``, never the path or the query string), the status and the duration:
nothing a client typed reaches it. Messages and traces of errors can quote data (a
database error names the key that clashed), so every line passes :func:`scrub` last: ID
numbers (身份证号) and phone numbers are masked, anything said after a password or token
replaced.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from gridmap import phones, privacy

# a landline as the phone rule writes it (mobiles and ID numbers: privacy.mask_text)
LANDLINE = re.compile(rf"(?<![0-9]){phones.LANDLINE}(?![0-9])")
# a secret after its name: password=…, "password": "…", Authorization: Bearer …
SECRET = re.compile(
    r"""(?i)((?:password|passwd|pwd|secret|token|authorization)["']?\s*[:=]\s*)"""
    r"""(?:"[^"]*"|'[^']*'|(?:bearer\s+)?[^\s"'&,;}]+)"""
)
MASK = "***"

# the request being served (set by the access-log middleware): every line logged while
# serving it carries its id, an error's trace included
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# the fields of an access line, in the order they are written
ACCESS_FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms")


def scrub(text: str) -> str:
    """``text`` with ID numbers and phone numbers masked, secrets replaced by ``***``.

    ID numbers and mobiles are masked as in every answer (:func:`gridmap.privacy.mask_text`:
    ``350503********123X``), landlines and secrets wholly.
    """
    text = privacy.mask_text(text) or ""
    text = LANDLINE.sub(MASK, text)
    return SECRET.sub(lambda m: m.group(1) + MASK, text)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, access fields, trace."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ACCESS_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if "request_id" not in line and request_id.get() is not None:
            line["request_id"] = request_id.get()
        if record.exc_info:
            line["trace"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["trace"] = self.formatStack(record.stack_info)
        return scrub(json.dumps(line, ensure_ascii=False, default=str))


HANDLER_NAME = "gridmap-json"


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written, not when it was made."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure(level: str = "INFO") -> None:
    """Send every log (gridmap's, uvicorn's, the libraries') to stderr as JSON lines.

    Idempotent: the handler is replaced, not added again. uvicorn's own access log is
    silenced: the access line is ours (it knows the route template and the user).
    """
    handler = _Stderr()
    handler.name = HANDLER_NAME
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.name != HANDLER_NAME] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
