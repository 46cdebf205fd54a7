"""Data from workers: deltas ingested before they are acknowledged (seq bookkeeping), the
original's snapshots merged as a crawl (read marks kept, up to 10 MB; larger: an error, the
socket stays), and saved sessions (encrypted, only from the holding worker)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from app.engine.store.models import DirectMessage

from tests.server.worker_link.harness import FakeWorkerSocket, make_master

pytestmark = pytest.mark.timeout(90)


def _dm(message_id: str, text: str) -> dict:
    return {"platform_message_id": message_id, "platform_conversation_id": "peer-1", "sender_id": "peer-1",
            "text": text, "created_at": datetime.now(timezone.utc).isoformat(), "direction": "in"}


async def _messages(engine, account_id):
    def query(s):
        rows = s.scalars(select(DirectMessage).where(DirectMessage.account_id == account_id)
                         .order_by(DirectMessage.platform_message_id))
        return [(m.platform_message_id, m.text, m.is_read) for m in rows]

    return await engine.db.read(query)


def _delta(worker_id, account_id, seq, *messages):
    return {"worker_id": worker_id, "account_id": account_id, "seq": seq,
            "batch": {"contents": [], "comments": [], "conversations": [], "messages": list(messages)}}


async def test_deltas_are_stored_before_the_ack_and_a_resent_one_is_not_ingested_again(tmp_path, db_url):
    async with make_master(tmp_path, start=False, database_url=db_url) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-1")
        worker = FakeWorkerSocket("w-data")
        await worker.connect(master.url)
        try:
            await worker.register()
            ack = await worker.ask("worker:data:delta", _delta("w-data", account_id, 1, _dm("m1", "hello")))
            assert ack["payload"] == {"seq": 1, "success": True, "stats": {"added": 1, "updated": 0, "rejected": 0}}
            assert await _messages(master.engine, account_id) == [("m1", "hello", False)]  # stored when acked

            bad = dict(_dm("m2", "x"), created_at="yesterday-ish")
            ack = await worker.ask("worker:data:delta", _delta("w-data", account_id, 2, bad, _dm("m3", "fine")))
            assert ack["payload"]["stats"] == {"added": 1, "updated": 0, "rejected": 1}  # one bad record only

            again = await worker.ask("worker:data:delta", _delta("w-data", account_id, 2, _dm("m4", "resent")))
            assert again["payload"]["success"] is True and again["payload"]["duplicate"] is True
            assert [m[0] for m in await _messages(master.engine, account_id)] == ["m1", "m3"]

            unknown = await worker.ask("worker:data:delta", _delta("w-data", "acc-nobody", 3, _dm("m5", "?")))
            assert unknown["payload"]["success"] is False and "unknown account" in unknown["payload"]["error"]

            malformed = await worker.ask("worker:data:delta", {"account_id": account_id, "seq": "x", "batch": []},
                                         answer="worker:data:delta:error")
            assert malformed["payload"]["success"] is False and "seq" in malformed["payload"]["error"]

            never = await worker.ask("worker:data:delta", {"account_id": account_id, "seq": 3, "batch": []})
            assert never["payload"]["seq"] == 3 and never["payload"]["success"] is False  # dropped by the worker

            # A master restarted knows what the worker was told: resume_seq.
            ack = await worker.register(resume_seq=10)
            assert ack["acked_seq"] == 10
        finally:
            await worker.close()


def _snapshot(account_id: str, *, is_read: bool, filler: str = "") -> dict:
    return {"accountId": account_id, "platform": "sandbox", "timestamp": 1_700_000_000_000, "snapshot": {
        "platform": "sandbox", "data": {"comments": [], "contents": [], "notifications": [], "conversations": [
            {"id": f"conv_{account_id}_peer-1", "conversationId": "peer-1", "userId": "peer-1", "userName": "Mei"}],
            "messages": [{"id": f"msg_{account_id}_m1", "messageId": "m1", "conversationId": "peer-1",
                          "senderId": "peer-1", "content": "from the snapshot" + filler, "direction": "inbound",
                          "createdAt": 1_700_000_000_000, "isRead": is_read}]}}}


async def test_an_original_snapshot_merges_like_a_crawl_and_never_resets_read_marks(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-2")
        worker = FakeWorkerSocket("w-snap")
        await worker.connect(master.url)
        try:
            await worker.register(protocol=None)
            ack = await worker.ask("worker:data:sync", _snapshot(account_id, is_read=False),
                                   answer="WORKER_DATA_SYNC_ACK")
            assert ack["payload"]["success"] is True and ack["payload"]["accountId"] == account_id
            assert await master.engine.views.mark_channel_read(account_id) == 1  # the operator read it
            ack = await worker.ask("worker:data:sync", _snapshot(account_id, is_read=False),
                                   answer="WORKER_DATA_SYNC_ACK")
            assert ack["payload"]["success"] is True
            assert await _messages(master.engine, account_id) == [("m1", "from the snapshot", True)]
        finally:
            await worker.close()


async def test_a_snapshot_over_10_mb_is_answered_with_an_error_and_the_socket_stays(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-3")
        worker = FakeWorkerSocket("w-big")
        await worker.connect(master.url)
        try:
            await worker.register(protocol=None)
            big = _snapshot(account_id, is_read=False, filler="x" * 10_100_000)
            error = await worker.ask("worker:data:sync", big, answer="worker:data:sync:error")
            assert "too large" in error["payload"]["error"]
            assert worker.sio.connected
            assert (await worker.heartbeat())["payload"]["success"] is True  # still served
            assert await _messages(master.engine, account_id) == []
        finally:
            await worker.close()


async def test_a_saved_session_is_kept_encrypted_only_from_the_worker_holding_the_account(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-4")
        holder, other = FakeWorkerSocket("w-holds"), FakeWorkerSocket("w-other")
        for worker in (holder, other):
            await worker.connect(master.url)
        try:
            await holder.register()
            await other.register()
            state = {"cookies": [{"name": "sessionid", "value": "v2", "domain": "x"}], "origins": []}
            ack = await other.ask("worker:account:storage", {"worker_id": "w-other", "account_id": account_id,
                                                             "storage_state": state})
            assert ack["payload"]["success"] is False
            assert await master.engine.accounts.load_storage_state(account_id) is None
            ack = await holder.ask("worker:account:storage", {"worker_id": "w-holds", "account_id": account_id,
                                                              "storage_state": state})
            assert ack["payload"] == {"account_id": account_id, "success": True}
            assert await master.engine.accounts.load_storage_state(account_id) == state
        finally:
            for worker in (holder, other):
                await worker.close()
