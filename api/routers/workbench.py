"""The dispatcher's workbench (issue 26): bulk actions, saved filters, preferences, labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, cast

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from api.deps import CalendarDep, PrincipalDep, SessionDep
from api.filters import IncidentQuery, filters_of
from api.problems import responses
from gridmap.incidents import bulk
from gridmap.incidents.models import IncidentStatus
from gridmap.incidents.schemas import ActionParams
from gridmap.incidents.workflow import Action

router = APIRouter(tags=["workbench"], responses=responses(401))


class BulkIn(BaseModel):
    """One workflow action on many incidents: by ``codes`` or by ``filter``, not both."""

    action: Action
    codes: list[str] | None = Field(default=None, max_length=bulk.MAX_BULK)
    filter: IncidentQuery | None = Field(  # type: ignore[valid-type]
        default=None, description="The query parameters of GET /incidents, as an object"
    )
    params: ActionParams = Field(default_factory=ActionParams)

    @model_validator(mode="after")
    def _one_selection(self) -> BulkIn:
        if (self.codes is None) == (self.filter is None):
            raise ValueError("give either codes or filter (one of them)")
        if self.codes is not None and any(len(c) > 30 for c in self.codes):
            raise ValueError("an incident code has at most 30 characters")
        return self


class BulkItem(BaseModel):
    """What happened to one incident."""

    code: str
    outcome: Literal["done", "refused"]
    status: IncidentStatus | None = Field(description="The new state, or the unchanged one")
    detail: str | None = Field(default=None, description="Why it was refused")


class BulkOut(BaseModel):
    """The answer of a bulk action, item by item."""

    done: int
    refused: int
    results: list[BulkItem]


@router.post("/incidents/bulk", response_model=BulkOut, responses=responses(403, 422))
def bulk_action(
    data: BulkIn, session: SessionDep, principal: PrincipalDep, calendar: CalendarDep
) -> Any:
    """Take one workflow action on up to 500 incidents, each on its own.

    Each incident goes through the same rules as ``POST /incidents/{code}/actions/{action}``
    (scope, state, role and unit, the action's own rules) in its own savepoint, with its
    own history entry; a refused one changes nothing. An incident outside your scope is
    refused as not found. ``params`` is the single action's body without ``version``: each
    incident acts at the version it has. ``filter`` takes the query parameters of
    ``GET /incidents``; more than 500 matching is 422.
    """
    now = datetime.now(UTC)
    if data.codes is not None:
        codes = data.codes
    else:
        filters = filters_of(cast(BaseModel, data.filter), principal)
        codes = bulk.matching_codes(session=session, actor=principal, now=now, filters=filters)
    results = bulk.act_on_many(
        session=session, action=data.action, codes=codes, params=data.params,
        actor=principal, calendar=calendar, now=now,
    )  # fmt: skip
    done = sum(r.outcome == "done" for r in results)
    return {"done": done, "refused": len(results) - done, "results": results}
