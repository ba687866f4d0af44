"""Alembic environment: online migrations on the URL given by ``gridmap.db.migrate``."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from gridmap.models import Base

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("gridmap migrations run online only: `gridmap migrate`")
run_migrations_online()
