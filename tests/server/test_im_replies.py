"""A reply from an IM client goes through the durable outbox and a real page (the sandbox in
Chromium), and the client sees what the original client waits for: its topic's sending
queue, then the text as `channel:message` from 客服, plus the status events. Sent again
with the same request id (a reconnect), it is the same reply, never a second one."""
from __future__ import annotations

import pytest

from app.server.app import EmbeddedServer, ServerOptions

from tests.engine.pool.harness import make_rig

from .conftest import Served

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def test_a_reply_is_queued_sent_once_and_shown_as_ours(tmp_path):
    async with make_rig(tmp_path) as rig:
        server = EmbeddedServer(rig.engine, ServerOptions(port=0))
        await server.start()
        served = Served(rig.engine, server)
        try:
            account_id = await rig.login("creator-im")
            injected = await rig.control.inject_dm("小红", "有红色的吗？", creator="creator-im")
            conversation = injected["conversation_id"]
            await rig.until(lambda: _has(rig.texts(account_id), "有红色的吗？"), what="the DM crawled")
            sender, watcher = await served.client(), await served.client()
            await sender.sio.emit("monitor:register", {"clientType": "monitor", "clientId": "monitor_1_x"})
            await sender.next("monitor:registered")
            start = watcher.mark()

            request = {"channelId": account_id, "topicId": conversation, "content": "有的，今天发货",
                       "messageCategory": "private", "replyToId": None, "fromName": "客服",
                       "fromId": "monitor_client", "requestId": "req-1"}
            success = await sender.ask("monitor:reply", request, "reply:success")
            assert success["status"] == "submitted" and success["requestId"] == "req-1"
            reply_id = success["messageId"]

            queued = await watcher.next("monitor:sending_queue", lambda d: d["sendingMessages"], after=start)
            [entry] = queued["sendingMessages"]
            assert (entry["id"], entry["content"], entry["status"], entry["topicId"]) == (
                reply_id, "有的，今天发货", "sending", conversation)
            shown = await watcher.next("channel:message", lambda d: d["replyId"] == reply_id, after=start,
                                       timeout=60)
            assert (shown["fromName"], shown["direction"], shown["content"]) == ("客服", "outbound", "有的，今天发货")
            assert not shown["id"].startswith("local:")  # the platform's id, as the next message list has it
            emptied = await watcher.next("monitor:sending_queue", lambda d: not d["sendingMessages"],
                                         after=watcher.received.index(("channel:message", shown)))
            assert emptied["topicId"] == conversation
            status = await watcher.next("channel:message:status",
                                        lambda d: d["messageId"] == reply_id and d["status"] == "sent", after=start)
            assert status["platformReplyId"] == shown["id"]

            messages = await sender.ask("monitor:request_messages", {"topicId": conversation, "channelId": account_id},
                                        "monitor:messages")
            assert [m["id"] for m in messages["messages"] if m["content"] == "有的，今天发货"] == [shown["id"]]

            # the same request after a reconnect: the same reply, not a second one
            await sender.sio.disconnect()
            again = await served.client()
            repeated = await again.ask("monitor:reply", request, "reply:success")
            assert repeated["messageId"] == reply_id
            assert len(await rig.engine.outbox.list(account_id)) == 1
            [on_site] = [c for c in await rig.control.conversations("creator-im")
                         if c["conversation_id"] == conversation]
            assert [m["content"]["text"] for m in on_site["messages"]].count("有的，今天发货") == 1

            # a reply the outbox refuses is answered, and queues nothing
            refused = await again.ask("monitor:reply", {**request, "requestId": "req-2", "content": "  "},
                                      "reply:error")
            assert "empty" in refused["error"] and refused["code"] == "empty"
        finally:
            await served.close_clients()
            await server.stop()


async def _has(texts, text):
    return text in await texts
