"""Readiness (``/readyz``): may this process be sent traffic? The checks as data.

Liveness (``/livez``) asks only whether the process answers; readiness asks whether its
answers would be right: the database reachable, its schema at the migration the code
needs, the active plan's assignment index loaded, the server not shutting down. Each check
is one function of the gathered :class:`Facts` returning the reason it fails, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Facts:
    """What readiness is decided on."""

    database_error: str | None  # None: reachable
    revision: str | None  # the database's migration
    head: str  # the code's newest migration
    index_loaded: bool
    plan_active: bool  # without one there is no index to load (a new installation)
    shutting_down: bool


def read_revision(session: Session) -> tuple[str | None, str | None]:
    """(the database's migration revision, None) or (None, why it could not be read)."""
    try:
        revision = session.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError as exc:
        session.rollback()
        missing = "alembic_version" in str(exc.orig)
        return None, None if missing else type(exc.orig).__name__
    return (str(revision) if revision else None), None


CHECKS: tuple[tuple[str, Callable[[Facts], str | None]], ...] = (
    ("shutdown", lambda f: "the server is shutting down" if f.shutting_down else None),
    (
        "database",
        lambda f: f"the database is not reachable ({f.database_error})"
        if f.database_error else None,
    ),
    (
        "migrations",
        lambda f: None if f.database_error or f.revision == f.head else
        f"the database is at migration {f.revision or 'none'}, the code needs {f.head}: "
        "run `gridmap migrate`",
    ),
    (
        "assignment_index",
        lambda f: None if f.index_loaded or not f.plan_active else
        "the active plan's assignment index is not loaded",
    ),
)  # fmt: skip


def refusals(facts: Facts) -> dict[str, str]:
    """Each failing check's name and reason; empty when ready."""
    found = {name: check(facts) for name, check in CHECKS}
    return {name: reason for name, reason in found.items() if reason}
