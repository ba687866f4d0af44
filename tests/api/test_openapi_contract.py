"""The OpenAPI document agrees with the server, class by class (issue 31).

Each test holds one kind of disagreement schemathesis found (benchmarks/schema_fuzz.py
runs the whole search): statuses a route can answer but did not document, a 405 without
the full ``Allow``, GeoJSON documented as plain JSON, a ``$ref`` that resolves nowhere
(ReDoc refused the document), parameters documented as nullable, and static rules the
server applied that the document did not state.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import FunctionType, ModuleType
from typing import Any

import jsonschema
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import problems
from api.app import create_app
from benchmarks.schema_fuzz import rule_of
from gridmap.errors import GridmapError, InvalidInput
from gridmap.registry.queries import SHORT_SEARCH, search_terms
from tests.helpers import assert_problem
from tests.world import T1

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Any:
    """The app as ``gridmap serve`` builds it (nothing here needs its database)."""
    from gridmap.settings import Settings
    from tests.helpers import TEST_SECRET

    settings = Settings(environment="test", secret_key=TEST_SECRET,
                        data_dir=tmp_path_factory.mktemp("doc"))  # fmt: skip
    return create_app(settings)


@pytest.fixture(scope="module")
def document(built) -> dict[str, Any]:
    return built.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


# -- statuses a route can raise are documented -------------------------------------------------


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    """The object a name or a dotted name in a function's source stands for, or None."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        if isinstance(owner, (ModuleType, type)):
            return inspect.getattr_static(owner, node.attr, None)
    return None


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] in ("gridmap", "api")


def raised_statuses(func: Callable[..., Any], seen: set[Any] | None = None) -> set[int]:
    """Statuses of the GridmapErrors ``func`` raises, directly or through what it calls.

    Follows calls it can name statically (functions and classmethods of our modules, also
    inside lambdas, and functions passed to be called); calls on instances are not
    followed, so this is a lower bound.
    """
    seen = set() if seen is None else seen
    func = inspect.unwrap(func)
    if isinstance(func, (classmethod, staticmethod)):
        func = func.__func__
    if not isinstance(func, FunctionType) or func in seen or not _ours(func):
        return set()
    seen.add(func)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return set()
    closure = inspect.getclosurevars(func)
    scope = {**func.__globals__, **closure.nonlocals}
    statuses: set[int] = set()
    caught = _caught_here(tree, scope)
    for node in ast.walk(tree):
        found: set[int] = set()
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            error = _resolve(node.exc.func, scope)
            if isinstance(error, type) and issubclass(error, GridmapError):
                found.add(error.status)
        elif isinstance(node, ast.Call):
            found |= raised_statuses(_resolve(node.func, scope), seen)
            # a function handed on to be called (run_in_threadpool(f, ...)), but not work
            # left for after the answer (background tasks)
            if not (isinstance(node.func, ast.Attribute) and node.func.attr == "add_task"):
                for argument in node.args:
                    found |= raised_statuses(_resolve(argument, scope), seen)
        # inside a try that answers these errors itself (None: any GridmapError)
        kept = caught.get(id(node), set())
        statuses |= set() if kept is None else found - kept
    return statuses


