"""Boundary plans (网格方案): list, one plan, drafts by rebalancing, change impact, activation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import CatalogueDep, PrincipalDep, SessionDep, SettingsDep, permitted
from api.params import CellCode
from api.problems import responses
from gridmap.areas.codes import CELL_PATTERN
from gridmap.areas.models import Area, Plan, PlanStatus
from gridmap.db.ids import RowId
from gridmap.errors import Conflict, GridmapError, InvalidInput, NotFound
from gridmap.plans import checks, drafts, edits, rebalancing, service
from gridmap.plans.impacts import ImpactReports
from gridmap.plans.jobs import DraftJobs, Job, Stage
from gridmap.scope import Actor, PlanWork, plan_area, require_plans

log = logging.getLogger(__name__)
router = APIRouter(tags=["plans"], responses=responses(401, 403, 404))
PlanId = Annotated[RowId, Path()]


def _may(work: PlanWork) -> Callable[[Actor], None]:
    """The rule admitting the roles whose plan work (gridmap/scope.py) includes ``work``."""
    return lambda actor: require_plans(actor, work)


class PlanRead(BaseModel):
    """A boundary plan and its number of cells."""

    id: int
    name: str
    status: str
    note: str | None
    cells: int
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    prepared_at: datetime | None


@router.get("/plans", response_model=list[PlanRead])
def list_plans(session: SessionDep, principal: PrincipalDep) -> Any:
    """Every plan: the one in force, drafts, retired ones (boundaries are no secret)."""
    return service.plan_rows(session)


class DraftCreate(BaseModel):
    """A rebalance of one township or village of the plan in force, saved as a draft."""

    area: str = Field(pattern=r"^\d{9}(\d{3})?$", description="A township or village code")
    target: float = Field(gt=0, le=100_000, allow_inf_nan=False, description="Households per cell")
    tolerance: float = Field(0.1, gt=0, lt=1, allow_inf_nan=False, description="0.1 for ±10%")
    locked: list[str] = Field(
        default_factory=list, max_length=2_000, description="Cells (15 digits) left as they are"
    )
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class JobRead(BaseModel):
    """A rebalancing job: its state, the stages it has ended, the draft or the error."""

    id: str
    state: str = Field(description="queued, running, done, failed or cancelled")
    area: str
    parameters: dict[str, Any]
    stages: list[str] = Field(description="Stages ended, in order")
    stages_all: list[str] = Field(description="Every stage, in order")
    plan_id: int | None = Field(description="The draft saved (when done)")
    summary: dict[str, Any] | None = Field(description="Cells, within the band, moved, table")
    error: str | None = Field(description="Why it failed, in words")
    created_at: datetime
    finished_at: datetime | None


JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _jobs_of(state: Any) -> DraftJobs:
    jobs: DraftJobs = state.plan_jobs
    return jobs


@router.post(
    "/plans/drafts", response_model=JobRead, status_code=202, responses=responses(409, 422, 503)
)
def start_draft(
    body: DraftCreate,
    request: Request,
    tasks: BackgroundTasks,
    session: SessionDep,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.prepare)))],
) -> Any:
    """Rebalance a township or village into a draft, as a background job (202 and its id).

    Poll ``GET /plans/jobs/{id}`` for the stages (blocks derived, balanced, saved), the
    draft's plan id or the error; ``DELETE`` it to cancel. One job runs at a time per
    server: another is refused (503, Retry-After) until it ends.
    """
    rebalancing.check_request(body.area, body.target, body.tolerance, body.locked)
    if session.scalar(select(Area.id).where(Area.code == body.area)) is None:
        raise InvalidInput(f"there is no township or village {body.area}")
    job = _jobs_of(request.app.state).submit(
        owner=principal.user_id, area=body.area, parameters=body.model_dump(exclude={"area"})
    )
    tasks.add_task(_draft_in_background, request.app.state, job.id, body, principal.username)
    return job.read()


def _draft_in_background(state: Any, job_id: str, body: DraftCreate, username: str) -> None:
    def work(
        progress: Callable[[Stage], None], cancelled: Callable[[], bool]
    ) -> tuple[int | None, dict[str, Any]]:
        name = body.name or f"{body.area} ±{body.tolerance:.0%} / {body.target:g}"
        note = (
            f"rebalanced {body.area} in the studio by {username}: target {body.target:g}, "
            f"tolerance {body.tolerance:g}, locked {len(body.locked)}"
        )
        with state.jobs_sessionmaker.begin() as session:
            run = rebalancing.rebalance_area(
                session, area=body.area, target=body.target, tolerance=body.tolerance,
                locked=body.locked, seed=body.seed, draft=name, note=note,
                progress=progress, cancelled=cancelled,
            )  # fmt: skip
        return run.plan_id, rebalancing.summary(run, body.tolerance)

    _jobs_of(state).run(job_id, work)


@router.get("/plans/jobs/{job_id}", response_model=JobRead)
def read_job(
    job_id: JobId,
    request: Request,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.prepare)))],
) -> Any:
    """A rebalancing job of this server (planners work city-wide: any planner's job)."""
    return _jobs_of(request.app.state).get(job_id).read()


@router.delete("/plans/jobs/{job_id}", response_model=JobRead, responses=responses(409))
def cancel_job(
    job_id: JobId,
    request: Request,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.prepare)))],
) -> Any:
    """Cancel a job: a queued one at once, a running one before its next stage (nothing saved).

    A finished job is 409.
    """
    job: Job = _jobs_of(request.app.state).cancel(job_id)
    return job.read()


