"""The dispatcher's workbench (issue 26): bulk actions, saved filters, preferences, labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from api.deps import CalendarDep, OptionalPrincipalDep, PrincipalDep, SessionDep
from api.filters import IncidentQuery, check_query, filters_of
from api.problems import responses
from gridmap import i18n
from gridmap.auth import preferences
from gridmap.auth.preferences import Lang
from gridmap.db.ids import RowId
from gridmap.incidents import bulk, saved
from gridmap.incidents.models import IncidentStatus, SavedFilter
from gridmap.incidents.schemas import ActionParams
from gridmap.incidents.workflow import Action
from gridmap.units.models import RoutingRule

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


@router.post("/incidents/bulk", response_model=BulkOut, responses=responses(403, 404, 409, 422))
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


# -- saved filters and preferences ------------------------------------------------------------


class SavedFilterIn(BaseModel):
    """A filter to keep: its name, the query string of GET /incidents, shared, default."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    query: str = Field(max_length=2000, description="e.g. status=reported&queue=mine")
    shared: bool = Field(default=False, description="with my centre (or my unit)")
    default: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a name needs a visible character")
        return v.strip()

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        return check_query(v)


class SavedFilterRead(BaseModel):
    """A saved filter, mine or shared with my centre."""

    id: int
    name: str
    query: str
    shared: bool
    default: bool
    owner: str


def _read(row: SavedFilter, owner: str) -> SavedFilterRead:
    return SavedFilterRead(id=row.id, name=row.name, query=row.query, shared=row.shared,
                           default=row.is_default, owner=owner)  # fmt: skip


@router.get("/me/filters", response_model=list[SavedFilterRead])
def my_filters(session: SessionDep, principal: PrincipalDep) -> list[SavedFilterRead]:
    """My saved filters, then those shared with my centre (or unit)."""
    return [_read(row, owner) for row, owner in saved.listed(session, principal)]


@router.post(
    "/me/filters",
    response_model=SavedFilterRead,
    status_code=201,
    responses=responses(403, 404, 409, 422),
)
def add_filter(
    data: SavedFilterIn, session: SessionDep, principal: PrincipalDep
) -> SavedFilterRead:
    """Save a filter (its query is checked by the rules of GET /incidents)."""
    row = saved.save(session=session, actor=principal, name=data.name, query=data.query,
                     shared=data.shared, default=data.default)  # fmt: skip
    return _read(row, principal.username)


FilterId = Annotated[RowId, PathParam()]


@router.put(
    "/me/filters/{filter_id}",
    response_model=SavedFilterRead,
    responses=responses(403, 404, 409, 422),
)
def replace_filter(
    filter_id: FilterId, data: SavedFilterIn, session: SessionDep, principal: PrincipalDep
) -> SavedFilterRead:
    """Change one of my saved filters (a filter shared with me: 403)."""
    row = saved.save(session=session, actor=principal, name=data.name, query=data.query,
                     shared=data.shared, default=data.default, filter_id=filter_id)  # fmt: skip
    return _read(row, principal.username)


@router.delete("/me/filters/{filter_id}", status_code=204, responses=responses(403, 404))
def delete_filter(filter_id: FilterId, session: SessionDep, principal: PrincipalDep) -> Response:
    """Delete one of my saved filters."""
    saved.delete(session, principal, filter_id)
    return Response(status_code=204)


class PreferencesIo(BaseModel):
    """My settings of the pages."""

    model_config = ConfigDict(extra="forbid")

    lang: Lang


@router.get("/me/preferences", response_model=PreferencesIo)
def my_preferences(session: SessionDep, principal: PrincipalDep) -> PreferencesIo:
    """My language (``zh`` until I choose)."""
    return PreferencesIo(lang=cast(Lang, preferences.language(session, principal)))


@router.put("/me/preferences", response_model=PreferencesIo, responses=responses(422))
def set_preferences(
    data: PreferencesIo, session: SessionDep, principal: PrincipalDep
) -> PreferencesIo:
    """Keep my language, for every page and device I sign in on."""
    preferences.set_language(session, principal, data.lang)
    return data


# -- the label catalogue ----------------------------------------------------------------------


class Labels(BaseModel):
    """Every code a page shows, in words (gridmap/i18n.py; categories from routing rules)."""

    lang: i18n.Lang
    status: dict[str, str]
    action: dict[str, str] = Field(description="What a button says")
    event: dict[str, str] = Field(description="What a history entry says happened")
    channel: dict[str, str]
    category: dict[str, str]
    flag: dict[str, str]
    reminder: dict[str, str]
    level: dict[str, str]
    outcome: dict[str, str]
    ui: dict[str, str] = Field(description="The pages' own strings")


@router.get("/labels", response_model=Labels, responses=responses(422))
def labels(
    session: SessionDep,
    principal: OptionalPrincipalDep,
    lang: Annotated[
        i18n.Lang | None, Query(description="zh or en; by default the user's own choice")
    ] = None,
) -> Labels:
    """The one label catalogue, so no raw code reaches a page.

    Public (the sign-in form needs it too); signed in, ``lang`` defaults to the user's
    preference.
    """
    chosen = lang or (
        cast(i18n.Lang, preferences.language(session, principal)) if principal else "zh"
    )
    name = RoutingRule.name_en if chosen == "en" else RoutingRule.name
    categories = dict(
        session.execute(select(RoutingRule.category, func.coalesce(name, RoutingRule.name))).all()
    )
    return Labels(lang=chosen, **i18n.catalogue(chosen, categories))
