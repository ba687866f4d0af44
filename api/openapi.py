r"""The OpenAPI document, completed with what FastAPI cannot see, in one pass.

FastAPI writes the document from the routes' types. Three things it cannot know, added here
once for every operation rather than in each route:

- **No NUL character anywhere** (api/middleware.py refuses ``\u0000`` in the path, the
  query, the headers and any JSON or form body, because PostgreSQL cannot store it): every
  string a client sends says so with :data:`NO_NUL`, and a request body's members beyond
  those it names (which the server ignores) are documented as any JSON without a NUL.
- **A parameter is never null on the wire**: ``x: int | None = None`` is written as
  ``anyOf: [integer, null]``, which a client reads as "send the text null"; a parameter
  (or a form's field) left out is how it is null, so the null branch is dropped.
- **Schemas referenced by hand** (problem details, the map's GeoJSON FeatureCollection) are
  put into ``components``, so every ``$ref`` resolves (ReDoc refuses a document where one
  does not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

NO_NUL = r"^[^\x00]*$"
"""A string without a NUL character (ECMA-262, as JSON Schema reads patterns)."""
ANY_JSON = "JsonWithoutNul"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
REF = "#/components/schemas/"
Schema = dict[str, Any]


def install(app: FastAPI, *models: type[BaseModel]) -> None:
    """Complete ``app``'s document when it is first built; ``models``: schemas used by $ref."""
    generate = app.openapi

    def openapi() -> Schema:
        if app.openapi_schema is None:
            complete(generate(), models)
        return app.openapi_schema  # type: ignore[return-value]  # set by generate()

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: Schema, models: tuple[type[BaseModel], ...] = ()) -> Schema:
    """Add what FastAPI cannot see to ``document`` (in place) and return it."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template=REF + "{model}")
        components.update(schema.pop("$defs", {}))
        components.setdefault(model.__name__, schema)
    components[ANY_JSON] = _any_json()
    seen: set[str] = set()
    for operation in _operations(document):
        for parameter in operation.get("parameters", []):
            parameter["schema"] = _not_null(parameter.get("schema", {}))
            _no_nul(parameter["schema"], components, seen, body=False)
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            if media_type in FORMS:
                _fields_not_null(content.get("schema", {}), components)
            _no_nul(content.get("schema", {}), components, seen, body=True)
    return document


def _operations(document: Schema) -> Iterator[Schema]:
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                yield operation


def _fields_not_null(schema: Schema, components: Schema) -> None:
    """A form's fields, like parameters, are text: absent is how one is null."""
    ref = schema.get("$ref", "")
    target = components.get(ref.removeprefix(REF), {}) if ref.startswith(REF) else schema
    properties = target.get("properties", {})
    for name, prop in properties.items():
        properties[name] = _not_null(prop)


def _not_null(schema: Schema) -> Schema:
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) == len(branches):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _no_nul(schema: Any, components: Schema, seen: set[str], *, body: bool) -> None:
    """Say "no NUL" on every string of ``schema`` (and the components it refers to)."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF):
        name = ref.removeprefix(REF)
        if name not in seen and name in components:
            seen.add(name)
            _no_nul(components[name], components, seen, body=body)
        return
    if _is_free_string(schema):
        schema["pattern"] = NO_NUL
    if body and schema.get("type") == "object" and schema.get("additionalProperties", True) is True:
        # members the model does not name are ignored (or kept as they are), but a NUL in
        # them is still refused
        schema["propertyNames"] = {"pattern": NO_NUL}
        schema["additionalProperties"] = {"$ref": REF + ANY_JSON}
    for key in ("properties", "patternProperties", "$defs"):
        for inner in schema.get(key, {}).values():
            _no_nul(inner, components, seen, body=body)
    for key in ("items", "additionalProperties", "not", "contains", "propertyNames"):
        _no_nul(schema.get(key), components, seen, body=body)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for inner in schema.get(key, []):
            _no_nul(inner, components, seen, body=body)


def _is_free_string(schema: Schema) -> bool:
    """A string the document does not already bound to NUL-free text (pattern, enum, format)."""
    kind = schema.get("type")
    is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
    return is_string and not any(k in schema for k in ("pattern", "enum", "const", "format"))


def _any_json() -> Schema:
    """Any JSON value whose strings and member names hold no NUL (recursive)."""
    itself = {"$ref": REF + ANY_JSON}
    return {
        "description": "Any JSON value without a NUL character (\\u0000) in a string or a name",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": itself},
            {
                "type": "object",
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": itself,
            },
        ],
    }
