"""Open311 GeoReport v2 under /open311/v2: the citizen port as the standard speaks it.

Existing 311 apps and libraries work unchanged: JSON or XML chosen by the path's
extension, form-encoded posts with an ``api_key`` per registered client, errors as the
spec's ``[{code, description}]`` (problems.py renders them so for these paths). A posted
request goes through the one intake (located, assigned, routed, idempotent) as channel
``citizen_app``; what the port publishes is in gridmap/open311/requests.py. Extensions,
each optional: ``crs`` (``gcj02``/``bd09`` for coordinates from Chinese phone maps) and
an ``Idempotency-Key`` header.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api import georeport
from api.deps import (
    CalendarDep,
    LimiterDep,
    LocatorDep,
    RulesDep,
    SessionDep,
    SettingsDep,
)
from api.routers.incidents import IDEMPOTENCY_KEY, citizen_token
from gridmap import timebounds
from gridmap.errors import NotFound
from gridmap.incidents import service
from gridmap.locate import Locator
from gridmap.open311 import clients, requests, services
from gridmap.open311.requests import RequestFilter
from gridmap.settings import Settings

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-27T00:00:00+08:00"  # when the services or this port last changed
Format = Annotated[Literal["json", "xml"], Path(description="The format: json or xml")]
# what GET requests' filters accept (gridmap/open311/requests.py), stated in the document
CODES = {"pattern": r"^[^,\x00]*(,[^,\x00]*){0,99}$"}  # at most 100, comma-separated
# (each written so that a regex engine that backtracks cannot take exponential time on them)
WHEN = {"pattern": rf"^\s*({timebounds.ISO_INSTANT}\s*)?$"}
STATUSES = {"pattern": r"^\s*((open|closed)\s*)?(,\s*((open|closed)\s*)?)*$"}


class Open311Error(BaseModel):
    """One error, as GeoReport v2 writes it."""

    code: int
    description: str


def _answers(model: Any, *statuses: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    xml = {"text/xml": {"schema": {"type": "string"}}}
    out: dict[int | str, dict[str, Any]] = {ok: {"model": model, "content": xml}}
    for status in statuses:
        out[status] = {
            "model": list[Open311Error],
            "description": georeport.DESCRIPTIONS[status],
            "content": xml,
        }
    return out


class Endpoint(BaseModel):
    """One GeoReport endpoint of this server."""

    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    """Service discovery."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    """A service (a category of report)."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class AttributeValue(BaseModel):
    """A choice of a list attribute."""

    key: str
    name: str


class Attribute(BaseModel):
    """What a client may ask for beyond the basics."""

    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    """The attributes of one service."""

    service_code: str
    attributes: list[Attribute]


class ServiceRequest(BaseModel):
    """A request as the port publishes it (no personal data; the cell's point)."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class CreatedRequest(BaseModel):
    """The answer to a posted request."""

    service_request_id: str
    token: str
    service_notice: str | None
    account_id: str | None


class TokenAnswer(BaseModel):
    """The request a token stands for."""

    service_request_id: str
    token: str


def _jurisdiction(locator: Locator, jurisdiction_id: str | None) -> None:
    city = locator.city
    if jurisdiction_id and city and jurisdiction_id not in (city.code, city.name):
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id!r} is not served here: use {city.code} or omit it"
        )


def check_jurisdiction(
    locator: LocatorDep, jurisdiction_id: Annotated[str | None, Query(max_length=40)] = None
) -> None:
    """Every data route's optional ``jurisdiction_id`` (a posted form's is checked too)."""
    _jurisdiction(locator, jurisdiction_id)


def request_token(settings: Settings, code: str) -> str:
    """The token handed to the reporter: the request's id and the citizen photo token."""
    return f"{code}-{citizen_token(settings, code)}"


router = APIRouter(prefix=georeport.PREFIX, tags=["Open311 GeoReport v2"])
# everything but discovery: services and requests of this jurisdiction
data = APIRouter(dependencies=[Depends(check_jurisdiction)])


@router.get("/discovery.{fmt}", responses=_answers(Discovery, 400))
def discovery(fmt: Format, settings: SettingsDep) -> Response:
    """Service discovery: where the endpoint is, what it speaks, how to get a key."""
    base = settings.base_url + georeport.PREFIX  # the public address, never the Host header
    kind = "production" if settings.environment == "production" else "test"
    return georeport.render(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": "The social-governance centre (综治中心) that runs this server",
        "key_service": "Ask the centre's operator for an api_key "
                       "(gridmap open311 client add NAME); see docs/api.md, \"Open311\"",
        "endpoints": [{"specification": SPEC, "url": base, "changeset": CHANGESET,
                       "type": kind, "formats": ["text/xml", "application/json"]}],
    })  # fmt: skip


@data.get("/services.{fmt}", responses=_answers(list[Service], 400, 404, 409))
def service_list(fmt: Format, session: SessionDep) -> Response:
    """The services: one per category, with Chinese names and groups."""
    return georeport.render(fmt, "services", services.service_list(session))


@data.get("/services/{service_code}.{fmt}", responses=_answers(ServiceDefinition, 400, 404, 409))
def service_definition(
    service_code: Annotated[str, Path(max_length=100)],
    fmt: Format,
    session: SessionDep,
) -> Response:
    """A service's definition: its attributes."""
    return georeport.render(
        fmt, "service_definition", services.service_definition(session, service_code)
    )


