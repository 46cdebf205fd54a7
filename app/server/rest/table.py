"""The REST routes as one table: what each route takes and answers, and the handler.

Every route names its query and body models (pydantic) and the model of what it answers, so
the same declaration validates the request, shapes the answer and writes the OpenAPI
document (openapi.py): the document cannot drift from what the server does.

    routes = RouteTable()

    @routes.get("/api/v1/accounts/{id}", "One account", V1, answer=SafeAccount)
    async def one(call: Call) -> SafeAccount: ...

A handler returns an instance of its answer model (or a list of them); it raises ApiError for
a refusal (404, 409, …). Bad input never reaches it: a query or body that fails its model is
answered 400 with the field and the reason, in the envelope of the route's family.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from ..app import EmbeddedServer

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal: its HTTP status, its message, and fields to add to the error body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Family:
    """How a group of routes wraps its answers and errors (PROTOCOL.md §5)."""

    name: str
    wrap: Callable[[Any], dict[str, Any]]  # the answer model's JSON -> the body
    error: Callable[[int, str], dict[str, Any]]
    schema: Callable[[dict[str, Any]], dict[str, Any]]  # the answer's schema -> the body's


def _v1_schema(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["success", "data"],
            "properties": {"success": {"type": "boolean", "const": True}, "data": data}}


def _flat_schema(data: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [{"type": "object", "required": ["success"],
                       "properties": {"success": {"type": "boolean", "const": True}}}, data]}


def _im_schema(body: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [{"type": "object", "required": ["status_code"],
                       "properties": {"status_code": {"type": "integer", "const": 0}}}, body]}


def _v1_error(status: int, message: str) -> dict[str, Any]:
    return {"success": False, "error": message}


# /api/v1: {success: true, data} / {success: false, error}
V1 = Family("v1", lambda data: {"success": True, "data": data}, _v1_error, _v1_schema)
# /api/v1 answers whose fields sit beside `success` (POST /api/v1/replies)
V1_FLAT = Family("v1", lambda data: {"success": True, **data}, _v1_error, _flat_schema)
# /api/im: {data, status_code: 0, (cursor, has_more)} / {data: null, status_code, status_msg}
IM = Family("im", lambda body: {**body, "status_code": 0},
            lambda status, message: {"data": None, "status_code": status, "status_msg": message}, _im_schema)
PLAIN = Family("plain", lambda body: body, lambda status, message: {"error": message}, lambda body: body)


def family_of(path: str) -> Family:
    """The family whose error envelope a request to `path` gets (also before routing: 401, 404)."""
    if path.startswith("/api/im/"):
        return IM
    if path.startswith("/api/v1/"):
        return V1
    return PLAIN


@dataclass
class Call:
    """One request, validated: the handler's only argument."""

    server: "EmbeddedServer"
    request: web.Request
    query: Any = None  # an instance of the route's query model
    body: Any = None  # an instance of the route's body model

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    @property
    def engine(self):
        return self.server.engine


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # aiohttp's pattern: "/api/v1/accounts/{id}"
    summary: str
    family: Family
    handler: Handler
    answer: Any  # a model, or list[model]: what the handler returns
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    public: bool = False  # no token needed (only /health)
    errors: tuple[int, ...] = (400,)  # the refusals it may answer, for the document

    @property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.answer)


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)

    def add(self, method: str, path: str, summary: str, family: Family, *, answer: Any,
            query: type[BaseModel] | None = None, body: type[BaseModel] | None = None, status: int = 200,
            public: bool = False, errors: tuple[int, ...] = (400,)) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, summary, family, handler, answer, query, body, status,
                                     public, errors))
            return handler

        return register

    def get(self, path: str, summary: str, family: Family, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, summary, family, **options)

    def post(self, path: str, summary: str, family: Family, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, summary, family, **options)

    def patch(self, path: str, summary: str, family: Family, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, summary, family, **options)

    def delete(self, path: str, summary: str, family: Family, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, summary, family, **options)

    def extend(self, other: "RouteTable") -> None:
        self.routes.extend(other.routes)

    def install(self, server: "EmbeddedServer") -> None:
        for route in self.routes:
            server.web.router.add_route(route.method, route.path, _endpoint(server, route))


def _endpoint(server: "EmbeddedServer", route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    adapter = route.adapter

    async def endpoint(request: web.Request) -> web.Response:
        family = route.family
        try:
            call = Call(server, request)
            if route.query is not None:
                call.query = route.query.model_validate(dict(request.query))
            if route.body is not None:
                call.body = route.body.model_validate(await _json_body(request))
            answer = await route.handler(call)
            body = family.wrap(adapter.dump_python(answer, mode="json"))
        except ValidationError as exc:
            return _error(family, 400, describe(exc))
        except ApiError as exc:
            return _error(family, exc.status, exc.message, exc.extra)
        except LookupError as exc:  # the engine's "no such account / reply / proxy"
            return _error(family, 404, str(exc).strip("'\""))
        except ValueError as exc:  # the engine refused the values (its own validation)
            return _error(family, 400, str(exc))
        except Exception:
            log.exception("%s %s failed", route.method, request.path)
            return _error(family, 500, "internal error (logged on the server)")
        return web.json_response(body, status=route.status)

    return endpoint


def _error(family: Family, status: int, message: str, extra: dict[str, Any] | None = None) -> web.Response:
    return web.json_response({**family.error(status, message), **(extra or {})}, status=status)


async def _json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        raise ApiError(400, "a JSON body is required")
    try:
        return json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON") from None


def describe(error: ValidationError) -> str:
    """A pydantic error as one line a client's developer can act on: where, and why."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def error_response(path: str, status: int, message: str) -> web.Response:
    """An error before any route ran (no token, no such route), in the path's family."""
    return _error(family_of(path), status, message)
