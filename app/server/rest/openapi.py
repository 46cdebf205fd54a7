"""The OpenAPI 3.1 document of the REST routes, written from the route table (table.py).

Each route's query model becomes its parameters, its body model the request body, its answer
model (wrapped in its family's envelope) the success response; pydantic's JSON Schema of the
models goes to components/schemas. Served at /api/openapi.json (with the token, like every
route but /health).
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter

from .table import Route

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")


def document(routes: list[Route], *, version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}_{route.handler.__name__}",
            "responses": _responses(route, schemas),
        }
        parameters = _parameters(route, schemas)
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema(route.body, schemas)}}}
        if not route.public:
            operation["security"] = [{"token": []}, {"query_token": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "HisCRM Console server", "version": version,
                 "description": "REST API of the embedded server (PROTOCOL.md §5). Every route but "
                                "/health needs the server's token."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "query_token": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
    }


def _schema(kind: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a model or type; the models it names go to `schemas`."""
    schema = TypeAdapter(kind).json_schema(ref_template=REF, mode="serialization")
    _keep(schemas, schema.pop("$defs", {}))
    title = getattr(kind, "__name__", None)
    if isinstance(kind, type) and title and "properties" in schema:
        _keep(schemas, {title: schema})
        return {"$ref": REF.format(model=title)}
    return schema


def _keep(schemas: dict[str, Any], found: dict[str, Any]) -> None:
    """Add named schemas; two different models of one name would make a $ref ambiguous."""
    for name, schema in found.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different models are named {name!r}: rename one")


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PATH_PARAM.findall(route.path)]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF, mode="validation")
        _keep(schemas, schema.pop("$defs", {}))
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                               **({"description": prop["description"]} if "description" in prop else {})})
    return parameters


def _responses(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    answer = route.family.schema(_schema(route.answer, schemas))
    responses: dict[str, Any] = {str(route.status): {"description": route.summary,
                                                     "content": {"application/json": {"schema": answer}}}}
    error = {"content": {"application/json": {"schema": _error_schema(route)}}}
    for status in sorted({*route.errors, *(() if route.public else (401,))}):
        responses[str(status)] = {"description": _ERRORS.get(status, "refused"), **error}
    return responses


_ERRORS = {400: "invalid input (the field and why)", 401: "no valid token", 404: "not found",
           409: "already received (the request_id)"}


def _error_schema(route: Route) -> dict[str, Any]:
    example = route.family.error(400, "why")
    return {"type": "object", "properties": {key: _json_type(value) for key, value in example.items()}}


def _json_type(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if value is None:
        return {"type": "null"}
    return {"type": "string"}
