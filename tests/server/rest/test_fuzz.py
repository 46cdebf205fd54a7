"""Whatever a client sends, the REST API answers with a JSON refusal or a result, never an
internal error, and keeps serving (hypothesis: generated bodies and query strings)."""
from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Api

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ANSWERS = {200, 201, 400, 404, 409}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=300), st.just("x" * 5000))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
ACCOUNT_KEYS = ("platform", "account_name", "account_id", "credentials", "monitor_interval",
                "assigned_worker_id", "proxy_id", "status")
REPLY_KEYS = ("request_id", "account_id", "target_type", "target_id", "reply_content", "video_id")
PROXY_KEYS = ("name", "server", "protocol", "username", "password", "country")


def bodies(keys):
    known = st.fixed_dictionaries({}, optional={k: json_values for k in keys})
    return st.one_of(known, json_values)


ROUTES = [("POST", "/api/v1/accounts", ACCOUNT_KEYS), ("PATCH", "/api/v1/accounts/acc-x", ACCOUNT_KEYS),
          ("POST", "/api/v1/replies", REPLY_KEYS), ("POST", "/api/v1/proxies", PROXY_KEYS),
          ("PATCH", "/api/v1/proxies/1", PROXY_KEYS)]


@SETTINGS
@given(route=st.sampled_from(ROUTES), data=st.data())
async def test_generated_bodies_get_a_json_answer_never_a_500(api: Api, route, data):
    method, path, keys = route
    body = data.draw(bodies(keys))
    async with api.raw.request(method, api.url(path), headers=api.headers, json=body) as response:
        assert response.status in ANSWERS, (method, path, body, await response.text())
        assert isinstance(await response.json(), dict)


QUERY_KEYS = ("account_id", "cursor", "count", "conversation_id", "since_time", "content_id",
              "parent_comment_id", "types", "status", "platform", "sort", "order", "limit", "target")
IM_PATHS = ("/api/im/conversations", "/api/im/messages", "/api/im/contents", "/api/im/discussions",
            "/api/im/unified-messages", "/api/im/accounts", "/api/v1/accounts", "/api/v1/accounts/status/all",
            "/api/v1/replies", "/api/v1/workers")


@SETTINGS
@given(path=st.sampled_from(IM_PATHS),
       query=st.dictionaries(st.sampled_from(QUERY_KEYS), st.one_of(st.text(max_size=40),
                                                                     st.integers(-10, 10**12).map(str)), max_size=5))
async def test_generated_query_strings_get_a_json_answer_never_a_500(api: Api, path, query):
    async with api.raw.get(f"{api.url(path)}?{urlencode(query)}", headers=api.headers) as response:
        assert response.status in ANSWERS, (path, query, await response.text())
        assert isinstance(await response.json(), dict)
