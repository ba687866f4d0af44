"""Load a generated seed into PostGIS with COPY, in one transaction that replaces the old seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from seed_data.generate import Seed
from seed_data.registry import or_none

CHUNK = 250_000
SEED_TABLES = (
    "task_item",
    "task",
    "visit",
    "registry_event",
    "incident_event",
    "incident_photo",
    "incident_unit",
    "incident_whistle",
    "incident",
    "audit_log",
    "app_user",  # kept across a reseed with the audit log: see KEEP below
    "person",
    "household",
    "house",
    "work_unit",
    "building",
    "centre_window",
    "centre_profile",
    "department",
    "routing_rule",
    "category_group",
    "area",
    "plan",
)
PLAN_ID = 1
BUILDING_COUNT_TRIGGER = "household_building_count"
BUILDING_COUNTS = (
    "UPDATE building b SET households = c.n FROM (SELECT ho.building_id, count(*) AS n "
    "FROM household h JOIN house ho ON ho.id = h.house_id WHERE h.status = 'active' "
    "GROUP BY ho.building_id) c WHERE c.building_id = b.id"
)

# Accounts and the audit log outlive a reseed: the running demo's sign-ins keep working
# (same ids, so issued tokens too) and who-read-what is not erased. The seed's tables are
# truncated together (every one references another), so both are copied aside first and
# put back after; a user's unit is found again by its code, and an account whose area or
# unit the new seed does not have is disabled rather than left pointing nowhere.
KEEP = (
    "CREATE TEMP TABLE kept_user ON COMMIT DROP AS SELECT u.*, d.code AS unit_code "
    "FROM app_user u LEFT JOIN department d ON d.id = u.department_id",
    "CREATE TEMP TABLE kept_audit ON COMMIT DROP AS SELECT * FROM audit_log",
)
USER_COLUMNS = ("id, username, full_name, password_hash, role, area_code, is_active, "
                "token_version, password_changed_at, created_at")  # fmt: skip
RESTORE = (
    f"INSERT INTO app_user ({USER_COLUMNS}, department_id) "
    f"SELECT {USER_COLUMNS.replace('is_active', 'is_active AND placed')}, dept FROM ("
    "  SELECT k.*, d.id AS dept, (EXISTS (SELECT 1 FROM area a WHERE a.code = k.area_code) "
    "    AND (k.unit_code IS NULL OR d.id IS NOT NULL)) AS placed "
    "  FROM kept_user k LEFT JOIN department d ON d.code = k.unit_code) u",
    "SELECT setval(pg_get_serial_sequence('app_user', 'id'), "
    "(SELECT coalesce(max(id), 1) FROM app_user))",
    "INSERT INTO audit_log SELECT * FROM kept_audit",
    "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), "
    "(SELECT coalesce(max(id), 1) FROM audit_log))",
)

Progress = Callable[[str, int, int], None]  # table, rows done, rows total


def ewkb(geoms: np.ndarray) -> np.ndarray:
    """Hex EWKB with SRID 4326, which PostGIS reads straight from COPY."""
    return shapely.to_wkb(shapely.set_srid(np.asarray(geoms), 4326), hex=True, include_srid=True)


def points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Hex EWKB points."""
    return ewkb(shapely.points(lon, lat))


def timestamps(values: pd.Series | np.ndarray) -> np.ndarray:
    """UTC timestamps as PostgreSQL text (null stays null)."""
    s = pd.Series(pd.to_datetime(values))
    return or_none(s.notna().to_numpy(), s.dt.strftime("%Y-%m-%d %H:%M:%S+00").to_numpy())


