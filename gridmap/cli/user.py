"""``gridmap user …``: user accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gridmap.auth.models import Role
from gridmap.cli.common import (
    console,
    database,
    friendly_errors,
    load_settings,
    operator,
    transaction,
)
from gridmap.models import make_sessionmaker

user_app = typer.Typer(help="User accounts.")


@user_app.command("create")
@friendly_errors
def user_create(
    username: str,
    role: Annotated[Role, typer.Option(help="Role")],
    area: Annotated[
        str,
        typer.Option(
            help="Area code the user works in (e.g. 350503001); a department "
            "handler's defaults to the department's"
        ),
    ] = "",
    department: Annotated[
        str | None, typer.Option(help="Unit code of a department handler's department")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="≥ 10 characters, letters with digits or symbols",
        ),
    ] = "",
    full_name: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a user account."""
    from gridmap.auth.service import create_user, department_id_of

    with transaction() as session:
        user = create_user(
            session=session,
            username=username,
            password=password,
            role=role,
            area_code=area,
            full_name=full_name,
            department_id=department_id_of(session, department),
        )
        console.print(
            f"created user {user.username} (id {user.id}, {role.value}, area {user.area_code})"
        )


@user_app.command("list")
@friendly_errors
def user_list(
    role: Annotated[Role | None, typer.Option(help="Only this role")] = None,
    area: Annotated[str | None, typer.Option(help="Only users in this area")] = None,
    inactive: Annotated[bool, typer.Option(help="Only disabled accounts")] = False,
) -> None:
    """List user accounts."""
    from rich.table import Table

    from gridmap.auth.service import department_code, list_users

    with transaction() as session:
        users = list_users(session, within=area, role=role, active=False if inactive else None)
        table = Table(title=f"{len(users)} users")
        for col in ("username", "role", "area", "department", "active", "password changed"):
            table.add_column(col)
        for u in users:
            table.add_row(
                u.username, u.role.value, u.area_code, department_code(session, u) or "",
                "yes" if u.is_active else "[red]no[/red]",
                f"{u.password_changed_at:%Y-%m-%d}" if u.password_changed_at else "",
            )  # fmt: skip
        console.print(table)


@user_app.command("disable")
@friendly_errors
def user_disable(username: str) -> None:
    """Disable an account: it cannot sign in, and its tokens stop working at once."""
    _user_change(username, is_active=False)


@user_app.command("enable")
@friendly_errors
def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    _user_change(username, is_active=True)


@user_app.command("set")
@friendly_errors
def user_set(
    username: str,
    role: Annotated[Role | None, typer.Option(help="New role")] = None,
    area: Annotated[str | None, typer.Option(help="New area code")] = None,
    department: Annotated[str | None, typer.Option(help="New department (unit code)")] = None,
) -> None:
    """Change a user's role, area or department (their tokens stop working)."""
    from gridmap.auth.service import KEEP, department_id_of

    with transaction() as session:
        dept = department_id_of(session, department) if department else KEEP
    _user_change(username, role=role, area_code=area, department_id=dept)


@user_app.command("reset-password")
@friendly_errors
def user_reset_password(
    username: str,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Set a new password (the policy applies); the user's tokens stop working."""
    from gridmap.auth.service import get_user, reset_password

    with transaction() as session:
        reset_password(session, get_user(session, username), password)
    console.print(f"password of {username} reset; sessions signed in before are signed out")


@user_app.command("unlock")
@friendly_errors
def user_unlock(username: str) -> None:
    """Let an account sign in again at once, after failed sign-ins locked or delayed it."""
    from gridmap.auth.lockout import SignInGuard, SignInPolicy
    from gridmap.auth.service import unlock_sign_in

    settings = load_settings()
    with database(settings) as engine:  # the guard's counters live beside the user's session
        guard = SignInGuard(engine, SignInPolicy.from_settings(settings))
        n = unlock_sign_in(make_sessionmaker(engine), guard, username, actor=None,
                           detail=operator())  # fmt: skip
    console.print(f"{username} unlocked (failed sign-ins from {n} addresses forgotten)")


def _user_change(username: str, **changes: Any) -> None:
    from gridmap.auth.service import get_user, update_user

    with transaction() as session:
        user = update_user(session, get_user(session, username), **changes)
        state = "active" if user.is_active else "disabled"
        console.print(f"{user.username}: {user.role.value}, area {user.area_code}, {state}")
