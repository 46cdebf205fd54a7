"""Replies through a remote worker: the outbox sends through RemoteHolder, the worker's
answer (or its silence, or its death) ends as the local pool's would, and a reply is never
sent twice: after a timeout or a dead worker, the outbox looks (master:reply:find) first."""
import time
from datetime import datetime, timezone

import pytest

from app.engine.im.types import TopicRef
from app.engine.records import Batch

from tests.server.worker_link.harness import FakeWorkerSocket, make_master, until

pytestmark = pytest.mark.timeout(60)
CONVERSATION = "peer-mei"


async def _account_with_a_dm(master) -> tuple[str, TopicRef]:
    account_id = await master.engine.accounts.create("sandbox", "creator-r")
    await master.engine.store.ingest(Batch(account_id, conversations=[
        {"platform_conversation_id": CONVERSATION, "peer_id": CONVERSATION, "peer_name": "Mei"}], messages=[
        {"platform_message_id": "dm-1", "platform_conversation_id": CONVERSATION, "sender_id": CONVERSATION,
         "text": "Does it come in red?", "created_at": datetime.now(timezone.utc)}]))
    return account_id, TopicRef(account_id, "conversation", CONVERSATION)


def _created(text: str, platform_id: str) -> dict:
    return {"contents": [], "comments": [], "conversations": [], "messages": [
        {"platform_message_id": platform_id, "platform_conversation_id": CONVERSATION, "text": text,
         "created_at": datetime.now(timezone.utc).isoformat(), "direction": "out"}]}


async def _status(master, reply_id: str, *statuses: str):
    row = await master.engine.outbox.get(reply_id)
    return row if row.status in statuses else None


def _requests(worker: FakeWorkerSocket, name: str) -> list:
    return [data for event, data in worker.events if event == name]


