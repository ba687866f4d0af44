"""What a map layer declaration says: the vocabulary of ``layers/``.

A layer is declared once (in ``layers/``) — id, titles, source, geometry, style and legend,
popup fields, zoom range, aggregation, who may see it — and everything that draws or serves
layers reads the declaration: the map pages, the feature endpoints, the exported files
and the OGC API collections. Adding a layer of a known kind is one declaration.

Sources are a closed set of kinds: areas of a level, incidents (points, or aggregated along
the hierarchy by zoom), incident heat, registry tables (buildings, work units) and plan
differences. The layers of places (areas, tables) become SQL in one builder
(:mod:`gridmap.maps.query`) that the maps and the OGC collections share. No layer may carry
personal data: the declaration refuses popup fields that name a person or a phone, and the
text of registry rows (a unit's name, a building's address: typed by people, published on
the public layers and OGC) goes through the free-text masker (:func:`masked_properties`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.privacy import mask_text

# Columns that are personal information: never a property of any map layer.
PERSONAL = frozenset({
    "name_of_person", "id_number", "phone", "contact_phone", "reporter_name",
    "reporter_phone", "birth_date", "people", "members", "description", "address_of_person",
})  # fmt: skip
# Properties that are codes the system assigns (area codes of up to 15 digits, incident
# codes), never typed by a person: the only text the free-text masker leaves alone.
CODES = frozenset({"code", "grid_code"})
# What a map adds to a feature to draw it, besides the layer's properties: a colour from the
# legend, a count badge's level and point. Not data: the OGC items carry none of them.
DRAWING = frozenset({"_color", "level", "badge"})


def masked_properties(properties: Mapping[str, object]) -> dict[str, object]:
    """A feature's properties with ID and mobile numbers typed into their text masked."""
    return {
        name: mask_text(value) if isinstance(value, str) and name not in CODES else value
        for name, value in properties.items()
    }


class Source(enum.StrEnum):
    """The kinds of data a layer can show."""

    areas = "areas"  # area polygons of one level (grid cells: of the active plan)
    incidents = "incidents"  # incident points, aggregated along the hierarchy when far out
    heat = "heat"  # incident density: weighted points
    table = "table"  # a registry table with a point location
    plan_cells = "plan_cells"  # a plan's cells, with load and change against another plan


class Geometry(enum.StrEnum):
    """The geometry a layer's features carry."""

    polygon = "polygon"
    point = "point"


@dataclass(frozen=True)
class Text:
    """A label in Chinese (the default) and English."""

    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        """The label in ``lang`` (``zh`` or ``en``)."""
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Field:
    """A property shown in a feature's popup."""

    name: str
    label: Text
    kind: str = "text"  # text, count, datetime, status, link


@dataclass(frozen=True)
class Class:
    """One entry of a legend: features whose value matches get this colour."""

    value: str | float  # a category, or for numbers the lower bound of the class
    color: str
    label: Text


@dataclass(frozen=True)
class Style:
    """How a layer is drawn: a fixed colour, or a colour by a property with its legend."""

    color: str = "#2c6fbb"
    fill_color: str | None = None
    weight: float = 1.0
    fill_opacity: float = 0.0
    radius: float = 5.0  # points
    color_by: str | None = None  # a property
    classes: tuple[Class, ...] = ()  # categorical (exact) or numeric (lower bounds, ascending)
    numeric: bool = False
    dash: str | None = None

    def color_of(self, value: object) -> str:
        """The colour the legend gives ``value`` (the fixed colour when none applies)."""
        if self.color_by is None or not self.classes:
            return self.fill_color or self.color
        if self.numeric:
            chosen = self.fill_color or self.color
            for cls in self.classes:
                if isinstance(value, int | float) and value >= float(cls.value):
                    chosen = cls.color
            return chosen
        for cls in self.classes:
            if cls.value == value:
                return cls.color
        return self.fill_color or self.color


@dataclass(frozen=True)
class Aggregation:
    """Incidents drawn along the hierarchy: the area level to count by, per zoom."""

    # (first zoom, level) ascending; None = individual points from that zoom on
    steps: tuple[tuple[int, AreaLevel | None], ...]
    max_points: int = 5000  # more points than this in view: counted by grid cell instead

    def level_at(self, zoom: int) -> AreaLevel | None:
        """The level incidents are counted by at ``zoom`` (None: points)."""
        chosen: AreaLevel | None = self.steps[0][1]
        for first, level in self.steps:
            if zoom >= first:
                chosen = level
        return chosen


@dataclass(frozen=True)
class Layer:
    """One map layer, declared once in ``layers/``."""

    id: str
    title: Text
    source: Source
    geometry: Geometry
    style: Style = field(default_factory=Style)
    popup: tuple[Field, ...] = ()
    min_zoom: int = 0
    max_zoom: int = 20
    level: AreaLevel | None = None  # areas: which level
    table: str | None = None  # table sources: which table
    aggregation: Aggregation | None = None  # incidents: counted by area when far out
    roles: frozenset[Role] | None = None  # None: public (no personal data, no incidents)
    shown: bool = True  # on when a map opens
    time_field: str | None = None  # the property a time filter applies to
    description: Text | None = None

    def __post_init__(self) -> None:
        personal = {f.name for f in self.popup} & PERSONAL
        if personal:
            raise ValueError(f"layer {self.id} would show personal data: {sorted(personal)}")
        if self.source == Source.areas and self.level is None:
            raise ValueError(f"layer {self.id}: an areas layer needs a level")
        if self.source == Source.table and self.table is None:
            raise ValueError(f"layer {self.id}: a table layer needs a table")

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties of each feature: the popup fields, and the one its colour is by."""
        names = tuple(f.name for f in self.popup)
        by = self.style.color_by
        return (*names, by) if by is not None and by not in names else names

    @property
    def public(self) -> bool:
        """True if anyone may read it, signed in or not."""
        return self.roles is None

    def visible_to(self, role: Role | None) -> bool:
        """True if a user with ``role`` (None: anonymous) may read this layer."""
        return self.roles is None or (role is not None and role in self.roles)

    def legend(self, lang: str) -> list[dict[str, str]]:
        """The legend entries: colour and label."""
        return [{"color": c.color, "label": c.label(lang)} for c in self.style.classes]

    def describe(self, lang: str) -> Mapping[str, object]:
        """What a map page needs to know to draw the layer."""
        return {
            "id": self.id,
            "title": self.title(lang),
            "source": self.source.value,
            "geometry": self.geometry.value,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "shown": self.shown,
            "style": {
                "color": self.style.color,
                "fill_color": self.style.fill_color,
                "weight": self.style.weight,
                "fill_opacity": self.style.fill_opacity,
                "radius": self.style.radius,
                "color_by": self.style.color_by,
                "numeric": self.style.numeric,
                "dash": self.style.dash,
                "classes": [
                    {"value": c.value, "color": c.color, "label": c.label(lang)}
                    for c in self.style.classes
                ],
            },
            "popup": [{"name": f.name, "label": f.label(lang), "kind": f.kind} for f in self.popup],
            "aggregation": (
                [[z, lvl.value if lvl else None] for z, lvl in self.aggregation.steps]
                if self.aggregation
                else None
            ),
        }


Catalogue = Mapping[str, Layer]
"""The declared layers by id: ``layers.LAYERS``, handed in by whoever starts gridmap (the
app's ``state.catalogue``, the CLI's map commands); the engine never imports ``layers/``."""
