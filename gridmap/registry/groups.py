"""Special groups (重点人群) and how often their households are visited (入户走访).

The tags a person may carry, their labels, and the visit interval they impose on their
household: a household is due for a visit when it was never visited, or its last visit is
older than the shortest interval of its members (elderly people living alone monthly…).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """A special group: its tag, labels, and the visit interval it imposes (days)."""

    tag: str
    zh: str
    en: str
    visit_days: int


GROUPS: dict[str, Group] = {
    g.tag: g
    for g in (
        Group("elderly_alone", "独居老人", "Elderly living alone", 30),
        Group("disabled", "残疾人", "Disabled", 60),
        Group("left_behind_child", "留守儿童", "Left-behind child", 30),
        Group("key_person", "重点人员", "Key person", 30),
        Group("migrant", "流动人口/租户", "Migrant / renter", 90),
    )
}
DEFAULT_VISIT_DAYS = 180  # every other household: twice a year


def visit_days(tags: set[str] | list[str]) -> int:
    """The visit interval of a household whose members carry ``tags``."""
    return min([GROUPS[t].visit_days for t in tags if t in GROUPS], default=DEFAULT_VISIT_DAYS)
