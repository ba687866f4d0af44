"""The organisation: governance centres as a tree with their 六有 and windows; categories."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import PrincipalDep, SessionDep
from api.params import AreaQuery
from api.problems import responses
from gridmap.units.categories import category_list
from gridmap.units.organisation import centre_list, centre_view

router = APIRouter(tags=["organisation"], responses=responses(401))


class Window(BaseModel):
    """A department's window stationed in the centre's hall: reports taken there go to it."""

    unit_code: str
    name: str
    type: str
    label: str


class Profile(BaseModel):
    """六有: staff, premises, duties, rules, funding, platform (null: not on file)."""

    staff: int | None
    premises_m2: int | None
    duties: str | None
    rules: str | None
    funding_yuan: int | None
    platform: str | None


class Centre(BaseModel):
    """A governance centre: its place in the tree, its level's duty, profile and windows."""

    code: str
    name: str
    level: str
    area_code: str
    phone: str | None
    duty: str
    duty_en: str
    parent_code: str | None
    children: list[str]
    profile: Profile
    profile_missing: list[str]
    windows: list[Window]


class CentreItem(BaseModel):
    """A centre in the list: where it sits and how many windows it hosts."""

    code: str
    name: str
    level: str
    area_code: str
    parent_code: str | None
    windows: int


class Category(BaseModel):
    """An incident category: how it is routed and its limits in working days."""

    code: str
    name: str
    name_en: str
    is_dispute: bool
    mode: str
    department_type: str | None
    territorial_level: str | None
    sign_days: int
    resolve_days: int


class CategoryGroupRead(BaseModel):
    """A group of categories (纠纷化解, 信访诉求, 投诉举报 …)."""

    code: str
    name: str
    name_en: str
    categories: list[Category]


@router.get("/centres", response_model=list[CentreItem])
def list_centres(
    session: SessionDep,
    principal: PrincipalDep,
    under: AreaQuery = None,
) -> list[dict[str, Any]]:
    """The centres in an area and the centres above it, parents first.

    The organisation is public information: any signed-in user may read it, for any area.
    """
    return centre_list(session, under or principal.area_code)


@router.get("/centres/{code}", response_model=Centre, responses=responses(404))
def read_centre(
    code: Annotated[str, Path(max_length=40)], session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One centre with its duty, parent, children, 六有 profile and stationed windows."""
    return centre_view(session, code)


@router.get("/categories", response_model=list[CategoryGroupRead])
def list_categories(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every incident category, grouped, with its routing mode and time limits."""
    return category_list(session)
