"""Incidents: points close in, counts along the hierarchy further out, and their heat."""

from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.maps.layer import Aggregation, Class, Field, Geometry, Layer, Source, Style, Text

STAFF = frozenset(Role)  # every signed-in role; planners get counts only (gridmap/scope.py)

# What a dispatcher looks at first: overdue in red, due soon in amber, then by state.
STATE_CLASSES = (
    Class("overdue", "#d7301f", Text("超期", "Overdue")),
    Class("due_soon", "#f59e0b", Text("临期", "Due soon")),
    Class("reported", "#7c3aed", Text("待派单", "Reported")),
    Class("dispatched", "#2563eb", Text("待签收", "Dispatched")),
    Class("in_progress", "#0891b2", Text("办理中", "In progress")),
    Class("resolved", "#16a34a", Text("已办结", "Resolved")),
    Class("follow_up", "#65a30d", Text("回访中", "Follow-up")),
    Class("closed", "#9ca3af", Text("已结单", "Closed")),
    Class("rejected", "#d1d5db", Text("已驳回", "Rejected")),
)

DECLARED = (
    Layer(
        id="incidents",
        title=Text("事件", "Incidents"),
        source=Source.incidents,
        geometry=Geometry.point,
        roles=STAFF,
        style=Style(color_by="state", classes=STATE_CLASSES, radius=6, weight=1),
        popup=(
            Field("code", Text("编号", "Code"), "link"),
            Field("category_name", Text("类别", "Category")),
            Field("status", Text("状态", "Status"), "status"),
            Field("unit_name", Text("责任单位", "Unit")),
            Field("resolve_due_at", Text("办结时限", "Due"), "datetime"),
            Field("reported_at", Text("上报时间", "Reported"), "datetime"),
        ),
        # 属地 hierarchy: counties at city zoom, then townships, villages, grid cells, points
        aggregation=Aggregation(
            steps=(
                (0, AreaLevel.county),
                (10, AreaLevel.township),
                (12, AreaLevel.village),
                (14, AreaLevel.grid),
                (16, None),
            )
        ),
        time_field="reported_at",
    ),
    Layer(
        id="incident_heat",
        title=Text("事件热力", "Incident heat"),
        source=Source.heat,
        geometry=Geometry.point,
        roles=STAFF,
        shown=False,
        time_field="reported_at",
    ),
)
