"""Every map layer, declared once.

The dispatcher, grid-worker and planner maps, the feature endpoints
(``/api/v1/layers/{id}/features``), the exported HTML files and the OGC API collections all
read ``LAYERS``; adding a layer of a known kind is one declaration in one of these modules.
"""

from __future__ import annotations

from gridmap.maps.layer import Layer
from layers import areas, incidents, plans, registry

LAYERS: dict[str, Layer] = {
    layer.id: layer for module in (areas, incidents, registry, plans) for layer in module.DECLARED
}

__all__ = ["LAYERS"]
