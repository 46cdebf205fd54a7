"""/api/v1 over a real engine: accounts (never a credential in an answer), replies into the
durable outbox (request_id: 409 on a repeat, persisted before the 201), proxies (password
write-only, a test that goes through the proxy), workers and status."""
from __future__ import annotations

import pytest

from tests.forward_proxy import ForwardProxy

from .conftest import Api, at, ingest

COOKIE = "sessionid-secret-value"


async def test_accounts_are_added_read_edited_and_removed_without_credentials(api: Api, engine):
    created = await api.post("/api/v1/accounts", {
        "platform": "sandbox", "account_name": "店铺 A", "monitor_interval": 60,
        "credentials": {"cookies": [{"name": "sessionid", "value": COOKIE, "domain": "x", "path": "/"}]},
    }, expect=201)
    account = created["data"]
    assert COOKIE not in str(created) and account["credentials"] is None
    assert (account["account_name"], account["platform"], account["monitor_interval"]) == ("店铺 A", "sandbox", 60)
    assert account["status"] == "active" and account["assigned_worker_id"] == "local"
    assert account["worker_status"] == "online"
    assert (await engine.accounts.load_storage_state(account["id"]))["cookies"][0]["value"] == COOKIE

    listed = await api.get("/api/v1/accounts")
    assert [a["id"] for a in listed["data"]] == [account["id"]] and COOKIE not in str(listed)
    assert (await api.get("/api/v1/accounts?status=paused"))["data"] == []
    edited = await api.patch(f"/api/v1/accounts/{account['id']}", {"status": "paused", "account_name": "店铺 B"})
    assert (edited["data"]["status"], edited["data"]["account_name"]) == ("paused", "店铺 B")
    assert (await engine.accounts.get(account["id"])).monitor_enabled is False
    assert [a["id"] for a in (await api.get("/api/v1/accounts?status=paused"))["data"]] == [account["id"]]

    everything = await api.get("/api/v1/accounts/status/all?worker_status=online")
    [row] = everything["data"]
    assert row["worker"]["id"] == "local" and row["runtime_stats"]["message_count"] == 0
    assert COOKIE not in str(everything)

    assert (await api.delete(f"/api/v1/accounts/{account['id']}"))["data"] == {"id": account["id"], "deleted": True}
    missing = await api.get(f"/api/v1/accounts/{account['id']}", expect=404)
    assert missing["success"] is False and account["id"] in missing["error"]
    await api.delete(f"/api/v1/accounts/{account['id']}", expect=404)


@pytest.mark.parametrize("body, field", [
    ({"account_name": "A"}, "platform"),
    ({"platform": "sandbox", "account_name": ""}, "account_name"),
    ({"platform": "sandbox", "account_name": "x" * 51}, "account_name"),
    ({"platform": "sandbox", "account_name": 42}, "account_name"),
    ({"platform": "sandbox", "account_name": "A", "monitor_interval": 5}, "monitor_interval"),
    ({"platform": "nowhere", "account_name": "A"}, "platform"),
    ({"platform": "sandbox", "account_name": "A", "assigned_worker_id": "w-gone"}, "assigned_worker_id"),
])
async def test_a_bad_account_is_refused_with_the_field_and_nothing_is_stored(api: Api, engine, body, field):
    refused = await api.post("/api/v1/accounts", body, expect=400)
    assert refused["success"] is False and refused["error"].startswith(field)
    assert await engine.accounts.list() == []


@pytest.fixture
async def topic(engine):
    account_id = await engine.accounts.create("sandbox", "店铺")
    await ingest(engine, account_id,
                 contents=[{"platform_content_id": "v1", "title": "新品"}],
                 comments=[{"platform_comment_id": "c1", "platform_content_id": "v1", "author_name": "小王",
                            "text": "多少钱", "created_at": at(1)}],
                 conversations=[{"platform_conversation_id": "d1", "peer_name": "Li"}],
                 messages=[{"platform_message_id": "m1", "platform_conversation_id": "d1", "sender_name": "Li",
                            "text": "在吗", "created_at": at(2)}])
    return account_id


