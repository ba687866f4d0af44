"""The grid worker's offline pack, and the upload of edits made offline (sync).

``pack``: one JSON bundle of a cell — its outline and counts, buildings with houses,
households with members, work units, open incidents, visits due and open task rows, each
made by its own endpoint's view, so masked the same way — or, with ``since``, only what
changed after that moment (plus the ids of households that moved out), so a phone on a
slow network downloads a day's changes, not the cell.

``sync``: a list of edits made offline, each with its ``client_id``, applied in order, each
in a savepoint of its own and answered as its own endpoint would: applied; a duplicate (a
replay of an edit already applied: what it did); a conflict — what the endpoint answers
409, with its ``code``: ``stale_version`` (the object changed meanwhile: both versions are
returned, nothing is lost), ``client_id_reused`` (the id was used for another edit) or
``conflict``; or refused with the reason (any other refusal). One bad edit does not stop
the others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gridmap.areas.lookup import get_area
from gridmap.calendar import WorkingCalendar
from gridmap.db.ids import RowId
from gridmap.errors import Conflict, GridmapError, InvalidInput
from gridmap.incidents import views as incident_views
from gridmap.incidents.models import OPEN, Incident, IncidentEvent
from gridmap.locate import Locator
from gridmap.ops import counters
from gridmap.registry import edits, queries, schemas, tasks, visits
from gridmap.registry.models import (
    Building,
    House,
    Household,
    HouseholdStatus,
    Person,
    TaskItem,
    WorkUnit,
)
from gridmap.registry.summary import summary
from gridmap.scope import Actor, incident_filter, require_editor, require_people, within

SINCE_OVERLAP = timedelta(minutes=1)


def pack(
    session: Session, actor: Actor, code: str, *, since: datetime | None, now: datetime
) -> dict[str, Any]:
    """The offline bundle of ``code`` (a cell, usually), all of it or what changed since."""
    require_people(actor)
    area = get_area(session, code, actor)
    # a minute of overlap: an edit committed just after the last pack was cut is not missed
    # (its clock time is a little older than that pack); clients replace rows by id
    after = since - SINCE_OVERLAP if since else None
    changed = (lambda col: col > after) if after else (lambda col: col.is_not(None))

    def touched(column: Any, model: Any) -> set[int]:
        """Values of ``column`` on the rows of ``model`` in the area that changed."""
        where = [within(model.grid_code, code), changed(model.updated_at)]
        return {v for v in session.scalars(select(column).where(*where)) if v is not None}

    building_ids = touched(Building.id, Building) | touched(House.building_id, House)
    building_rows = list(
        session.scalars(select(Building).where(Building.id.in_(building_ids)).order_by(Building.id))
    )
    household_ids = touched(Household.id, Household) | touched(Person.household_id, Person)
    household_rows = session.execute(
        select(Household, House.unit_no, House.building_id, House.is_rented, Building.address)
        .outerjoin(House, House.id == Household.house_id)
        .outerjoin(Building, Building.id == House.building_id)
        .where(Household.id.in_(household_ids), Household.status == HouseholdStatus.active)
        .order_by(Household.id)
    ).all()
    moved_out = sorted(
        session.scalars(
            select(Household.id).where(
                Household.id.in_(household_ids), Household.status != HouseholdStatus.active
            )
        )
    )
    unit_rows = session.scalars(
        select(WorkUnit).where(within(WorkUnit.grid_code, code), changed(WorkUnit.updated_at))
    )
    incident_query = select(Incident).where(
        within(Incident.grid_code, code),
        Incident.status.in_(sorted(OPEN)),
        incident_filter(actor),
    )
    # with ``since``, what left the phone's lists elsewhere is named so it can go: incidents
    # closed (or rejected, merged) and task rows done by someone else since
    closed: list[str] = []
    done: list[int] = []
    if since:
        acted_on = select(IncidentEvent.incident_id).where(IncidentEvent.at > after)
        incident_query = incident_query.where(Incident.id.in_(acted_on))
        closed = list(session.scalars(
            select(Incident.code).where(
                within(Incident.grid_code, code), Incident.status.not_in(sorted(OPEN)),
                incident_filter(actor), Incident.id.in_(acted_on),
            ).order_by(Incident.code)
        ))  # fmt: skip
        done = list(session.scalars(
            select(TaskItem.id).where(
                within(TaskItem.grid_code, code), TaskItem.done_at.is_not(None),
                TaskItem.updated_at > after,
            ).order_by(TaskItem.id)
        ))  # fmt: skip
    incident_rows = session.scalars(incident_query.order_by(Incident.reported_at))
    items_query = select(TaskItem).where(
        within(TaskItem.grid_code, code), TaskItem.done_at.is_(None)
    )
    if since:
        items_query = items_query.where(TaskItem.updated_at > after)
    return {
        "area": summary(session, area, actor, now),
        "generated_at": now.isoformat(),
        "since": since.isoformat() if since else None,
        "buildings": queries._with_houses(session, building_rows),
        "households": queries._with_members(session, list(household_rows)),
        "moved_out_households": moved_out,
        "units": [queries.unit_view(u) for u in unit_rows],
        "incidents": [
            _incident(incident_views.read_model(session, i, actor, now=now)) for i in incident_rows
        ],
        "closed_incidents": closed,
        "visits_due": [
            d.model_dump(mode="json") for d in visits.due(session, actor, code, now=now)
        ],
        "task_items": [
            tasks._item(i, _title(session, i.task_id))
            for i in session.scalars(items_query.order_by(TaskItem.id))
        ],
        "done_task_items": done,
    }


def _incident(view: dict[str, Any]) -> dict[str, Any]:
    keep = ("code", "category", "status", "title", "lon", "lat", "unit_name", "overdue",
            "resolve_due_at", "reported_at", "version", "allowed_actions")  # fmt: skip
    return incident_views.as_json(view, keep)


def _title(session: Session, task_id: int) -> str:
    from gridmap.registry.models import Task

    return session.scalar(select(Task.title).where(Task.id == task_id)) or ""


# -- sync ---------------------------------------------------------------------------------------


class SyncEdit(BaseModel):
    """One edit made offline."""

    client_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(
        description="register_household, register_person, move_household, household_moved_out, "
        "set_person_status, update_person, update_work_unit, visit, complete_task_row"
    )
    target_id: RowId | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class SyncIn(BaseModel):
    """Edits made offline, in the order they were made."""

    edits: list[SyncEdit] = Field(max_length=500)


class SyncResult(BaseModel):
    """What became of one edit."""

    client_id: str
    status: str = Field(description="applied, duplicate (a replay), conflict or refused")
    code: str | None = Field(
        default=None,
        description="Why, when not applied: the problem code the edit's own endpoint answers "
        "(stale_version, client_id_reused, conflict, invalid_input, not_found, forbidden …)",
    )
    detail: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    version: int | None = None
    current: dict[str, Any] | None = None
    submitted: dict[str, Any] | None = None


KINDS: dict[str, tuple[type[BaseModel], bool]] = {  # schema, whether it needs a target
    # the names are gridmap.registry.offline.KINDS: an edit is the same through either door
    "register_household": (schemas.HouseholdCreate, False),
    "register_person": (schemas.PersonCreate, True),
    "move_household": (schemas.HouseholdMove, True),
    "household_moved_out": (schemas.HouseholdOut, True),
    "set_person_status": (schemas.PersonStatusChange, True),
    "update_person": (schemas.PersonUpdate, True),
    "update_work_unit": (schemas.WorkUnitUpdate, True),
    "visit": (schemas.VisitCreate, True),
    "complete_task_row": (schemas.TaskItemDone, True),
}


def sync(
    session: Session,
    actor: Actor,
    code: str,
    edits_in: SyncIn,
    *,
    locator: Locator | None,
    calendar: WorkingCalendar | None,
) -> list[SyncResult]:
    """Apply edits made offline; each in its own savepoint, each answered."""
    require_editor(actor)
    get_area(session, code, actor)
    out = []
    for edit in edits_in.edits:
        try:
            with session.begin_nested():
                out.append(_apply(session, actor, edit, locator, calendar))
        except GridmapError as exc:
            out.append(_not_applied(edit.client_id, exc))
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
            )
            out.append(_not_applied(edit.client_id, InvalidInput(detail)))
        except StaleDataError:  # changed between the version check and the write
            out.append(_not_applied(edit.client_id, edits.StaleObject(
                "the object changed while this edit was applied: reload it and edit again"
            )))  # fmt: skip
        except IntegrityError:  # e.g. the same ID number registered meanwhile by someone else
            out.append(_not_applied(edit.client_id, Conflict(
                "the edit conflicts with data stored meanwhile: reload and check"
            )))  # fmt: skip
    return out


def _not_applied(client_id: str, exc: GridmapError) -> SyncResult:
    """An edit's refusal, as its own endpoint would answer it: 409s are conflicts."""
    if exc.status == 409:
        counters.SYNC_CONFLICTS.inc()
    return SyncResult(
        client_id=client_id, status="conflict" if exc.status == 409 else "refused",
        code=exc.code, detail=exc.detail, current=exc.extra.get("current"),
        submitted=exc.extra.get("submitted"),
    )  # fmt: skip


