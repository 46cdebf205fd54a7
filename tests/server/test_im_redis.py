"""Two embedded servers on one PostgreSQL database share their IM clients through a real
Redis server (python-socketio's Redis manager): a client on server A sees the push of a
message that arrived through server B's engine."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from .conftest import quiet_engine, serving

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def redis_url(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            await asyncio.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def test_a_client_of_one_server_sees_what_arrived_through_the_other(tmp_path, pg_url, redis_url):
    engine_a = quiet_engine(tmp_path / "a", database_url=pg_url)
    engine_b = quiet_engine(tmp_path / "b", database_url=pg_url)
    try:
        async with serving(engine_a, redis_url=redis_url) as a, serving(engine_b, redis_url=redis_url) as b:
            on_a = await a.client(auth={"token": a.token})
            await on_a.ask("monitor:request_channels", None, "monitor:channels")  # it gets the list's pushes
            account_id = await b.account("店铺")  # created through B: A's client is told
            pushed = await on_a.next("monitor:channels", lambda d: any(c["id"] == account_id for c in d["channels"]))
            assert pushed["channels"][0]["name"] == "店铺"

            await b.feed(account_id, comments=[dict(
                platform_comment_id="c1", platform_content_id="v1", text="从 B 来的评论", direction="in",
                created_at=datetime.now(timezone.utc) - timedelta(seconds=5), author_name="张三")])
            hint = await on_a.next("monitor:new_message_hint")
            assert (hint["channelId"], hint["topicId"], hint["commentCount"]) == (account_id, "v1", 1)
            # and A answers from the shared database
            messages = await on_a.ask("monitor:request_messages", {"topicId": "v1", "channelId": account_id},
                                      "monitor:messages")
            assert [m["content"] for m in messages["messages"]] == ["从 B 来的评论"]
    finally:
        await engine_a.stop()
        await engine_b.stop()


async def test_with_redis_a_broadcast_reaches_the_server_s_own_sockets_through_the_fan_out(tmp_path, pg_url,
                                                                                          redis_url):
    """fanout.py's local delivery (slices, a stalled client's superseded lists dropped) is also
    what the Redis manager's messages go through, not python-socketio's task per socket."""
    from .test_im_fanout import Stalled, queue_of

    engine = quiet_engine(tmp_path / "a", database_url=pg_url)
    try:
        async with serving(engine, redis_url=redis_url) as served:
            reader = await served.client()
            stalled = await Stalled.connect(served)
            try:
                filler = [{"id": f"t{i}", "title": "作品" * 40} for i in range(300)]  # ~50 kB a list
                worst = 0
                for i in range(100):
                    await served.server.im.hub.broadcast("monitor:topics", {"channelId": "acc-1", "topics": filler,
                                                                            "n": i})
                    await asyncio.sleep(0.01)  # through Redis and back
                    worst = max(worst, *(q.bytes for q in queue_of(served)))
                await reader.next("monitor:topics", lambda d: d.get("n") == 99, timeout=30)
                assert worst < 200_000  # one waiting list per socket, not a hundred
            finally:
                await stalled.close()
    finally:
        await engine.stop()
