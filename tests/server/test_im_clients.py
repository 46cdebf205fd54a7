"""The IM client namespace `/` over a real socket (PROTOCOL.md §3): what the original
crm-pc-im client and scripts see when they list, read, mark and manage accounts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import socketio

from app.engine.events import ServerStatusChanged
from app.engine.im.types import TopicRef

from .conftest import until

pytestmark = pytest.mark.timeout(60)


def ago(minutes: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def comment(cid, work, text, minutes_ago, *, parent=None, direction="in", author="张三"):
    return dict(platform_comment_id=cid, platform_content_id=work, text=text, created_at=ago(minutes_ago),
                parent_platform_comment_id=parent, direction=direction, author_id=f"u-{author}",
                author_name=author)


def dm(mid, conversation, text, minutes_ago, *, direction="in", sender="李四"):
    return dict(platform_message_id=mid, platform_conversation_id=conversation, text=text,
                created_at=ago(minutes_ago), direction=direction, sender_id=f"u-{sender}", sender_name=sender)


async def two_shops(served, *listeners):
    """Shop A: a work v1 with a thread and our answer, a conversation p1; shop B: another v1.
    The `listeners` ask for both shops' lists before they are filled: they get the pushes."""
    a = await served.account("店铺 A")
    b = await served.account("店铺 B")
    for client in listeners:
        await listen(client, a, b)
    await served.feed(a, contents=[dict(platform_content_id="v1", title="新品视频")],
                      comments=[comment("c1", "v1", "多少钱", 30), comment("c2", "v1", "有货吗", 20),
                                comment("r1", "v1", "99 元", 10, parent="c1", direction="out", author="店铺 A")],
                      conversations=[dict(platform_conversation_id="p1", peer_id="u-李四", peer_name="李四")],
                      messages=[dm("m1", "p1", "在吗", 15), dm("m2", "p1", "好的", 5, direction="out")])
    await served.feed(b, comments=[comment("x1", "v1", "B 的评论", 40)])
    return a, b


async def listen(client, *channels):
    """Ask for the channel list and these channels' topics, as the original client does after
    it registers: from then on their pushes come to this client."""
    await client.ask("monitor:request_channels", None, "monitor:channels")
    for channel in channels:
        await client.ask("monitor:request_topics", {"channelId": channel}, "monitor:topics",
                         where=lambda d, channel=channel: d["channelId"] == channel)


