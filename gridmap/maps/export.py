"""Standalone map files: the same page, its data as a snapshot and every asset inlined.

``gridmap map dispatch|grid|plan … -o FILE.html`` writes one HTML file that opens from
``file://`` with no server and no network — for briefings, e-mail, and the README's
pictures. The snapshot is made by the same feature builder as the API
(:func:`gridmap.maps.features.features`), for the whole area at every level of the
hierarchy, in the scope of the user named (or city-wide for the system).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.models import Area
from gridmap.auth.models import Role
from gridmap.auth.service import actor_of
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents import queries, views
from gridmap.incidents.filters import IncidentFilter
from gridmap.maps.features import MapData, View, features
from gridmap.maps.layer import Catalogue
from gridmap.maps.pages import PageConfig, described, render
from gridmap.scope import Actor
from gridmap.settings import Settings

# a zoom inside each step of the incidents layer's aggregation, and for points
LEVEL_ZOOMS = {"county": 9, "township": 11, "village": 13, "grid": 15, "points": 17}


def actor_for(session: Session, username: str | None, area: str) -> Actor:
    """The user whose view is exported, or a city-wide system view of ``area``."""
    if username is None:
        return Actor(0, Role.city_admin, codes.city_of(area), None, "gridmap")
    return actor_of(session, username)


def _bounds(session: Session, area: str) -> tuple[float, float, float, float]:
    row = session.execute(
        select(
            func.ST_XMin(func.ST_Extent(Area.geom)), func.ST_YMin(func.ST_Extent(Area.geom)),
            func.ST_XMax(func.ST_Extent(Area.geom)), func.ST_YMax(func.ST_Extent(Area.geom)),
        ).where(Area.code == area)
    ).one()  # fmt: skip
    if row[0] is None:
        raise NotFound(f"there is no area {area}")
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def _snapshot(
    session: Session, catalogue: Catalogue, actor: Actor, area: str, ids: list[str], lang: str,
    filters: IncidentFilter, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    bbox = _bounds(session, area)
    now = datetime.now(UTC)
    cache = MapData()
    flt = IncidentFilter(**{**filters.__dict__, "area": filters.area or area})
    out: dict[str, dict[str, Any]] = {}
    for layer_id in ids:
        layer = catalogue[layer_id]
        if not layer.visible_to(actor.role):
            continue
        zooms = LEVEL_ZOOMS if layer.aggregation else {"all": 15 if layer.table else 12}
        out[layer_id] = {}
        for key, zoom in zooms.items():
            view = View(bbox=bbox, zoom=zoom, filters=flt, lang=lang, **(extra or {}))
            text = features(session=session, layer=layer, view=view, actor=actor, cache=cache,
                            now=now)  # fmt: skip
            collection = json.loads(text)
            if key == "points" and collection.get("level") != "points":
                continue  # too many to draw one by one: the page falls back to grid counts
            out[layer_id][key] = collection
    return {"layers": out, "bbox": bbox}


def dispatch_file(
    *, session: Session, settings: Settings, catalogue: Catalogue, area: str,
    username: str | None, lang: str, filters: IncidentFilter,
) -> str:  # fmt: skip
    """A standalone dispatcher's map of ``area``."""
    actor = actor_for(session, username, area)
    if not actor.covers(area):
        raise InvalidInput(f"{actor.username} cannot see {area}")
    ids = ["counties", "townships", "villages", "incidents", "incident_heat"]
    data = _snapshot(session, catalogue, actor, area, ids, lang, filters)
    now = datetime.now(UTC)
    flt = IncidentFilter(**{**filters.__dict__, "area": filters.area or area})
    data["other"] = {
        "/maps/facets": queries.facets(
            session=session, actor=actor, now=now, filters=flt, lang=lang
        ),
        "/incidents?sort=reported_at": _list(
            session, actor, now, flt, "reported_at", open_only=True
        ),
        "/incidents?sort=resolve_due_at": _list(
            session, actor, now, flt, "resolve_due_at", overdue=True
        ),
    }
    config = _config(settings, catalogue, "dispatch", lang, data, actor, area)
    return render(config, inline=True)


def _list(
    session: Session, actor: Actor, now: datetime, flt: IncidentFilter, sort: str,
    *, open_only: bool = False, overdue: bool = False,
) -> dict[str, Any]:  # fmt: skip
    from gridmap.incidents.models import OPEN

    chosen = IncidentFilter(**{**flt.__dict__,
                               "status": tuple(sorted(OPEN)) if open_only else flt.status,
                               "overdue": overdue or flt.overdue})  # fmt: skip
    total, rows = queries.list_incidents(session=session, actor=actor, now=now, filters=chosen,
                                         sort=sort, page=1, page_size=10)  # fmt: skip
    keep = ("code", "title", "lat", "lon", "reported_at", "resolve_due_at")
    items = [views.as_json(views.read_model(session, r, actor, now=now), keep) for r in rows]
    return {"total": total, "items": items}


def grid_file(
    *, session: Session, settings: Settings, catalogue: Catalogue, code: str,
    username: str | None, lang: str,
) -> str:  # fmt: skip
    """A standalone grid-worker's map of one cell."""
    from gridmap.areas.lookup import get_area
    from gridmap.registry.summary import summary

    actor = actor_for(session, username, code)
    area = get_area(session, code, actor)
    data = _snapshot(session, catalogue, actor, code, ["buildings", "work_units", "incidents"],
                     lang, IncidentFilter(status=_open()))  # fmt: skip
    data["other"] = {f"/areas/{code}": summary(session, area, actor, datetime.now(UTC))}
    config = _config(settings, catalogue, "grid", lang, data, actor, code)
    config.area, config.zoom = code, 16
    return render(config, inline=True)


def plan_file(
    *, session: Session, settings: Settings, catalogue: Catalogue, plan_id: int,
    compare: int | None, target: int, area: str, lang: str,
) -> str:  # fmt: skip
    """A standalone comparison of two plans (cells of ``area``)."""
    actor = actor_for(session, None, area)
    flt = IncidentFilter(area=area)
    layers = {}
    for plan, other in ((plan_id, compare), (compare, plan_id)):
        if plan is None:
            continue
        snap = _snapshot(session, catalogue, actor, area, ["plan_cells"], lang, flt,
                         {"plan_id": plan, "compare": other, "target": target})  # fmt: skip
        layers[str(plan)] = snap["layers"]["plan_cells"]["all"]
    config = _config(settings, catalogue, "plan", lang, {"plans": layers}, actor, area)
    config.plan, config.compare, config.target = plan_id, compare, target
    return render(config, inline=True)


def _open() -> tuple[Any, ...]:
    from gridmap.incidents.models import OPEN

    return tuple(sorted(OPEN))


def _config(
    settings: Settings, catalogue: Catalogue, mode: Any, lang: str, data: dict[str, Any],
    actor: Actor, area: str,
) -> PageConfig:  # fmt: skip
    from gridmap.maps.i18n import LABELS

    bbox = data.get("bbox")
    config = PageConfig(
        mode=mode, lang=lang, title=str(LABELS[lang][f"{mode}_title"]), api=None,
        refresh_seconds=0, tile_url=None, data=data,
        user=f"{actor.username} · {area} · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        layers=described(catalogue, lang),
    )  # fmt: skip
    if bbox:
        config.center = ((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2)
    return config
