"""/api/v1/proxies: the proxies accounts go out through (PROTOCOL.md §5).

A proxy's password is write-only: it is stored encrypted and never returned (`has_password`
says whether there is one). POST /{id}/test fetches a page through the proxy: the `target`
given, else this server's own /health. A proxy is answered as the engine's ProxyRow (a
dataclass pydantic serialises and describes): one definition of its fields for the console,
the API and its OpenAPI document.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ...engine.accounts import PROXY_PROTOCOLS, ProxyRow
from .table import V1, ApiError, Call, RouteTable

routes = RouteTable()

Protocol = Literal[PROXY_PROTOCOLS]  # type: ignore[valid-type]


class NewProxy(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=100)
    server: str = Field(min_length=3, max_length=255, description="host:port")
    protocol: Protocol = "http"
    username: str | None = Field(None, max_length=255)
    password: str | None = Field(None, max_length=1024)
    country: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=64)


class ProxyEdit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(None, min_length=1, max_length=100)
    server: str | None = Field(None, min_length=3, max_length=255)
    protocol: Protocol | None = None
    username: str | None = Field(None, max_length=255)
    password: str | None = Field(None, max_length=1024, description='"" or null removes it')
    country: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=64)


class TestQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    target: str | None = Field(None, max_length=2000, pattern=r"^https?://",
                               description="the page to fetch through the proxy (default: this server's /health)")


class ProxyTest(BaseModel):
    proxy_id: int
    test_success: bool
    response_time: int | None  # ms
    error_message: str | None
    status: Literal["active", "failed"]


class ProxyDeleted(BaseModel):
    id: int
    deleted: bool = True


def _proxy_id(call: Call) -> int:
    text = call.param("id")
    if not text.isdigit() or len(text) > 18:
        raise ApiError(404, f"no proxy {text!r}")
    return int(text)


async def _one(call: Call, proxy_id: int) -> ProxyRow:
    for row in await call.engine.accounts.list_proxies():
        if row.id == proxy_id:
            return row
    raise ApiError(404, f"no proxy {proxy_id}")


@routes.get("/api/v1/proxies", "The proxies", V1, answer=list[ProxyRow])
async def list_proxies(call: Call) -> list[ProxyRow]:
    return await call.engine.accounts.list_proxies()


@routes.get("/api/v1/proxies/{id}", "One proxy", V1, answer=ProxyRow, errors=(404,))
async def one_proxy(call: Call) -> ProxyRow:
    return await _one(call, _proxy_id(call))


@routes.post("/api/v1/proxies", "Add a proxy", V1, answer=ProxyRow, body=NewProxy, status=201)
async def add_proxy(call: Call) -> ProxyRow:
    body: NewProxy = call.body
    proxy_id = await call.engine.accounts.add_proxy(
        body.name, body.server, protocol=body.protocol, username=body.username, password=body.password,
        country=body.country, city=body.city)
    return await _one(call, proxy_id)


@routes.patch("/api/v1/proxies/{id}", "Change a proxy (fields not given stay)", V1, answer=ProxyRow,
              body=ProxyEdit, errors=(400, 404))
async def edit_proxy(call: Call) -> ProxyRow:
    body: ProxyEdit = call.body
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for required in ("name", "server", "protocol"):
        if required in changes and changes[required] is None:
            raise ApiError(400, f"{required}: cannot be null")
    return await call.engine.accounts.update_proxy(_proxy_id(call), **changes)


@routes.delete("/api/v1/proxies/{id}", "Remove a proxy (its accounts go out directly)", V1, answer=ProxyDeleted,
               errors=(404,))
async def delete_proxy(call: Call) -> ProxyDeleted:
    proxy_id = _proxy_id(call)
    await call.engine.accounts.delete_proxy(proxy_id)
    return ProxyDeleted(id=proxy_id)


@routes.post("/api/v1/proxies/{id}/test", "Fetch a page through the proxy", V1, answer=ProxyTest,
             query=TestQuery, errors=(400, 404))
async def test_proxy(call: Call) -> ProxyTest:
    proxy_id = _proxy_id(call)
    target = call.query.target or f"{call.server.url}/health"
    row = await call.engine.accounts.test_proxy(proxy_id, target)
    return ProxyTest(proxy_id=proxy_id, test_success=bool(row.last_test_ok), response_time=row.last_test_ms,
                     error_message=row.last_test_error, status="active" if row.last_test_ok else "failed")