async def test_a_bad_or_missing_token_is_refused_and_every_way_of_presenting_it_works(served):
    for auth in (None, {"token": "wrong"}, {"token": ""}, "not a dict"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await served.client(auth=auth)
    by_auth = await served.client()
    by_query = await served.client(auth=None, url_query=f"/?token={served.token}")  # the original client
    by_header = await served.client(auth=None, headers={"Authorization": f"Bearer {served.token}"})
    for client in (by_auth, by_query, by_header):
        assert (await client.ask("monitor:request_channels", answer="monitor:channels"))["channels"] == []


async def test_register_lists_the_channels_with_the_original_shapes(served):
    a, b = await two_shops(served)
    client = await served.client()
    start = client.mark()
    await client.sio.emit("monitor:register", {"clientType": "monitor", "clientId": "monitor_1_abc"})
    registered = await client.next("monitor:registered", after=start)
    channels = (await client.next("monitor:channels", after=start))["channels"]
    assert registered == {"success": True, "channelCount": 2, "clientId": "monitor_1_abc", "clientType": "monitor"}
    # the channels come before the registered answer, as in the original
    names = [n for n, _ in client.received[start:]]
    assert names.index("monitor:channels") < names.index("monitor:registered")
    first = channels[0]
    assert [c["id"] for c in channels] == [a, b]  # most recent activity first
    assert first["name"] == "店铺 A" and first["platform"] == "sandbox" and first["description"] == "sandbox"
    assert first["unreadCount"] == 3 and first["messageCount"] == 5
    assert first["lastMessage"] == "好的"
    assert abs(first["lastMessageTime"] - ago(5).timestamp() * 1000) < 60_000  # milliseconds
    assert first["isLoggedIn"] is False and first["login_status"] == "not_logged_in"
    assert first["avatar"].endswith(a)  # the original's fallback avatar
    assert isinstance(first["userInfo"], str) and '"nickname"' in first["userInfo"]


async def test_topics_works_and_conversations_unread_first(served):
    a, _ = await two_shops(served)
    await served.feed(a, conversations=[dict(platform_conversation_id="empty", peer_id="x")])
    client = await served.client()
    data = await client.ask("monitor:request_topics", {"channelId": a}, "monitor:topics",
                            where=lambda d: "seq" not in d)  # the answer, not a push
    assert data["channelId"] == a
    topics = {t["id"]: t for t in data["topics"]}
    assert list(topics) == ["v1", "p1"]  # unread first; the empty conversation left out
    work, chat = topics["v1"], topics["p1"]
    assert (work["title"], work["isPrivate"], work["unreadCount"], work["messageCount"]) == ("新品视频", False, 2, 3)
    assert work["viewCount"] == 0 and work["likeRate"] == 0
    assert (chat["title"], chat["isPrivate"], chat["description"]) == ("李四", True, "私信会话 (2条消息)")


async def test_messages_of_a_topic_stay_in_its_channel(served):
    a, b = await two_shops(served)
    client = await served.client()

    data = await client.ask("monitor:request_messages", {"topicId": "v1", "channelId": a}, "monitor:messages")
    assert [m["id"] for m in data["messages"]] == ["c1", "c2", "r1"]  # oldest first, only shop A's
    ours = data["messages"][2]
    assert (ours["fromName"], ours["fromId"], ours["direction"], ours["isAuthorReply"]) == (
        "客服", "monitor_client", "outgoing", True)
    assert ours["replyToId"] == "c1" and ours["replyToContent"] == "多少钱"
    assert data["messages"][0]["fromName"] == "张三" and data["messages"][0]["type"] == "comment"
    queue = await client.next("monitor:sending_queue")
    assert queue["topicId"] == "v1" and queue["sendingMessages"] == []

    data = await client.ask("monitor:request_messages", {"topicId": "v1", "channelId": b}, "monitor:messages")
    assert [m["id"] for m in data["messages"]] == ["x1"]

    # without a channel (the original client): the one channel that has it, or an error
    start = client.mark()
    await client.sio.emit("monitor:request_messages", {"topicId": "p1"})
    dms = (await client.next("monitor:messages", after=start))["messages"]
    assert [(m["id"], m["direction"], m["messageCategory"]) for m in dms] == [
        ("m1", "inbound", "private"), ("m2", "outbound", "private")]
    error = await client.ask("monitor:request_messages", {"topicId": "v1"}, "error")
    assert "several channels" in error["message"]


async def test_marks_answer_the_sender_and_tell_everyone(served):
    reader, other = await served.client(), await served.client()
    a, _ = await two_shops(served, other)

    start = other.mark()
    answer = await reader.ask("monitor:mark_as_read", {"type": "comment", "id": "c1", "channelId": a},
                              "monitor:mark_as_read_response")
    assert answer["success"] is True and answer["id"] == "c1" and answer["read_at"] < 1e10  # seconds
    told = await other.next("monitor:message_read")
    assert (told["id"], told["channelId"], told["type"]) == ("c1", a, "comment") and "seq" in told
    channels = await other.next("monitor:channels", lambda d: d["channels"][0]["unreadCount"] == 2, after=start)
    assert channels["channels"][0]["id"] == a
    topics = await other.next("monitor:topics", lambda d: d["channelId"] == a and d["topics"][0]["unreadCount"] == 1,
                              after=start)
    assert {t["id"]: t["unreadCount"] for t in topics["topics"]} == {"v1": 1, "p1": 1}

    answer = await reader.ask("monitor:mark_conversation_as_read", {"channelId": a, "conversationId": "p1"},
                              "monitor:mark_conversation_as_read_response")
    assert (answer["count"], answer["conversationId"]) == (1, "p1")
    assert (await other.next("monitor:conversation_read"))["conversationId"] == "p1"

    answer = await reader.ask("monitor:mark_topic_as_read", {"channelId": a, "topicId": "v1"},
                              "monitor:mark_topic_as_read_response")
    assert answer["count"] == 1
    unread = await reader.ask("monitor:get_unread_count", {"channelId": a}, "monitor:unread_count_response")
    assert unread["unread"] == {"comments": 0, "messages": 0, "total": 0}
    unread = await reader.ask("monitor:get_unread_count", {}, "monitor:unread_count_response")
    assert unread["unread"]["total"] == 1 and unread["byChannel"][a]["total"] == 0


async def quiet(client, *channels):
    """Until the pushes of the set-up reached the client (so a test's burst is its own)."""
    for channel in channels:
        await client.next("monitor:topics", lambda d: d["channelId"] == channel and "seq" in d and d["topics"])


async def test_a_new_inbound_message_is_hinted_then_its_channel_and_topics_pushed(served):
    client = await served.client()
    a, b = await two_shops(served, client)
    await quiet(client, a, b)
    start = client.mark()

    await served.feed(a, comments=[comment("c9", "v1", "还有吗", 0.1)])

    hint = await client.next("monitor:new_message_hint", after=start)
    assert hint == {**hint, "channelId": a, "messageType": "comment", "topicId": "v1", "topicTitle": "新品视频",
                    "commentCount": 1, "totalUnreadCount": 4, "platform": "sandbox"}
    await client.next("monitor:channels", after=start)
    topics = await client.next("monitor:topics", after=start)
    assert topics["channelId"] == a
    names = [n for n, _ in client.received[start:]]
    assert names.index("monitor:new_message_hint") < names.index("monitor:channels") < names.index("monitor:topics")
    seqs = [d["seq"] for _, d in client.received[start:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    # an old message that is new to us (a first crawl) updates the lists without a hint
    start = client.mark()
    await served.feed(a, comments=[comment("c0", "v1", "很久以前", 600)])
    await client.next("monitor:topics", after=start)
    assert not [n for n, _ in client.received[start:] if n == "monitor:new_message_hint"]


async def test_a_reconnecting_client_gets_what_it_missed(served):
    client, observer = await served.client(), await served.client()
    a, b = await two_shops(served, client, observer)
    await quiet(client, a, b)
    await served.feed(a, comments=[comment("c5", "v1", "第一条", 0.1)])
    last = (await client.next("monitor:topics", lambda d: d["topics"] and d["topics"][0]["unreadCount"] == 3))["seq"]
    await client.sio.disconnect()

    start = observer.mark()
    await served.feed(a, messages=[dm("m5", "p1", "我走开的时候", 0.1)])
    await served.feed(a, comments=[comment("c6", "v1", "第二条", 0.1)])
    await observer.next("monitor:new_message_hint", lambda d: d.get("topicId") == "v1", after=start)
    await observer.next("monitor:topics", lambda d: d["topics"][0]["unreadCount"] == 4, after=start)
    newest = served.server.im.hub.seq

    back = await served.client(auth={"token": served.token, "resume": last})
    hints = [await back.next("monitor:new_message_hint", lambda d: d.get("conversationId") == "p1"),
             await back.next("monitor:new_message_hint", lambda d: d.get("topicId") == "v1")]
    assert all(h["seq"] > last for h in hints)
    topics = await back.next("monitor:topics", lambda d: d["channelId"] == a)
    assert topics["seq"] <= newest and topics["topics"][0]["unreadCount"] == 4  # as it is now
    assert len(back.of("monitor:channels")) == 1  # the current list once, not every one missed

    # a seq the ring does not have (another run, or too long ago): the full list instead
    fresh = await served.client(auth=None, url_query=f"/?token={served.token}&resume=5")
    assert (await fresh.next("monitor:channels"))["channels"][0]["id"] == a
    assert not fresh.of("monitor:new_message_hint")


async def test_accounts_platforms_and_workers(served):
    client = await served.client()
    await listen(client)
    platforms = await client.ask("monitor:request_platforms", None, "monitor:platforms")
    assert platforms == {"success": True, "data": [{"value": "sandbox", "label": "沙盒 Sandbox"}]}

    created = await client.ask("monitor:create_account", {"platform": "sandbox", "account_name": "新店",
                                                           "monitor_interval": 60, "status": "paused"},
                               "monitor:create_account_result")
    account = created["data"]
    assert created["success"] and account["account_name"] == "新店" and account["status"] == "paused"
    assert account["monitor_interval"] == 60 and account["credentials"] is None
    pushed = await client.next("monitor:channels", lambda d: any(c["id"] == account["id"] for c in d["channels"]))
    assert "seq" in pushed

    refused = await client.ask("monitor:create_account", {"platform": "tiktok", "account_name": "x"},
                               "monitor:create_account_result")
    assert refused["success"] is False and "tiktok" in refused["error"]

    workers = await client.ask("monitor:request_workers", None, "monitor:workers")
    assert workers["success"] and workers["data"][0]["id"] == "local"
    assert workers["data"][0]["assigned_accounts"] == 1

    deleted = await client.ask("monitor:delete_account", {"accountId": account["id"]}, "monitor:delete_account_result")
    assert deleted == {"success": True, "accountId": account["id"]}
    assert await served.engine.accounts.get(account["id"]) is None
    again = await client.ask("monitor:delete_account", {"accountId": account["id"]}, "monitor:delete_account_result")
    assert again["success"] is False

    synced = await client.ask("monitor:sync", {}, "monitor:channels")  # every 30 s from the original
    assert synced["channels"] == []


@pytest.mark.parametrize("event, payload, says", [
    ("monitor:request_topics", {}, "channelId"),
    ("monitor:request_topics", {"channelId": ["x"]}, "channelId"),
    ("monitor:request_topics", {"channelId": "acc-nope"}, "unknown channel"),
    ("monitor:request_messages", "topic", "invalid"),
    ("monitor:mark_batch_as_read", {"type": "comment", "ids": [], "channelId": "a"}, "ids"),
    ("monitor:reply", {"channelId": "a", "topicId": "t", "content": "x" * 20_001}, "content"),
    ("monitor:no_such_event", {}, "unknown event"),
    ("monitor:request_topics", {"channelId": "x" * 70_000}, "too large"),
])
async def test_a_bad_request_gets_an_error_and_the_server_keeps_serving(served, event, payload, says):
    client = await served.client()
    error = await client.ask(event, payload, "error")
    assert says in error["message"]
    assert (await client.ask("monitor:request_channels", None, "monitor:channels"))["channels"] == []


async def test_a_client_asking_too_fast_is_slowed_down_alone(served):
    greedy, calm = await served.client(), await served.client()
    for _ in range(700):
        await greedy.sio.emit("monitor:request_platforms")
    await greedy.next("error", lambda d: "too many" in d["message"])
    assert len(greedy.of("monitor:platforms")) < 700
    assert (await calm.ask("monitor:request_platforms", None, "monitor:platforms"))["success"]


async def test_the_console_is_told_how_many_im_clients_are_connected(served):
    counts = []
    served.engine.bus.subscribe(ServerStatusChanged, lambda e: counts.append(e.im_clients))
    _, second = await served.client(), await served.client()
    await until(lambda: counts and counts[-1] == 2, "two clients counted")
    await second.sio.disconnect()
    await until(lambda: counts[-1] == 1, "one client counted")
    assert served.server.im_clients == 1 and len(counts) <= 3  # gathered, not one event per socket


async def test_lists_asked_again_after_a_change_show_the_change(served):
    a, _ = await two_shops(served)
    client = await served.client()
    answer = dict(where=lambda d: "seq" not in d)
    before = await client.ask("monitor:request_topics", {"channelId": a}, "monitor:topics", **answer)
    channels = await client.ask("monitor:request_channels", None, "monitor:channels", **answer)
    assert channels["channels"][0]["unreadCount"] == 3

    await served.feed(a, comments=[comment("c7", "v2", "新作品下的评论", 1)])
    after = await client.ask("monitor:request_topics", {"channelId": a}, "monitor:topics", **answer)
    channels = await client.ask("monitor:request_channels", None, "monitor:channels", **answer)
    assert {t["id"] for t in after["topics"]} == {t["id"] for t in before["topics"]} | {"v2"}
    assert channels["channels"][0]["unreadCount"] == 4
    await served.engine.views.mark_read(TopicRef(a, "content", "v2"))  # as the console does
    after = await client.ask("monitor:request_topics", {"channelId": a}, "monitor:topics", **answer)
    assert next(t for t in after["topics"] if t["id"] == "v2")["unreadCount"] == 0
