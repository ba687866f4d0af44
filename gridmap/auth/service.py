"""User accounts: create, authenticate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.models import Role, User
from gridmap.auth.security import hash_password, verify_password
from gridmap.errors import Conflict, InvalidInput, NotAuthenticated

# A fixed hash checked when the user does not exist, so a wrong username takes as long as a
# wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = hash_password("gridmap-timing-equaliser")

# Roles whose scope is a department rather than only an area.
DEPARTMENT_ROLES = {Role.department_handler}


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    area_code: str,
    full_name: str = "",
    department_id: int | None = None,
) -> User:
    """Create a user; the caller commits."""
    if len(password) < 8:
        raise InvalidInput("the password must have at least 8 characters")
    if role in DEPARTMENT_ROLES and department_id is None:
        raise InvalidInput(f"a {role.value} must belong to a department: give department_id")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        area_code=area_code,
        full_name=full_name,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User:
    """The active user with these credentials, or NotAuthenticated."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
    elif user.is_active and verify_password(user.password_hash, password):
        return user
    raise NotAuthenticated("wrong username or password")