def _caught_here(tree: ast.AST, scope: dict[str, Any]) -> dict[int, set[int] | None]:
    """Nodes in the body of a ``try`` that catches GridmapErrors: the statuses that never leave.

    ``None`` for ``except GridmapError`` (any of them); else the statuses of the subclasses
    named (``except NotFound``: 404).
    """
    inside: dict[int, set[int] | None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        for handler in node.handlers:
            names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            errors = [_resolve(n, scope) for n in names if n is not None]
            if any(e is GridmapError for e in errors):
                held: set[int] | None = None
            else:
                held = {e.status for e in errors if isinstance(e, type)
                        and issubclass(e, GridmapError)}  # fmt: skip
                if not held:
                    continue
            for n in (n for stmt in node.body for n in ast.walk(stmt)):
                before = inside.get(id(n), set())
                inside[id(n)] = None if held is None or before is None else before | held
    return inside


def _calls(route: APIRoute) -> Iterator[Callable[..., Any]]:
    yield route.endpoint
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            yield dependant.call
        stack.extend(dependant.dependencies)


def test_every_status_a_route_raises_is_documented(built, document):
    """409 of plan prepare/activate was undocumented: every status a route raises is, now."""
    missing = []
    for context in iter_route_contexts(built.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = context.path_format
        seen: set[Any] = set()
        raised = set().union(*(raised_statuses(call, seen) for call in _calls(route)))
        wire = {problems.spec_status(path, s) for s in raised}
        if path.startswith("/open311"):
            wire = {403 if s == 401 else s for s in wire}  # GeoReport: a missing api_key
        for method in context.methods:
            operation = document["paths"][path][method.lower()]
            documented = {int(s) for s in operation["responses"] if s.isdigit()}
            missing += [f"{method} {path}: {s}" for s in sorted(wire - documented)]
    assert missing == [], "\n".join(missing)


def test_the_analysis_sees_a_conflict_raised_two_calls_away():
    """The check above is only as good as its reach: prepare's 409 is in the plans service."""
    from api.routers import plans

    assert 409 in raised_statuses(plans.activate_plan)
    assert 404 in raised_statuses(plans.read_plan)
    assert 409 not in raised_statuses(plans.read_plan)


# -- 405: Allow names every method of the path -----------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "1", path.replace("{fmt}", "json"))


def test_every_405_allows_every_method_the_path_answers(client, document):
    """Routes sharing a path (GET and POST /users) used to name only one in Allow; Open311's
    error format dropped the header altogether."""
    templates = {
        re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$"): item
        for p, item in document["paths"].items()
    }
    wrong = []
    for path in document["paths"]:
        # every documented route the concrete path reaches (/incidents/bulk is also
        # /incidents/{code}) answers it, so Allow names all their methods
        documented = {
            m.upper()
            for pattern, item in templates.items()
            if pattern.match(_concrete(path))
            for m in item
            if m in METHODS
        }
        for method in ("OPTIONS", "TRACE"):
            r = client.request(method, _concrete(path))
            allowed = {m.strip() for m in r.headers.get("allow", "").split(",")} - {"HEAD", ""}
            if r.status_code != 405 or allowed != documented:
                wrong.append(f"{method} {path}: {r.status_code} Allow {sorted(allowed)}")
    assert wrong == [], "\n".join(wrong)


# -- GeoJSON is documented as GeoJSON -----------------------------------------------------------


def test_ogc_items_are_documented_and_served_as_geojson(client, world, document):
    for path in ("/ogc/collections/{collection_id}/items",
                 "/ogc/collections/{collection_id}/items/{feature_id}"):  # fmt: skip
        assert set(document["paths"][path]["get"]["responses"]["200"]["content"]) == {
            "application/geo+json",
            "text/html",  # a page to a browser (api/ogc_html.py)
        }
    collections = client.get("/ogc/collections").json()["collections"]
    items = client.get(f"/ogc/collections/{collections[0]['id']}/items", params={"limit": 1})
    assert items.status_code == 200
    assert items.headers["content-type"] == "application/geo+json"
    feature = items.json()["features"][0]
    one = client.get(f"/ogc/collections/{collections[0]['id']}/items/{feature['id']}")
    assert one.headers["content-type"] == "application/geo+json"


# -- the document itself ----------------------------------------------------------------------


def test_every_reference_resolves_and_every_schema_is_valid(document):
    """/redoc failed: FeatureCollection was referenced and not among the components."""
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs - set(schemas) == set()
    assert {"FeatureCollection", "Problem"} <= refs
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema), name


def test_no_parameter_is_documented_as_nullable(document):
    """A header documented as integer-or-null was sent as the text "null" (and refused)."""
    nullable = [
        f"{method} {path} {p['name']}"
        for path, method, operation in _operations(document)
        for p in operation.get("parameters", [])
        if "null" in json.dumps(p["schema"])
    ]
    assert nullable == []


def _strings(schema: Any, components: dict[str, Any], seen: set[str]) -> Iterator[dict[str, Any]]:
    if isinstance(schema, list):
        for inner in schema:
            yield from _strings(inner, components, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _strings(components[name], components, seen)
        return
    if schema.get("type") == "string":
        yield schema
    for key, inner in schema.items():
        if key not in ("not", "const", "enum", "default", "examples"):
            yield from _strings(inner, components, seen)


def test_every_string_a_client_sends_is_documented_without_a_nul(document):
    """The server refuses a NUL anywhere (api/middleware.py): the document says so."""
    components = document["components"]["schemas"]
    parts = [
        [p["schema"] for p in operation.get("parameters", [])]
        + [c["schema"] for c in operation.get("requestBody", {}).get("content", {}).values()]
        for _, _, operation in _operations(document)
    ]
    patterns = set()
    for part in parts:
        for string in _strings(part, components, set()):
            if "enum" in string or "const" in string or string.get("format") == "binary":
                continue
            assert "pattern" in string or "format" in string, string
            patterns.add(string.get("pattern"))
    patterns.discard(None)
    admitting = [p for p in patterns if _admits_a_nul(p)]
    assert admitting == []


def _admits_a_nul(pattern: str) -> bool:
    """Whether strings matching ``pattern`` may hold a NUL: a NUL put anywhere into a
    hundred matching strings (hypothesis draws them) never makes another match."""
    regex = re.compile(pattern)
    found = []

    @given(st.from_regex(pattern))
    @settings(max_examples=100, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def probe(text: str) -> None:
        for i in range(len(text) + 1):
            if regex.search(text[:i] + "\x00" + text[i:]):
                found.append(text)

    probe()
    return bool(found)


def test_the_nul_probe_would_see_a_pattern_that_admits_one():
    assert _admits_a_nul(r"^.*$") and not _admits_a_nul(r"^[^\x00]*$")


def test_a_json_body_naming_a_nul_without_holding_one_is_not_refused(client, world):
    """``%00`` is a NUL in a URL or a form, not in JSON; ``\\u0000`` is a backslash."""
    inc = client.post("/api/v1/incidents", headers=world.auth("t1"), json={
        "category": "labour", "channel": "grid_app", "lon": 118.6, "lat": 24.9,
        "description": "100%00 paid, see C:\\u0000 folder"})  # fmt: skip
    assert inc.status_code != 422 or "NUL" not in inc.json()["detail"], inc.text
    r = client.post("/api/v1/notifications/read", headers=world.auth("t1"),
                    content=b'{"all": true, "x": "a\\u0000b"}')  # fmt: skip
    assert "NUL" in assert_problem(r, 422, "validation_error")["detail"]


# -- static rules are in the document: it and the server agree on each ------------------------


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


def _parameter(document, method, path, name):
    operation = document["paths"][path][method]
    return next(p["schema"] for p in operation["parameters"] if p["name"] == name)


def _body(document, method, path):
    content = document["paths"][path][method]["requestBody"]["content"]
    return next(iter(content.values()))["schema"]


REFUSED = (400, 422)
SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()
PARAMETERS = [  # method, path template, where it is sent, parameter, value, who
    ("get", "/ogc/collections/{collection_id}/items", "crs", "EPSG:4490", None),
    ("get", "/ogc/collections/{collection_id}/items", "crs", "EPSG:3857", None),
    ("get", "/ogc/collections/{collection_id}/items", "bbox-crs", "", None),
    ("get", "/ogc/collections/{collection_id}/items", "datetime", "2025-03-01T00:00:00Z/..", None),
    ("get", "/ogc/collections/{collection_id}/items", "datetime", "yesterday", None),
    ("get", "/ogc/collections/{collection_id}/items", "bbox", "118,24,119,200", None),
    ("get", "/open311/v2/requests.{fmt}", "status", "open, closed", None),
    ("get", "/open311/v2/requests.{fmt}", "status", "pending", None),
    ("get", "/open311/v2/requests.{fmt}", "start_date", "2025-03-01", None),
    ("get", "/open311/v2/requests.{fmt}", "start_date", "2025/03/01", None),
    ("get", "/api/v1/incidents", "bbox", "118.5,24.8,118.7,25.0", "t1"),
    ("get", "/api/v1/incidents", "bbox", "118.5,24.8,218.7,25.0", "t1"),
    ("get", "/api/v1/people", "q", "1234", "t1"),
    ("get", "/api/v1/people", "q", " 12x ", "t1"),
    ("get", "/api/v1/people", "q", "张", "t1"),
    ("get", "/api/v1/centres", "under", "350503", "t1"),
    ("get", "/api/v1/centres", "under", "3505", "t1"),
    # an unknown use reached the database's enum and answered 500 (the fuzz benchmark found it)
    ("get", "/api/v1/areas/{code}/buildings", "use", "commercial", "t1"),
    ("get", "/api/v1/areas/{code}/buildings", "use", "\u00a5\u00fe", "t1"),
]


@pytest.mark.parametrize(("method", "path", "name", "value", "who"), PARAMETERS)
def test_the_document_and_the_server_agree_on_a_parameter(
    client, world, document, method, path, name, value, who
):
    documented = _validator(document, _parameter(document, method, path, name)).is_valid(value)
    collection = client.get("/ogc/collections").json()["collections"][0]["id"]
    url = path.replace("{collection_id}", collection).replace("{fmt}", "json")
    url = url.replace("{code}", T1)
    r = client.request(method, url, params={name: value}, headers=world.auth(who) if who else {})
    _agree(documented, r)


NEWBIE = {"username": "newbie", "role": "analyst", "area_code": "350500"}
TASK = {"title": "t", "area_code": T1, "target": "building", "due_at": SOON}
BODIES = [  # method, path, body, who
    ("post", "/api/v1/notifications/read", {"all": True}, "t1"),
    ("post", "/api/v1/notifications/read", {"ids": [1]}, "t1"),
    ("post", "/api/v1/notifications/read", {}, "t1"),
    ("post", "/api/v1/notifications/read", {"all": 1}, "t1"),
    ("post", "/api/v1/notifications/read", {"ids": [1], "all": True}, "t1"),
    ("post", "/api/v1/users", NEWBIE | {"password": "abcdefghijk"}, "admin"),
    ("post", "/api/v1/users", NEWBIE | {"password": "Abc-123"}, "admin"),
    ("post", "/api/v1/users", NEWBIE | {"password": "river-stone-42"}, "admin"),
    (
        "post",
        "/api/v1/users",
        NEWBIE | {"password": "river-stone-42", "area_code": "3505"},
        "admin",
    ),
    ("post", "/api/v1/tasks", TASK | {"criteria": {"use": "commercial"}}, "t1"),
    ("post", "/api/v1/tasks", TASK | {"criteria": {"use": "shop"}}, "t1"),
    ("post", "/api/v1/tasks", TASK | {"criteria": {"rented": True}}, "t1"),
    ("post", "/api/v1/incidents/{code}/actions/report", {"version": 1}, "t1"),
    ("post", "/api/v1/incidents/{code}/actions/note", {"version": 1, "note": "ok"}, "t1"),
]


@pytest.mark.parametrize(("method", "path", "body", "who"), BODIES)
def test_the_document_and_the_server_agree_on_a_body(
    client, world, document, method, path, body, who
):
    if "{code}" in path:
        from tests.world import report

        code = report(client, world).json()["code"]
        action = path.rsplit("/", 1)[1]
        template = path.replace("/report", "/{action}").replace("/note", "/{action}")
        schema = _parameter(document, method, template, "action")
        documented = _validator(document, schema).is_valid(action)
        path = path.replace("{code}", code)
    else:
        documented = _validator(document, _body(document, method, path)).is_valid(body)
    r = client.request(method, path, json=body, headers=world.auth(who))
    _agree(documented, r)


def _agree(documented: bool, r: Any) -> None:
    """A documented-valid request is not refused but by a rule the document cannot state."""
    assert r.status_code < 500, r.text
    refused = r.status_code in REFUSED
    if documented and refused:
        assert rule_of(r.json()["detail"]) is not None, r.text
    else:
        assert refused != documented, r.text


@given(st.text(max_size=8) | st.from_regex(r"^\s*[0-9]{0,5}[Xx]{0,2}\s*$"))
@settings(max_examples=300, database=None)
def test_the_documented_search_rule_is_the_one_applied(query):
    """GET /people documents the refused searches as a pattern; it is search_terms' rule."""
    try:
        search_terms(query)
        refused = False
    except InvalidInput:
        refused = True
    assert refused == bool(re.fullmatch(SHORT_SEARCH, query))
