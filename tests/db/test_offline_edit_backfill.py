"""Migration 0015 records the offline ids already used, so a retry across the upgrade is
still a replay (and a reuse still refused)."""

from sqlalchemy import create_engine, text

from gridmap.db import migrate


def test_ids_used_before_0015_are_recorded_with_their_kind_and_target(pg_cluster):
    pg_cluster.create_database("backfill")
    url = pg_cluster.url("backfill")
    try:
        migrate.upgrade(url, "0014")
        engine = create_engine(url)
        with engine.begin() as conn:
            user = conn.execute(
                text(
                    "INSERT INTO app_user (username, full_name, password_hash, role, area_code, is_active) "
                    "VALUES ('g', '', 'x', 'grid_worker', '350503001001001', true) RETURNING id"
                )
            ).scalar()
            household = conn.execute(
                text(
                    "INSERT INTO household (size, location) VALUES "
                    "(1, ST_SetSRID(ST_MakePoint(118.6, 24.9), 4326)) RETURNING id"
                )
            ).scalar()
            for action, object_type, object_id, after, client_id in [
                ("register_person", "person", 7, f'{{"household_id": {household}}}', "p-1"),
                ("person_deceased", "person", 7, "{}", "p-2"),
                ("register_household", "household", household, "{}", "h-1"),
                ("update_work_unit", "work_unit", 3, "{}", "shared"),
            ]:
                conn.execute(text(
                    "INSERT INTO registry_event (actor_id, action, object_type, object_id, "
                    "after, client_id) VALUES (:u, :a, :t, :o, CAST(:after AS jsonb), :c)"),
                    {"u": user, "a": action, "t": object_type, "o": object_id, "after": after,
                     "c": client_id})  # fmt: skip
            for client_id in ("v-1", "shared"):  # "shared": also a registry edit's, first
                conn.execute(text(
                    "INSERT INTO visit (household_id, grid_code, visited_at, actor_id, findings, "
                    "follow_up_needed, client_id) VALUES (:h, '', now() + interval '1 hour', :u, "
                    "'', false, :c)"), {"h": household, "u": user, "c": client_id})  # fmt: skip
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT client_id, kind, target_id, object_type, digest FROM offline_edit "
                "ORDER BY client_id")).all()  # fmt: skip
        engine.dispose()
        assert [tuple(r) for r in rows] == [
            ("h-1", "register_household", None, "household", None),
            ("p-1", "register_person", household, "person", None),
            ("p-2", "set_person_status", 7, "person", None),
            ("shared", "update_work_unit", 3, "work_unit", None),
            ("v-1", "visit", household, "visit", None),
        ]
    finally:
        pg_cluster.drop_database("backfill")
