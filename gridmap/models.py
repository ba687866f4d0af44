"""Every table of gridmap: each domain's models, so ``Base.metadata`` is complete.

Alembic compares this metadata with the database, and every session needs it (see
:func:`make_sessionmaker`). It sits above the domains, so the database package
(``gridmap/db/``) imports none of them.
"""

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridmap.areas.models import Area, Plan
from gridmap.auth.models import AuditLog, RateLimitCounter, User
from gridmap.db.base import Base
from gridmap.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentPhoto,
    IncidentUnit,
    IncidentWhistle,
    Notification,
    NotificationRead,
    SavedFilter,
)
from gridmap.open311.models import ApiClient
from gridmap.plans.models import PlanBlock, PlanDraft, PlanEdit
from gridmap.registry.models import Building, House, Household, Person, WorkUnit
from gridmap.units.models import (
    CategoryGroup,
    CentreProfile,
    CentreWindow,
    Department,
    RoutingRule,
)

__all__ = [
    "ApiClient",
    "Area",
    "AuditLog",
    "Base",
    "Building",
    "CategoryGroup",
    "CentreProfile",
    "CentreWindow",
    "Department",
    "House",
    "Household",
    "Incident",
    "IncidentEvent",
    "IncidentPhoto",
    "IncidentUnit",
    "IncidentWhistle",
    "Notification",
    "NotificationRead",
    "Person",
    "Plan",
    "PlanBlock",
    "PlanDraft",
    "PlanEdit",
    "RateLimitCounter",
    "RoutingRule",
    "SavedFilter",
    "User",
    "WorkUnit",
    "make_sessionmaker",
]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built after it).

    Every model is imported first (this module): a mapper whose foreign keys name a table
    no one imported (``app_user.department_id`` → ``department``) cannot be configured, so
    a command that touched only one domain used to crash.
    """
    return sessionmaker(engine, expire_on_commit=False)
