"""Loading with COPY into PostGIS: counts, nesting checked by PostGIS itself, clean reloads."""

import pytest
from sqlalchemy import text

from gridmap.db import migrate
from gridmap.db.session import make_engine
from seed_data.generate import SeedConfig, generate
from seed_data.load import load


@pytest.fixture(scope="module")
def seed_engine(pg_cluster):
    pg_cluster.create_database("seedload")
    url = pg_cluster.url("seedload")
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    pg_cluster.drop_database("seedload")


@pytest.fixture(scope="module")
def small():
    return generate(SeedConfig(scale="demo", population_fraction=0.01, seed=5))


def scalar(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_load_writes_every_row(seed_engine, small):
    counts = load(small, seed_engine)
    assert counts["person"] == len(small.people)
    for table, n in counts.items():
        assert scalar(seed_engine, f"SELECT count(*) FROM {table}") == n, table


def test_postgis_agrees_children_nest_and_items_lie_in_their_cell(seed_engine, small):
    load(small, seed_engine)
    assert (
        scalar(
            seed_engine,
            "SELECT count(*) FROM area c JOIN area p ON c.parent_id = p.id "
            "WHERE NOT ST_CoveredBy(c.geom, p.geom)",
        )
        == 0
    )
    assert scalar(seed_engine, "SELECT count(*) FROM area WHERE NOT ST_IsValid(geom)") == 0
    for table in ("building", "work_unit", "household", "incident"):
        outside = scalar(
            seed_engine,
            f"SELECT count(*) FROM {table} t JOIN area a "
            f"ON a.code = t.grid_code AND a.plan_id = t.plan_id "
            f"WHERE NOT ST_Covers(a.geom, t.location)",
        )
        assert outside == 0, table


def test_reloading_replaces_the_seed_cleanly(seed_engine, small):
    load(small, seed_engine)
    other = generate(SeedConfig(scale="demo", population_fraction=0.01, seed=6))
    load(other, seed_engine)
    assert scalar(seed_engine, "SELECT count(*) FROM person") == len(other.people)
    assert scalar(seed_engine, "SELECT count(*) FROM plan WHERE status = 'active'") == 1
    # sequences continue after the loaded ids
    with seed_engine.begin() as conn:
        new_id = conn.execute(
            text("INSERT INTO plan (name, status) VALUES ('draft', 'draft') RETURNING id")
        ).scalar()
        assert new_id == 2


def test_a_failed_load_leaves_the_previous_seed(seed_engine, small):
    load(small, seed_engine)
    broken = generate(SeedConfig(scale="demo", population_fraction=0.01, seed=5))
    broken.people.loc[0, "id_number"] = "not-an-id"  # violates the id_number check
    with pytest.raises(Exception, match="id_number_format"):
        load(broken, seed_engine)
    assert scalar(seed_engine, "SELECT count(*) FROM person") == len(small.people)


def test_a_reseed_keeps_the_accounts_and_the_audit_log(seed_engine, small):
    """`gridmap seed` used to delete every user: the running demo's sign-ins then failed."""
    from gridmap.auth.models import Role
    from gridmap.auth.service import create_user
    from gridmap.models import make_sessionmaker

    load(small, seed_engine)
    county = small.areas[small.areas.level == "county"].code.iloc[0]
    labour = f"labour-{county}"
    with make_sessionmaker(seed_engine).begin() as session:
        kept = create_user(session=session, username="keep-me", password="Quanzhou-2025",
                           role=Role.county_dispatcher, area_code=county)  # fmt: skip
        unit = session.scalar(text("SELECT id FROM department WHERE code = :c"), {"c": labour})
        create_user(session=session, username="keep-handler", password="Quanzhou-2025",
                    role=Role.department_handler, area_code=county, department_id=unit)  # fmt: skip
        session.execute(text(  # an area the next seed does not have (no check on this path)
            "INSERT INTO app_user (username, full_name, password_hash, role, area_code, is_active) "
            "VALUES ('gone-area', '', 'x', 'township_dispatcher', '350599001', true)"))  # fmt: skip
        session.execute(text("INSERT INTO audit_log (user_id, action, object_type) "
                             "VALUES (:u, 'read_unmasked', 'person')"), {"u": kept.id})  # fmt: skip
        kept_id = kept.id
    load(generate(SeedConfig(scale="demo", population_fraction=0.01, seed=6)), seed_engine)
    with seed_engine.connect() as conn:
        users = {r.username: r for r in conn.execute(text(
            "SELECT u.id, u.username, u.is_active, d.code FROM app_user u "
            "LEFT JOIN department d ON d.id = u.department_id"))}  # fmt: skip
        audit = conn.execute(text("SELECT user_id FROM audit_log")).scalars().all()
    assert users["keep-me"].id == kept_id and users["keep-me"].is_active  # tokens stay valid
    assert users["keep-handler"].code == labour and users["keep-handler"].is_active
    assert not users["gone-area"].is_active  # its area is not in the new seed
    assert audit == [kept_id]
    with seed_engine.begin() as conn:  # the module's other tests load again: leave no users
        conn.execute(text("DELETE FROM app_user WHERE username IN "
                          "('keep-handler', 'gone-area')"))  # fmt: skip
