"""A user's own settings of the pages: the language (zh-CN or English)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridmap.auth.models import User
from gridmap.scope import Actor

Lang = Literal["zh", "en"]


def language(session: Session, actor: Actor) -> str:
    """The language the user chose (``zh`` until they choose)."""
    return session.scalar(select(User.lang).where(User.id == actor.user_id)) or "zh"


def set_language(session: Session, actor: Actor, lang: Lang) -> None:
    """Keep the user's choice of language."""
    session.execute(update(User).where(User.id == actor.user_id).values(lang=lang))
