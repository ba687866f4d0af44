"""Sign in (OAuth2 password flow) and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.deps import (
    ClientDep,
    LimiterDep,
    PrincipalDep,
    RulesDep,
    SessionDep,
    SettingsDep,
    SignInGuardDep,
)
from api.problems import responses
from gridmap.areas.lookup import get_area
from gridmap.auth.models import Role
from gridmap.auth.security import create_token
from gridmap.auth.service import authenticate
from gridmap.errors import NotFound

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    """The signed-in user."""

    id: int
    username: str
    role: Role
    area_code: str
    area_name: str | None = Field(None, description="The area's name (zh), for the page header")
    area_name_en: str | None = None
    department_id: int | None
    plan_work: str = Field(
        description="What the role does with plans: none, compare, prepare, publish (scope table)"
    )


@router.post("/token", response_model=Token, responses=responses(401, 429))
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    rules: RulesDep,
    guard: SignInGuardDep,
    client: ClientDep,
) -> Token:
    """Exchange a username and password for a bearer token.

    Attempts are limited per client address. After repeated wrong passwords for an account
    from one address, that address waits (1, 2, 4 … minutes); only wrong passwords from
    many addresses lock the account for everyone (429 with Retry-After; an administrator
    can unlock it).
    """
    user = authenticate(
        session=session,
        username=form.username[:100],
        password=form.password[:200],
        limiter=limiter,
        rules=rules,
        guard=guard,
        client=client,
    )
    token = create_token(
        secret=settings.secret_key.get_secret_value(),
        user_id=user.id,
        username=user.username,
        role=user.role,
        area_code=user.area_code,
        minutes=settings.token_minutes,
        version=user.token_version,
    )
    return Token(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=Me, responses=responses(401))
def me(principal: PrincipalDep, session: SessionDep) -> Me:
    """Who the bearer token belongs to, with role and area (code and name)."""
    try:
        area = get_area(session, principal.area_code, principal)
    except NotFound:  # an area no longer in the plan in force: the code still says which
        area = None
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        area_code=principal.area_code,
        area_name=area.name if area is not None else None,
        area_name_en=area.name_en if area is not None else None,
        department_id=principal.department_id,
        plan_work=principal.policy.plans.name,
    )
