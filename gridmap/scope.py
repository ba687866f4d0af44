"""Who may see and do what: the one scope definition every endpoint uses.

Every user has a role and an area (and a department handler a department). The table
``POLICIES`` says, per role, what they may read and do; the functions below turn it into
SQL filters (lists, KPIs, maps, the registry) and single-object checks. Nothing else in
gridmap decides scope: incidents, stats, the registry, the maps and the standards
endpoints all import from here, so "who may see what" is written once.

Areas nest by code (:mod:`gridmap.areas.codes`): a user of township 350503001 sees every
code under it; a user of the city 350500 sees every code starting 3505.

Decisions (docs/decisions.md): planners and analysts work city-wide but never see people —
planners see aggregates only (KPIs, map aggregates, plans), analysts also read incidents
(masked, never unmasked); department handlers see the incidents their unit holds or takes
part in, not the household registry; everyone may read the incidents they reported
themselves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel, above
from gridmap.auth.models import Role
from gridmap.errors import Forbidden


class IncidentAccess(enum.StrEnum):
    """Which incident rows a role reads."""

    area = "area"  # every incident in the user's area
    unit = "unit"  # those the user's department holds or takes part in
    aggregate = "aggregate"  # counts only, never a row


class PlanWork(enum.IntEnum):
    """What a role does with boundary plans (网格方案); each step includes the ones before.

    Everyone signed in reads the plans themselves (boundaries are no secret).
    """

    none = 0
    compare = 1  # read a draft's change-impact report, for their own area
    prepare = 2  # prepare a draft for activation; compare anywhere in the city
    publish = 3  # put a plan in force (生效)


@dataclass(frozen=True)
class RolePolicy:
    """What one role may read and do (the rows of the scope table)."""

    incidents: IncidentAccess
    people: bool  # may read the registry's households and people (masked)
    unmask: bool  # may ask for personal data unmasked (with a reason, audited)
    reports: bool  # may report incidents (within their area)
    dispatches: bool  # takes the dispatcher's workflow actions
    edits_registry: bool  # information collection (信息采集)
    level: AreaLevel | None  # the centre level a dispatcher works at
    centre_only: bool = False  # their unit is a governance centre (a mediator's)
    plans: PlanWork = PlanWork.none  # change-impact reports, preparing, publishing plans
    users: bool = False  # administers the accounts of their area (and lifts sign-in locks)
    audit: bool = False  # reads the audit log (who read personal data unmasked, and why)
    operates: bool = False  # reads the operations metrics (/metrics) without a listed network

    @property
    def unit(self) -> bool:
        """Works for one unit (``department_id``): its incidents, its inbox, no registry."""
        return self.incidents == IncidentAccess.unit


POLICIES: dict[Role, RolePolicy] = {
    Role.city_admin: RolePolicy(IncidentAccess.area, True, True, True, True, True, AreaLevel.city,
                                plans=PlanWork.publish, users=True, audit=True,
                                operates=True),
    Role.county_dispatcher: RolePolicy(
        IncidentAccess.area, True, True, True, True, True, AreaLevel.county,
        plans=PlanWork.compare,
    ),
    Role.township_dispatcher: RolePolicy(
        IncidentAccess.area, True, True, True, True, True, AreaLevel.township
    ),
    Role.village_worker: RolePolicy(
        IncidentAccess.area, True, True, True, True, True, AreaLevel.village
    ),
    Role.grid_worker: RolePolicy(
        IncidentAccess.area, True, True, True, False, True, AreaLevel.grid
    ),
    Role.department_handler: RolePolicy(IncidentAccess.unit, False, True, True, False, False, None),
    # a mediator (调解员) of a centre: handles what the centre holds (signs, mediates,
    # resolves, answers supervision), reads no registry, dispatches nothing
    Role.mediator: RolePolicy(
        IncidentAccess.unit, False, True, True, False, False, None, centre_only=True
    ),
    Role.planner: RolePolicy(IncidentAccess.aggregate, False, False, False, False, False, None,
                             plans=PlanWork.prepare),
    Role.analyst: RolePolicy(IncidentAccess.area, False, False, False, False, False, None),
}  # fmt: skip

DISPATCHERS = frozenset(r for r, p in POLICIES.items() if p.dispatches)
REPORTERS = frozenset(r for r, p in POLICIES.items() if p.reports)
UNMASKERS = frozenset(r for r, p in POLICIES.items() if p.unmask)
PEOPLE_READERS = frozenset(r for r, p in POLICIES.items() if p.people)
REGISTRY_EDITORS = frozenset(r for r, p in POLICIES.items() if p.edits_registry)


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the engine sees them: who, which role, which area, which unit."""

    user_id: int
    role: Role
    area_code: str
    department_id: int | None = None
    username: str = ""

    @property
    def policy(self) -> RolePolicy:
        """The row of the scope table for this role."""
        return POLICIES[self.role]

    @property
    def level(self) -> AreaLevel:
        """The level of the user's own area."""
        return codes.level_of(self.area_code)

    def covers(self, code: str | None) -> bool:
        """True if the area ``code`` (any level) lies within the user's area."""
        return codes.contains(self.area_code, code)

    def require_area(self, code: str, what: str = "area") -> None:
        """Refuse (403) an area outside the user's own."""
        if not self.covers(code):
            raise Forbidden(f"the {what} {code} is outside your area {self.area_code}")

    def dispatches_at(self, handling_level: AreaLevel | None) -> bool:
        """True if this dispatcher works at or above ``handling_level`` (village by default).

        An incident escalated to a higher level's centre leaves the lower levels' hands.
        """
        mine = self.policy.level
        if mine is None or not self.policy.dispatches:
            return False
        held = handling_level or AreaLevel.village
        return mine == held or above(mine, held)


