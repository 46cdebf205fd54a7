"""The sandbox site's pages, JSON API, IM push and control API, through an aiohttp client
(no browser): what a creator site does for a page, and what the control API lets tests do."""
from __future__ import annotations

import asyncio
import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.platforms.sandbox.site import Faults, SandboxSite, World, create_app

pytestmark = pytest.mark.timeout(60)
CREATOR = "测试创作者"


@pytest.fixture
async def client():
    async with TestClient(TestServer(create_app(World(Faults(qr_ttl_s=1))))) as test_client:
        yield test_client


async def _login(client: TestClient, creator: str = CREATOR) -> None:
    qr = await (await client.post("/api/login/qr")).json()
    confirmed = await client.post(f"/_control/logins/{qr['token']}/confirm", json={"creator": creator})
    assert confirmed.status == 200
    complete = await client.get(f"/login/complete?token={qr['token']}", allow_redirects=False)
    assert complete.status == 302 and complete.headers["Location"] == "/creator/home"


async def test_the_qr_login_flow_sets_a_session_once(client):
    qr = await (await client.post("/api/login/qr")).json()
    assert qr["qr_url"].endswith(f"/phone/scan?token={qr['token']}")
    assert base64.b64decode(qr["qr_png_base64"]).startswith(b"\x89PNG")
    status = lambda: client.get(f"/api/login/status?token={qr['token']}")  # noqa: E731
    assert (await (await status()).json())["status"] == "waiting"
    await client.post("/api/phone/scan", json={"token": qr["token"]})
    assert (await (await status()).json())["status"] == "scanned"
    await client.post("/api/phone/confirm", json={"token": qr["token"], "creator": CREATOR})
    assert (await (await status()).json())["status"] == "confirmed"

    complete = await client.get(f"/login/complete?token={qr['token']}&next=/creator/inbox", allow_redirects=False)
    assert complete.headers["Location"] == "/creator/inbox"
    cookie = complete.cookies["sbx_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    me = await (await client.get("/api/me")).json()
    assert me["user"]["nickname"] == CREATOR
    again = await client.get(f"/login/complete?token={qr['token']}", allow_redirects=False)
    assert again.headers["Location"].startswith("/login?error=")  # a ticket logs in only once


async def test_an_unscanned_qr_code_expires(client):
    qr = await (await client.post("/api/login/qr")).json()
    await asyncio.sleep(1.2)
    body = await (await client.get(f"/api/login/status?token={qr['token']}")).json()
    assert body["status"] == "expired"
    refused = await (await client.post("/api/phone/scan", json={"token": qr["token"]})).json()
    assert refused["status_code"] != 0 and "expired" in refused["status_msg"]


async def test_sms_verification_accepts_only_the_right_code(client):
    await client.post("/_control/faults", json={"sms_required": True})
    qr = await (await client.post("/api/login/qr")).json()
    phone = await (await client.post("/api/phone/confirm", json={"token": qr["token"], "creator": CREATOR})).json()
    assert phone["status"] == "sms_required" and len(phone["sms_code"]) == 6
    wrong = await (await client.post("/api/login/sms", json={"token": qr["token"], "code": "x"})).json()
    assert wrong["status_code"] != 0 and "wrong" in wrong["status_msg"]
    right = await (await client.post("/api/login/sms", json={"token": qr["token"], "code": phone["sms_code"]})).json()
    assert right["status"] == "confirmed"


async def test_logged_out_pages_redirect_to_login_and_xhr_answers_401(client):
    page = await client.get("/creator/comments?work=1", allow_redirects=False)
    location = urlsplit(page.headers["Location"])
    assert page.status == 302 and location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/creator/comments?work=1"]
    api = await client.get("/api/works")
    assert api.status == 401 and (await api.json())["status_code"] == 8
    await _login(client)
    assert (await client.get("/creator/works", allow_redirects=False)).status == 200
    await client.post("/_control/sessions/expire", json={"creator": CREATOR})
    assert (await client.get("/api/works")).status == 401
    assert (await client.get("/creator/works", allow_redirects=False)).status == 302


async def test_pages_carry_a_content_security_policy_and_no_platform_text(client):
    await _login(client)
    await client.post("/_control/inject/comment", json={"author": "<b>x</b>", "text": "<script>alert(1)</script>"})
    page = await client.get("/creator/comments?work=1")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>alert" not in await page.text()


async def test_comments_page_by_cursor_newest_first_with_reply_threads(client):
    await _login(client)
    work_id = (await (await client.get("/api/works")).json())["works"][0]["work_id"]
    for i in range(25):
        await client.post("/_control/inject/comment", json={"author": f"u{i}", "text": f"c{i}", "work_id": work_id})
    first = await (await client.get(f"/api/comments?work_id={work_id}&count=20")).json()
    assert len(first["comments"]) == 20 and first["has_more"] and first["cursor"] == first["comments"][-1]["cid"]
    assert first["comments"][0]["text"] == "c24"  # newest first
    rest = await (await client.get(f"/api/comments?work_id={work_id}&cursor={first['cursor']}&count=20")).json()
    assert not rest["has_more"] and len(first["comments"]) + len(rest["comments"]) == first["total"]

    root = first["comments"][0]["cid"]
    reply = await (await client.post("/api/comments/reply", json={"work_id": work_id, "reply_to": root,
                                                                   "text": "谢谢 🙏"})).json()
    nested = await (await client.post("/_control/inject/comment", json={"author": "fan", "text": "+1",
                                                                         "reply_to": reply["comment"]["cid"]})).json()
    thread = await (await client.get(f"/api/comments/replies?cid={root}")).json()
    assert [c["text"] for c in thread["comments"]] == ["谢谢 🙏", "+1"]
    assert thread["comments"][0]["is_author"] and thread["comments"][0]["reply_id"] == root
    assert nested["comment"]["reply_to_reply_id"] == reply["comment"]["cid"]
    assert nested["comment"]["reply_to_user"]["nickname"] == CREATOR
    listed = await (await client.get(f"/api/comments?work_id={work_id}&count=1")).json()
    assert listed["comments"][0]["reply_total"] == 2
    assert listed["comments"][0]["newest_reply_id"] == nested["comment"]["cid"]
    work = (await (await client.get("/api/works")).json())["works"][0]
    assert work["newest_comment_id"] == nested["comment"]["cid"]  # a reply or not, the newest


async def test_the_lists_name_the_newest_comment_which_a_deletion_and_a_new_one_move(client):
    """One comment deleted and one written leave the counts as they were, not the newest id."""
    await _login(client)
    work_id = (await (await client.get("/api/works")).json())["works"][0]["work_id"]
    root = (await (await client.post("/_control/inject/comment", json={
        "author": "a", "text": "root", "work_id": work_id})).json())["comment"]["cid"]
    old = (await (await client.post("/_control/inject/comment", json={
        "author": "b", "text": "old", "reply_to": root})).json())["comment"]["cid"]

    async def shown() -> tuple:
        work = (await (await client.get("/api/works")).json())["works"][0]
        row = (await (await client.get(f"/api/comments?work_id={work_id}&count=1")).json())["comments"][0]
        return work["comment_count"], work["newest_comment_id"], row["reply_total"], row["newest_reply_id"]

    count, _, _, newest = before = await shown()
    assert newest == old
    await client.post(f"/_control/creators/{CREATOR}/comments/{old}/delete")
    assert (await shown())[2:] == (0, "0")
    new = (await (await client.post("/_control/inject/comment", json={
        "author": "c", "text": "new", "reply_to": root})).json())["comment"]["cid"]
    assert await shown() == (count, new, 1, new) != before


async def test_a_newest_first_cursor_is_a_position_that_deletions_and_new_rows_do_not_move(client):
    """The next page follows the last row read, whatever was deleted above it (the row itself
    too) or added on top since: nothing is skipped, nothing repeated."""
    await _login(client)
    work_id = (await (await client.get("/api/works")).json())["works"][0]["work_id"]
    for i in range(30):
        await client.post("/_control/inject/comment", json={"author": f"u{i}", "text": f"k{i}", "work_id": work_id})
    first = await (await client.get(f"/api/comments?work_id={work_id}&count=10")).json()
    assert [c["text"] for c in first["comments"]] == [f"k{i}" for i in range(29, 19, -1)]
    for c in first["comments"][-3:]:  # the last rows read, the cursor's own row included
        await client.post(f"/_control/creators/{CREATOR}/comments/{c['cid']}/delete")
    await client.post("/_control/inject/comment", json={"author": "late", "text": "k30", "work_id": work_id})
    rest = await (await client.get(f"/api/comments?work_id={work_id}&cursor={first['cursor']}&count=10")).json()
    assert [c["text"] for c in rest["comments"]] == [f"k{i}" for i in range(19, 9, -1)]
    bad = await (await client.get(f"/api/comments?work_id={work_id}&cursor=20")).json()
    assert bad["status_code"] == 1001  # an offset is no position

    root = rest["comments"][0]["cid"]
    for i in range(12):
        await client.post("/_control/inject/comment", json={"author": "fan", "text": f"r{i}", "reply_to": root})
    replies = await (await client.get(f"/api/comments/replies?cid={root}&count=5")).json()
    for c in replies["comments"][-2:]:
        await client.post(f"/_control/creators/{CREATOR}/comments/{c['cid']}/delete")
    later = await (await client.get(f"/api/comments/replies?cid={root}&cursor={replies['cursor']}&count=5")).json()
    assert [c["text"] for c in later["comments"]] == [f"r{i}" for i in range(5, 10)]

    for i in range(40):
        reply = await client.post("/_control/inject/dm", json={"author": "Ava", "text": f"d{i}"})
    conv_id = (await reply.json())["conversation_id"]
    page = await (await client.get(f"/api/im/messages?conversation_id={conv_id}&count=10")).json()
    await client.post("/_control/inject/dm", json={"author": "Ava", "text": "d40"})
    older = await (await client.get(
        f"/api/im/messages?conversation_id={conv_id}&cursor={page['cursor']}&count=10")).json()
    assert [m["content"]["text"] for m in older["messages"]] == [f"d{i}" for i in range(29, 19, -1)]


async def test_sends_answer_rate_limits_deleted_targets_and_empty_texts_with_status_codes(client):
    await _login(client)
    work_id = (await (await client.get("/api/works")).json())["works"][0]["work_id"]
    cid = (await (await client.get(f"/api/comments?work_id={work_id}")).json())["comments"][0]["cid"]
    empty = await (await client.post("/api/comments/reply", json={"work_id": work_id, "text": "  "})).json()
    assert empty["status_code"] == 3002
    await client.post(f"/_control/creators/{CREATOR}/comments/{cid}/delete")
    gone = await (await client.post("/api/comments/reply", json={"work_id": work_id, "reply_to": cid,
                                                                  "text": "hi"})).json()
    assert gone["status_code"] == 3001
    await client.post("/_control/faults", json={"rate_limit": True})
    blocked = await (await client.post("/api/comments/reply", json={"work_id": work_id, "text": "hi"})).json()
    assert blocked["status_code"] == 2154
    conv = (await (await client.get("/api/im/conversations")).json())["conversations"][0]["conversation_id"]
    dm = await (await client.post("/api/im/send", json={"conversation_id": conv, "text": "hi"})).json()
    assert dm["status_code"] == 2154


async def test_dm_push_replays_what_a_reconnecting_page_missed(client):
    await _login(client)
    before = int(time.time() * 1000)
    missed = await (await client.post("/_control/inject/dm", json={"author": "Lucas", "text": "missed"})).json()
    async with client.ws_connect(f"/api/im/ws?since={before - 1}") as ws:
        assert (await ws.receive_json())["type"] == "hello"
        replay = await ws.receive_json()
        assert replay["message"]["msg_id"] == missed["message"]["msg_id"]
        live = await (await client.post("/_control/inject/dm", json={"author": "Mia", "text": "live 🎈"})).json()
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        assert frame["type"] == "im_message" and frame["message"]["content"]["text"] == "live 🎈"
        assert frame["conversation"]["conversation_id"] == live["conversation_id"]
        await client.post("/_control/sessions/expire", json={})
        await client.post("/_control/inject/dm", json={"author": "Mia", "text": "after"})
        assert (await asyncio.wait_for(ws.receive_json(), 5))["type"] == "session_expired"


async def test_opening_a_conversation_reads_it_and_pages_older_messages(client):
    await _login(client)
    for i in range(35):
        reply = await client.post("/_control/inject/dm", json={"author": "Ella", "text": f"m{i}"})
    conv_id = (await reply.json())["conversation_id"]
    listed = await (await client.get("/api/im/conversations")).json()
    assert listed["conversations"][0]["unread_count"] == 35  # newest activity first
    page = await (await client.get(f"/api/im/messages?conversation_id={conv_id}")).json()
    assert page["messages"][0]["content"]["text"] == "m34" and page["has_more"]
    older = await (await client.get(f"/api/im/messages?conversation_id={conv_id}&cursor={page['cursor']}")).json()
    assert [m["content"]["text"] for m in older["messages"]] == ["m4", "m3", "m2", "m1", "m0"]
    listed = await (await client.get("/api/im/conversations")).json()
    assert listed["conversations"][0]["unread_count"] == 0


async def test_slow_pages_fault_delays_answers(client):
    await client.post("/_control/faults", json={"delay_ms": 300})
    started = time.monotonic()
    await client.get("/login")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await client.get("/_control/faults")  # the control API itself is never slowed
    assert time.monotonic() - started < 0.3


async def test_the_control_api_explains_bad_requests(client):
    bad = await client.post("/_control/faults", json={"rate_limt": True})
    assert bad.status == 400 and "unknown faults" in (await bad.json())["error"]
    bad = await client.post("/_control/faults", json={"delay_ms": "slow"})
    assert bad.status == 400 and "delay_ms" in (await bad.json())["error"]
    bad = await client.post("/_control/inject/dm", data=b"{not json", headers={"content-type": "application/json"})
    assert bad.status == 400 and "JSON" in (await bad.json())["error"]
    none = await client.post("/_control/inject/dm", json={"author": "a", "text": "b"})
    assert none.status == 404 and "no creator" in (await none.json())["error"]
    missing = await client.get("/_control/creators/nobody/works")
    assert missing.status == 404
    empty = await client.post("/_control/inject/comment", json={"author": "", "text": "b", "creator": CREATOR})
    assert empty.status == 400 and "author" in (await empty.json())["error"]


async def test_the_in_site_simulator_injects_comments_and_dms(client):
    started = await (await client.post("/_control/simulator", json={
        "comments_per_s": 40, "dms_per_s": 20, "creators": [CREATOR], "duration_s": 0.5})).json()
    assert started["running"]
    async with asyncio.timeout(10):  # until its half second is over
        while (state := await (await client.get("/_control/state")).json())["simulator"]["running"]:
            await asyncio.sleep(0.05)
    sim = state["simulator"]
    assert not sim["running"] and sim["comments"] > 5 and sim["dms"] > 2 and sim["errors"] == 0
    creator = next(c for c in state["creators"] if c["name"] == CREATOR)
    assert creator["messages"] >= sim["dms"]
    await client.delete("/_control/simulator")


async def test_the_world_survives_a_restart_with_its_sessions(tmp_path):
    world_file = tmp_path / "sandbox" / "world.json"
    first = SandboxSite(world_file=world_file)
    url = await first.start()
    first.world.ensure_creator(CREATOR)
    first.world.inject_dm(CREATOR, "Lucas", "remember me")
    token = first.world.complete_login(first.world.confirm(first.world.new_ticket().token, CREATOR).token).token
    await first.stop()

    second = SandboxSite(world_file=world_file)
    assert await second.start() == url  # the same port again, so stored avatar URLs still work
    try:
        creator = second.world.session_creator(token)
        assert creator is not None and creator.me.nickname == CREATOR
        texts = [m.text for c in creator.conversations.values() for m in c.messages]
        assert "remember me" in texts
    finally:
        await second.stop()


async def test_a_damaged_world_file_is_kept_aside_and_the_site_starts_fresh(tmp_path):
    world_file = tmp_path / "world.json"
    world_file.write_text("{broken", encoding="utf-8")
    site = SandboxSite(world_file=world_file)
    await site.start()
    await site.stop()
    assert (tmp_path / "world.broken.json").read_text(encoding="utf-8") == "{broken"
    assert json.loads(world_file.read_text(encoding="utf-8"))["creators"] == []
