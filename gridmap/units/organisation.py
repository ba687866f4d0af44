"""The centres as an organisation: a four-level tree, each centre's 六有 and its windows.

City → county → township → village centres are ``department`` rows of type ``centre``
linked by ``parent_id`` (a police station's parent is its county bureau, a justice office's
the county justice bureau). What each level does is written once, in ``LEVEL_DUTIES``, as
the source assigns it: the city coordinates and supervises; the county command platform
dispatches to townships (属地) and departments (属事); the township handles and dispatches
to villages; the village handles what it can and reports the rest up.

A department may keep a window (窗口) in a centre's reception hall (进驻); a report taken at
that window goes straight to the department (:func:`window_unit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.errors import InvalidInput, NotFound
from gridmap.units.codes import CENTRE, centre_code, is_centre
from gridmap.units.models import CentreProfile, CentreWindow, Department, RoutingRule


@dataclass(frozen=True)
class Duty:
    """What the centre of one level does (zh, en)."""

    zh: str
    en: str


LEVEL_DUTIES = {
    AreaLevel.city: Duty(
        "统筹协调、督导考核：协调跨县重大事项，督办各级事项，考核各级中心",
        "Coordinates and supervises: cross-county matters, supervision of every level, "
        "assessment of the centres",
    ),
    AreaLevel.county: Duty(
        "指挥调度：受理各渠道事项，按属地原则分发乡镇、按属事原则分发部门，跟踪督办",
        "Command and dispatch: takes reports from every channel and dispatches them to "
        "townships (属地) and departments (属事), then follows and supervises",
    ),
    AreaLevel.township: Duty(
        "办理分流：受理辖区事项并组织化解，向村（社区）派单，吹哨召集部门",
        "Handles and dispatches: resolves what it holds, dispatches to villages, blows the "
        "whistle to summon departments",
    ),
    AreaLevel.village: Duty(
        "就地化解：网格巡查，能办的就地办结，办不了的及时上报",
        "Resolves on the spot: grid patrols, handles what it can and reports the rest up",
    ),
}

# the departments with a window in every county centre's reception hall, as the source
# lists them (人社、检察、住建、法院、公安、农业农村、自然资源、司法、信访)
COUNTY_WINDOWS = (
    "labour", "procuratorate", "housing", "court", "police", "agriculture",
    "natural_resources", "justice", "petition",
)  # fmt: skip

SIX_HAVES = ("staff", "premises_m2", "duties", "rules", "funding_yuan", "platform")


def centre_view(session: Session, code: str) -> dict[str, Any]:
    """One centre: its level's duty, parent and children, 六有 profile and windows."""
    centre = session.scalar(select(Department).where(Department.code == code))
    if centre is None or not is_centre(code):
        raise NotFound(f"no governance centre {code!r}: centre codes are centre-<area code>")
    parent = session.get(Department, centre.parent_id) if centre.parent_id else None
    children = session.scalars(
        select(Department.code).where(Department.parent_id == centre.id).order_by(Department.code)
    ).all()
    profile = session.get(CentreProfile, centre.id)
    host = aliased(Department)
    windows = session.execute(
        select(Department.code, Department.name, Department.type, CentreWindow.label)
        .join(CentreWindow, CentreWindow.department_id == Department.id)
        .join(host, host.id == CentreWindow.centre_id)
        .where(host.id == centre.id)
        .order_by(Department.type, Department.code)
    ).all()
    level = AreaLevel(centre.level)
    values = {k: getattr(profile, k) if profile else None for k in SIX_HAVES}
    return {
        "code": centre.code,
        "name": centre.name,
        "level": level.value,
        "area_code": centre.area_code,
        "phone": centre.phone,
        "duty": LEVEL_DUTIES[level].zh,
        "duty_en": LEVEL_DUTIES[level].en,
        "parent_code": parent.code if parent else None,
        "children": list(children),
        "profile": values,
        "profile_missing": [k for k, v in values.items() if v is None],
        "windows": [
            {"unit_code": c, "name": n, "type": t, "label": label} for c, n, t, label in windows
        ],
    }


def centre_list(session: Session, under: str) -> list[dict[str, Any]]:
    """The centres in area ``under`` (and the centres above it), parents before children."""
    if not area_codes.is_area_code(under):
        raise InvalidInput(f"{under!r} is not an area code: use 6, 9 or 12 digits, e.g. 350503")
    above = [centre_code(a) for a in area_codes.ancestors(under)]
    parent = aliased(Department)
    inside = Department.area_code.startswith(area_codes.prefix(under), autoescape=True)
    windows = (
        select(func.count())
        .where(CentreWindow.centre_id == Department.id)
        .correlate(Department)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Department.code, Department.name, Department.level, Department.area_code,
               parent.code, windows)
        .outerjoin(parent, parent.id == Department.parent_id)
        .where(Department.type == CENTRE, inside | Department.code.in_(above))
        .order_by(Department.level, Department.code)
    ).all()  # fmt: skip
    return [
        {"code": c, "name": n, "level": AreaLevel(lvl).value, "area_code": a, "parent_code": p,
         "windows": w}
        for c, n, lvl, a, p, w in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class WindowUnit:
    """The department a window report goes to."""

    id: int
    code: str
    centre_code: str


def window_unit(session: Session, centre: str, unit_code: str, category: str) -> WindowUnit:
    """The department behind the window ``unit_code`` in centre ``centre``, for ``category``.

    Refused when the centre hosts no such window, or when the category is not the
    department's matter (the report then goes through the centre's own desk).
    """
    hosted = session.execute(
        select(Department.id, Department.code, Department.type)
        .join(CentreWindow, CentreWindow.department_id == Department.id)
        .join(host := aliased(Department), host.id == CentreWindow.centre_id)
        .where(host.code == centre)
    ).all()
    by_code = {code: (i, kind) for i, code, kind in hosted}
    if unit_code not in by_code:
        known = ", ".join(sorted(by_code)) or "none"
        raise InvalidInput(
            f"{centre} has no window of {unit_code}: the windows stationed there are {known}"
        )
    unit_id, kind = by_code[unit_code]
    matter = session.scalar(select(RoutingRule.department_type).where(
        RoutingRule.category == category))  # fmt: skip
    if matter != kind:
        fitting = sorted(code for code, (_, k) in by_code.items() if k == matter)
        where = f"the {fitting[0]} window" if fitting else "the centre's own desk"
        raise InvalidInput(
            f"a {category} report is not a matter for {unit_code} ({kind}): take it at {where}"
        )
    return WindowUnit(unit_id, unit_code, centre)
