"""Node's socket.io-client v4 acting as the original crm-pc-im client (tests/server/node/
im_client.js) against the embedded server: connect with ?token=, register, every channel's
topics and every topic's messages, a live message, a reply with its sending queue and
channel:message, mark read, a dropped network and the pushes after it, a bad token."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from app.server.app import EmbeddedServer, ServerOptions

from tests.engine.pool.harness import make_rig

NODE_DIR = Path(__file__).parent / "node"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(150),
    pytest.mark.skipif(shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir(),
                       reason="node and tests/server/node/node_modules (npm ci) are needed"),
]


class NodeClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str) -> "NodeClient":
        env = {**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")}
        process = await asyncio.create_subprocess_exec(
            "node", str(NODE_DIR / "im_client.js"), url, cwd=NODE_DIR, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return cls(process)

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            self.received.append((message["event"], message["data"]))
            self._arrived.set()

    def mark(self) -> int:
        return len(self.received)

    def of(self, event: str, after: int = 0) -> list[Any]:
        return [d for n, d in self.received[after:] if n == event]

    async def next(self, event: str, where: Callable[[Any], bool] = lambda d: True, *, after: int = 0,
                   timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.of(event, after) if where(d)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"node client: no {event} in {timeout} s; got {[n for n, _ in self.received]}")
            self._arrived.clear()
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._arrived.wait()
            except TimeoutError:
                pass

    async def send(self, **command: Any) -> None:
        self.process.stdin.write((json.dumps(command, ensure_ascii=False) + "\n").encode())
        await self.process.stdin.drain()

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        self._reader.cancel()


async def test_the_original_client_lists_receives_replies_marks_and_survives_a_drop(tmp_path):
    async with make_rig(tmp_path) as rig:
        server = EmbeddedServer(rig.engine, ServerOptions(port=0))
        await server.start()
        clients: list[NodeClient] = []
        try:
            account_id = await rig.login("creator-node")
            await rig.control.inject_comment("Alice", "这个多少钱？", creator="creator-node")
            await rig.until(lambda: _has(rig.texts(account_id), "这个多少钱？"), what="the comment crawled")

            bad = await NodeClient.start(f"{server.url}/?token=wrong")
            clients.append(bad)
            refused = await bad.next("connect_error")
            assert "token" in refused["message"]

            node = await NodeClient.start(f"{server.url}/?token={server.token}")
            clients.append(node)
            registered = await node.next("monitor:registered")
            assert registered["success"] and registered["channelCount"] == 1
            [channel] = (await node.next("monitor:channels"))["channels"]
            assert channel["id"] == account_id and channel["isLoggedIn"] is True
            topics = (await node.next("monitor:topics", lambda d: d["channelId"] == account_id))["topics"]
            work = next(t for t in topics if not t["isPrivate"])
            messages = await node.next("monitor:messages", lambda d: d["topicId"] == work["id"])
            comment = next(m for m in messages["messages"] if m["content"] == "这个多少钱？")
            assert comment["fromName"] == "Alice" and comment["channelId"] == account_id

            # a live message: hint, then the client's own re-read shows it
            start = node.mark()
            await rig.control.inject_comment("Bob", "还有货吗？", creator="creator-node")
            hint = await node.next("monitor:new_message_hint", after=start, timeout=30)
            assert hint["channelId"] == account_id and hint["messageType"] == "comment"
            await node.next("monitor:messages", lambda d: any(m["content"] == "还有货吗？" for m in d["messages"]),
                            after=start)

            # a reply: the sending queue with it, the text as channel:message, the queue emptied
            start = node.mark()
            await node.send(emit="monitor:reply", data={
                "channelId": account_id, "topicId": work["id"], "content": "99 元，包邮",
                "type": "comment", "messageCategory": "comment", "replyToId": comment["id"],
                "replyToContent": comment["content"], "fromName": "客服", "fromId": "monitor_client",
                "authorAvatar": None})
            queued = await node.next("monitor:sending_queue", lambda d: d["sendingMessages"], after=start)
            assert queued["sendingMessages"][0]["content"] == "99 元，包邮"
            sent = await node.next("channel:message", lambda d: d["content"] == "99 元，包邮", after=start, timeout=60)
            assert sent["fromName"] == "客服" and sent["replyToId"] == comment["id"]
            await node.next("monitor:sending_queue", lambda d: d["topicId"] == work["id"] and not d["sendingMessages"],
                            after=start)

            # mark read
            start = node.mark()
            await node.send(emit="monitor:mark_topic_as_read", data={"channelId": account_id, "topicId": work["id"]})
            answer = await node.next("monitor:mark_topic_as_read_response", after=start)
            assert answer["success"] and answer["count"] >= 2
            pushed = await node.next("monitor:topics", lambda d: any(
                t["id"] == work["id"] and t["unreadCount"] == 0 for t in d["topics"]), after=start)
            assert pushed["channelId"] == account_id
            assert node.of("monitor:topic_read", start)[0]["topicId"] == work["id"]

            # the network drops; the client reconnects without registering again and still gets pushes
            start = node.mark()
            await node.send(drop=True)
            await node.next("disconnect", after=start)
            await node.next("connect", after=start)
            assert not node.of("monitor:registered", start)
            await rig.control.inject_comment("Carol", "断线以后", creator="creator-node")
            await node.next("monitor:new_message_hint", after=start, timeout=30)
            await node.next("monitor:messages", lambda d: any(m["content"] == "断线以后" for m in d["messages"]),
                            after=start)
        finally:
            for client in clients:
                await client.close()
            await server.stop()


async def _has(texts, text):
    return text in await texts
