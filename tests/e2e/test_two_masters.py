"""Two `hiscrm serve --server` processes on one PostgreSQL database, sharing their IM clients
through a real redis-server, and one `hiscrm worker` attached to the first.

The rule for replies (app/engine/holders.py, outbox.py): only the process the account's
worker is connected to sends its replies. A reply queued through the second process (whose
worker link does not hold the account) leaves from the first, once, and an IM client of the
second sees the account's traffic and the reply's status, pushed by the first through Redis.
The second lists the first's worker live, with the account it holds (app/server/peers.py), and
its /admin logs the account in: the first runs the login with its worker.
"""
from __future__ import annotations

import shutil

import pytest

from tests.server.conftest import Client
from tests.server.test_im_redis import redis_url  # noqa: F401 - the fixture: a redis-server of the test's own

from .harness import site_copies, until
from .processes import TOKEN, MasterClient, MasterProcess, WorkerProcess

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.timeout(240),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


async def test_a_reply_queued_through_the_other_server_leaves_from_the_one_holding_the_worker(
        tmp_path, site, control, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    creator = "Creator Shared"
    first, second = MasterProcess(tmp_path / "a", "master-a"), MasterProcess(tmp_path / "b", "master-b")
    worker = WorkerProcess(tmp_path / "w1", "w1")
    on_b = Client()
    try:
        await first.start(site.base_url, liveness_s=30, database_url=pg_url, redis_url=redis_url)
        await second.start(site.base_url, liveness_s=30, database_url=pg_url, redis_url=redis_url)
        async with MasterClient(first.url) as a, MasterClient(second.url) as b:
            account_id = await b.add_account(creator)  # through B; A reads it from the database
            await worker.start(first.url, site.base_url)
            await until(lambda: a.worker_holds(account_id, "w1"), what="the account dealt to w1 (on A)")
            await until(lambda: b.worker_holds(account_id, "w1"), what="w1 and its account listed by B")
            await b.log_in(control, account_id, creator)  # through B's /admin: relayed to A

            await on_b.sio.connect(second.url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=10)
            dm = await control.inject_dm("Bob", "Do you ship to Shanghai? 🚚", creator=creator)
            hint = await on_b.next("monitor:new_message_hint", lambda d: d["channelId"] == account_id, timeout=30)
            assert hint["conversationId"] == dm["conversation_id"]  # A stored it; B's client was told through Redis

            reply_id = await b.reply(account_id, "shared-1", "Yes, we ship #shared",
                                     conversation_id=dm["conversation_id"])
            await until(lambda: b.confirmed(reply_id), timeout=30, what="the reply queued through B confirmed")
            status = await on_b.next("channel:message:status",
                                     lambda d: d["messageId"] == reply_id and d["replyStatus"] == "confirmed")
            assert status["platformReplyId"]
            reply = await b.reply_status(reply_id)
            assert reply["error_message"] is None and reply["platform_reply_id"] == status["platformReplyId"]
    finally:
        if on_b.sio.connected:
            await on_b.sio.disconnect()
        await worker.stop()
        await second.stop()
        await first.stop()
    assert await site_copies(control, creator, "Yes, we ship #shared") == 1
