"""The REST API on the server's aiohttp app (PROTOCOL.md §5): /health, /api/v1/*, /api/im/*
and its OpenAPI document at /api/openapi.json.

Every route but /health needs the server's token (`Authorization: Bearer …` or `?token=`);
without it the answer is 401 with a JSON error in the route family's envelope. Each route
module declares its routes in a RouteTable (table.py) and calls engine services only.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from ...engine.server_token import tokens_match
from ..auth import bearer
from . import accounts, im, proxies, replies, workers
from .openapi import document
from .table import PLAIN, Call, RouteTable, error_response

if TYPE_CHECKING:
    from ..app import EmbeddedServer

SOCKET_IO = "/socket.io/"  # python-socketio checks the token itself, at connect
OPENAPI = web.AppKey("openapi", dict)


class Health(BaseModel):
    status: str = "ok"
    timestamp: int  # ms


def routes() -> RouteTable:
    """Every REST route, in matching order."""
    table = RouteTable()

    @table.get("/health", "Liveness (no token needed)", PLAIN, answer=Health, public=True, errors=())
    async def health(call: Call) -> Health:
        return Health(timestamp=int(time.time() * 1000))

    @table.get("/api/openapi.json", "This document", PLAIN, answer=dict[str, Any], errors=())
    async def openapi(call: Call) -> dict[str, Any]:
        return call.request.app[OPENAPI]

    for part in (workers, accounts, replies, proxies, im):
        table.extend(part.routes)
    return table


def install(server: "EmbeddedServer") -> None:
    table = routes()
    public = {route.path for route in table.routes if route.public}
    server.web.middlewares.append(_guard(server, public))
    table.install(server)
    server.web[OPENAPI] = document(table.routes, version=workers.package_version())
    server.web[workers.STARTED] = time.time()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(server: "EmbeddedServer", public: set[str]) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(SOCKET_IO):
            return await handler(request)
        if path not in public:
            given = bearer(request.headers.get("Authorization")) or request.query.get("token")
            if not tokens_match(given, server.token):
                return error_response(path, 401, "a valid token is required (Authorization: Bearer or ?token=)")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return error_response(path, 404, f"no route {path}")
        except web.HTTPMethodNotAllowed:
            return error_response(path, 405, f"{request.method} is not allowed on {path}")

    return guard
