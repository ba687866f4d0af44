"""GeoReport v2 representations: JSON or XML by the path's extension, errors as the spec's.

The spec names the XML elements: a list of services is ``<services><service>…``, of
requests ``<service_requests><request>…``, a definition ``<service_definition>`` with
``<attributes><attribute>…<values><value>``, errors ``<errors><error><code/><description/>``.
Booleans are written ``true``/``false``, missing values as empty elements.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

PREFIX = "/open311/v2"
JSON_TYPE = "application/json"
XML_TYPE = "text/xml"
FORMATS = ("json", "xml")
# list elements and the name of each of their items
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
DESCRIPTIONS = {
    400: "A parameter is missing or not valid (the description names it)",
    403: "api_key missing or not valid",
    404: "No such service, request, token or jurisdiction",
    409: "No boundary plan is in force, or the Idempotency-Key was used for another request",
    429: "Too many requests from this client: see Retry-After",
}
# statuses the spec's clients know: validation problems are 400, a missing key 403
SPEC_STATUS = {422: 400, 401: 403}


def is_open311(path: str) -> bool:
    """Whether ``path`` belongs to the Open311 port (its errors take the spec's format)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def format_of(path: str) -> str:
    """``xml`` for a path ending in ``.xml``; JSON otherwise."""
    return "xml" if path.lower().endswith(".xml") else "json"


# what XML 1.0 cannot carry: control characters (but tab, newline, return), lone surrogates,
# U+FFFE/U+FFFF
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    r"""``text`` with what XML cannot carry written as ``\xNN``/``\uNNNN`` (still readable)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_safe(str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), inner)
    elif isinstance(value, list):
        item = ITEM.get(element.tag, "item")
        for inner in value:
            _fill(ET.SubElement(element, item), inner)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """``value`` (dicts, lists, scalars) as an XML document whose root element is ``root``."""
    element = ET.Element(root)
    _fill(element, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def render(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """The answer in the chosen format (``root``: the XML root element's name)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status, media_type=XML_TYPE)
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=JSON_TYPE)


def error_body(path: str, status: int, detail: str) -> tuple[int, str, bytes]:
    """Status, content type and body of an error in the spec's format."""
    status = SPEC_STATUS.get(status, status)
    errors = [{"code": status, "description": detail}]
    if format_of(path) == "xml":
        return status, XML_TYPE, to_xml("errors", errors)
    return status, JSON_TYPE, json.dumps(errors, ensure_ascii=False).encode()


def error(path: str, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """An error response in the spec's format."""
    status, media_type, body = error_body(path, status, detail)
    return Response(body, status_code=status, media_type=media_type, headers=headers)
