"""Alembic environment: online migrations on the URL given by ``gridmap.db.migrate``.

Every run holds a database advisory lock (two instances starting at once: the second waits,
then finds the schema at head and does nothing) and runs its statements under
``lock_timeout`` (a migration that cannot get its lock gives up at once instead of queueing
every request behind it; ``gridmap.db.migrate.upgrade`` tries again).
"""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, text

from gridmap.db.migrate import LOCK_KEY, LOCK_TIMEOUT
from gridmap.models import Base

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        connection.commit()  # the session keeps both; the migrations' transaction begins below
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("gridmap migrations run online only: `gridmap migrate`")
run_migrations_online()
