"""The registry without people: buildings by households, work units by type."""

from gridmap.maps.layer import Class, Field, Geometry, Layer, Source, Style, Text

DECLARED = (
    Layer(
        id="buildings",
        title=Text("楼宇", "Buildings"),
        source=Source.table,
        table="building",
        geometry=Geometry.point,
        min_zoom=16,
        shown=False,
        style=Style(
            color="#555555",
            color_by="households",
            numeric=True,
            radius=4,
            fill_opacity=0.8,
            classes=(
                Class(0, "#f1f5f9", Text("无住户", "No households")),
                Class(1, "#bfdbfe", Text("1–9 户", "1–9 households")),
                Class(10, "#60a5fa", Text("10–49 户", "10–49 households")),
                Class(50, "#2563eb", Text("50–99 户", "50–99 households")),
                Class(100, "#1e3a8a", Text("100 户以上", "100+ households")),
            ),
        ),
        popup=(
            Field("address", Text("地址", "Address")),
            Field("use", Text("用途", "Use")),
            Field("floors", Text("层数", "Floors"), "count"),
            Field("households", Text("户数", "Households"), "count"),
        ),
    ),
    Layer(
        id="work_units",
        title=Text("单位", "Work units"),
        source=Source.table,
        table="work_unit",
        geometry=Geometry.point,
        min_zoom=16,
        shown=False,
        style=Style(
            color_by="type",
            radius=4,
            fill_opacity=0.9,
            classes=(
                Class("shop", "#f97316", Text("商铺", "Shop")),
                Class("company", "#0ea5e9", Text("企业", "Company")),
                Class("restaurant", "#eab308", Text("餐饮", "Restaurant")),
                Class("factory", "#78716c", Text("工厂", "Factory")),
                Class("school", "#22c55e", Text("学校", "School")),
                Class("clinic", "#ef4444", Text("诊所", "Clinic")),
                Class("hotel", "#a855f7", Text("酒店", "Hotel")),
                Class("market", "#84cc16", Text("农贸市场", "Market")),
                Class("property_management", "#06b6d4", Text("物业", "Property mgmt")),
                Class("construction_site", "#b45309", Text("工地", "Construction")),
            ),
        ),
        popup=(
            Field("name", Text("名称", "Name")),
            Field("type", Text("类型", "Type")),
            Field("employees", Text("从业人员", "Employees"), "count"),
        ),
    ),
)
