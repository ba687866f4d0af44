"""User text inside a LIKE pattern: its wildcards taken literally.

``q=%`` once matched every person in the reader's area: ``%`` and ``_`` are LIKE's
wildcards. Every pattern built from what a person typed goes through :func:`starts_with`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

ESCAPE = "\\"  # PostgreSQL's default LIKE escape: no ESCAPE clause, so a prefix index serves


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character escaped."""
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def starts_with(column: Any, text: str) -> ColumnElement[bool]:
    """``column LIKE '<text>%'``, with ``text`` matched literally."""
    condition: ColumnElement[bool] = column.like(escape_like(text) + "%")
    return condition


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column ILIKE '%<text>%'``, with ``text`` matched literally (any case)."""
    condition: ColumnElement[bool] = column.ilike("%" + escape_like(text) + "%")
    return condition