@router.get("/plans/{plan_id}", response_model=PlanRead)
def read_plan(plan_id: PlanId, session: SessionDep, principal: PrincipalDep) -> Any:
    """One plan."""
    rows = service.plan_rows(session, plan_id)
    if not rows:
        raise NotFound(f"there is no plan {plan_id}")
    return rows[0]


@router.get("/plans/{plan_id}/impact", responses=responses(409, 429, 503))
def plan_impact(
    plan_id: PlanId,
    request: Request,
    session: SessionDep,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.compare)))],
    against: Annotated[RowId | None, Query(description="Default: in force")] = None,
    area: Annotated[str, Query(pattern=r"^(\d{6}(\d{3}){0,2})?$")] = "",
) -> dict[str, Any]:
    """What changes if this plan replaces ``against`` (by default the plan in force).

    Cells added, removed and changed with their loads, households and people moved, grid
    workers' caseloads, how many open incidents change cell, and how many households due
    for a visit move to another cell (per pair of cells). Counts only: no household,
    person or incident is named. A county dispatcher sees their own county.

    A report is kept a few minutes (``computed_at`` says when it was made); a user computes
    one at a time (429) and the server a few at once (503), both with Retry-After.
    """
    area = plan_area(principal, area)
    if against is None:
        active = session.scalar(select(Plan.id).where(Plan.status == "active"))
        if active is None:
            raise NotFound("no plan is in force to compare with")
        against = active

    def compute() -> dict[str, Any]:
        report = drafts.impact(session, against, plan_id, area)
        return report | {"open_incidents_moving": len(report["open_incidents_moving"])}

    reports: ImpactReports = request.app.state.plan_impacts
    return reports.report(session, principal, (against, plan_id, area), compute)


@router.post(
    "/plans/{plan_id}/prepare", response_model=PlanRead, status_code=202, responses=responses(409)
)
def prepare_plan(
    plan_id: PlanId,
    request: Request,
    tasks: BackgroundTasks,
    session: SessionDep,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.prepare)))],
) -> Any:
    """Prepare a draft for a fast activation, in the background (202; see ``prepared_at``).

    Stores the moves the draft would make against the plan in force and saves its
    assignment index; the registry is not locked. Preparing again replaces the moves.
    """
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"there is no plan {plan_id}")
    if plan.status != PlanStatus.draft:
        raise Conflict(f"plan {plan_id} is {plan.status.value}: only a draft is prepared")
    checks.refuse_problems(session, plan_id)  # said now, not lost in the background task
    tasks.add_task(_prepare_in_background, request.app.state, plan_id)
    return service.plan_rows(session, plan_id)[0]


