"""Registry reads (入网入格, 实时查询): lists, one object, person search.

A cell's households, buildings and units, one object, and person search — always within
the reader's scope, personal data masked: names, ID numbers and phones by their field's rule,
and what people type (addresses, building and unit names) by the free-text masker.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, exists, func, select
from sqlalchemy.orm import Session

from gridmap.db.like import starts_with
from gridmap.errors import InvalidInput, NotFound
from gridmap.privacy import mask, mask_text
from gridmap.registry.models import (
    Building,
    House,
    Household,
    HouseholdStatus,
    Person,
    Visit,
    WorkUnit,
)
from gridmap.scope import Actor, registry_filter, require_people, within

MAX_SEARCH = 50


def age(birth: date, today: date | None = None) -> int:
    """Age in whole years."""
    today = today or date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def person_view(p: Person, *, unmasked: bool = False) -> dict[str, Any]:
    """A person as the API shows them (name, ID number and phone masked unless ``unmasked``)."""
    return {
        "id": p.id, "household_id": p.household_id,
        "name": p.name if unmasked else mask(p.name, "name"), "gender": p.gender,
        "age": age(p.birth_date),
        "id_number": p.id_number if unmasked else mask(p.id_number, "id_number"),
        "phone": p.phone if unmasked else mask(p.phone, "phone"),
        "is_household_head": p.is_household_head, "tags": list(p.tags or []),
        "status": p.status, "grid_code": p.grid_code, "version": p.version,
    }  # fmt: skip


def _page(page: int, page_size: int) -> tuple[int, int]:
    return page_size, (page - 1) * page_size


def households(
    session: Session,
    actor: Actor,
    *,
    area: str,
    page: int = 1,
    page_size: int = 50,
    tag: str | None = None,
    building_id: int | None = None,
    not_visited_since: datetime | None = None,
    status: HouseholdStatus | None = HouseholdStatus.active,
) -> tuple[int, list[dict[str, Any]]]:
    """The households of an area with their members, filtered and paged."""
    require_people(actor)
    where: list[ColumnElement[bool]] = [
        registry_filter(actor, Household.grid_code, people=True),
        within(Household.grid_code, area),
    ]
    if status is not None:
        where.append(Household.status == status)
    if tag:
        where.append(exists().where(Person.household_id == Household.id, any_(Person.tags) == tag))
    if building_id is not None:
        where.append(House.building_id == building_id)
    if not_visited_since is not None:
        where.append(
            ~exists().where(
                Visit.household_id == Household.id, Visit.visited_at >= not_visited_since
            )
        )
    base = select(Household).outerjoin(House, House.id == Household.house_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    limit, offset = _page(page, page_size)
    rows = session.execute(
        select(Household, House.unit_no, House.building_id, House.is_rented, Building.address)
        .outerjoin(House, House.id == Household.house_id)
        .outerjoin(Building, Building.id == House.building_id)
        .where(*where)
        .order_by(Household.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, _with_members(session, list(rows))


def _with_members(session: Session, rows: Any) -> list[dict[str, Any]]:
    ids = [r[0].id for r in rows]
    members: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for p in session.scalars(
            select(Person)
            .where(Person.household_id.in_(ids))
            .order_by(Person.household_id, Person.is_household_head.desc(), Person.id)
        ):
            members[p.household_id or 0].append(person_view(p))
    last = dict(
        session.execute(
            select(Visit.household_id, func.max(Visit.visited_at))
            .where(Visit.household_id.in_(ids))
            .group_by(Visit.household_id)
        ).all()
    ) if ids else {}  # fmt: skip
    out = []
    for hh, unit_no, building_id, rented, address in rows:
        out.append(
            {
                "id": hh.id, "house_id": hh.house_id, "building_id": building_id,
                "address": mask_text(address), "unit_no": unit_no, "size": hh.size,
                "status": hh.status,
                "rented": bool(rented), "grid_code": hh.grid_code, **_xy(hh),
                "last_visit_at": last.get(hh.id), "version": hh.version,
                "members": members.get(hh.id, []),
            }
        )  # fmt: skip
    return out


def _xy(obj: Any) -> dict[str, float]:
    from geoalchemy2.shape import to_shape

    point = to_shape(obj.location)
    return {"lon": round(point.x, 6), "lat": round(point.y, 6)}


def household(session: Session, actor: Actor, household_id: int) -> dict[str, Any]:
    """One household with its members (404 outside the reader's scope)."""
    require_people(actor)
    row = session.execute(
        select(Household, House.unit_no, House.building_id, House.is_rented, Building.address)
        .outerjoin(House, House.id == Household.house_id)
        .outerjoin(Building, Building.id == House.building_id)
        .where(
            Household.id == household_id, registry_filter(actor, Household.grid_code, people=True)
        )
    ).first()
    if row is None:
        raise NotFound(f"there is no household {household_id} in your area")
    return _with_members(session, [row])[0]


def person(session: Session, actor: Actor, person_id: int, *, unmasked: bool = False) -> Person:
    """One person (404 outside the reader's scope)."""
    require_people(actor)
    found = session.scalar(
        select(Person).where(
            Person.id == person_id, registry_filter(actor, Person.grid_code, people=True)
        )
    )
    if found is None:
        raise NotFound(f"there is no person {person_id} in your area")
    return found


SHORT_SEARCH = r"^\s*(([0-9]{1,3}|[0-9]{1,2}[Xx]|[0-9][Xx]{2}|[Xx])\s*)?$"
"""The searches :func:`search_terms` refuses, as a pattern for the OpenAPI document: blank,
or the end of an ID number shorter than 4 characters (it would match too many people)."""


def search_terms(query: str) -> tuple[str, bool]:
    """``query`` stripped, and whether it is the end of an ID number (digits, then X).

    Raises
    ------
    InvalidInput
        Blank, or an ID number's end shorter than 4 characters.
    """
    query = query.strip()
    if not query:
        raise InvalidInput("search for a name or the last digits of an ID number")
    digits = query.upper().rstrip("X")
    id_tail = (digits.isascii() and digits.isdigit()) or query.upper() == "X"
    if id_tail and len(query) < 4:
        raise InvalidInput("give at least the last 4 characters of an ID number")
    return query, id_tail


def search_people(
    session: Session, actor: Actor, query: str, *, area: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """People whose ID number ends with ``query`` (digits) or whose name starts with it."""
    require_people(actor)
    query, id_tail = search_terms(query)
    where: list[ColumnElement[bool]] = [registry_filter(actor, Person.grid_code, people=True)]
    if area:
        where.append(within(Person.grid_code, area))
    statement = select(Person)
    order: list[Any] = [Person.id]
    if id_tail:
        # a prefix search on the reversed number, in the order of ix_person_id_suffix: the
        # scan stops at the first matches in scope (ordered by id, the planner could walk a
        # county's million people instead)
        suffix = func.reverse(Person.id_number)
        where.append(starts_with(suffix, query.upper()[::-1]))
        order = [suffix, Person.id]
    else:
        where.append(starts_with(Person.name, query))
    rows = session.scalars(statement.where(*where).order_by(*order).limit(min(limit, MAX_SEARCH)))
    return [person_view(p) for p in rows]


def buildings(
    session: Session, actor: Actor, *, area: str, page: int = 1, page_size: int = 50,
    use: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """The buildings of an area with their houses."""
    where: list[ColumnElement[bool]] = [
        registry_filter(actor, Building.grid_code),
        within(Building.grid_code, area),
    ]
    if use:
        where.append(Building.use == use)
    total = session.scalar(select(func.count()).select_from(Building).where(*where)) or 0
    limit, offset = _page(page, page_size)
    rows = list(
        session.scalars(
            select(Building).where(*where).order_by(Building.id).limit(limit).offset(offset)
        )
    )
    return total, _with_houses(session, rows)


def _with_houses(session: Session, rows: list[Building]) -> list[dict[str, Any]]:
    ids = [b.id for b in rows]
    houses: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        living = (
            select(func.count())
            .where(Household.house_id == House.id, Household.status == HouseholdStatus.active)
            .scalar_subquery()
        )
        for h, n in session.execute(
            select(House, living)
            .where(House.building_id.in_(ids))
            .order_by(House.floor, House.unit_no)
        ):
            houses[h.building_id].append(
                {
                    "id": h.id,
                    "unit_no": h.unit_no,
                    "floor": h.floor,
                    "area_m2": h.area_m2,
                    "is_rented": h.is_rented,
                    "households": int(n),
                }
            )
    return [
        {
            "id": b.id, "name": mask_text(b.name), "address": mask_text(b.address),
            "use": b.use.value,
            "floors": b.floors, "households": b.households, "grid_code": b.grid_code, **_xy(b),
            "houses": houses[b.id],
        }
        for b in rows
    ]  # fmt: skip


def building(session: Session, actor: Actor, building_id: int) -> dict[str, Any]:
    """One building with its houses (404 outside the reader's scope)."""
    found = session.scalar(
        select(Building).where(
            Building.id == building_id, registry_filter(actor, Building.grid_code)
        )
    )
    if found is None:
        raise NotFound(f"there is no building {building_id} in your area")
    return _with_houses(session, [found])[0]


def unit_view(u: WorkUnit, *, unmasked: bool = False) -> dict[str, Any]:
    """A work unit as the API shows it (contact, name and address masked unless ``unmasked``).

    A shop's sign often carries a phone number (张记水暖 138…): name and address are typed
    text.
    """
    return {
        "id": u.id, "name": u.name if unmasked else mask_text(u.name), "type": u.type,
        "credit_code": u.credit_code, "employees": u.employees,
        "address": u.address if unmasked else mask_text(u.address),
        "contact_phone": u.contact_phone if unmasked else mask(u.contact_phone, "phone"),
        "building_id": u.building_id, "grid_code": u.grid_code, **_xy(u), "version": u.version,
    }  # fmt: skip


def units(
    session: Session, actor: Actor, *, area: str, page: int = 1, page_size: int = 50,
    type_: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """The work units of an area."""
    where: list[ColumnElement[bool]] = [
        registry_filter(actor, WorkUnit.grid_code),
        within(WorkUnit.grid_code, area),
    ]
    if type_:
        where.append(WorkUnit.type == type_)
    total = session.scalar(select(func.count()).select_from(WorkUnit).where(*where)) or 0
    limit, offset = _page(page, page_size)
    rows = session.scalars(
        select(WorkUnit).where(*where).order_by(WorkUnit.id).limit(limit).offset(offset)
    )
    return total, [unit_view(u) for u in rows]


def unit(session: Session, actor: Actor, unit_id: int) -> WorkUnit:
    """One work unit (404 outside the reader's scope)."""
    found = session.scalar(
        select(WorkUnit).where(WorkUnit.id == unit_id, registry_filter(actor, WorkUnit.grid_code))
    )
    if found is None:
        raise NotFound(f"there is no work unit {unit_id} in your area")
    return found