async def form_attributes(request: Request) -> dict[str, str]:
    """The ``attribute[code]=value`` pairs of a posted form."""
    form = await request.form()
    out = {}
    for key, value in form.multi_items():
        if key.startswith("attribute[") and key.endswith("]") and isinstance(value, str):
            out[key[len("attribute[") : -1]] = value
    return out


FormText = Annotated[str | None, Form(max_length=5000)]
FormShort = Annotated[str | None, Form(max_length=300)]


@data.post("/requests.{fmt}", status_code=201,
             responses=_answers(list[CreatedRequest], 400, 403, 404, 409, 429, ok=201))  # fmt: skip
def create_request(
    request: Request,
    fmt: Format,
    session: SessionDep,
    locator: LocatorDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    rules: RulesDep,
    attributes: Annotated[dict[str, str], Depends(form_attributes)],
    api_key: FormShort = None,
    jurisdiction_id: FormShort = None,
    service_code: FormShort = None,
    lat: FormShort = None,
    long: FormShort = None,
    address_string: FormShort = None,
    address_id: FormShort = None,
    email: FormShort = None,
    device_id: FormShort = None,
    account_id: FormShort = None,
    first_name: FormShort = None,
    last_name: FormShort = None,
    phone: FormShort = None,
    description: FormText = None,
    media_url: FormShort = None,
    crs: Annotated[
        Literal["wgs84", "gcj02", "bd09"] | None,
        Form(description="Extension: the CRS of lat/long (gcj02: AMap/Tencent, bd09: Baidu)"),
    ] = None,
    idempotency_key: Annotated[str | None, Header(pattern=IDEMPOTENCY_KEY)] = None,
) -> Response:
    """Post a service request (form-encoded; ``attribute[code]=value`` for attributes).

    A location is ``lat``/``long``, an ``address_id`` (a building id) or an
    ``address_string`` (a building address, exactly). ``email``, ``device_id`` and
    ``account_id`` are accepted and not stored. Send an ``Idempotency-Key`` header to make a
    retry safe (the retry answers 200 with the same request).
    """
    client = clients.authenticate(session, api_key or request.query_params.get("api_key"))
    limiter.hit(rules.open311_intake, f"client:{client.id}")
    _jurisdiction(locator, jurisdiction_id)
    form = {
        "service_code": service_code, "lat": lat, "long": long, "crs": crs,
        "address_string": address_string, "address_id": address_id,
        "first_name": first_name, "last_name": last_name, "phone": phone,
        "description": description, "media_url": media_url,
    }  # fmt: skip
    report = requests.report_from_form(
        session, locator, {k: v for k, v in form.items() if v is not None}, attributes
    )
    incident, created = service.create(
        session=session,
        locator=locator,
        calendar=calendar,
        data=report,
        actor=None,
        idempotency_key=idempotency_key,
        api_client_id=client.id,
    )
    rule = locator.rules.get(incident.category)
    answer = [{
        "service_request_id": incident.code,
        "token": request_token(settings, incident.code),
        "service_notice": services.service_notice(rule) if rule else None,
        "account_id": None,
    }]  # fmt: skip
    return georeport.render(fmt, "service_requests", answer, status=201 if created else 200)


@data.get("/requests.{fmt}", responses=_answers(list[ServiceRequest], 400, 404, 409))
def list_requests(
    fmt: Format,
    session: SessionDep,
    locator: LocatorDep,
    service_request_id: Annotated[str | None, Query(max_length=1000)] = None,
    service_code: Annotated[str | None, Query(max_length=800, json_schema_extra=CODES)] = None,
    start_date: Annotated[str | None, Query(max_length=40, json_schema_extra=WHEN)] = None,
    end_date: Annotated[str | None, Query(max_length=40, json_schema_extra=WHEN)] = None,
    status: Annotated[str | None, Query(max_length=20, json_schema_extra=STATUSES)] = None,
) -> Response:
    """Citizens' requests, newest first (at most 1000; the last 90 days by default).

    ``service_request_id`` (comma-separated) overrides the other filters. Published
    without personal data: no description, reporter or media; the location of the grid
    cell, the address of its village.
    """
    filters = requests.read_filter(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )
    return georeport.render(
        fmt, "service_requests", requests.public_requests(session, locator, filters)
    )


@data.get("/requests/{service_request_id}.{fmt}",
            responses=_answers(list[ServiceRequest], 400, 404, 409))  # fmt: skip
def read_request(
    service_request_id: Annotated[str, Path(max_length=30)],
    fmt: Format,
    session: SessionDep,
    locator: LocatorDep,
) -> Response:
    """One request (as a list of one, as the spec's examples show)."""
    rows = requests.public_requests(session, locator, RequestFilter(ids=[service_request_id]))
    if not rows:
        raise NotFound(f"there is no service request {service_request_id}")
    return georeport.render(fmt, "service_requests", rows)


@data.get("/tokens/{token}.{fmt}", responses=_answers(list[TokenAnswer], 400, 404, 409))
def read_token(
    token: Annotated[str, Path(max_length=100)],
    fmt: Format,
    session: SessionDep,
    settings: SettingsDep,
    locator: LocatorDep,
) -> Response:
    """The service request id a token (from the answer to a post) stands for."""
    code, _, _ = token.partition("-")
    if not code or not hmac.compare_digest(token.encode(), request_token(settings, code).encode()):
        raise NotFound("this token is not one this server handed out")
    if not requests.public_requests(session, locator, RequestFilter(ids=[code])):
        raise NotFound("this token is not one this server handed out")
    return georeport.render(fmt, "service_requests", [{"service_request_id": code, "token": token}])


router.include_router(data)