async def test_a_reply_is_queued_once_per_request_id_and_readable_in_the_protocol_words(api: Api, engine, topic):
    body = {"request_id": "req-1", "account_id": topic, "target_type": "comment", "target_id": "c1",
            "video_id": "v1", "reply_content": "99 元"}
    accepted = await api.post("/api/v1/replies", body, expect=201)
    assert accepted["success"] is True and accepted["status"] == "pending" and accepted["request_id"] == "req-1"
    row = await engine.outbox.get(accepted["reply_id"])  # persisted before the answer
    assert (row.status, row.text, row.target_platform_id, row.request_id) == ("queued", "99 元", "c1", "req-1")

    again = await api.post("/api/v1/replies", body, expect=409)
    assert again["success"] is False and again["reply_id"] == accepted["reply_id"]
    assert len(await engine.outbox.list()) == 1  # never twice

    dm = await api.post("/api/v1/replies", {"request_id": "req-2", "account_id": topic,
                                            "target_type": "direct_message", "target_id": "d1",
                                            "reply_content": "在的"}, expect=201)
    await engine.outbox.cancel(dm["reply_id"])
    one = await api.get(f"/api/v1/replies/{accepted['reply_id']}")
    assert one["data"]["status"] == "pending" and one["data"]["target_id"] == "c1"
    assert one["data"]["outbox_status"] == "queued" and one["data"]["executed_at"] is None
    assert [r["reply_id"] for r in (await api.get("/api/v1/replies?status=pending"))["data"]] == [accepted["reply_id"]]
    failed = (await api.get("/api/v1/replies?status=failed"))["data"]
    assert [(r["reply_id"], r["outbox_status"]) for r in failed] == [(dm["reply_id"], "cancelled")]
    await api.get("/api/v1/replies/nope", expect=404)


@pytest.mark.parametrize("change, field", [
    ({"video_id": None}, "video_id"),
    ({"request_id": ""}, "request_id"),
    ({"reply_content": "   "}, "the reply is empty"),
    ({"target_type": "work"}, "target_type"),
    ({"account_id": "acc-nobody"}, "unknown account"),
    ({"target_id": "c-unknown"}, "unknown comment"),
    ({"reply_content": "x" * 200_000}, "reply_content"),
])
async def test_a_bad_reply_is_refused_and_nothing_is_queued(api: Api, engine, topic, change, field):
    body = {"request_id": "req-9", "account_id": topic, "target_type": "comment", "target_id": "c1",
            "video_id": "v1", "reply_content": "ok", **change}
    refused = await api.post("/api/v1/replies", body, expect=400)
    assert field in refused["error"]
    assert await engine.outbox.list() == []


async def test_proxies_keep_the_password_to_themselves_and_are_tested_through_the_proxy(api: Api, engine):
    async with ForwardProxy("me", "pw-secret") as forward:
        created = await api.post("/api/v1/proxies", {"name": "HK", "server": f"127.0.0.1:{forward.port}",
                                                     "username": "me", "password": "pw-secret"}, expect=201)
        proxy = created["data"]
        assert proxy["has_password"] is True and "pw-secret" not in str(created)
        tested = await api.post(f"/api/v1/proxies/{proxy['id']}/test", expect=200)
        assert tested["data"]["test_success"] is True and tested["data"]["status"] == "active"
        assert forward.requests == [f"{api.server.url}/health"]  # through the proxy, to this server
        edited = await api.patch(f"/api/v1/proxies/{proxy['id']}", {"password": "wrong"})
        assert edited["data"]["has_password"] is True
        refused = await api.post(f"/api/v1/proxies/{proxy['id']}/test", expect=200)
        assert refused["data"]["test_success"] is False and "407" in refused["data"]["error_message"]
    listed = await api.get("/api/v1/proxies")
    assert [p["id"] for p in listed["data"]] == [proxy["id"]] and "pw-secret" not in str(listed)
    assert (await api.patch(f"/api/v1/proxies/{proxy['id']}", {"protocol": "ftp"}, expect=400))["success"] is False
    await api.post(f"/api/v1/proxies/{proxy['id']}/test?target=file:///etc/passwd", expect=400)
    await api.delete(f"/api/v1/proxies/{proxy['id']}")
    await api.get(f"/api/v1/proxies/{proxy['id']}", expect=404)
    await api.get("/api/v1/proxies/abc", expect=404)


async def test_workers_and_status_say_who_holds_the_accounts(api: Api, engine, topic):
    workers = (await api.get("/api/v1/workers"))["data"]
    # This engine runs without browsers (serve --no-browsers): its own pool holds the account
    # but cannot monitor it, so it is listed offline.
    assert [(w["id"], w["status"], w["assigned_accounts"]) for w in workers] == [("local", "offline", 1)]
    assert "sandbox" in workers[0]["capabilities"]
    assert (await api.get("/api/v1/workers/local"))["data"]["id"] == "local"
    await api.get("/api/v1/workers/w-gone", expect=404)
    assert (await api.get("/api/v1/workers?status=online"))["data"] == []
    status = (await api.get("/api/v1/status"))["data"]
    assert status["workers"] == {"total": 1, "online": 0}
    assert status["dataStore"] == {"accounts": 1, "messages": 2, "unread": 2}
    assert (await api.get("/api/v1/workers?status=sleeping", expect=400))["error"].startswith("status")