def frames(seed: Seed) -> dict[str, pd.DataFrame]:
    """One frame per table, columns named as in the database, in load order."""
    areas = seed.areas
    area_id = pd.Series(np.arange(1, len(areas) + 1), index=areas["code"].to_numpy())
    grid = areas["level"].to_numpy() == "grid"
    parent_level = areas["parent_code"].map(
        pd.Series(areas["level"].to_numpy(), index=areas["code"].to_numpy())
    )
    linked = {"plan_id": PLAN_ID, "assigned_at": "2025-01-01 00:00:00+00"}
    b, hh, wu, inc = seed.buildings, seed.households, seed.work_units, seed.incidents
    return {
        "plan": pd.DataFrame(
            {
                "id": [PLAN_ID],
                "name": ["2025 grid plan (seed)"],
                "status": ["active"],
                "activated_at": ["2025-01-01 00:00:00+00"],
            }
        ),
        "area": pd.DataFrame(
            {
                "id": area_id.to_numpy(),
                "code": areas["code"],
                "name": areas["name"],
                "name_en": areas["name_en"],
                "level": areas["level"],
                "parent_id": areas["parent_code"].map(area_id).astype("Int64"),
                "parent_level": parent_level,
                "plan_id": or_none(grid, np.full(len(grid), PLAN_ID)),
                "geom": ewkb(areas.geometry.values),
            }
        ),
        "category_group": seed.category_groups,
        "routing_rule": seed.routing_rules,
        "department": pd.DataFrame(
            {
                "id": seed.departments["id"],
                "code": seed.departments["code"],
                "name": seed.departments["name"],
                "type": seed.departments["type"],
                "level": seed.departments["level"],
                "area_code": seed.departments["area_code"],
                "parent_id": seed.departments["parent_id"],
                "jurisdiction": ewkb(seed.departments.geometry.values),
            }
        ),
        "centre_profile": seed.centre_profiles,
        "centre_window": seed.centre_windows,
        "building": pd.DataFrame(
            {
                "id": b["id"],
                "name": b["name"],
                "address": b["address"],
                "use": b["use"],
                "floors": b["floors"],
                "footprint": ewkb(b["footprint"].to_numpy()),
                "location": points(b["lon"].to_numpy(), b["lat"].to_numpy()),
                "grid_code": b["grid_code"],
                **linked,
            }
        ),
        "house": seed.houses[
            ["id", "building_id", "unit_no", "floor", "area_m2", "is_rented", "grid_code"]
        ].assign(**linked),
        "household": pd.DataFrame(
            {
                "id": hh["id"],
                "house_id": hh["house_id"],
                "size": hh["size"],
                "location": points(hh["lon"].to_numpy(), hh["lat"].to_numpy()),
                "grid_code": hh["grid_code"],
                **linked,
            }
        ),
        "person": seed.people[
            [
                "id",
                "household_id",
                "name",
                "gender",
                "birth_date",
                "id_number",
                "phone",
                "is_household_head",
                "tags",
                "grid_code",
            ]
        ].assign(**linked),
        "work_unit": pd.DataFrame(
            {
                "id": wu["id"],
                "name": wu["name"],
                "type": wu["type"],
                "credit_code": wu["credit_code"],
                "employees": wu["employees"],
                "contact_phone": wu["contact_phone"],
                "building_id": wu["building_id"],
                "location": points(wu["lon"].to_numpy(), wu["lat"].to_numpy()),
                "grid_code": wu["grid_code"],
                **linked,
            }
        ),
        "incident": pd.DataFrame(
            {
                "id": inc["id"],
                "code": inc["code"],
                "category": inc["category"],
                "channel": inc["channel"],
                "status": inc["status"],
                "title": inc["title"],
                "description": inc["description"],
                "location": points(inc["lon"].to_numpy(), inc["lat"].to_numpy()),
                "reported_crs": inc["reported_crs"],
                "reported_lon": inc["reported_lon"],
                "reported_lat": inc["reported_lat"],
                "people_involved": inc["people_involved"],
                "reporter_name": inc["reporter_name"],
                "reporter_phone": inc["reporter_phone"],
                "unit_id": inc["unit_id"].astype("Int64"),
                "routing_reason": inc["routing_reason"],
                "handling_level": inc["handling_level"],
                "outcome": inc["outcome"],
                "satisfaction": pd.array(inc["satisfaction"], dtype="Int64"),
                "supervised": inc["supervised"],
                "supervised_at": timestamps(inc["supervised_at"]),
                "supervised_by_id": inc["supervised_by_id"],
                "supervision_due_at": timestamps(inc["supervision_due_at"]),
                "supervision_answered_at": timestamps(inc["supervision_answered_at"]),
                "merged_into_id": inc["merged_into_id"],
                "reported_at": timestamps(inc["reported_at"]),
                "sign_due_at": timestamps(inc["sign_due_at"]),
                "resolve_due_at": timestamps(inc["resolve_due_at"]),
                "signed_at": timestamps(inc["signed_at"]),
                "resolved_at": timestamps(inc["resolved_at"]),
                "closed_at": timestamps(inc["closed_at"]),
                "version": 1,
                "grid_code": inc["grid_code"],
                "plan_id": PLAN_ID,
                "assigned_at": timestamps(inc["reported_at"]),
                # the row is made when the incident is reported (not when the seed loads:
                # the live demo's shift then put it a year ahead of now)
                "created_at": timestamps(inc["reported_at"]),
            }
        ),
        "incident_event": pd.DataFrame(
            {
                "id": seed.events["id"],
                "incident_id": seed.events["incident_id"],
                "action": seed.events["action"],
                "from_status": seed.events["from_status"],
                "to_status": seed.events["to_status"],
                "unit_id": pd.array(seed.events["unit_id"], dtype="Int64"),
                "note": seed.events["note"],
                "data": seed.events["data"],
                "at": timestamps(seed.events["at"]),
            }
        ),
        "incident_unit": seed.incident_units.assign(
            signed_at=timestamps(seed.incident_units["signed_at"]),
            done_at=timestamps(seed.incident_units["done_at"]),
        ),
        "incident_whistle": seed.incident_whistles.assign(
            called_at=timestamps(seed.incident_whistles["called_at"]),
            due_at=timestamps(seed.incident_whistles["due_at"]),
            checked_in_at=timestamps(seed.incident_whistles["checked_in_at"]),
        ),
    }