async def test_a_reply_goes_to_the_holding_worker_and_its_record_confirms_it(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, ref = await _account_with_a_dm(master)
        worker = FakeWorkerSocket("w-send")
        await worker.connect(master.url)
        try:
            await worker.register()
            reply_id = await master.engine.outbox.reply(ref, "Yes, red is in stock")
            request = await worker.next_event("master:reply:request")
            assert request["request_id"].startswith(f"{reply_id}#1-") and request["reply_id"] == reply_id
            assert (request["account_id"], request["target_type"], request["conversation_id"]) == (
                account_id, "direct_message", CONVERSATION)
            assert request["reply_content"] == "Yes, red is in stock"
            assert request["target"]["kind"] == "direct_message" and request["target"]["peer_name"] == "Mei"
            await worker.sio.emit("worker:reply:result", {
                "reply_id": reply_id, "request_id": request["request_id"], "platform": "sandbox",
                "account_id": account_id, "status": "success", "platform_reply_id": "dm-2",
                "created": _created("Yes, red is in stock", "dm-2"), "error_class": None,
                "timestamp": int(time.time() * 1000)}, namespace="/worker")
            row = await until(lambda: _status(master, reply_id, "confirmed"), what="the reply confirmed")
            assert row.platform_reply_id == "dm-2"
        finally:
            await worker.close()


async def test_a_workers_error_class_is_the_outboxs_exception(tmp_path):
    async with make_master(tmp_path) as master:
        account_id, ref = await _account_with_a_dm(master)
        worker = FakeWorkerSocket("w-blocked")
        await worker.connect(master.url)
        try:
            await worker.register()
            reply_id = await master.engine.outbox.reply(ref, "Too many replies today")
            request = await worker.next_event("master:reply:request")
            await worker.sio.emit("worker:reply:result", {
                "reply_id": reply_id, "request_id": request["request_id"], "account_id": account_id,
                "status": "failed", "error_code": "REPLY_BLOCKED", "error_message": "rate limited by the platform",
                "error_class": "ReplyBlocked", "created": None}, namespace="/worker")
            row = await until(lambda: _status(master, reply_id, "blocked"), what="the reply blocked")
            assert "rate limited" in row.error_message

            await master.engine.outbox.retry(reply_id)  # the operator's Retry: attempts count from 1 again
            find = await worker.next_event("master:reply:find")  # it looks first, as after any failure
            await worker.sio.emit("worker:reply:found", {"request_id": find["request_id"], "found": False},
                                  namespace="/worker")

            async def asked_again():
                requests = _requests(worker, "master:reply:request")
                return requests[1] if len(requests) > 1 else None

            again = await until(asked_again, what="the retried request")
            assert again["request_id"] != request["request_id"]  # not answered from the blocked one
            await worker.sio.emit("worker:reply:result", {
                "reply_id": reply_id, "request_id": again["request_id"], "account_id": account_id,
                "status": "success", "platform_reply_id": "dm-5", "created": None}, namespace="/worker")
            await until(lambda: _status(master, reply_id, "sent", "confirmed"), what="the retry sent")
        finally:
            await worker.close()


async def test_a_reply_the_worker_never_answers_is_looked_for_before_it_is_sent_again(tmp_path):
    async with make_master(tmp_path, reply_timeout_s=0.5) as master:  # instead of 120 s
        master.engine.outbox.backoff_base_s = 0.1
        account_id, ref = await _account_with_a_dm(master)
        worker = FakeWorkerSocket("w-silent")
        await worker.connect(master.url)
        try:
            await worker.register()
            reply_id = await master.engine.outbox.reply(ref, "On its way")
            await worker.next_event("master:reply:request")  # and no answer
            find = await worker.next_event("master:reply:find")
            assert (find["account_id"], find["text"], find["target"]["topic_platform_id"]) == (
                account_id, "On its way", CONVERSATION)
            await worker.sio.emit("worker:reply:found", {
                "request_id": find["request_id"], "found": True, "platform_reply_id": "dm-9",
                "created": _created("On its way", "dm-9")}, namespace="/worker")
            row = await until(lambda: _status(master, reply_id, "confirmed"), what="the reply confirmed")
            assert row.platform_reply_id == "dm-9"
            assert len(_requests(worker, "master:reply:request")) == 1  # never sent twice
        finally:
            await worker.close()


async def test_a_reply_in_flight_on_a_dead_worker_is_not_sent_again_by_the_next(tmp_path):
    # 2 s: the taker's heartbeats must keep it within the timeout on a loaded machine.
    async with make_master(tmp_path, heartbeat_timeout_s=2.0) as master:
        master.engine.outbox.backoff_base_s = 0.2
        account_id, ref = await _account_with_a_dm(master)
        dying, taker = FakeWorkerSocket("w-dying"), FakeWorkerSocket("w-next")
        await dying.connect(master.url)
        await dying.register()
        await taker.connect(master.url)
        await taker.register()
        try:
            assert (await master.engine.accounts.get(account_id)).worker_id == "w-dying"
            reply_id = await master.engine.outbox.reply(ref, "Sending while it dies")
            await dying.next_event("master:reply:request")
            await dying.sio.eio.disconnect(abort=True)  # killed mid-send: no answer, ever

            async def taker_beats_until_it_is_asked_to_look():
                await taker.heartbeat()
                return _requests(taker, "master:reply:find")

            [find] = await until(taker_beats_until_it_is_asked_to_look, what="the new holder looking")
            assert (await master.engine.accounts.get(account_id)).worker_id == "w-next"
            await taker.next_message("master:task:assign", where=lambda m: m["payload"]["id"] == account_id)
            await taker.sio.emit("worker:reply:found", {
                "request_id": find["request_id"], "found": True, "platform_reply_id": "dm-7",
                "created": _created("Sending while it dies", "dm-7")}, namespace="/worker")
            await until(lambda: _status(master, reply_id, "confirmed"), what="the reply confirmed")
            assert _requests(taker, "master:reply:request") == []  # the new worker never sent it again
            assert len(_requests(dying, "master:reply:request")) == 1
        finally:
            await dying.close()
            await taker.close()


async def test_a_reply_queued_while_the_worker_is_dead_waits_for_the_next_holder_without_using_attempts(tmp_path):
    async with make_master(tmp_path, heartbeat_timeout_s=1.5) as master:
        master.engine.outbox.backoff_base_s = 0.05  # five attempts would be gone long before the 1.5 s
        account_id, ref = await _account_with_a_dm(master)
        dead, taker = FakeWorkerSocket("w-dead"), FakeWorkerSocket("w-taker")
        await dead.connect(master.url)
        await dead.register()
        await dead.close()  # gone; the account stays bound to it until the timeout
        try:
            reply_id = await master.engine.outbox.reply(ref, "Queued while nobody holds it")
            row = await until(lambda: _waiting(master, reply_id), what="the reply waiting, with its reason")
            assert (row.attempts, row.error_message) == (0, "waiting for worker w-dead: it is not connected to "
                                                            "this server")
            await taker.connect(master.url)
            await taker.register()

            async def taker_beats_until_asked():
                await taker.heartbeat()
                return _requests(taker, "master:reply:request")

            [request] = await until(taker_beats_until_asked, what="the reply sent through the new holder")
            assert (await master.engine.accounts.get(account_id)).worker_id == "w-taker"
            assert request["request_id"].startswith(f"{reply_id}#1-")  # its first attempt
            await taker.sio.emit("worker:reply:result", {
                "reply_id": reply_id, "request_id": request["request_id"], "platform": "sandbox",
                "account_id": account_id, "status": "success", "platform_reply_id": "dm-9",
                "created": _created("Queued while nobody holds it", "dm-9"), "error_class": None,
                "timestamp": int(time.time() * 1000)}, namespace="/worker")
            await until(lambda: _status(master, reply_id, "confirmed"), what="the reply confirmed")
            assert _requests(dead, "master:reply:request") == []
        finally:
            await taker.close()


async def _waiting(master, reply_id: str):
    row = await master.engine.outbox.get(reply_id)
    return row if row.status == "queued" and row.error_message else None


async def test_an_original_worker_that_never_answers_leaves_the_reply_for_the_operator_to_check(tmp_path):
    """An original Node worker cannot look for a sent reply (no master:reply:find): after a
    lost answer the reply waits as `uncertain` instead of going out a second time."""
    async with make_master(tmp_path, reply_timeout_s=0.5) as master:
        master.engine.outbox.backoff_base_s = 0.1
        account_id, ref = await _account_with_a_dm(master)
        worker = FakeWorkerSocket("w-original")
        await worker.connect(master.url)
        try:
            await worker.register(protocol=None)
            reply_id = await master.engine.outbox.reply(ref, "Maybe twice?")
            await worker.next_event("master:reply:request")  # and no answer
            row = await until(lambda: _status(master, reply_id, "uncertain"), what="the reply uncertain")
            assert "cannot look" in row.error_message
            assert len(_requests(worker, "master:reply:request")) == 1
        finally:
            await worker.close()
