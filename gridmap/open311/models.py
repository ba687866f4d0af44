"""A registered Open311 client: an app or a partner system that posts citizens' reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.db.base import Base, created_at_column


class ApiClient(Base):
    """One ``api_key`` holder. Only the key's SHA-256 is stored; the key is shown once."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    contact: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
