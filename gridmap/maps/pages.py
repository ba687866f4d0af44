"""The map pages: folium builds the Leaflet page, our script (static/gridmap-map.js) fills it.

A served page holds no data: the script signs in and reads the layers from the API for the
current view, filters and zoom, so it stays small (tens of KB) whatever the city's size.
An exported page (``gridmap map … -o FILE``) carries a snapshot of the data and every asset
inlined, so it opens from ``file://`` with no server and no network.

Nothing is loaded from outside: folium's default CDN links are replaced by Leaflet and its
plugins shipped in ``gridmap/maps/static/vendor`` (BSD/MIT, licences beside them). No base
map by default — the area outlines give the context; a tile URL template can be set
(``GRIDMAP_TILE_URL``), with ``GRIDMAP_TILE_CRS=gcj02`` for AMap/Tencent tiles.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from gridmap import __version__
from gridmap.incidents.models import FINAL
from gridmap.incidents.workflow import TRANSITIONS
from gridmap.maps.i18n import LABELS
from gridmap.maps.layer import Catalogue
from gridmap.settings import Settings

STATIC = Path(__file__).parent / "static"
ASSET_PREFIX = f"/static/maps/{__version__}"  # versioned: cacheable for a long time
SCRIPTS = ("vendor/leaflet/leaflet.js", "vendor/leaflet.heat/leaflet-heat.js", "gridmap-map.js")
STYLES = ("vendor/leaflet/leaflet.css", "gridmap-map.css")
QUANZHOU = (24.95, 118.45)  # where a map opens before it knows the user's area

Mode = Literal["dispatch", "grid", "plan"]


@dataclass
class PageConfig:
    """What the page script needs: mode, API, layers, labels, where to start."""

    mode: Mode
    lang: str
    title: str
    api: str | None = "/api/v1"  # None: an exported page with its data inside
    center: tuple[float, float] = QUANZHOU
    zoom: int = 9
    refresh_seconds: int = 30
    area: str | None = None  # grid mode: the cell; plan mode: the area compared
    plan: int | None = None  # plan mode
    compare: int | None = None
    target: int = 400
    tile_url: str | None = None
    tile_attribution: str = ""
    display_crs: str = "wgs84"  # the base map's: gcj02 for AMap/Tencent tiles
    data: dict[str, Any] | None = None  # exported pages: the snapshot
    user: str | None = None  # exported pages: whose view it is
    layers: list[dict[str, Any]] = field(default_factory=list)  # described: see described()
    workflow: dict[str, dict[str, Any]] | None = None  # the workbench: see workflow_rules()

    def as_json(self) -> str:
        """The configuration as JSON for the script (safe inside a <script> element)."""
        payload = {
            "mode": self.mode, "lang": self.lang, "title": self.title, "api": self.api,
            "center": self.center, "zoom": self.zoom, "refresh": self.refresh_seconds,
            "area": self.area, "plan": self.plan, "compare": self.compare,
            "target": self.target, "labels": LABELS[self.lang], "data": self.data,
            "user": self.user, "display_crs": self.display_crs,
            "layers": self.layers, "workflow": self.workflow,
            "final_states": sorted(FINAL),  # closed at point zoom: off by default
        }  # fmt: skip
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return text.replace("</", "<\\/")


class _App(MacroElement):
    """Starts the page script on the folium map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        GridmapMap.start({{ this._parent.get_name() }}, {{ this.config }});
        {% endmacro %}
        """
    )

    def __init__(self, config: PageConfig) -> None:
        super().__init__()
        self._name = "GridmapApp"
        self.config = config.as_json()


def render(config: PageConfig, *, inline: bool = False) -> str:
    """The page as HTML: assets linked from the server, or inlined for a standalone file."""
    m = folium.Map(
        location=list(config.center),
        zoom_start=config.zoom,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        zoom_control=True,
    )
    if config.tile_url:
        folium.TileLayer(
            tiles=config.tile_url, attr=config.tile_attribution or " ", name="basemap",
            max_zoom=19, control=False,
        ).add_to(m)  # fmt: skip
    # folium's default assets come from CDNs: replace them with ours
    m.default_js = [] if inline else [(p, f"{ASSET_PREFIX}/{p}") for p in SCRIPTS]
    m.default_css = [] if inline else [(p, f"{ASSET_PREFIX}/{p}") for p in STYLES]
    root: Any = m.get_root()  # a branca Figure: header, html, script
    root.header.add_child(
        Element(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{config.title}</title>"
        ),
        name="gm_meta",
    )
    if inline:
        css = "\n".join(_inline_css(p) for p in STYLES)
        js = "\n".join((STATIC / p).read_text(encoding="utf-8") for p in SCRIPTS)
        js = js.replace("</script", "<\\/script")
        root.header.add_child(Element(f"<style>{css}</style>"), name="gm_css")
        root.header.add_child(Element(f"<script>{js}</script>"), name="gm_js")
    if config.workflow is not None and not inline:
        # the workbench (ES modules: deferred, so they start after the map script above)
        root.header.add_child(
            Element(
                f'<link rel="stylesheet" href="{ASSET_PREFIX}/workbench/workbench.css">'
                f'<script type="module" src="{ASSET_PREFIX}/workbench/main.js"></script>'
            ),
            name="gm_workbench",
        )
    m.add_child(_App(config))
    html: str = root.render()
    return html.replace("<html>", f'<html lang="{"en" if config.lang == "en" else "zh-CN"}">', 1)


def _inline_css(path: str) -> str:
    """A stylesheet with the images it references turned into data URIs."""
    folder = (STATIC / path).parent
    css = (STATIC / path).read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        target = folder / match.group(1)
        if not target.is_file():
            return match.group(0)
        encoded = base64.b64encode(target.read_bytes()).decode()
        return f"url(data:image/png;base64,{encoded})"

    return re.sub(r"url\((images/[^)]+\.png)\)", data_uri, css)


def described(catalogue: Catalogue, lang: str) -> list[dict[str, Any]]:
    """Every layer of the catalogue as the page script draws it (title, style, popup…)."""
    return [dict(layer.describe(lang)) for layer in catalogue.values()]


def _base(
    settings: Settings, catalogue: Catalogue, mode: Mode, lang: str, title_key: str
) -> PageConfig:
    return PageConfig(
        mode=mode,
        lang=lang,
        title=str(LABELS[lang][title_key]),
        refresh_seconds=settings.map_refresh_seconds,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        display_crs=settings.tile_crs if settings.tile_url else "wgs84",
        layers=described(catalogue, lang),
    )


def workflow_rules() -> dict[str, dict[str, Any]]:
    """What the workbench's action forms need from the workflow table, read from it (not copied).

    Per action: whether the table requires a note, and whether it changes the state. Which
    actions a user may take on an incident comes from the API (``allowed_actions``).
    """
    return {
        action.value: {"needs_note": row.needs_note, "target": row.target}
        for action, row in TRANSITIONS.items()
    }


def dispatch(*, settings: Settings, catalogue: Catalogue, lang: str) -> str:
    """The dispatcher's workbench: work queue, map and incident panel (data from the API)."""
    config = _base(settings, catalogue, "dispatch", lang, "workbench_title")
    config.workflow = workflow_rules()
    return render(config)


