"""node's socket.io-client acting as an ORIGINAL Node worker (tests/server/node/original_worker.js):
the token in the URL query, join_room, enveloped register and heartbeat, a camelCase
`worker:data:sync` snapshot, the relayed QR login with `cookies`, a reply result without
error_class; and a wrong token refused."""
import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from app.engine.im.types import TopicRef

from tests.server.worker_link.harness import TOKEN, make_master, until

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]


class NodeWorker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for line in self.process.stdout:
            self.lines.append(json.loads(line))

    async def seen(self, what: str, timeout: float = 20.0) -> object:
        found = await until(lambda: next((line for line in self.lines if line["what"] == what), None),
                            timeout=timeout,
                            what=f"the node worker to see {what} (it saw {[l['what'] for l in self.lines]})")
        return found["data"]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


async def start_node_worker(url: str, token: str, worker_id: str, account_id: str) -> NodeWorker:
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_DIR / "original_worker.js"), url, token, worker_id, account_id,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")}, cwd=NODE_DIR)
    return NodeWorker(process)


async def test_an_original_node_worker_registers_syncs_logs_in_and_replies(tmp_path):
    async with make_master(tmp_path) as master:
        engine = master.engine
        account_id = await engine.accounts.create("sandbox", "original-creator")
        node = await start_node_worker(master.url, TOKEN, "node-w1", account_id)
        try:
            assert await node.seen("joined") is True
            ack = await node.seen("worker:register:ack")
            assert ack["success"] is True and [a["id"] for a in ack["assigned_accounts"]] == [account_id]
            assert "storage_state" not in ack["assigned_accounts"][0]  # only hiscrm/1 workers get it
            assert (await node.seen("worker:heartbeat:ack")) == {"success": True}
            history = await node.seen("history_ids")
            assert history["err"] is None and history["ids"]["success"] is False  # answered, not left to time out
            assert history["waited_ms"] < 5000
            sync = await node.seen("WORKER_DATA_SYNC_ACK")
            assert sync["success"] is True and sync["accountId"] == account_id
            assert sync["stats"] == {"accepted": 4, "rejected": 0}
            [remote] = [w for w in engine.workers() if w.remote]
            assert (remote.id, remote.protocol, remote.memory_mb) == ("node-w1", None, 210)

            topics = (await engine.views.topics(account_id)).items
            assert sorted((t.ref.kind, t.ref.platform_id, t.unread_count) for t in topics) == [
                ("content", "v1", 1), ("conversation", "peer-9", 1)]

            session_id = await engine.logins.start(account_id)
            await until(lambda: engine.logins.session(session_id).finished, timeout=20, what="the relayed login")
            session = engine.logins.session(session_id)
            assert session.state == "success", session.message
            account = await engine.accounts.get(account_id)
            assert (account.platform_user_id, account.platform_username) == ("orig-uid-1", "Original Creator")
            cookies = (await engine.accounts.load_storage_state(account_id))["cookies"]
            assert cookies[0]["value"] == "from-node"

            ref = TopicRef(account_id, "conversation", "peer-9")
            reply_id = await engine.outbox.reply(ref, "Yes, worldwide")
            request = await node.seen("master:reply:request")
            assert request["target_type"] == "direct_message" and request["conversation_id"] == "peer-9"

            async def sent():
                row = await engine.outbox.get(reply_id)
                return row if row.status in ("sent", "confirmed") else None

            row = await until(sent, timeout=20, what="the reply sent")
            assert row.platform_reply_id.startswith("peer-9_")
        finally:
            await node.stop()


async def test_an_original_worker_with_a_wrong_token_is_refused(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        node = await start_node_worker(master.url, "not-the-token", "node-bad", "acc-x")
        try:
            message = await node.seen("connect_error")
            assert "token" in message
            assert master.engine.remote_workers.list() == []
        finally:
            await node.stop()
