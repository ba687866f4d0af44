"""Import residents (信息采集 in bulk): a CSV or GeoPackage, one person per row.

Each row carries a person (name, ID number, phone, tags…), the household it belongs to (a
key shared by the rows of one household, ``户号``) and a place: a point (``lon``/``lat`` in
any supported CRS, or the GeoPackage geometry), a building id, or a building address. Rows
are linked to their grid cell by the assignment engine, exactly like incidents and
``gridmap assign``.

Every row is checked before anything is written, and the report lists each refused row with
its reason: bad coordinates, outside the jurisdiction, an ID number already in the file or
in the registry, an unknown building or address, a missing field, and whatever makes a
person invalid. A person is checked by the API's own schema
(:class:`~gridmap.registry.schemas.PersonCreate`, built from the row: the rules of
gridmap/registry/rules.py), so a row is refused for the same reasons, in the same words, as
the same person sent to ``POST /households/{id}/people``. A household is loaded whole or
not at all: when one of its rows is refused, its other rows are refused too (naming the row
that failed), so no household is stored without a member. The good households are then
written by the API's writer (:func:`gridmap.registry.edits.add_households`) in one
transaction, each with a ``registry_event`` (action ``import``); ``strict`` loads nothing
when any row is refused. A file imported twice loads nothing the second time: every ID
number is then already registered.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pydantic import ValidationError
from sqlalchemy import Integer, String, func, select, text
from sqlalchemy.orm import Session

from gridmap.areas.active import cell_now
from gridmap.assign import AssignmentIndex
from gridmap.bulk import match_columns
from gridmap.crs import CRS, to_wgs84
from gridmap.db.ids import parse_row_id
from gridmap.errors import InvalidInput
from gridmap.registry import edits, rules
from gridmap.registry.groups import GROUPS
from gridmap.registry.models import Building, Household, Person, RegistryEvent
from gridmap.registry.schemas import PersonCreate
from gridmap.scope import Actor

# Column names accepted, English or as household registers (户籍/流动人口台账) name them.
ALIASES: dict[str, tuple[str, ...]] = {
    "household": ("household", "户号", "户编号"),
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "公民身份号码", "身份证号码"),
    "gender": ("gender", "性别"),
    "birth_date": ("birth_date", "出生日期"),
    "phone": ("phone", "联系电话", "手机号"),
    "relation": ("relation", "与户主关系"),
    "tags": ("tags", "标签", "人员类别"),
    "building_id": ("building_id", "建筑编号"),
    "unit_no": ("unit_no", "室号", "门牌号"),
    "address": ("address", "地址", "居住地址"),
    "lon": ("lon", "经度"),
    "lat": ("lat", "纬度"),
    "crs": ("crs", "坐标系"),
}
REQUIRED = ("name", "id_number")
HEAD_WORDS = {"head", "户主", "本人"}
GENDERS = {"M": "M", "F": "F", "男": "M", "女": "F", "m": "M", "f": "F"}
TAG_WORDS = {g.zh: g.tag for g in GROUPS.values()} | {g.tag: g.tag for g in GROUPS.values()}
NEAREST_BUILDING_M = 30.0  # a point this close to a building in the same cell is in it
BUILDING_POINT_M = 200.0  # a row naming a building and a point farther apart is refused
MAX_ROWS = 200_000
LOAD_CHUNK = 2_000  # households written at once: a few inserts each, memory bounded


@dataclass
class RowProblem:
    """One refused row."""

    row: int  # 1 = first data row
    household: str
    reason: str


@dataclass
class RegistryImport:
    """What happened to each row."""

    rows: int = 0
    households: list[int] = field(default_factory=list)  # ids of households loaded
    people: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    loaded: bool = True  # False when strict and a row was refused

    def as_frame(self) -> pd.DataFrame:
        """The refused rows as a table (row, household, reason)."""
        return pd.DataFrame(
            [(p.row, p.household, p.reason) for p in self.problems],
            columns=["row", "household", "reason"],
        )


@dataclass
class _Row:
    number: int
    household: str
    person: PersonCreate | None  # None: the row is refused
    building_id: int | None = None
    unit_no: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"


def read_rows(path: Path) -> pd.DataFrame:
    """The file as text columns, with ``lon``/``lat`` from point geometries in a GeoPackage."""
    if not path.exists():
        raise InvalidInput(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InvalidInput(f"{path.name} is not a UTF-8 CSV file: {exc}") from None
    elif suffix == ".gpkg":
        try:
            frame = pyogrio.read_dataframe(path)
        except Exception as exc:  # pyogrio raises its own DataSourceError and friends
            raise InvalidInput(f"{path.name} cannot be read as a GeoPackage: {exc}") from None
        if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
            geom = frame.geometry
            if not geom.isna().all():
                if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
                    geom = geom.to_crs(4326)
                points = geom.geom_type == "Point"
                frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
                frame["lon"] = np.where(points, geom.x.where(points), np.nan)
                frame["lat"] = np.where(points, geom.y.where(points), np.nan)
                frame["crs"] = frame.get("crs", "wgs84")
            else:
                frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        frame = frame.astype(object).where(frame.notna(), "").astype(str)
    else:
        raise InvalidInput(f"{path.name}: unknown file type {suffix!r}; use .csv or .gpkg")
    if len(frame) > MAX_ROWS:
        raise InvalidInput(f"{path.name} has {len(frame):,} rows; split it (at most {MAX_ROWS:,})")
    return frame


def _columns(header: list[str]) -> dict[str, str]:
    found = match_columns(header, ALIASES, REQUIRED)
    if not ({"lon", "lat"} <= found.keys() or "building_id" in found or "address" in found):
        raise InvalidInput("the file needs a place: lon and lat, building_id, or address columns")
    return found


def _parse(number: int, raw: dict[str, str]) -> _Row:
    """One row, checked on its own; raises ValueError with the reason."""
    person = _person(raw)
    building = raw.get("building_id", "").strip()
    building_id = parse_row_id(building) if building else None
    if building and building_id is None:
        raise ValueError(f"building_id {building[:20]!r} is not a building number")
    lon_text, lat_text = raw.get("lon", "").strip(), raw.get("lat", "").strip()
    lon = lat = None
    if lon_text or lat_text:
        try:
            lon, lat = float(lon_text), float(lat_text)
        except ValueError:
            raise ValueError(f"bad coordinates: lon {lon_text!r}, lat {lat_text!r}") from None
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"bad coordinates: lon {lon_text}, lat {lat_text} out of range")
    crs = raw.get("crs", "").strip().lower() or "wgs84"
    if crs not in {c.value for c in CRS}:
        raise ValueError(f"unknown crs {crs!r}: use {', '.join(c.value for c in CRS)}")
    address = raw.get("address", "").strip() or None
    unit_no = raw.get("unit_no", "").strip() or None
    if unit_no is not None and len(unit_no) > 20:
        raise ValueError("unit_no is longer than 20 characters")
    return _Row(
        number=number, household=_household_key(number, raw), person=person,
        building_id=building_id, unit_no=unit_no, address=address, lon=lon, lat=lat, crs=crs,
    )  # fmt: skip


def _household_key(number: int, raw: dict[str, str]) -> str:
    return raw.get("household", "").strip() or f"row {number}"


def _person(raw: dict[str, str]) -> PersonCreate:
    """The row's person, checked by the API's schema; raises ValueError with the reasons.

    What is read here is only the file's vocabulary: 男/女, 户主, the groups' Chinese
    names, dates written 1990/01/31 or 19900131. Every rule of a valid person is the
    schema's.
    """
    given_gender = raw.get("gender", "").strip()
    if given_gender and given_gender not in GENDERS:
        raise ValueError(f"gender {given_gender!r}: use M/F or 男/女")
    given_birth = raw.get("birth_date", "").strip()
    born = None
    if given_birth:
        try:
            born = date.fromisoformat(given_birth.replace("/", "-"))
        except ValueError:
            raise ValueError(
                f"birth_date {given_birth[:20]!r} is not a date: write YYYY-MM-DD"
            ) from None
    words = [w for w in re.split(r"[;,、，；\s]+", raw.get("tags", "").strip()) if w]
    try:
        return PersonCreate(
            name=raw.get("name", "").strip(), id_number=raw.get("id_number", "").strip(),
            gender=GENDERS.get(given_gender), birth_date=born,
            phone=raw.get("phone", "").strip() or None,
            is_household_head=raw.get("relation", "").strip().lower() in HEAD_WORDS,
            tags=[TAG_WORDS.get(w, w) for w in words],
        )  # fmt: skip
    except ValidationError as exc:
        raise ValueError(rules.reasons(exc)) from None


def import_registry(
    session: Session, index: AssignmentIndex, path: Path, *, actor: Actor | None = None,
    strict: bool = False,
) -> RegistryImport:  # fmt: skip
    """Check every row of ``path`` and load the good households; the caller commits."""
    frame = read_rows(path)
    columns = _columns(list(frame.columns))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    report = RegistryImport(rows=len(frame))
    refused: dict[int, str] = {}
    rows: list[_Row] = []
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(frame.to_dict("records"), start=1):
        values = {k: str(raw.get(v, "")) for k, v in columns.items()}
        try:
            row = _parse(number, values)
        except ValueError as exc:
            refused[number] = str(exc)
            rows.append(_Row(number, _household_key(number, values), None))
            continue
        assert row.person is not None
        id_number = row.person.id_number
        if id_number in seen_ids:
            refused[number] = (
                f"duplicate ID number: the same number is on row {seen_ids[id_number]}"
            )
        else:
            seen_ids[id_number] = number
        rows.append(row)

    # Already registered: the edits' rule, for the whole file in one query.
    known = edits.registered(session, list(seen_ids))
    for r in rows:
        if r.number not in refused and r.person is not None and r.person.id_number in known:
            refused[r.number] = edits.registered_refusal(r.person.id_number)

    # A household's place is that of its first row with one (the others may leave it out).
    members: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        members[r.household].append(r)
    anchor: dict[str, _Row] = {}
    for key, group in members.items():
        placed = [r for r in group if r.lon is not None or r.building_id or r.address]
        if placed:
            anchor[key] = placed[0]
        else:
            refused.setdefault(
                group[0].number, "no place: give lon and lat, a building_id or an address"
            )
    places = _places(
        session, index, [r for r in anchor.values() if r.number not in refused], refused
    )

    # A household is loaded whole or not at all.
    for key, group in members.items():
        bad = [r.number for r in group if r.number in refused]
        if bad:
            for r in group:
                if r.number not in refused:
                    refused[r.number] = f"household {key} is refused whole: see row {bad[0]}"
    report.problems = [
        RowProblem(r.number, r.household, refused[r.number]) for r in rows if r.number in refused
    ]
    if actor is not None:
        for key, group in members.items():
            if any(r.number in refused for r in group):
                continue
            place = places[anchor[key].number]
            if not actor.covers(place.grid_code):
                for r in group:
                    report.problems.append(RowProblem(
                        r.number, key, f"cell {place.grid_code} is outside your area "
                        f"{actor.area_code}"))  # fmt: skip
                    refused[r.number] = "outside the importer's area"
        report.problems.sort(key=lambda p: p.row)
    if strict and report.problems:
        report.loaded = False
        return report

    loaded = [(key, group) for key, group in members.items()
              if not any(r.number in refused for r in group)]  # fmt: skip
    now = session.scalar(select(func.now()))
    for start in range(0, len(loaded), LOAD_CHUNK):  # memory stays bounded in a large file
        chunk = loaded[start : start + LOAD_CHUNK]
        written = _load(session, [(group, places[anchor[key].number]) for key, group in chunk],
                        now)  # fmt: skip
        for (key, group), (household, _) in zip(chunk, written, strict=True):
            session.add(RegistryEvent(
                actor_id=actor.user_id if actor else None, action="import",
                object_type="household", object_id=household.id, grid_code=household.grid_code,
                after={"file": path.name, "rows": [r.number for r in group],
                       "size": household.size, "house_id": household.house_id},
                client_id=f"import:{digest}:{key}"[:64],
            ))  # fmt: skip
            report.households.append(household.id)
            report.people += len(group)
        session.flush()
    return report


@dataclass
class _Place:
    grid_code: str
    plan_id: int
    location: Any  # the building's point, or the row's as EWKT
    building: Building | None


def _places(
    session: Session, index: AssignmentIndex, rows: list[_Row], refused: dict[int, str]
) -> dict[int, _Place]:
    """The cell (and building, where one is named or near) of every row."""
    buildings: dict[int, Building] = {}
    ids = {r.building_id for r in rows if r.building_id is not None}
    if ids:
        found = session.scalars(select(Building).where(Building.id == edits.any_of(ids, Integer)))
        buildings = {b.id: b for b in found}
    addresses = {r.address for r in rows if r.address and r.lon is None and r.building_id is None}
    by_address: dict[str, list[Building]] = defaultdict(list)
    if addresses:
        in_file = edits.any_of(addresses, String)
        for b in session.scalars(select(Building).where(Building.address == in_file)):
            by_address[b.address or ""].append(b)

    places: dict[int, _Place] = {}
    pending: list[_Row] = []
    for r in rows:
        if r.building_id is not None and r.building_id not in buildings:
            refused[r.number] = f"unknown building {r.building_id}"
        elif r.building_id is None and r.lon is None:
            matches = by_address.get(r.address or "", [])
            if len(matches) != 1:
                refused[r.number] = (
                    f"unknown address {r.address!r}: no building has it"
                    if not matches
                    else f"address {r.address!r} matches {len(matches)} buildings: give building_id"
                )
            else:
                r.building_id = matches[0].id
                places[r.number] = _building_place(session, matches[0], index.plan_id)
        elif r.lon is None:
            places[r.number] = _building_place(session, buildings[r.building_id], index.plan_id)  # type: ignore[index]
        else:
            pending.append(r)
    # Points: one call of the assignment engine per CRS, one query for the buildings near.
    by_crs: dict[str, list[_Row]] = defaultdict(list)
    for r in pending:
        by_crs[r.crs].append(r)
    unlinked: list[tuple[_Row, float, float]] = []  # (row, lon, lat) in WGS84
    for crs, group in by_crs.items():
        lon = np.array([r.lon for r in group], dtype=float)
        lat = np.array([r.lat for r in group], dtype=float)
        result = index.assign(lon, lat, crs)
        cells = index.codes_of(result.cell)
        nearest = index.codes_of(result.nearest)
        x, y = to_wgs84(lon, lat, crs)
        for i, r in enumerate(group):
            if not result.inside[i]:
                refused[r.number] = (
                    f"outside the jurisdiction: ({r.lon}, {r.lat}) is "
                    f"{result.distance_m[i]:,.0f} m from the nearest cell {nearest[i]}"
                )
                continue
            if r.building_id is not None:
                b = buildings[r.building_id]
                d = _distance(session, b, float(x[i]), float(y[i]))
                if d > BUILDING_POINT_M:
                    refused[r.number] = (
                        f"building {b.id} is {d:,.0f} m from the row's point: correct one of them"
                    )
                    continue
                places[r.number] = _building_place(session, b, index.plan_id)
            else:
                places[r.number] = _Place(str(cells[i]), index.plan_id or 0,
                                          f"SRID=4326;POINT({x[i]} {y[i]})", None)  # fmt: skip
                unlinked.append((r, float(x[i]), float(y[i])))
    near = _nearest_buildings(session, [(x, y, places[r.number].grid_code) for r, x, y in unlinked])
    for (r, _, _), building in zip(unlinked, near, strict=True):
        if building is not None:
            places[r.number].building = building
            r.building_id = building.id
    return places


def _building_place(session: Session, b: Building, in_force: int | None) -> _Place:
    # under the new plan during a catch-up; the import's index is of the plan in force
    code, plan_id = cell_now(session, "building", b, in_force)
    return _Place(code or "", plan_id or 0, b.location, b)


def _distance(session: Session, b: Building, lon: float, lat: float) -> float:
    return float(
        session.scalar(
            text(
                "SELECT ST_Distance(location::geography, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) FROM building WHERE id = :id"
            ),
            {"x": lon, "y": lat, "id": b.id},
        )
    )


def _nearest_buildings(
    session: Session, points: list[tuple[float, float, str]]
) -> list[Building | None]:
    """For each (lon, lat, cell): its cell's building nearest to the point, if a few metres away.

    One query for all the points (:data:`NEAREST_BUILDING_M`).
    """
    if not points:
        return []
    xs, ys, codes = (list(v) for v in zip(*points, strict=True))
    rows = session.execute(
        text(
            "SELECT p.i, b.id FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]), "
            "CAST(:codes AS text[])) WITH ORDINALITY AS p(x, y, code, i) "
            "CROSS JOIN LATERAL (SELECT id FROM building "
            "  WHERE grid_code = p.code AND ST_DWithin(location::geography, "
            "    ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)::geography, :metres) "
            "  ORDER BY location <-> ST_SetSRID(ST_MakePoint(p.x, p.y), 4326) LIMIT 1) b"
        ),
        {"xs": xs, "ys": ys, "codes": codes, "metres": NEAREST_BUILDING_M},
    )
    found: dict[int, int] = {i: building_id for i, building_id in rows}
    buildings = {}
    if found:
        near = edits.any_of(set(found.values()), Integer)
        buildings = {b.id: b for b in session.scalars(select(Building).where(Building.id == near))}
    return [buildings.get(found.get(i + 1, -1)) for i in range(len(points))]


def _load(
    session: Session, households: list[tuple[list[_Row], _Place]], now: datetime | None
) -> list[tuple[Household, list[Person]]]:
    """The households of the file and their members, by the API's writer."""
    wanted = []
    for group, place in households:
        if place.building is not None:
            unit_no = next((r.unit_no for r in group if r.unit_no), None) or "1"
            rented = any("migrant" in r.person.tags for r in group if r.person is not None)
            wanted.append((place.building, unit_no, rented))
    houses = edits.houses_in(session, wanted) if wanted else {}
    new = []
    for group, place in households:
        house = None
        if place.building is not None:
            unit_no = next((r.unit_no for r in group if r.unit_no), None) or "1"
            house = houses[place.building.id, unit_no]
        new.append(edits.NewHousehold(
            house=house, location=place.location, grid_code=place.grid_code,
            plan_id=place.plan_id, assigned_at=now,
            members=[r.person for r in group if r.person is not None],
        ))  # fmt: skip
    return edits.add_households(session, new)
