"""The area hierarchy: counties, townships, villages and grid cells (public outlines)."""

from gridmap.areas.levels import AreaLevel
from gridmap.maps.layer import Field, Geometry, Layer, Source, Style, Text

_NAME = (
    Field("name", Text("名称", "Name")),
    Field("code", Text("代码", "Code")),
)

DECLARED = (
    Layer(
        id="counties",
        title=Text("县(市、区)", "Counties"),
        source=Source.areas,
        geometry=Geometry.polygon,
        level=AreaLevel.county,
        style=Style(color="#444444", weight=2.5),
        popup=_NAME,
    ),
    Layer(
        id="townships",
        title=Text("乡镇(街道)", "Townships"),
        source=Source.areas,
        geometry=Geometry.polygon,
        level=AreaLevel.township,
        style=Style(color="#666666", weight=1.5),
        popup=_NAME,
        min_zoom=9,
    ),
    Layer(
        id="villages",
        title=Text("村(社区)", "Villages"),
        source=Source.areas,
        geometry=Geometry.polygon,
        level=AreaLevel.village,
        style=Style(color="#888888", weight=1.0, dash="4 3"),
        popup=_NAME,
        min_zoom=11,
        shown=False,
    ),
    Layer(
        id="grids",
        title=Text("网格", "Grid cells"),
        source=Source.areas,
        geometry=Geometry.polygon,
        level=AreaLevel.grid,
        style=Style(color="#2c6fbb", weight=0.8),
        popup=(*_NAME, Field("households", Text("户数", "Households"), "count")),
        min_zoom=13,
        shown=False,
    ),
)