def load(
    seed: Seed, engine: Engine, progress: Progress | None = None, only: set[str] | None = None,
    stage: Callable[[str], None] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Replace whatever seed the database holds with ``seed``; all or nothing.

    ``only`` names the tables to fill (the others are left empty), e.g. areas and units
    without the registry for a lookup benchmark. ``progress`` is told each table's rows
    as they are copied, ``stage`` what comes after the copies (minutes on a city).
    """
    say = stage or (lambda _: None)
    if only is not None and "routing_rule" in only:
        only = only | {"category_group"}  # the rules' groups come with them
    tables = {k: v for k, v in frames(seed).items() if only is None or k in only}
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:  # type: ignore[union-attr]
            for statement in KEEP:
                cur.execute(statement)
            cur.execute(f"TRUNCATE {', '.join(SEED_TABLES)} RESTART IDENTITY CASCADE")
            # per-row triggers would run millions of times: counts are set once below
            cur.execute(f"ALTER TABLE household DISABLE TRIGGER {BUILDING_COUNT_TRIGGER}")
            for table, frame in tables.items():
                cols = ", ".join(frame.columns)
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                    for start in range(0, len(frame), CHUNK):
                        part = frame.iloc[start : start + CHUNK]
                        copy.write(part.to_csv(index=False, header=False))
                        if progress:
                            progress(table, min(start + CHUNK, len(frame)), len(frame))
                if "id" in frame.columns:
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
            say("counting the households of every building")
            cur.execute(BUILDING_COUNTS)
            if only is None or {"area", "department"} <= set(tables):
                for statement in RESTORE:
                    cur.execute(statement)
            cur.execute(f"ALTER TABLE household ENABLE TRIGGER {BUILDING_COUNT_TRIGGER}")
        say("committing (checking every constraint)")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    # outside the transaction: statistics, and the visibility map index-only scans need
    say("VACUUM ANALYZE: statistics for the query planner")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    return {table: len(frame) for table, frame in tables.items()}
