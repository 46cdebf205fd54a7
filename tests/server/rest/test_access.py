"""Who may call the REST API, and what a bad request gets: /health is open and says nothing
else; every other route refuses a missing or wrong token with 401 and a JSON error in its
family's envelope; the token works as a Bearer header and as ?token=; the OpenAPI document
describes every route the app serves."""
from __future__ import annotations

import re
import time

from app.server.rest import routes

from .conftest import Api


async def test_health_needs_no_token_and_says_only_that_it_is_up(api: Api):
    async with api.raw.get(api.url("/health")) as response:
        body = await response.json()
    assert response.status == 200
    assert set(body) == {"status", "timestamp"} and body["status"] == "ok"
    assert abs(body["timestamp"] - time.time() * 1000) < 60_000  # ms


async def test_every_other_route_refuses_a_missing_or_wrong_token(api: Api):
    for route in routes().routes:
        if route.public:
            continue
        path = re.sub(r"{\w+}", "1", route.path)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": api.server.token}):
            async with api.raw.request(route.method, api.url(path), headers=headers, json={}) as response:
                body = await response.json()
            assert response.status == 401, (route.method, path, headers)
            if path.startswith("/api/im/"):
                assert body["data"] is None and body["status_code"] == 401 and "token" in body["status_msg"]
            elif path.startswith("/api/v1/"):
                assert body["success"] is False and "token" in body["error"]
            else:
                assert "token" in body["error"]


async def test_the_token_works_as_a_bearer_header_and_in_the_query(api: Api):
    async with api.raw.get(api.url("/api/v1/status"), headers=api.headers) as response:
        assert response.status == 200 and (await response.json())["success"] is True
    async with api.raw.get(api.url("/api/v1/status"), params={"token": api.server.token}) as response:
        assert response.status == 200


async def test_unknown_routes_and_methods_answer_json(api: Api):
    body = await api.get("/api/v1/nothing-here", expect=404)
    assert body == {"success": False, "error": "no route /api/v1/nothing-here"}
    body = await api.call("PUT", "/api/v1/accounts", expect=405)
    assert body["success"] is False
    body = await api.get("/api/im/nothing", expect=404)
    assert body["status_code"] == 404 and body["data"] is None


async def test_a_body_that_is_not_json_or_not_an_object_is_a_clear_400(api: Api):
    async with api.raw.post(api.url("/api/v1/accounts"), headers=api.headers, data=b"{not json") as response:
        assert response.status == 400
        assert (await response.json()) == {"success": False, "error": "the body is not valid JSON"}
    body = await api.post("/api/v1/accounts", [1, 2], expect=400)
    assert "valid dictionary" in body["error"]


async def test_the_openapi_document_describes_every_route_the_app_serves(api: Api):
    document = await api.get("/api/openapi.json")
    assert document["openapi"].startswith("3.")
    served = {(r.method, r.resource.canonical) for r in api.server.web.router.routes()
              if r.method != "HEAD" and not r.resource.canonical.startswith("/socket.io")}
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert served == described
    # Every reference points at a schema the document has.
    text = str(document)
    for name in re.findall(r"#/components/schemas/([\w\-\[\]]+)", text):
        assert name in document["components"]["schemas"], name
    replies = document["paths"]["/api/v1/replies"]["post"]
    assert {"201", "400", "401", "409"} <= set(replies["responses"])
    assert "request_id" in document["components"]["schemas"]["NewReply"]["properties"]
    assert "security" not in document["paths"]["/health"]["get"]


async def test_the_document_shows_a_proxy_as_the_engine_defines_it(api: Api):
    """One definition of a proxy's fields (the engine's ProxyRow) for the console, the answers
    and the document; the password is never among them."""
    from dataclasses import fields

    from app.engine.accounts import ProxyRow

    document = await api.get("/api/openapi.json")
    answer = document["paths"]["/api/v1/proxies/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    name = re.search(r"#/components/schemas/(\w+)", str(answer["schema"])).group(1)
    shown = document["components"]["schemas"][name]
    assert set(shown["properties"]) == {f.name for f in fields(ProxyRow)}
    assert "password" not in shown["properties"] and shown["properties"]["has_password"]["type"] == "boolean"
