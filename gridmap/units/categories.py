"""Incident categories as data: each routing rule with its group, mode and time limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.units.models import CategoryGroup, RoutingRule


def category_list(session: Session) -> list[dict[str, Any]]:
    """The groups in display order, each with its categories (by code)."""
    groups = session.scalars(select(CategoryGroup).order_by(CategoryGroup.position)).all()
    rules = session.scalars(select(RoutingRule).order_by(RoutingRule.category)).all()
    members: dict[str, list[dict[str, Any]]] = {g.code: [] for g in groups}
    for r in rules:
        members[r.group_code].append({
            "code": r.category, "name": r.name, "name_en": r.name_en, "is_dispute": r.is_dispute,
            "mode": r.mode.value, "department_type": r.department_type,
            "territorial_level": r.territorial_level.value if r.territorial_level else None,
            "sign_days": r.sign_days, "resolve_days": r.resolve_days,
        })  # fmt: skip
    return [
        {"code": g.code, "name": g.name, "name_en": g.name_en, "categories": members[g.code]}
        for g in groups
    ]


def category_codes(session: Session) -> dict[str, str]:
    """Every way a category is written, to its code.

    Its code, its zh-CN name and its English name (in any case): what an imported file or a
    form may carry (12345 exports write 邻里纠纷, not ``neighbour``).
    """
    codes: dict[str, str] = {}
    for code, name, name_en in session.execute(
        select(RoutingRule.category, RoutingRule.name, RoutingRule.name_en)
    ):
        codes |= {code: code, name: code, name_en.casefold(): code}
    return codes


def category_code(codes: dict[str, str], written: str) -> str:
    """The code of the category ``written`` (its code, Chinese or English name).

    Unknown text is returned as it is, for the one check of the intake to refuse it with
    the known ones.
    """
    text = written.strip()
    return codes.get(text) or codes.get(text.casefold()) or text