def grid(*, settings: Settings, catalogue: Catalogue, code: str, lang: str) -> str:
    """The grid worker's page for one cell."""
    config = _base(settings, catalogue, "grid", lang, "grid_title")
    config.area, config.zoom = code, 16
    return render(config)


def plan(
    *, settings: Settings, catalogue: Catalogue, plan_id: int, compare: int | None, target: int,
    lang: str, area: str | None = None,
) -> str:  # fmt: skip
    """Two plans side by side (the cells of ``area`` only, when given)."""
    config = _base(settings, catalogue, "plan", lang, "plan_title")
    config.plan, config.compare, config.target = plan_id, compare, target
    config.area = area
    return render(config)


# -- the grid worker's phone app (static/field) ---------------------------------------------------

FIELD_SCOPE = "/field/"  # the page, its manifest and its service worker: one scope
FIELD_WORKER_CSP = "default-src 'self'; frame-ancestors 'none'"
FIELD_ASSETS = (
    "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "shell/api.js", "shell/labels.js",
    "field/app.js", "field/store.js", "field/field.css", "field/icon.svg",
)  # fmt: skip


def field_app(*, lang: str) -> str:
    """The grid worker's app: a page shell the script fills from the phone's own store.

    The page holds no data (the cell comes from the API into IndexedDB), so the service
    worker can keep it and open it offline. Its labels are in the page: a start with no
    network still has its words.
    """
    from gridmap.registry.groups import GROUPS
    from gridmap.scope import UNMASKERS

    config = {
        "lang": lang, "api": "/api/v1", "scope": FIELD_SCOPE, "assets": ASSET_PREFIX,
        "labels": LABELS[lang],
        "groups": {g.tag: (g.en if lang == "en" else g.zh) for g in GROUPS.values()},
        "unmask_roles": sorted(r.value for r in UNMASKERS),  # the one policy table's
    }  # fmt: skip
    text = json.dumps(config, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    title = str(LABELS[lang]["field_title"])
    return f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#1f5f99">
<title>{title}</title>
<link rel="manifest" href="{FIELD_SCOPE}manifest.webmanifest">
<link rel="icon" href="{ASSET_PREFIX}/field/icon.svg">
<link rel="stylesheet" href="{ASSET_PREFIX}/vendor/leaflet/leaflet.css">
<link rel="stylesheet" href="{ASSET_PREFIX}/field/field.css">
<script src="{ASSET_PREFIX}/vendor/leaflet/leaflet.js"></script>
<script id="gm-field-config" type="application/json">{text}</script>
<script type="module" src="{ASSET_PREFIX}/field/app.js"></script>
</head>
<body data-wb-busy="0"><main id="fa"></main></body>
</html>
"""


def field_manifest(*, lang: str) -> dict[str, Any]:
    """The web app manifest: installable, opens on the worker's cell, standalone."""
    return {
        "name": str(LABELS[lang]["field_title"]) + " · gridmap",
        "short_name": str(LABELS[lang]["field_title"]),
        "lang": "en" if lang == "en" else "zh-CN",
        "start_url": FIELD_SCOPE, "scope": FIELD_SCOPE, "display": "standalone",
        "background_color": "#ffffff", "theme_color": "#1f5f99",
        "icons": [{"src": f"{ASSET_PREFIX}/field/icon.svg", "sizes": "any",
                   "type": "image/svg+xml"}],
    }  # fmt: skip


def field_worker() -> str:
    """The service worker, with this release's cache name and the assets it keeps."""
    source = (STATIC / "field" / "sw.js").read_text(encoding="utf-8")
    assets = [FIELD_SCOPE, *(f"{ASSET_PREFIX}/{p}" for p in FIELD_ASSETS)]
    # the cache is named by the assets' content: a changed file is fetched anew
    content = hashlib.sha256(source.encode())
    for p in FIELD_ASSETS:
        content.update((STATIC / p).read_bytes())
    release = f"{__version__}-{content.hexdigest()}"
    return source.replace("__VERSION__", release).replace('"__ASSETS__"', json.dumps(assets))


def studio(*, settings: Settings, lang: str) -> str:
    """The planner's studio: a page of its own (two linked Leaflet maps, no folium).

    Holds no data: static/studio/main.js signs in, reads the areas, plans and jobs from the
    API, and offers only what the API allows this user (drafting, publishing).
    """
    labels = LABELS[lang]
    config = json.dumps(
        {"lang": lang, "labels": labels, "api": "/api/v1"}, ensure_ascii=False
    ).replace("</", "<\\/")
    title = str(labels["studio_title"])
    return f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="{ASSET_PREFIX}/vendor/leaflet/leaflet.css">
<link rel="stylesheet" href="{ASSET_PREFIX}/studio/studio.css">
<script src="{ASSET_PREFIX}/vendor/leaflet/leaflet.js"></script>
<script id="gm-config" type="application/json">{config}</script>
<script type="module" src="{ASSET_PREFIX}/studio/main.js"></script>
</head><body data-wb-busy="0"><main id="studio"></main></body></html>"""
