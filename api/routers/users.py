"""User administration for city administrators: create, list, change, disable, reset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.deps import ClientDep, Principal, SessionDep, SignInGuardDep, permitted
from api.params import AreaQuery
from api.problems import responses
from gridmap.areas.codes import CODE_PATTERN
from gridmap.auth import service
from gridmap.auth.models import Role, User
from gridmap.errors import Conflict
from gridmap.scope import require_users

router = APIRouter(prefix="/users", tags=["users"], responses=responses(401, 403))
AdminDep = Annotated[Principal, Depends(permitted(require_users))]
USERNAME_PATTERN = service.USERNAME.pattern
AREA_OR_BLANK = f"^({CODE_PATTERN.pattern.strip('^$')})?$"  # an area code, or "": the default
PASSWORD_HELP = (
    "≥ 10 characters mixing letters with digits or symbols, no character four times in a "
    "row, not a common password, not containing the username"
)


class UserCreate(BaseModel):
    """A new account."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(
        min_length=1,
        max_length=128,
        description=PASSWORD_HELP,
        json_schema_extra=service.PASSWORD_SCHEMA,
    )
    role: Role
    area_code: str = Field(
        default="",
        max_length=15,
        pattern=AREA_OR_BLANK,
        description="Defaults to the department's",
    )
    full_name: str = Field(default="", max_length=100)
    department: str | None = Field(default=None, max_length=40, description="Unit code")


class UserUpdate(BaseModel):
    """Changes to an account; any field left out stays as it is."""

    role: Role | None = None
    area_code: str | None = Field(default=None, max_length=15, pattern=AREA_OR_BLANK)
    department: str | None = Field(default=None, max_length=40)
    full_name: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class PasswordReset(BaseModel):
    """A new password for an account."""

    password: str = Field(
        min_length=1,
        max_length=128,
        description=PASSWORD_HELP,
        json_schema_extra=service.PASSWORD_SCHEMA,
    )


class UserRead(BaseModel):
    """An account as administrators see it (never the password hash)."""

    id: int
    username: str
    full_name: str
    role: Role
    area_code: str
    department: str | None
    is_active: bool
    created_at: datetime
    password_changed_at: datetime | None


def _read(session: Any, user: User) -> UserRead:
    return UserRead(
        id=user.id, username=user.username, full_name=user.full_name, role=user.role,
        area_code=user.area_code, department=service.department_code(session, user),
        is_active=user.is_active, created_at=user.created_at,
        password_changed_at=user.password_changed_at,
    )  # fmt: skip


@router.post("", response_model=UserRead, status_code=201, responses=responses(409))
def create(data: UserCreate, session: SessionDep, admin: AdminDep) -> UserRead:
    """Create an account in the administrator's area (password policy applies)."""
    department_id = service.department_id_of(session, data.department)
    if data.area_code:
        admin.require_area(data.area_code)
    user = service.create_user(
        session=session,
        username=data.username,
        password=data.password,
        role=data.role,
        area_code=data.area_code,
        full_name=data.full_name,
        department_id=department_id,
    )
    admin.require_area(user.area_code)
    return _read(session, user)


@router.get("", response_model=list[UserRead])
def list_users(
    session: SessionDep,
    admin: AdminDep,
    role: Role | None = None,
    active: bool | None = None,
    area: AreaQuery = None,
) -> list[UserRead]:
    """Accounts in the administrator's area, filtered by role, state or area."""
    within = area if area and admin.covers(area) else admin.area_code
    return [
        _read(session, u)
        for u in service.list_users(session, within=within, role=role, active=active)
    ]


@router.get("/{username}", response_model=UserRead, responses=responses(404))
def read(username: str, session: SessionDep, admin: AdminDep) -> UserRead:
    """One account."""
    return _read(session, service.get_user(session, username, within=admin.area_code))


@router.patch("/{username}", response_model=UserRead, responses=responses(404, 409))
def update(username: str, data: UserUpdate, session: SessionDep, admin: AdminDep) -> UserRead:
    """Change role, area, department, name, or disable/enable; the user's tokens stop working."""
    user = service.get_user(session, username, within=admin.area_code)
    if data.area_code:
        admin.require_area(data.area_code)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "department" in changes:
        changes["department_id"] = service.department_id_of(session, changes.pop("department"))
    if user.id == admin.user_id and (changes.get("is_active") is False or "role" in changes):
        raise Conflict("you cannot disable yourself or change your own role")
    return _read(session, service.update_user(session, user, **changes))


@router.post("/{username}/password", response_model=UserRead, responses=responses(404))
def reset_password(
    username: str, data: PasswordReset, session: SessionDep, admin: AdminDep
) -> UserRead:
    """Set a new password (policy-checked); every token issued before stops working."""
    user = service.get_user(session, username, within=admin.area_code)
    return _read(session, service.reset_password(session, user, data.password))


class Unlocked(BaseModel):
    """What an unlock did."""

    username: str
    addresses: int = Field(description="Addresses whose failed sign-ins were forgotten")


@router.post("/{username}/unlock", response_model=Unlocked, responses=responses(404))
def unlock(
    username: str, request: Request, admin: AdminDep, guard: SignInGuardDep, client: ClientDep
) -> Unlocked:
    """Let an account sign in again at once: its lock and every address's delay are lifted.

    For an owner locked out by someone guessing from many addresses (audited).
    """
    forgotten = service.unlock_sign_in(
        request.app.state.audit_sessionmaker, guard, username, actor=admin,
        within=admin.area_code, client_ip=client,
    )  # fmt: skip
    return Unlocked(username=username, addresses=forgotten)
