"""Information collection (信息采集): register, move, mark, update — each edit an event.

Every edit writes a ``registry_event`` (who, when, the object, before and after) in the same
transaction. Objects carry a version: an edit made on an older one is refused (409) with
both versions, the one stored and the one submitted, so nothing is lost. An edit made
offline carries the phone's ``client_id``: uploaded twice, it is applied once (the second
upload answers with what the first did); the id used for another edit is refused
(gridmap/registry/offline.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from sqlalchemy import ARRAY, Integer, String, any_, bindparam, select
from sqlalchemy.orm import Session

from gridmap.areas.active import cell_now, current_plan
from gridmap.errors import Conflict, InvalidInput, NotFound
from gridmap.privacy import mask
from gridmap.registry import offline, rules, schemas
from gridmap.registry.models import (
    Building,
    House,
    Household,
    HouseholdStatus,
    OfflineEdit,
    Person,
    PersonStatus,
    RegistryEvent,
    WorkUnit,
)
from gridmap.registry.queries import person_view, unit_view
from gridmap.scope import Actor, require_editor

E = TypeVar("E", Household, Person, WorkUnit)


class _Versioned(Protocol):
    """An edit that names the version it was made against."""

    version: int

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class StaleObject(Conflict):
    """The object changed since the user loaded it: both versions are in the answer."""

    code = "stale_version"
    title = "Stale version"


def _check_version(obj: Any, version: int, view: dict[str, Any], submitted: dict[str, Any]) -> None:
    if obj.version != version:
        raise StaleObject(
            f"{type(obj).__tablename__} {obj.id} changed since you loaded it (you have version "
            f"{version}, it is at {obj.version}): both versions are attached — compare, then "
            "submit again with the current version",
            current=view,
            submitted=submitted,
        )


def _replayed(session: Session, actor: Actor, edit: offline.Upload) -> schemas.Edited | None:
    """What an offline edit already did if ``edit`` is its replay (409 if its id is reused).

    Every edit starts here, so the role is checked first (403 before any object is looked
    up: the same answer whatever the id, in or outside the editor's area).
    """
    require_editor(actor)
    first = offline.replayed(session, actor, edit)
    return None if first is None else _edited_before(session, first)


def _edited_before(session: Session, first: OfflineEdit) -> schemas.Edited:
    """The answer of the first upload, with the object's version as it is now."""
    model = {"household": Household, "person": Person, "work_unit": WorkUnit}[first.object_type]
    obj = session.get(model, first.object_id)
    return schemas.Edited(
        object_type=first.object_type, object_id=first.object_id,
        version=getattr(obj, "version", None), event_id=first.event_id,
        duplicate=True,
    )  # fmt: skip


def _event(
    session: Session, actor: Actor, action: str, obj: Any, before: dict[str, Any] | None,
    after: dict[str, Any] | None, edit: offline.Upload,
) -> RegistryEvent:  # fmt: skip
    """The edit's event, and the first use of its client id."""
    event = RegistryEvent(
        actor_id=actor.user_id, action=action, object_type=type(obj).__tablename__,
        object_id=obj.id, grid_code=obj.grid_code, before=_jsonable(before),
        after=_jsonable(after), client_id=edit.client_id,
    )  # fmt: skip
    session.add(event)
    session.flush()
    offline.remember(session, actor, edit, object_type=event.object_type, object_id=obj.id,
                     grid_code=obj.grid_code, event_id=event.id)  # fmt: skip
    return event


def _jsonable(view: dict[str, Any] | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {k: (v.value if hasattr(v, "value") else v.isoformat() if isinstance(v, date) else v)
            for k, v in view.items()}  # fmt: skip


def _household_view(hh: Household) -> dict[str, Any]:
    return {"house_id": hh.house_id, "size": hh.size, "status": hh.status.value,
            "grid_code": hh.grid_code, "version": hh.version}  # fmt: skip


def _edited(obj: Any, event: RegistryEvent) -> schemas.Edited:
    return schemas.Edited(
        object_type=type(obj).__tablename__, object_id=obj.id, version=obj.version,
        event_id=event.id,
    )  # fmt: skip


def _house(
    session: Session, actor: Actor, house_id: int | None, building_id: int | None,
    unit_no: str | None, rented: bool = False,
) -> House:  # fmt: skip
    """An existing house, or a new one in a building of the actor's area."""
    if house_id is not None:
        house = session.get(House, house_id)
        if house is None or not actor.covers(house.grid_code):
            raise NotFound(f"there is no house {house_id} in your area")
        if rented and not house.is_rented:
            house.is_rented = True
        return house
    if building_id is None or not unit_no:
        raise InvalidInput("give house_id, or building_id and unit_no for a new house")
    building = session.get(Building, building_id)
    if building is None or not actor.covers(building.grid_code):
        raise NotFound(f"there is no building {building_id} in your area")
    return house_in(session, building, unit_no, rented=rented)


def house_in(session: Session, building: Building, unit_no: str, *, rented: bool) -> House:
    """The house ``unit_no`` of ``building``: the one registered, or a new one."""
    return houses_in(session, [(building, unit_no, rented)])[building.id, unit_no]


def houses_in(
    session: Session, wanted: Sequence[tuple[Building, str, bool]]
) -> dict[tuple[int, str], House]:
    """Houses by (building, unit number): those registered, and new ones for the others.

    One query and one insert however many (the importer asks for a whole file's). A new
    house is linked to its building's cell and plan; ``rented`` marks a house rented, never
    unmarks it.
    """
    ids = any_of({b.id for b, _, _ in wanted}, Integer)
    found = session.scalars(select(House).where(House.building_id == ids))
    houses = {(h.building_id, h.unit_no): h for h in found}
    current = current_plan(session)  # once for the whole list
    in_force = current.id if current is not None else None
    for building, unit_no, rented in wanted:
        house = houses.get((building.id, unit_no))
        if house is None:
            code, plan_id = cell_now(session, "building", building, in_force)
            house = House(building_id=building.id, unit_no=unit_no,
                          floor=House.floor_of(unit_no), is_rented=rented,
                          grid_code=code, plan_id=plan_id,
                          assigned_at=building.assigned_at)  # fmt: skip
            session.add(house)
            houses[building.id, unit_no] = house
        elif rented:
            house.is_rented = True
    session.flush()
    return houses


def any_of(values: Collection[Any], of: type[Integer] | type[String]) -> Any:
    """``= ANY(values)``, the values sent as one array: a bulk lookup of any size.

    An IN list takes one parameter per value, and a statement takes at most 65,535.
    """
    return any_(bindparam(None, list(values), type_=ARRAY(of)))


def registered(session: Session, id_numbers: Collection[str]) -> set[str]:
    """Those of ``id_numbers`` already in the registry (one query, however many)."""
    if not id_numbers:
        return set()
    numbers = any_of(id_numbers, String)
    return set(session.scalars(select(Person.id_number).where(Person.id_number == numbers)))


def registered_refusal(id_number: str) -> str:
    """Why a person with ``id_number`` cannot be registered again."""
    return (
        f"ID number {mask(id_number, 'id_number')} is already registered: find the person "
        "(search by the last digits) and move or update them instead"
    )


def _check_new_people(session: Session, people: Sequence[schemas.PersonCreate]) -> None:
    """The people's ID numbers valid (again: the schema can be bypassed) and not registered."""
    for person in people:
        rules.check_id_number(person.id_number)
    taken = registered(session, [p.id_number for p in people])
    if taken:
        raise Conflict(registered_refusal(min(taken)))


def register_household(
    session: Session, actor: Actor, data: schemas.HouseholdCreate
) -> schemas.Edited:
    """A household (and its members) registered into a house."""
    edit = offline.upload("register_household", None, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    house = _house(session, actor, data.house_id, data.building_id, data.unit_no, data.rented)
    _check_new_people(session, data.members)
    building = session.get(Building, house.building_id)
    assert building is not None
    code, plan_id = cell_now(session, "building", building)  # a house follows its building
    [(household, people)] = add_households(session, [NewHousehold(
        house=house, location=building.location, grid_code=code,
        plan_id=plan_id, assigned_at=house.assigned_at, members=data.members,
    )])  # fmt: skip
    after = _household_view(household) | {
        "members": [
            m.model_dump(mode="json", exclude={"id_number", "phone", "client_id"})
            | {"is_household_head": p.is_household_head}
            for m, p in zip(data.members, people, strict=True)
        ]
    }
    event = _event(session, actor, "register_household", household, None, after, edit)
    return _edited(household, event)


@dataclass
class NewHousehold:
    """A household to write: where it lives and its members (checked already)."""

    house: House | None
    location: Any  # the building's point, or EWKT
    grid_code: str | None
    plan_id: int | None
    assigned_at: datetime | None
    members: Sequence[schemas.PersonCreate]


def add_households(
    session: Session, new: Sequence[NewHousehold]
) -> list[tuple[Household, list[Person]]]:
    """New households and their members, written (no event: the caller writes its own).

    The one writer of households, for the API's registration (one) and the resident
    importer (a whole file's, in two inserts). The members were checked
    (:func:`_check_new_people`, or the importer's bulk check of the same rules). Without a
    member named the head, the first one is.
    """
    households = [
        Household(house_id=n.house.id if n.house is not None else None, size=len(n.members),
                  location=n.location, grid_code=n.grid_code, plan_id=n.plan_id,
                  assigned_at=n.assigned_at)
        for n in new
    ]  # fmt: skip
    session.add_all(households)
    session.flush()
    written = []
    for n, household in zip(new, households, strict=True):
        has_head = any(m.is_household_head for m in n.members)
        people = [
            _add_person(session, household, member, house=n.house,
                        head=member.is_household_head or (not has_head and i == 0))
            for i, member in enumerate(n.members)
        ]  # fmt: skip
        written.append((household, people))
    session.flush()
    return written


def _add_person(
    session: Session, household: Household, data: schemas.PersonCreate, *,
    house: House | None, head: bool,
) -> Person:  # fmt: skip
    """A person added to ``household`` (not flushed); a migrant marks the house rented."""
    if "migrant" in data.tags and house is not None:
        house.is_rented = True
    person = Person(
        household_id=household.id, name=data.name, gender=data.gender,
        birth_date=data.birth_date, id_number=data.id_number, phone=data.phone,
        is_household_head=head, tags=data.tags, grid_code=household.grid_code,
        plan_id=household.plan_id, assigned_at=household.assigned_at,
    )  # fmt: skip
    session.add(person)
    return person


def register_person(
    session: Session, actor: Actor, household_id: int, data: schemas.PersonCreate
) -> schemas.Edited:
    """A person registered into an existing household (born, moved in, a renter)."""
    edit = offline.upload("register_person", household_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    household = session.get(Household, household_id)
    if household is None or not actor.covers(household.grid_code):
        raise NotFound(f"there is no household {household_id} in your area")
    if household.status != HouseholdStatus.active:
        raise Conflict(f"household {household_id} has moved out: register a new household")
    _check_new_people(session, [data])
    house = session.get(House, household.house_id) if household.house_id else None
    household.grid_code, household.plan_id = cell_now(session, "household", household)
    person = _add_person(session, household, data, house=house, head=data.is_household_head)
    household.size = household.size + 1
    session.flush()
    event = _event(session, actor, "register_person", person, None, person_view(person), edit)
    return _edited(person, event)


def _for_edit(
    session: Session, actor: Actor, model: type[E], obj_id: int, what: str,
    view: Callable[[E], dict[str, Any]], data: _Versioned,
) -> tuple[E, dict[str, Any]]:  # fmt: skip
    """The object locked for an edit, and its view before the edit.

    In the actor's area (404 otherwise) and at the submitted version (409 with both
    versions otherwise); the role was checked by :func:`_replayed`.
    """
    obj = session.get(model, obj_id, with_for_update=True)
    if obj is None or not actor.covers(obj.grid_code):
        raise NotFound(f"there is no {what} {obj_id} in your area")
    before = view(obj)
    _check_version(obj, data.version, before, data.model_dump(mode="json"))
    return obj, before


def move_household(
    session: Session, actor: Actor, household_id: int, data: schemas.HouseholdMove
) -> schemas.Edited:
    """A household moving to another house (within the mover's area); members follow."""
    edit = offline.upload("move_household", household_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    household, before = _for_edit(
        session, actor, Household, household_id, "household", _household_view, data
    )
    house = _house(session, actor, data.house_id, data.building_id, data.unit_no)
    if house.id == household.house_id:
        raise InvalidInput(f"household {household_id} already lives in house {house.id}")
    building = session.get(Building, house.building_id)
    assert building is not None
    household.house_id = house.id
    household.location = building.location
    household.grid_code, household.plan_id = cell_now(session, "building", building)
    for p in session.scalars(select(Person).where(Person.household_id == household.id)):
        p.grid_code, p.plan_id = household.grid_code, household.plan_id
    session.flush()
    event = _event(session, actor, "move_household", household, before,
                   _household_view(household), edit)  # fmt: skip
    return _edited(household, event)


def household_moved_out(
    session: Session, actor: Actor, household_id: int, data: schemas.HouseholdOut
) -> schemas.Edited:
    """A household that left the area: it and its members are marked, nothing is deleted."""
    edit = offline.upload("household_moved_out", household_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    household, before = _for_edit(
        session, actor, Household, household_id, "household", _household_view, data
    )
    if household.status == HouseholdStatus.moved_out:
        raise Conflict(f"household {household_id} has already moved out")
    household.status = HouseholdStatus.moved_out
    for p in session.scalars(select(Person).where(Person.household_id == household.id)):
        if p.status == PersonStatus.resident:
            p.status = PersonStatus.moved_out
    session.flush()
    after = _household_view(household) | {"note": data.note}
    event = _event(session, actor, "household_moved_out", household, before, after, edit)
    return _edited(household, event)


def set_person_status(
    session: Session, actor: Actor, person_id: int, data: schemas.PersonStatusChange
) -> schemas.Edited:
    """A person who moved out or died (or came back)."""
    edit = offline.upload("set_person_status", person_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    person, before = _for_edit(session, actor, Person, person_id, "person", person_view, data)
    if person.status.value == data.status:
        raise InvalidInput(f"person {person_id} is already {data.status}")
    person.status = PersonStatus(data.status)
    household = session.get(Household, person.household_id) if person.household_id else None
    if household is not None:
        delta = 1 if data.status == "resident" else -1
        household.size = max(1, household.size + delta)
    session.flush()
    after = person_view(person) | {"note": data.note}
    event = _event(session, actor, f"person_{data.status}", person, before, after, edit)
    return _edited(person, event)


def update_person(
    session: Session, actor: Actor, person_id: int, data: schemas.PersonUpdate
) -> schemas.Edited:
    """A person's phone changed (or cleared)."""
    edit = offline.upload("update_person", person_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    person, before = _for_edit(session, actor, Person, person_id, "person", person_view, data)
    if person.phone == data.phone:
        raise InvalidInput(f"person {person_id} already has this phone: nothing to change")
    person.phone = data.phone
    session.flush()
    event = _event(session, actor, "update_person", person, before, person_view(person), edit)
    return _edited(person, event)


def update_unit(
    session: Session, actor: Actor, unit_id: int, data: schemas.WorkUnitUpdate
) -> schemas.Edited:
    """Changes to a work unit's name, type, staff, address or contact."""
    edit = offline.upload("update_work_unit", unit_id, data)
    if (done := _replayed(session, actor, edit)) is not None:
        return done
    unit, before = _for_edit(session, actor, WorkUnit, unit_id, "work unit", unit_view, data)
    changes = data.model_dump(exclude={"version", "client_id"}, exclude_unset=True)
    if not changes:
        raise InvalidInput("nothing to change: give at least one field")
    for field, value in changes.items():
        setattr(unit, field, value)
    session.flush()
    event = _event(session, actor, "update_work_unit", unit, before, unit_view(unit), edit)
    return _edited(unit, event)


def point_of_household(household: Household) -> Point:
    """Where a household lives (its building's point)."""
    point: Point = to_shape(household.location)
    return point
