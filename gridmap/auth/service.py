"""User accounts: create, list, change, disable, reset a password; sign in. Callers commit."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import JsonValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridmap import audit
from gridmap.areas import codes as area_codes
from gridmap.areas.models import Area
from gridmap.auth.lockout import SignInGuard
from gridmap.auth.models import Role, User
from gridmap.auth.security import hash_password, verify_password
from gridmap.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from gridmap.ratelimit import RateLimiter, Rules
from gridmap.scope import POLICIES, Actor
from gridmap.units.codes import CENTRE
from gridmap.units.models import Department

# A fixed hash checked when the user does not exist or is disabled, so every failed sign-in
# takes as long as a wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = hash_password("gridmap-timing-equaliser")

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,49}$")
MIN_PASSWORD = 10
# the passwords people try first; refused whatever the other rules say
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "passw0rd", "12345678", "123456789",
        "1234567890", "qwertyuiop", "1q2w3e4r5t", "iloveyou", "admin12345", "administrator",
        "welcome123", "abc123456", "a123456789", "woaini1314", "gridmap123", "changeme123",
    }
)  # fmt: skip


KEEP = object()  # update_user: leave the department as it is


PASSWORD_SCHEMA: dict[str, JsonValue] = {
    "minLength": MIN_PASSWORD,
    "maxLength": 128,
    # letters with digits or symbols: not all of one kind (the other rules are in words)
    "pattern": r"^(?![A-Za-z]*$)(?![0-9]*$)(?![^A-Za-z0-9]*$)[^\x00]*$",
}
"""What :func:`check_password` asks that a JSON Schema can state, for the OpenAPI document."""


def check_password(password: str, username: str = "") -> None:
    """The password policy: ≥ 10 characters, letters and digits or symbols, not guessable.

    Raises
    ------
    InvalidInput
        Naming the rule the password breaks.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 128:
        raise InvalidInput("the password may have at most 128 characters")
    classes = sum(bool(re.search(p, password)) for p in (r"[A-Za-z]", r"\d", r"[^A-Za-z\d]"))
    if classes < 2:
        raise InvalidInput("the password must mix letters with digits or symbols")
    if re.search(r"(.)\1{3,}", password):
        raise InvalidInput("the password must not repeat one character four times in a row")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise InvalidInput("this password is among the most common ones: choose another")
    if username and len(username) >= 3 and username.lower() in lowered:
        raise InvalidInput("the password must not contain the username")


def _check_placement(
    session: Session, role: Role, area_code: str, department_id: int | None
) -> None:
    """The area exists and suits the role; unit members belong to a unit.

    A department handler belongs to any unit, a mediator to a governance centre.
    """
    policy = POLICIES[role]
    if policy.unit and department_id is None:
        kind = "governance centre" if policy.centre_only else "department"
        raise InvalidInput(f"a {role.value} must belong to a {kind}: give its unit code")
    if not area_codes.is_area_code(area_code):
        raise InvalidInput(f"{area_code!r} is not an area code (6, 9, 12 or 15 digits)")
    if session.scalar(select(Area.id).where(Area.code == area_code).limit(1)) is None:
        raise InvalidInput(f"there is no area {area_code}")
    wanted = POLICIES[role].level
    if wanted is not None and area_codes.level_of(area_code) != wanted:
        raise InvalidInput(
            f"a {role.value} works in a {wanted.value} area; {area_code} is a "
            f"{area_codes.level_of(area_code).value}"
        )
    if policy.unit:
        dept = session.get(Department, department_id)
        if dept is None:
            raise InvalidInput(f"there is no department {department_id}")
        if policy.centre_only and dept.type != CENTRE:
            raise InvalidInput(
                f"a {role.value} is attached to a governance centre (centre-…), not to {dept.code}"
            )
        if not area_codes.contains(area_code, dept.area_code) and not area_codes.contains(
            dept.area_code, area_code
        ):
            raise InvalidInput(
                f"department {dept.code} works in {dept.area_code}, not in {area_code}"
            )
    elif department_id is not None:
        raise InvalidInput(
            f"only a department handler or a mediator belongs to a unit, not a {role.value}"
        )


def department_id_of(session: Session, unit_code: str | None) -> int | None:
    """The id of the unit with ``unit_code`` (None stays None)."""
    if unit_code is None:
        return None
    found = session.scalar(select(Department.id).where(Department.code == unit_code))
    if found is None:
        raise InvalidInput(f"there is no unit {unit_code!r}")
    return found


