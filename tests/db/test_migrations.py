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


def test_two_instances_starting_at_once_apply_the_migrations_once(pg_cluster):
    """Two processes migrate an empty database at once; without the advisory lock both
    would create the same tables and one would fail."""
    import subprocess
    import sys

    pg_cluster.create_database("migrations_twice")
    url = pg_cluster.url("migrations_twice")
    code = f"from gridmap.db import migrate; migrate.upgrade({url!r})"
    try:
        instances = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE,
                                      text=True) for _ in range(2)]  # fmt: skip
        outcomes = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in instances]
        assert [rc for rc, _ in outcomes] == [0, 0], outcomes
        assert migrate.current(url) == migrate.head()
    finally:
        pg_cluster.drop_database("migrations_twice")


def test_a_migration_waits_for_a_lock_no_longer_than_lock_timeout(pg_cluster):
    """A long transaction holds the table the migration alters: it gives up, not queue."""
    import time

    import pytest
    from sqlalchemy.exc import OperationalError

    pg_cluster.create_database("migrations_lock")
    url = pg_cluster.url("migrations_lock")
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0017")
        with engine.connect() as reader:
            reader.execute(text("LOCK TABLE app_user IN ACCESS SHARE MODE"))  # a long read
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                migrate.upgrade(url, attempts=1)
            waited = time.monotonic() - started
            reader.rollback()
        assert waited < 10  # LOCK_TIMEOUT (3 s), not until the reader ends
        assert migrate.current(url) == "0017"  # rolled back whole: nothing half done
        migrate.upgrade(url)  # the reader gone, it applies
        assert migrate.current(url) == migrate.head()
    finally:
        engine.dispose()
        pg_cluster.drop_database("migrations_lock")


def test_down_to_the_first_revision_and_up_again_on_a_seeded_database(pg_cluster, seeded):
    """Every downgrade and upgrade runs over rows, not only over empty tables."""
    from gridmap.db.session import make_engine
    from seed_data.load import load

    _, data = seeded
    pg_cluster.create_database("migrations_seeded")
    url = pg_cluster.url("migrations_seeded")
    engine = make_engine(url)
    try:
        migrate.upgrade(url)
        load(data, engine)
        count = "SELECT count(*) FROM area"
        with engine.connect() as conn:
            areas = conn.execute(text(count)).scalar()
        assert areas and areas > 100
        engine.dispose()
        migrate.downgrade(url, "0001")
        assert migrate.current(url) == "0001"
        with engine.connect() as conn:
            assert conn.execute(text(count)).scalar() == areas  # the first tables kept their rows
        engine.dispose()
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()
        with engine.connect() as conn:
            assert conn.execute(text(count)).scalar() == areas
    finally:
        engine.dispose()
        pg_cluster.drop_database("migrations_seeded")
