"""Users, roles and the audit log."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.base import Base, created_at_column


class Role(enum.StrEnum):
    """What a user does; their ``area_code`` says where."""

    city_admin = "city_admin"
    county_dispatcher = "county_dispatcher"
    township_dispatcher = "township_dispatcher"
    village_worker = "village_worker"
    grid_worker = "grid_worker"
    department_handler = "department_handler"
    mediator = "mediator"  # 调解员: works the incidents the centre they are attached to holds
    planner = "planner"
    analyst = "analyst"


class User(Base):
    """A person who signs in. Sees and acts only within ``area_code`` (and ``department``)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="role", values_callable=lambda e: [m.value for m in e])
    )
    area_code: Mapped[str] = mapped_column(String(15))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # bumped when the password is reset, the role or area changes or the account is
    # disabled: tokens carry it, so every token issued before stops working at once
    token_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the language of the pages (zh, en), chosen on screen and kept per user
    lang: Mapped[str] = mapped_column(String(2), default="zh", server_default="zh")
    created_at: Mapped[datetime] = created_at_column()


class RateLimitCounter(Base):
    """A rate-limit window (gridmap.ratelimit): shared by every worker process.

    UNLOGGED: counters need not survive a database crash, and skipping the WAL keeps a
    check to one fast round trip.
    """

    __tablename__ = "rate_limit"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInFailure(Base):
    """Failed sign-ins to one account from one client address (gridmap/auth/lockout.py).

    Per (account, address), so one address guessing a password delays only itself;
    failures from many addresses lock the account. UNLOGGED, like the rate-limit counters.
    A row goes at a successful sign-in from its address, at an administrator's unlock, and
    a day after its last failure.
    """

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_account_last_at", "account", "last_at"),
        {"prefixes": ["UNLOGGED"]},
    )

    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    address: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Who read or changed what; append-only (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)  # why (required to read unmasked data)
    client_ip: Mapped[str | None] = mapped_column(INET)
