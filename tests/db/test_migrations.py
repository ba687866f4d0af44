import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text

from gridmap.db import migrate
from gridmap.models import Base


def _tables_and_types(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
        types = set(
            conn.scalars(
                text(
                    "SELECT t.typname FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
                    "GROUP BY t.typname"
                )
            )
        )
    engine.dispose()
    return tables, types


def test_upgrade_from_empty_downgrade_to_empty_and_up_again(pg_cluster):
    pg_cluster.create_database("migrations")
    url = pg_cluster.url("migrations")
    try:
        assert migrate.current(url) is None
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()
        tables, types = _tables_and_types(url)
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        assert "area_level" in types
        migrate.downgrade(url)
        assert migrate.current(url) is None
        assert _tables_and_types(url) == (set(), set())
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()
    finally:
        pg_cluster.drop_database("migrations")


def test_models_and_migrations_agree(engine):
    """Autogenerate finds nothing to do: the migrations build exactly the models' schema."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": alembic_helpers.include_object, "compare_type": True},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_every_table_is_described_in_data_model_md(db_url):
    """docs/data-model.md names every table the migrations make (7 were missing once)."""
    from pathlib import Path

    tables, _ = _tables_and_types(db_url)
    doc = (Path(__file__).parents[2] / "docs" / "data-model.md").read_text()
    described = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", doc, flags=re.M))
    named = {name for pair in described for name in pair if name}
    assert tables - named == set(), "tables missing from docs/data-model.md"
    assert named - tables == set(), "docs/data-model.md describes tables that do not exist"