def _prepare_in_background(state: Any, plan_id: int) -> None:
    try:
        with state.jobs_sessionmaker.begin() as session:
            service.prepare(
                session=session, plan_id=plan_id, cache_dir=state.settings.data_dir / "index"
            )
    except GridmapError as exc:  # e.g. activated meanwhile: nothing to prepare any more
        log.warning("plan %s not prepared: %s", plan_id, exc)


@router.post("/plans/{plan_id}/activate", response_model=PlanRead, responses=responses(409))
def activate_plan(
    plan_id: PlanId,
    request: Request,
    tasks: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Actor, Depends(permitted(_may(PlanWork.publish)))],
) -> Any:
    """Put a plan in force (city admin only): the switch, seconds for a prepared draft.

    Writes to buildings, households and work units wait for the switch; reads go on. The
    registry then catches up in the background in short transactions (moved rows, then
    houses and people): follow it at ``GET /plans/{id}/publication``. A draft not
    prepared (or prepared against another plan in force) is prepared inside the switch:
    about a minute at city scale. 409 while the plan in force is still being caught up.
    """
    service.activate(session=session, plan_id=plan_id, cache_dir=settings.data_dir / "index")
    session.flush()
    # after the commit (background tasks run once the response is sent): the catch-up
    tasks.add_task(service.follow, request.app.state.jobs_sessionmaker, plan_id)
    return service.plan_rows(session, plan_id)[0]


# -- hand edits of a draft in the studio (gridmap/plans/edits.py) -------------------------------

Editor = Annotated[Actor, Depends(permitted(_may(PlanWork.prepare)))]


def _coloured(answer: dict[str, Any], catalogue: Any) -> dict[str, Any]:
    """Each cell's fill as the plan_cells layer draws it (layers/plans.py), for the page."""
    layer = catalogue.get("plan_cells")
    for row in answer["cells"]:
        row["_color"] = layer.style.color_of(row["deviation"]) if layer is not None else None
    return answer


class BlockMove(BaseModel):
    """Move one block of a draft to a neighbouring cell of the same village."""

    block: str = Field(pattern=r"^[a-z]\d{1,22}$", description="A block id, e.g. b1234")
    to_cell: str = Field(pattern=CELL_PATTERN.pattern, description="The cell it joins (15 digits)")


class EditRead(BaseModel):
    """One edit of a draft: who, when, what; a move undone or dropped says so."""

    id: int
    kind: str = Field(description="move, lock or unlock")
    state: str = Field(description="done, undone (redo possible) or dropped")
    block: str | None
    from_cell: str | None = Field(description="The cell a block left (or the cell locked)")
    to_cell: str | None
    username: str
    created_at: datetime
    undone_at: datetime | None


@router.get("/plans/{plan_id}/blocks", responses=responses(409, 422))
def draft_blocks(
    plan_id: PlanId,
    session: SessionDep,
    principal: Editor,
    catalogue: CatalogueDep,
    area: Annotated[str, Query(pattern=r"^\d{9}(\d{3})?$", description="Township or village")],
) -> dict[str, Any]:
    """A draft's blocks in ``area`` (GeoJSON: block, cell, households) and its cells' figures.

    Also the draft's target, tolerance and locked cells, and whether undo and redo are
    possible. A draft without stored blocks (made from a file) gets them now.
    """
    return _coloured(edits.draft_state(session, plan_id, area), catalogue)