def within(
    column: InstrumentedAttribute[str | None] | ColumnElement[str], area: str
) -> ColumnElement[bool]:
    """SQL: the code in ``column`` lies within the area ``area`` (an index range scan)."""
    return column.startswith(codes.prefix(area))


def incident_filter(actor: Actor, *, aggregate: bool = False) -> ColumnElement[bool]:
    """SQL: the incidents ``actor`` may read — rows, or with ``aggregate`` only counts.

    Raises
    ------
    Forbidden
        When the role sees only aggregates and rows were asked for.
    """
    from gridmap.incidents.models import Incident

    access = actor.policy.incidents
    if access == IncidentAccess.aggregate and not aggregate:
        raise Forbidden(
            f"a {actor.role.value} sees incidents only as counts: use /stats or the map layers"
        )
    own = Incident.created_by_id == actor.user_id
    if access == IncidentAccess.unit:
        if actor.department_id is None:
            return own
        return or_(_unit_holds(actor.department_id), own)
    return or_(within(Incident.grid_code, actor.area_code), own)


def _unit_holds(department_id: int) -> ColumnElement[bool]:
    """SQL: the unit handles the incident, takes part in it (联办) or was summoned (吹哨)."""
    from gridmap.incidents.models import Incident, IncidentUnit, IncidentWhistle

    joined = select(IncidentUnit.incident_id).where(IncidentUnit.unit_id == department_id)
    summoned = select(IncidentWhistle.incident_id).where(IncidentWhistle.unit_id == department_id)
    return or_(
        Incident.unit_id == department_id, Incident.id.in_(joined), Incident.id.in_(summoned)
    )


def held_by(actor: Actor) -> ColumnElement[bool]:
    """SQL: the work queue (``queue=mine``) — what the actor's unit or centre holds.

    A unit's handler or a centre's mediator: what their unit handles, takes part in or was
    summoned to. A dispatcher: what their own centre (the centre of their area) handles.
    Anyone else holds nothing.
    """
    from gridmap.incidents.models import Incident
    from gridmap.units.codes import centre_code
    from gridmap.units.models import Department

    if actor.policy.unit:
        return _unit_holds(actor.department_id) if actor.department_id is not None else false()
    if actor.policy.dispatches:
        centre = select(Department.id).where(Department.code == centre_code(actor.area_code))
        return Incident.unit_id == centre.scalar_subquery()
    return false()


def registry_filter(
    actor: Actor, column: InstrumentedAttribute[str | None], *, people: bool = False
) -> ColumnElement[bool]:
    """SQL: registry rows (by their grid code) ``actor`` may read.

    ``people`` marks rows about persons and households: only roles allowed to read people
    get them; buildings and work units without personal data are readable in the area.
    """
    if people and not actor.policy.people:  # unit members (handlers, mediators) read none
        return false()
    return within(column, actor.area_code)


def require_people(actor: Actor) -> None:
    """Refuse (403) roles that never read personal data."""
    if not actor.policy.people:
        raise Forbidden(
            f"a {actor.role.value} does not read the household registry (personal data)"
        )


def require_editor(actor: Actor) -> None:
    """Refuse (403) roles that do not collect information (信息采集) or work task rows."""
    if not actor.policy.edits_registry:
        raise Forbidden(f"a {actor.role.value} does not edit the registry")


def require_reporter(actor: Actor, what: str = "report or add to incidents") -> None:
    """Refuse (403) read-only roles (analysts, planners)."""
    if not actor.policy.reports:
        raise Forbidden(f"a {actor.role.value} does not {what}")


def require_unmask(actor: Actor) -> None:
    """Refuse (403) roles that may not read personal data unmasked."""
    if not actor.policy.unmask:
        raise Forbidden(f"a {actor.role.value} may not read personal data unmasked")


def require_plans(actor: Actor, work: PlanWork) -> None:
    """Refuse (403) a role whose plan work (``RolePolicy.plans``) falls short of ``work``."""
    if actor.policy.plans < work:
        raise Forbidden(f"a {actor.role.value} does not {_PLAN_VERBS[work]}")


_PLAN_VERBS = {
    PlanWork.none: "read plans",
    PlanWork.compare: "read a plan's change impact",
    PlanWork.prepare: "prepare plans",
    PlanWork.publish: "put plans in force (city administrators do)",
}


def plan_area(actor: Actor, area: str) -> str:
    """The area a plan's change impact is shown for (``""``: the whole city).

    Roles that only compare (a county dispatcher) see their own area, or a part of it;
    those who prepare plans work city-wide, as plans are drawn for the whole city.
    """
    if actor.policy.plans > PlanWork.compare:
        return area
    area = area or actor.area_code
    actor.require_area(area)
    return area


def require_users(actor: Actor) -> None:
    """Refuse (403) roles that do not administer accounts."""
    if not actor.policy.users:
        raise Forbidden(
            f"a {actor.role.value} does not administer accounts (city administrators do)"
        )


def require_audit(actor: Actor) -> None:
    """Refuse (403) roles that do not read the audit log."""
    if not actor.policy.audit:
        raise Forbidden(
            f"a {actor.role.value} does not read the audit log (city administrators do)"
        )


def require_operations(actor: Actor) -> None:
    """Refuse (403) roles that do not read the operations metrics."""
    if not actor.policy.operates:
        raise Forbidden(
            f"a {actor.role.value} does not read the operations metrics (city administrators "
            "do, and scrapers from GRIDMAP_METRICS_NETWORKS)"
        )


def everything() -> ColumnElement[bool]:
    """SQL true: for the system's own work (imports, the seed), never for a user."""
    return true()
