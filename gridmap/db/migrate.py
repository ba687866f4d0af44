"""Schema migrations (Alembic), configured in code so no alembic.ini is needed."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
LOCK_KEY = 0x67726D70  # "grmp": the advisory lock every migration run holds (env.py)
LOCK_TIMEOUT = "3s"  # longest wait for a table lock before the migration gives up and retries
ATTEMPTS = 5  # tries of an upgrade whose lock waits timed out


def alembic_config(url: str) -> Config:
    """An Alembic config for the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", attempts: int = ATTEMPTS) -> None:
    """Migrate the database at ``url`` up to ``revision``.

    A migration waits at most ``LOCK_TIMEOUT`` for each table lock, so requests never queue
    behind it for longer; when it gives up (its transaction rolled back, nothing half done),
    it is tried again after a pause, ``attempts`` times in all.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(1, attempts + 1):
        try:
            command.upgrade(alembic_config(url), revision)
            return
        except OperationalError as exc:
            if "lock timeout" not in str(exc.orig) or attempt == attempts:
                raise
            time.sleep(min(2.0**attempt, 10.0))


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` = empty)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or None for an empty one."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head())
