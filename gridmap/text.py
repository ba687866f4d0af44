r"""Free text a person types: no control characters but tab, newline and return.

One rule for the schemas that take such text: :func:`refuse_control` checks a value (with
the message people see), and :func:`document_printable` writes the same rule into the JSON
Schema as :data:`PRINTABLE`, so the OpenAPI document states what the server accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
"""The rule as a pattern (ECMA-262 and Python read it alike)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def refuse_control(value: Any) -> Any:
    """``value`` unchanged; ValueError when it is text holding a control character."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("contains control characters: remove them")
    return value


def document_printable(*fields: str) -> Callable[[dict[str, Any]], None]:
    """A model's ``json_schema_extra``: the rule on ``fields`` (every text field when none).

    A field with a pattern of its own keeps it (those patterns admit no control character).
    """

    def extra(schema: dict[str, Any]) -> None:
        for name, prop in schema.get("properties", {}).items():
            if fields and name not in fields:
                continue
            for branch in [prop, *prop.get("anyOf", [])]:
                if branch.get("type") == "string" and not {"pattern", "format", "enum"} & set(
                    branch
                ):
                    branch["pattern"] = PRINTABLE

    return extra
