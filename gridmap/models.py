"""Import every model so ``Base.metadata`` is complete (Alembic, tests)."""

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
)
from gridmap.open311.models import ApiClient
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
    "RateLimitCounter",
    "RoutingRule",
    "User",
    "WorkUnit",
]