@router.post("/plans/{plan_id}/edits", responses=responses(409, 422))
def move_block(
    plan_id: PlanId,
    body: BlockMove,
    session: SessionDep,
    principal: Editor,
    catalogue: CatalogueDep,
) -> Any:
    """Move a block to a neighbouring cell of its village; the two cells re-checked.

    Answers both cells with their households, deviation, contiguity, nesting, outline and
    problems (a move that breaks a rule is made and named: the draft then cannot be
    published until it is fixed). Refused: not a draft, being published, a locked cell, a
    cell of another village or not touching the block, the last block of a cell.
    """
    answer = edits.move_block(
        session, plan_id=plan_id, block=body.block, to_cell=body.to_cell, user=principal
    )
    return _coloured(answer, catalogue)


@router.post("/plans/{plan_id}/edits/undo", responses=responses(409))
def undo_edit(
    plan_id: PlanId, session: SessionDep, principal: Editor, catalogue: CatalogueDep
) -> Any:
    """Take back the last move (409 when none is left); the two cells as they were."""
    return _coloured(edits.undo(session, plan_id=plan_id, user=principal), catalogue)


@router.post("/plans/{plan_id}/edits/redo", responses=responses(409))
def redo_edit(
    plan_id: PlanId, session: SessionDep, principal: Editor, catalogue: CatalogueDep
) -> Any:
    """Make again the last move undone (409 when none is, or a new move dropped it)."""
    return _coloured(edits.redo(session, plan_id=plan_id, user=principal), catalogue)


@router.get("/plans/{plan_id}/edits", response_model=list[EditRead])
def list_edits(plan_id: PlanId, session: SessionDep, principal: Editor) -> Any:
    """Every edit of a draft, oldest first, with who made it and when."""
    return edits.edit_log(session, plan_id)


@router.get("/plans/{plan_id}/problems", responses=responses(409))
def draft_problems(plan_id: PlanId, session: SessionDep, principal: Editor) -> Any:
    """Every cell of the draft that breaks a rule, and why (``blocking``: stops publishing)."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"there is no plan {plan_id}")
    return [p.read() for p in checks.draft_problems(session, plan_id)]


@router.put("/plans/{plan_id}/locks/{cell}", responses=responses(409))
def lock_cell(plan_id: PlanId, cell: CellCode, session: SessionDep, principal: Editor) -> Any:
    """Lock a cell of the draft: no block moves in or out; a rerun keeps it."""
    return edits.set_lock(session, plan_id=plan_id, cell=cell, locked=True, user=principal)


@router.delete("/plans/{plan_id}/locks/{cell}", responses=responses(409))
def unlock_cell(plan_id: PlanId, cell: CellCode, session: SessionDep, principal: Editor) -> Any:
    """Unlock a cell of the draft."""
    return edits.set_lock(session, plan_id=plan_id, cell=cell, locked=False, user=principal)


class TableProgress(BaseModel):
    """One registry table's catch-up: ids to do and done, and rows updated.

    For houses and people the ids are those of the moved buildings and households.
    """

    todo: int
    done: int
    rows: int
    seconds: float | None = Field(None, description="Time spent on this table so far")


class PublicationRead(BaseModel):
    """How far a plan's publication is: prepare → switch → follow → done."""

    plan_id: int
    status: str
    stage: str = Field(description="draft, prepared, follow (catching up) or done")
    prepared_at: datetime | None = None
    prepared: bool | None = Field(None, description="The switch used the preparation")
    rechecked: int | None = Field(None, description="Items edited since, assigned again")
    switched_at: datetime | None = None
    follow_started_at: datetime | None = None
    progress_at: datetime | None = None
    finished_at: datetime | None = None
    outside: int | None = Field(None, description="Items moved outside every cell")
    tables: dict[str, TableProgress] = Field(default_factory=dict)


@router.get("/plans/{plan_id}/publication", response_model=PublicationRead)
def plan_publication(plan_id: PlanId, session: SessionDep, principal: PrincipalDep) -> Any:
    """A plan's publication: its stage and, while the registry catches up, counts per table."""
    return service.publication(session, plan_id)
