"""The incident filter query parameters, parsed once for every endpoint that takes them."""

from __future__ import annotations

from datetime import timedelta
from inspect import signature
from typing import Annotated, Any, Literal, get_type_hints
from urllib.parse import parse_qs

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.deps import OptionalPrincipalDep
from api.params import AreaQuery
from gridmap.bbox import BBOX_PATTERN, parse_bbox
from gridmap.errors import NotAuthenticated
from gridmap.incidents.filters import IncidentFilter
from gridmap.incidents.models import Channel, IncidentStatus
from gridmap.incidents.queries import SORT_PATTERN
from gridmap.scope import Actor
from gridmap.timebounds import Moment


def incident_filters(
    principal: OptionalPrincipalDep,
    status: Annotated[list[IncidentStatus] | None, Query(description="Repeatable")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    channel: Channel | None = None,
    area: AreaQuery = None,
    unit: Annotated[str | None, Query(max_length=40, description="Unit code")] = None,
    overdue: Annotated[bool, Query(description="Only overdue incidents")] = False,
    due_within_days: Annotated[
        int | None, Query(ge=1, le=60, description="Only open incidents due within N days")
    ] = None,
    since: Annotated[Moment | None, Query(description="Reported at or after")] = None,
    until: Annotated[Moment | None, Query(description="Reported before")] = None,
    bbox: Annotated[
        str | None, Query(pattern=BBOX_PATTERN, description="minlon,minlat,maxlon,maxlat")
    ] = None,
    fast_track: Annotated[
        bool | None, Query(description="民意事件速办: true only those, false none of them")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="A code prefix, or words all found in title, description or address",
        ),
    ] = None,
    phone_suffix: Annotated[
        str | None, Query(pattern=r"^[0-9]{4}$", description="The reporter phone's last 4 digits")
    ] = None,
    queue: Annotated[
        Literal["mine"] | None, Query(description="mine: what my centre or unit holds")
    ] = None,
    supervised: Annotated[bool | None, Query(description="督办: true only, false none")] = None,
    joint: Annotated[bool | None, Query(description="联办: true only, false none")] = None,
    whistle: Annotated[bool | None, Query(description="吹哨报到: true only, false none")] = None,
) -> IncidentFilter:
    """The filters of ``GET /incidents``, shared by ``/stats`` and the map layers."""
    if queue == "mine" and principal is None:
        raise NotAuthenticated("queue=mine is the signed-in user's queue: sign in first")
    return IncidentFilter(
        status=tuple(status or ()),
        category=category,
        channel=channel.value if channel else None,
        area=area,
        unit=unit,
        overdue=overdue,
        due_within=timedelta(days=due_within_days) if due_within_days else None,
        since=since,
        until=until,
        bbox=parse_bbox(bbox) if bbox else None,
        fast_track=fast_track,
        q=q.strip() or None if q else None,
        phone_suffix=phone_suffix,
        queue=principal if queue == "mine" else None,
        supervised=supervised,
        joint=joint,
        whistle=whistle,
    )


FiltersDep = Annotated[IncidentFilter, Depends(incident_filters)]


def _query_model() -> type[BaseModel]:
    hints = get_type_hints(incident_filters, include_extras=True)
    fields: dict[str, Any] = {
        name: (hints[name], param.default)
        for name, param in signature(incident_filters).parameters.items()
        if name != "principal"
    }
    return create_model(
        "IncidentQuery",
        __config__=ConfigDict(extra="forbid"),
        __doc__="The query parameters of GET /incidents, as an object (same rules).",
        **fields,
    )


IncidentQuery = _query_model()
"""The filters of ``GET /incidents`` as a JSON object, validated by the same declarations."""


def filters_of(query: BaseModel, principal: Actor | None) -> IncidentFilter:
    """The :class:`IncidentFilter` of an :data:`IncidentQuery` (one parser for both forms)."""
    return incident_filters(principal, **query.model_dump())


class _ListOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sort: str | None = Field(default=None, pattern=SORT_PATTERN)
    page: int | None = Field(default=None, ge=1)
    page_size: int | None = Field(default=None, ge=1, le=500)


def check_query(query: str) -> str:
    """A query string of ``GET /incidents`` checked by the list's own rules (a saved filter).

    Raises ``ValueError`` (a 422 where a model calls it) naming what is wrong.
    """
    values = parse_qs(query.lstrip("?"), keep_blank_values=True, strict_parsing=False)
    repeatable = {"status"}
    flat: dict[str, Any] = {k: v if k in repeatable else v[-1] for k, v in values.items()}
    options = {k: flat.pop(k) for k in list(flat) if k in _ListOptions.model_fields}
    _ListOptions.model_validate(options)
    IncidentQuery.model_validate(flat)
    return query.lstrip("?")