def _apply(
    session: Session, actor: Actor, edit: SyncEdit, locator: Locator | None,
    calendar: WorkingCalendar | None,
) -> SyncResult:  # fmt: skip
    if edit.kind not in KINDS:
        raise InvalidInput(f"unknown kind {edit.kind!r}: use {', '.join(KINDS)}")
    schema, needs_target = KINDS[edit.kind]
    if needs_target and edit.target_id is None:
        raise InvalidInput(f"{edit.kind} needs target_id")
    data: Any = schema.model_validate(edit.data | {"client_id": edit.client_id})
    target = edit.target_id or 0
    if edit.kind == "visit":
        visit = visits.record(session, actor, target, data, locator=locator, calendar=calendar)
        status = "duplicate" if visit.duplicate else "applied"
        return SyncResult(client_id=edit.client_id, status=status, object_type="visit",
                          object_id=visit.id, detail=visit.warning)  # fmt: skip
    if edit.kind == "complete_task_row":
        item = tasks.complete(session, actor, target, data)
        status = "duplicate" if item.get("duplicate") else "applied"
        return SyncResult(client_id=edit.client_id, status=status, object_type="task_item",
                          object_id=item["id"], version=item["version"])  # fmt: skip
    done: schemas.Edited = {
        "register_household": lambda: edits.register_household(session, actor, data),
        "register_person": lambda: edits.register_person(session, actor, target, data),
        "move_household": lambda: edits.move_household(session, actor, target, data),
        "household_moved_out": lambda: edits.household_moved_out(session, actor, target, data),
        "set_person_status": lambda: edits.set_person_status(session, actor, target, data),
        "update_person": lambda: edits.update_person(session, actor, target, data),
        "update_work_unit": lambda: edits.update_unit(session, actor, target, data),
    }[edit.kind]()
    return SyncResult(
        client_id=edit.client_id, status="duplicate" if done.duplicate else "applied",
        object_type=done.object_type, object_id=done.object_id, version=done.version,
    )  # fmt: skip
