"""Export an area's registry from the database: GeoPackage (one layer per table) or CSV.

Reads what is stored (not the seed generator), for an area at any level: its grid cells
(polygons), buildings, houses, households, people and work units. Personal data is masked
as in every response (names ``张*三``, ID numbers ``350583********1234``, phones
``138****5678``, units' contact phones, and numbers typed into names and addresses, by
:mod:`gridmap.privacy`); ``unmask`` writes them in full and is recorded in the audit log
with its reason and the user it was made for (:func:`require_unmasked_export`) by the
caller. Tables are read and written in chunks, so a county (about
700 k people) or the whole city streams through a bounded amount of memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap import audit, csvsafe
from gridmap.areas import codes
from gridmap.errors import InvalidInput, NotFound
from gridmap.privacy import Kind, mask_array
from gridmap.scope import Actor, require_people, require_unmask

CHUNK = 250_000
FORMATS = ("gpkg", "csv")


@dataclass(frozen=True)
class _Table:
    name: str
    sql: str  # selects rows of cells whose code starts with :prefix; ``wkb`` is the geometry
    masked: tuple[tuple[str, Kind | Literal["text"]], ...] = ()  # (column, kind)


TABLES = (
    _Table(
        "cells",
        "SELECT a.code, a.name, a.plan_id, ST_AsBinary(a.geom) AS wkb FROM area a "
        "JOIN plan p ON p.id = a.plan_id AND p.status = 'active' "
        "WHERE a.level = 'grid' AND a.code LIKE :prefix ORDER BY a.code",
    ),
    _Table(
        "buildings",
        "SELECT id, grid_code, name, address, use::text AS use, floors, households, "
        "ST_AsBinary(location) AS wkb FROM building WHERE grid_code LIKE :prefix ORDER BY id",
        (("name", "text"), ("address", "text")),
    ),
    _Table(
        "houses",
        "SELECT id, building_id, grid_code, unit_no, floor, area_m2, is_rented FROM house "
        "WHERE grid_code LIKE :prefix ORDER BY id",
    ),
    _Table(
        "households",
        "SELECT id, house_id, grid_code, size, status::text AS status, version, "
        "ST_AsBinary(location) AS wkb FROM household WHERE grid_code LIKE :prefix ORDER BY id",
    ),
    _Table(
        "people",
        "SELECT id, household_id, grid_code, name, gender, birth_date, id_number, phone, "
        "is_household_head, array_to_string(tags, ';') AS tags, status::text AS status, version "
        "FROM person WHERE grid_code LIKE :prefix ORDER BY id",
        (("name", "name"), ("id_number", "id_number"), ("phone", "phone")),
    ),
    _Table(
        "work_units",
        "SELECT id, grid_code, name, type, credit_code, employees, address, contact_phone, "
        "building_id, version, ST_AsBinary(location) AS wkb FROM work_unit "
        "WHERE grid_code LIKE :prefix ORDER BY id",
        (("name", "text"), ("address", "text"), ("contact_phone", "phone")),
    ),
)


def require_unmasked_export(actor: Actor, area_code: str) -> None:
    """Refuse (403) an unmasked export of ``area_code`` the user may not make.

    The rule of an unmasked read in the API (``require_unmask``) for a whole area: a role
    that reads people and may unmask, and the area within the user's own.
    """
    require_people(actor)
    require_unmask(actor)
    actor.require_area(area_code, "exported area")


def export_unmasked(
    session: Session, area_code: str, out: Path, fmt: str, *, actor: Actor, reason: str,
    detail: dict[str, object],
) -> dict[str, int]:  # fmt: skip
    """:func:`export_area` unmasked for ``actor`` (who must be allowed), audited with ``reason``."""
    require_unmasked_export(actor, area_code)
    counts = export_area(session, area_code, out, fmt, unmask=True)
    audit.record(session, actor=actor, action="export_unmasked", object_type="area",
                 object_id=area_code, detail={"rows": counts, "out": str(out), **detail},
                 reason=reason.strip())  # fmt: skip
    return counts


def _chunks(session: Session, table: _Table, area_code: str) -> Iterator[pd.DataFrame]:
    statement = text(table.sql).execution_options(stream_results=True, max_row_buffer=CHUNK)
    cursor = session.connection().execute(statement, {"prefix": codes.like(area_code)})
    columns = list(cursor.keys())
    first = True
    while (rows := cursor.fetchmany(CHUNK)) or first:
        first = False
        yield pd.DataFrame(rows, columns=columns)


def _frame(chunk: pd.DataFrame, table: _Table, unmask: bool) -> pd.DataFrame:
    if not unmask:
        for column, kind in table.masked:
            chunk[column] = mask_array(chunk[column].to_numpy(), kind)
    if "wkb" in chunk:
        geometry = shapely.from_wkb(chunk.pop("wkb").map(bytes).to_numpy())
        return gpd.GeoDataFrame(chunk, geometry=geometry, crs="EPSG:4326")
    return chunk


def export_area(
    session: Session, area_code: str, out: Path, fmt: str = "gpkg", *, unmask: bool = False
) -> dict[str, int]:
    """Write the registry of ``area_code`` under ``out`` (a folder); returns rows per table."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")
    level = codes.level_of(area_code)
    found = session.scalar(text("SELECT count(*) FROM area WHERE code = :c"), {"c": area_code})
    if not found:
        raise NotFound(f"there is no area {area_code} ({level.value} code)")
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    gpkg = out / f"gridmap-{area_code}.gpkg"
    if fmt == "gpkg" and gpkg.exists():
        gpkg.unlink()
    for table in TABLES:
        counts[table.name] = 0
        target = out / f"{area_code}-{table.name}.csv"
        for i, chunk in enumerate(_chunks(session, table, area_code)):
            frame = _frame(chunk, table, unmask)
            counts[table.name] += len(frame)
            if fmt == "gpkg":
                pyogrio.write_dataframe(
                    frame, gpkg, layer=table.name, driver="GPKG", append=i > 0,
                    **({} if isinstance(frame, gpd.GeoDataFrame) else {"geometry_type": None}),
                )  # fmt: skip
            else:
                if isinstance(frame, gpd.GeoDataFrame):
                    geom = frame.geometry
                    points = bool((geom.geom_type == "Point").all())
                    frame = pd.DataFrame(frame.drop(columns="geometry")).assign(
                        **(
                            {"lon": geom.x.round(7), "lat": geom.y.round(7)}
                            if points
                            else {"wkt": shapely.to_wkt(geom.to_numpy(), rounding_precision=7)}
                        )
                    )
                csvsafe.frame(frame).to_csv(
                    target, index=False, mode="a" if i else "w", header=i == 0
                )
    return counts