def department_code(session: Session, user: User) -> str | None:
    """The unit code of the user's department (a department handler's), else None."""
    dept = session.get(Department, user.department_id) if user.department_id else None
    return dept.code if dept else None


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
    """Create a user after checking the name, the password policy, the area and the role."""
    if not USERNAME.match(username):
        raise InvalidInput(
            "a username is 2–50 characters: letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"a user named {username!r} already exists")
    check_password(password, username)
    if POLICIES[role].unit and department_id is not None and not area_code:
        dept = session.get(Department, department_id)
        area_code = dept.area_code if dept else ""
    _check_placement(session, role, area_code, department_id)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        area_code=area_code,
        full_name=full_name,
        department_id=department_id,
        password_changed_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str, *, within: str | None = None) -> User:
    """The user named ``username`` (in the area ``within``, if given), or NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or (within is not None and not area_codes.contains(within, user.area_code)):
        raise NotFound(f"there is no user {username!r}")
    return user


def list_users(
    session: Session,
    *,
    within: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> list[User]:
    """Users, optionally only those whose area lies in ``within``, of a role, active or not."""
    query = select(User).order_by(User.username)
    if within is not None:
        query = query.where(User.area_code.startswith(area_codes.prefix(within)))
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return list(session.scalars(query))


def update_user(
    session: Session,
    user: User,
    *,
    role: Role | None = None,
    area_code: str | None = None,
    department_id: int | object | None = KEEP,
    full_name: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user's role, area, department, name or state; old tokens stop working."""
    new_role = role or user.role
    new_area = area_code or user.area_code
    new_dept: int | None
    if department_id is KEEP:
        new_dept = user.department_id if POLICIES[new_role].unit else None
    else:
        new_dept = department_id  # type: ignore[assignment]
    if (new_role, new_area, new_dept) != (user.role, user.area_code, user.department_id):
        _check_placement(session, new_role, new_area, new_dept)
        user.role, user.area_code, user.department_id = new_role, new_area, new_dept
        user.token_version += 1
    if full_name is not None:
        user.full_name = full_name
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        user.token_version += 1
    session.flush()
    return user


def reset_password(session: Session, user: User, password: str) -> User:
    """Set a new password (policy-checked); every token issued before stops working."""
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    user.token_version += 1
    session.flush()
    return user


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    limiter: RateLimiter | None = None,
    rules: Rules | None = None,
    guard: SignInGuard | None = None,
    client: str = "unknown",
) -> User:
    """The active user with these credentials, or NotAuthenticated (429 when held back).

    Every failure — unknown user, disabled account, wrong password — costs one password
    hash and answers the same, so neither the answer nor its timing says which it was.
    Each client address has a limit of attempts (``limiter``); failures delay the address
    they came from on that account, and lock the account only when they come from many
    addresses (``guard``, gridmap/auth/lockout.py) — the right password from an address
    that is not held back gets in while another address guesses.
    """
    if limiter is not None and rules is not None:
        limiter.hit(rules.sign_in_client, client)
    if guard is not None:
        guard.check(username, client)
    user = session.scalar(select(User).where(User.username == username))
    matches = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and user.is_active and matches:
        if guard is not None:
            guard.succeeded(username, client)
        return user
    if guard is not None:
        guard.failed(username, client)
    raise NotAuthenticated("wrong username or password")


def unlock_sign_in(
    factory: sessionmaker[Session],
    guard: SignInGuard,
    username: str,
    *,
    actor: Actor | None,
    within: str | None = None,
    client_ip: str | None = None,
    detail: dict[str, object] | None = None,
) -> int:
    """Let an account sign in again at once: forget every failed sign-in on it.

    Lifts the lock and every address's delay. Audited first, in a transaction of its own
    (``factory``), then done on the guard's connection: an unlock is never unrecorded.
    Returns the number of addresses forgotten.
    """
    with factory.begin() as session:
        name = get_user(session, username, within=within).username
        audit.record(
            session, actor=actor, action="unlock_sign_in", object_type="user", object_id=name,
            detail=detail, client_ip=client_ip,
        )  # fmt: skip
    return guard.unlock(name)


def actor_of(session: Session, username: str) -> Actor:
    """The engine's view of an enabled user (for commands run on a user's behalf)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise NotFound(f"there is no enabled user {username!r}")
    return Actor(user.id, user.role, user.area_code, user.department_id, user.username)
