"""Task sheets handed down (任务下发): one row per target in each cell, done with a result.

A township or county dispatcher issues a sheet for an area — "check every rented house",
"fire-safety check of every shop" — and it fans out, in one statement, into one row per
household, building or work unit of the area that matches the sheet's criteria. Grid
workers complete the rows of their cell; progress is counted per cell and per worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, func, insert, literal, select
from sqlalchemy.orm import Session

from gridmap import timebounds
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.privacy import mask_text
from gridmap.registry import offline, schemas
from gridmap.registry.edits import StaleObject
from gridmap.registry.groups import GROUPS
from gridmap.registry.models import (
    Building,
    BuildingUse,
    House,
    Household,
    HouseholdStatus,
    Person,
    RegistryEvent,
    Task,
    TaskItem,
    TaskTarget,
    WorkUnit,
)
from gridmap.scope import DISPATCHERS, REGISTRY_EDITORS, Actor, require_people, within

APPLIES = schemas.CRITERIA_OF  # the criteria each kind of sheet takes
MAX_ITEMS = 200_000  # a sheet for a whole city's households would be a mistake


def _targets(data: schemas.TaskCreate) -> Any:
    """The rows a sheet fans out into: (target id, grid code, label), by its criteria."""
    criteria = data.criteria
    area = data.area_code
    unused = sorted(set(criteria.model_dump(exclude_none=True)) - APPLIES[data.target])
    if unused:
        raise InvalidInput(
            f"criteria {unused} do not apply to {data.target.value} sheets: household takes "
            "rented and tag, building takes use, work_unit takes type"
        )
    if data.target == TaskTarget.household:
        where: list[ColumnElement[bool]] = [
            within(Household.grid_code, area),
            Household.status == HouseholdStatus.active,
        ]
        tag = criteria.tag
        if criteria.rented is not None:
            where.append(House.is_rented.is_(criteria.rented))
        if tag is not None:
            if tag not in GROUPS:
                raise InvalidInput(f"unknown tag {tag!r}: use {', '.join(GROUPS)}")
            tagged = select(Person.household_id).where(any_(Person.tags) == tag)
            where.append(Household.id.in_(tagged))
        query = (
            select(
                Household.id,
                Household.grid_code,
                func.concat(
                    func.coalesce(Building.address, ""), " ", func.coalesce(House.unit_no, "")
                ),
            )
            .outerjoin(House, House.id == Household.house_id)
            .outerjoin(Building, Building.id == House.building_id)
            .where(*where)
        )
    elif data.target == TaskTarget.building:
        where = [within(Building.grid_code, area)]
        use = criteria.use
        if use is not None:
            if use not in {u.value for u in BuildingUse}:
                raise InvalidInput(f"unknown building use {use!r}")
            where.append(Building.use == use)
        query = select(Building.id, Building.grid_code, func.coalesce(Building.address, "")).where(
            *where
        )
    else:
        where = [within(WorkUnit.grid_code, area)]
        if criteria.type is not None:
            where.append(WorkUnit.type == criteria.type)
        query = select(WorkUnit.id, WorkUnit.grid_code, WorkUnit.name).where(*where)
    return query


def create(session: Session, actor: Actor, data: schemas.TaskCreate) -> Task:
    """Issue a task sheet and fan it out into its rows (one statement)."""
    if actor.role not in DISPATCHERS:
        raise Forbidden(f"a {actor.role.value} does not hand tasks down: dispatchers do")
    actor.require_area(data.area_code)
    timebounds.check(data.due_at, name="due_at", event=False)
    task = Task(
        title=data.title, instructions=data.instructions, area_code=data.area_code,
        target=data.target, criteria=data.criteria.model_dump(exclude_none=True),
        due_at=data.due_at,
        created_by_id=actor.user_id,
    )  # fmt: skip
    session.add(task)
    session.flush()
    targets = _targets(data).subquery()
    count = session.scalar(select(func.count()).select_from(targets)) or 0
    if count == 0:
        raise InvalidInput("no target in the area matches the sheet's criteria")
    if count > MAX_ITEMS:
        raise InvalidInput(
            f"the sheet would have {count:,} rows (at most {MAX_ITEMS:,}): narrow it"
        )
    cols = list(targets.c)
    session.execute(
        insert(TaskItem).from_select(
            ["task_id", "target_id", "grid_code", "label"],
            select(literal(task.id), cols[0], cols[1], func.left(cols[2], 300)),
        )
    )
    return task


def read(session: Session, actor: Actor, task_id: int) -> dict[str, Any]:
    """A task sheet with its progress per cell and per worker (in the reader's area)."""
    task = session.get(Task, task_id)
    if task is None or not (actor.covers(task.area_code) or _contains(task.area_code, actor)):
        raise NotFound(f"there is no task {task_id} in your area")
    mine = within(TaskItem.grid_code, actor.area_code)
    done = func.count().filter(TaskItem.done_at.is_not(None))
    by_cell = session.execute(
        select(TaskItem.grid_code, func.count(), done)
        .where(TaskItem.task_id == task.id, mine)
        .group_by(TaskItem.grid_code)
        .order_by(TaskItem.grid_code)
    ).all()
    by_worker = session.execute(
        select(TaskItem.done_by_id, func.count(), done)
        .where(TaskItem.task_id == task.id, mine, TaskItem.done_by_id.is_not(None))
        .group_by(TaskItem.done_by_id)
    ).all()
    from gridmap.auth.models import User

    names = dict(session.execute(select(User.id, User.username)).all()) if by_worker else {}
    return {
        "id": task.id, "title": mask_text(task.title),
        "instructions": mask_text(task.instructions),
        "area_code": task.area_code, "target": task.target, "criteria": task.criteria,
        "due_at": task.due_at, "created_at": task.created_at,
        "total": sum(r[1] for r in by_cell), "done": sum(r[2] for r in by_cell),
        "by_cell": [{"key": r[0], "total": r[1], "done": r[2]} for r in by_cell],
        "by_worker": [
            {"key": names.get(r[0] or 0), "total": r[1], "done": r[2]} for r in by_worker
        ],
    }  # fmt: skip


def _contains(task_area: str, actor: Actor) -> bool:
    """A grid worker sees the sheets issued for an area containing their cell."""
    from gridmap.areas import codes

    return codes.contains(task_area, actor.area_code)


def list_tasks(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The sheets issued in the user's area, or covering it (newest first)."""
    tasks = session.scalars(select(Task).order_by(Task.id.desc()).limit(200))
    return [
        read(session, actor, t.id)
        for t in tasks
        if actor.covers(t.area_code) or _contains(t.area_code, actor)
    ]


def items(
    session: Session, actor: Actor, area: str, *, open_only: bool = True
) -> list[dict[str, Any]]:
    """The rows of every sheet in ``area`` (a grid worker's cell), open ones by default.

    Rows name households and addresses: only roles that read the registry get them (the
    sheets' completion per cell and per worker is in :func:`read`, for everyone in scope).
    """
    require_people(actor)
    actor.require_area(area)
    query = (
        select(TaskItem, Task.title)
        .join(Task, Task.id == TaskItem.task_id)
        .where(within(TaskItem.grid_code, area), within(TaskItem.grid_code, actor.area_code))
        .order_by(Task.due_at, TaskItem.id)
        .limit(5000)
    )
    if open_only:
        query = query.where(TaskItem.done_at.is_(None))
    return [_item(i, title) for i, title in session.execute(query)]


def _item(item: TaskItem, title: str) -> dict[str, Any]:
    """A task row as the API shows it: numbers typed into title, label and result masked."""
    return {
        "id": item.id, "task_id": item.task_id, "task_title": mask_text(title),
        "target_id": item.target_id, "grid_code": item.grid_code, "label": mask_text(item.label),
        "done_at": item.done_at, "result": mask_text(item.result), "version": item.version,
    }  # fmt: skip


def complete(
    session: Session, actor: Actor, item_id: int, data: schemas.TaskItemDone
) -> dict[str, Any]:
    """A row done, with its result (offline uploads applied once)."""
    if actor.role not in REGISTRY_EDITORS:  # the role first: the same answer for every row
        raise Forbidden(f"a {actor.role.value} does not complete task rows")
    edit = offline.upload("complete_task_row", item_id, data)
    first = offline.replayed(session, actor, edit)
    if first is not None:
        done = session.get(TaskItem, first.object_id)
        if done is None:  # its sheet was withdrawn since
            raise NotFound(f"there is no task row {item_id} any more")
        return _item(done, _title(session, done)) | {"duplicate": True}
    item = session.get(TaskItem, item_id, with_for_update=True)
    if item is None or not actor.covers(item.grid_code):
        raise NotFound(f"there is no task row {item_id} in your area")
    title = _title(session, item)
    view = _item(item, title)
    if item.version != data.version:
        raise StaleObject(
            f"task row {item_id} changed since you loaded it: both versions are attached",
            current=_plain(view), submitted=data.model_dump(mode="json"),
        )  # fmt: skip
    if item.done_at is not None:
        raise Conflict(f"task row {item_id} is already done")
    item.done_at = datetime.now(UTC)
    item.done_by_id = actor.user_id
    item.result = data.result
    session.flush()
    event = RegistryEvent(
        actor_id=actor.user_id, action="complete_task_row", object_type="task_item",
        object_id=item.id, grid_code=item.grid_code, before=_plain(view),
        after={"result": data.result}, client_id=data.client_id,
    )  # fmt: skip
    session.add(event)
    session.flush()
    offline.remember(session, actor, edit, object_type="task_item", object_id=item.id,
                     grid_code=item.grid_code, event_id=event.id)  # fmt: skip
    return _item(item, title)


def _title(session: Session, item: TaskItem) -> str:
    return session.scalar(select(Task.title).where(Task.id == item.task_id)) or ""


def _plain(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in view.items()}
