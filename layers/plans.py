"""Boundary plans: cells by their deviation from the target load, changes outlined."""

from gridmap.auth.models import Role
from gridmap.maps.layer import Class, Field, Geometry, Layer, Source, Style, Text

PLANNING = frozenset(
    {Role.planner, Role.city_admin, Role.county_dispatcher, Role.township_dispatcher}
)

DECLARED = (
    Layer(
        id="plan_cells",
        title=Text("网格方案(负荷偏差)", "Plan cells (load deviation)"),
        source=Source.plan_cells,
        geometry=Geometry.polygon,
        roles=PLANNING,
        style=Style(
            color="#334155",
            weight=0.8,
            fill_opacity=0.6,
            color_by="deviation",
            numeric=True,
            classes=(
                Class(-10.0, "#1d4ed8", Text("低于目标 20% 以上", "Over 20% below target")),
                Class(-0.2, "#93c5fd", Text("低于目标 10–20%", "10–20% below")),
                Class(-0.1, "#dcfce7", Text("目标 ±10% 以内", "Within ±10%")),
                Class(0.1, "#fdba74", Text("高于目标 10–20%", "10–20% above")),
                Class(0.2, "#dc2626", Text("高于目标 20% 以上", "Over 20% above")),
            ),
        ),
        popup=(
            Field("code", Text("网格", "Cell")),
            Field("households", Text("户数", "Households"), "count"),
            Field("deviation", Text("偏差", "Deviation"), "percent"),
            Field("change", Text("变化", "Change")),
        ),
    ),
)
