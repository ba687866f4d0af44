"""The services of the citizen port: one per routing-rule category, with its attributes.

``service_code`` is the category (``neighbour``), ``service_name`` its Chinese name, the
group from the routing rule. Every service has the same three optional attributes, each
mapped onto a field every channel's report already has (nothing is collected that intake
would then drop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.errors import InvalidInput, NotFound
from gridmap.locate import RuleRef
from gridmap.units.models import CategoryGroup, RoutingRule


@dataclass(frozen=True)
class Attribute:
    """A GeoReport v2 attribute: what a client asks the citizen for, beyond the basics."""

    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    description: str
    order: int
    required: bool = False
    variable: bool = True
    datatype_description: str | None = None
    values: list[dict[str, str]] = field(default_factory=list)

    def as_spec(self) -> dict[str, Any]:
        """The attribute as GeoReport v2 lists it."""
        return {
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
            "values": self.values,
        }


ATTRIBUTES = (
    Attribute("title", "string", "标题 Title (optional, up to 200 characters)", 1),
    Attribute(
        "people_involved", "number", "涉及人数 People involved (1-10000, default 1)", 2,
        datatype_description="a whole number",
    ),
    Attribute(
        "occurred_at", "datetime", "发生时间 When it happened (default: now)", 3,
        datatype_description="ISO 8601 with an offset, e.g. 2026-03-01T09:30:00+08:00",
    ),
)  # fmt: skip
ATTRIBUTE_CODES = {a.code: a for a in ATTRIBUTES}


def _service(rule: RoutingRule, group: str) -> dict[str, Any]:
    limits = f"{rule.sign_days} 个工作日内签收，{rule.resolve_days} 个工作日内办结"
    return {
        "service_code": rule.category,
        "service_name": rule.name,
        "description": f"{rule.name_en} — {limits}",
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([rule.name, rule.name_en.lower(), rule.category])),
        "group": group,
    }


def service_list(session: Session) -> list[dict[str, Any]]:
    """``GET services``: every category, in the order of its group and code."""
    rows = session.execute(
        select(RoutingRule, CategoryGroup.name)
        .join(CategoryGroup, CategoryGroup.code == RoutingRule.group_code)
        .order_by(CategoryGroup.position, RoutingRule.category)
    )
    return [_service(rule, group) for rule, group in rows]


def rule_of(session: Session, service_code: str) -> RoutingRule | None:
    """The routing rule behind a service code, or None."""
    return session.get(RoutingRule, service_code) if len(service_code) <= 40 else None


def service_definition(session: Session, service_code: str) -> dict[str, Any]:
    """``GET services/{service_code}``: its attributes; 404 for an unknown code."""
    if rule_of(session, service_code) is None:
        raise NotFound(f"service_code {service_code!r} is not a service: see services.json")
    return {"service_code": service_code, "attributes": [a.as_spec() for a in ATTRIBUTES]}


def service_notice(rule: RuleRef) -> str:
    """What the citizen is told on reporting: the time limits of the category."""
    return f"已受理。按规定 {rule.sign_days} 个工作日内签收，{rule.resolve_days} 个工作日内办结。"


def read_attributes(raw: dict[str, str]) -> dict[str, Any]:
    """``attribute[code]=value`` pairs as report fields; unknown codes and bad values refused."""
    out: dict[str, Any] = {}
    for code, value in raw.items():
        attribute = ATTRIBUTE_CODES.get(code)
        if attribute is None:
            known = ", ".join(ATTRIBUTE_CODES)
            raise InvalidInput(f"attribute[{code}] is not an attribute: use {known}")
        value = value.strip()
        if not value:
            continue
        if attribute.datatype == "number":
            try:
                out[code] = int(value)
            except ValueError:
                raise InvalidInput(f"attribute[{code}]={value!r} is not a whole number") from None
        elif attribute.datatype == "datetime":
            try:
                out[code] = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(
                    f"attribute[{code}]={value!r} is not a date-time: write it like "
                    "2026-03-01T09:30:00+08:00"
                ) from None
        else:
            out[code] = value
    return out
