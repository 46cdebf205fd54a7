"""Property tests over the IM namespace's event payloads: whatever a client sends (wrong
types, missing keys, huge or odd strings, unknown events), it gets an answer, never a
dropped connection, and the server keeps serving (PROTOCOL.md §3, issue 10)."""
from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from app.server.im.handlers import ImRequests

pytestmark = pytest.mark.timeout(300)

KEYS = ["channelId", "topicId", "conversationId", "content", "type", "messageCategory", "replyToId", "ids",
        "id", "accountId", "platform", "account_name", "status", "monitor_interval", "assigned_worker_id",
        "requestId", "messageId", "clientId", "clientType", "messageType"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=50), st.sampled_from(["acc-real", "v1", "p1", "c1", "comment", "private",
                                                           "sandbox", "", "0", "\x00", "\ud800"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                      max_leaves=20)
payloads = st.one_of(values, st.dictionaries(st.sampled_from(KEYS), values, max_size=8))


@pytest.fixture
async def world(served):
    account = await served.account("店铺",
                                   contents=[dict(platform_content_id="v1", title="作品")],
                                   comments=[dict(platform_comment_id="c1", platform_content_id="v1", text="在吗",
                                                  created_at="2026-01-01T00:00:00Z", direction="in")])
    events = sorted(ImRequests(served.engine, served.server.im.hub).table) + ["monitor:nope", "", "message"]
    return served, account, events


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_payload_to_any_event_is_answered_and_the_server_keeps_serving(world, data, caplog):
    served, account, events = world
    event = data.draw(st.sampled_from(events), label="event")
    payload = data.draw(payloads, label="payload")
    if isinstance(payload, dict) and payload.get("channelId") == "acc-real":
        payload["channelId"] = account
    client = await served.client()
    try:
        answer = await client.sio.call(event, payload, timeout=10)
        assert isinstance(answer, dict) and isinstance(answer.get("success"), bool)
        if answer["success"] is False:
            assert isinstance(answer["error"], str) and answer["error"]
        assert client.sio.connected
        platforms = await client.sio.call("monitor:request_platforms", timeout=10)
        assert platforms == {"success": True}
        # refused as bad input, not failed as a server bug
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    finally:
        await client.sio.disconnect()
