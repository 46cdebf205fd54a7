"""Two embedded servers on one PostgreSQL database and one Redis (app/server/peers.py): a
worker attached to one is listed live by the other, with the accounts it holds, and an /admin
client of the other logs one of its accounts in (the login runs where the worker is), lists
and cancels that login; an account moved, edited or deleted through one server reaches the
worker of the other; a reply queued through one leaves at once from the other."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from datetime import datetime, timezone

import pytest
import socketio

from app.engine.im.types import TopicRef
from app.engine.records import Batch
from app.engine.workers import OFFLINE, ONLINE
from app.server.peers import Peers
from tests.server.test_im_redis import redis_url  # noqa: F401 - the fixture: a redis-server of the test's own
from tests.server.worker_link.harness import TOKEN, FakeWorkerSocket, make_master, until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
PNG_URL = "data:image/png;base64,iVBORw0KGgo="


def listed(master, worker_id):
    return next((w for w in master.engine.workers() if w.id == worker_id), None)


async def test_the_other_server_lists_the_worker_live_and_relays_an_admin_login_to_it(
        tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    async with make_master(tmp_path / "a", database_url=pg_url, redis_url=redis_url) as a, \
            make_master(tmp_path / "b", database_url=pg_url, redis_url=redis_url) as b:
        account_id = await b.engine.accounts.create("sandbox", "creator-shared")
        worker = FakeWorkerSocket("w-on-a")
        admin = socketio.AsyncClient(reconnection=False)
        events: list[tuple[str, dict]] = []
        admin.on("*", lambda event, data=None: events.append((event, data)), namespace="/admin")
        try:
            await worker.connect(a.url)
            registered = await worker.register()  # A's pool is off: the account is dealt to the worker
            assert [x["account_id"] for x in registered["assigned_accounts"]] == [account_id]

            # B was running before the worker came: it lists it live, with its account.
            await until(lambda: (w := listed(b, "w-on-a")) and w.state == ONLINE and w.accounts == (account_id,),
                        what="the worker of A listed by B", describe=lambda: repr(listed(b, "w-on-a")))
            assert listed(b, "w-on-a").max_accounts == 10

            def admin_event(name, session="s-1"):
                errors = [d for e, d in events if e == "admin:error"]
                assert not errors, errors
                return next((d for e, d in events if e == name and d.get("session_id") == session), None)

            await admin.connect(b.url, namespaces=["/admin"], auth={"token": TOKEN}, transports=["websocket"])
            await admin.emit("master:login:start", {"account_id": account_id, "session_id": "s-1"},
                             namespace="/admin")
            ack = await until(lambda: admin_event("admin:login:start:ack"), what="B acknowledges the login")
            assert ack["worker_id"] == "w-on-a"
            start = await worker.next_event("master:login:start")  # A asked its worker
            assert start["account_id"] == account_id

            async def status(**body):
                await worker.sio.emit("worker:login:status", {"session_id": start["session_id"],
                                                              "account_id": account_id, **body}, namespace="/worker")

            await status(status="qrcode_ready", qr_code_data=PNG_URL, login_method="qrcode")
            shown = await until(lambda: admin_event("login:qrcode:ready"), what="the QR code on B's admin")
            assert shown["qr_code_data"] == PNG_URL
            await status(status="sms_input_required", login_method="sms", step="verification_code")
            await until(lambda: next((d for e, d in events if e == "login:status:update"
                                      and d["status"] == "sms_input_required"), None), what="the code asked")
            await admin.emit("master:login:user_input", {"session_id": "s-1", "input_type": "verification_code",
                                                         "value": "135790"}, namespace="/admin")
            assert (await until(lambda: admin_event("admin:login:user_input:ack"), what="the code taken"))[
                "status"] == "received"
            typed = await worker.next_event("master:login:user_input")
            assert typed["value"] == "135790"

            await worker.close()  # B sees it go
            await until(lambda: listed(b, "w-on-a").state == OFFLINE, what="the worker offline on B")
            assert listed(b, "w-on-a").accounts == (account_id,)  # still bound to it
        finally:
            await worker.close()
            if admin.connected:
                await admin.disconnect()


class Admin:
    """An /admin client of one server, recording what it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict]] = []
        self.sio.on("*", lambda event, data=None: self.events.append((event, data)), namespace="/admin")

    async def connect(self, url: str) -> None:
        await self.sio.connect(url, namespaces=["/admin"], auth={"token": TOKEN}, transports=["websocket"])

    async def ask(self, event: str, data: dict, answer: str, where=lambda d: True) -> dict:
        seen = len(self.events)
        await self.sio.emit(event, data, namespace="/admin")
        return await until(lambda: next((d for e, d in self.events[seen:]
                                         if e in (answer, "admin:error") and where(d)), None), what=answer)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def login_through_b(tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    """Servers A and B, a worker on A holding an account, an /admin client on each, and a
    login of the account started through B's admin as "s-9" (run by A, with A's worker):
    yields (a, b, worker, admin of A, admin of B, account id, the worker's master:login:start)."""
    async with make_master(tmp_path / "a", database_url=pg_url, redis_url=redis_url) as a, \
            make_master(tmp_path / "b", database_url=pg_url, redis_url=redis_url) as b:
        account_id = await a.engine.accounts.create("sandbox", "creator-listed")
        worker, on_a, on_b = FakeWorkerSocket("w-on-a"), Admin(), Admin()
        try:
            await worker.connect(a.url)
            await worker.register()
            await until(lambda: (w := listed(b, "w-on-a")) and w.accounts == (account_id,), what="w-on-a on B")
            await on_a.connect(a.url)
            await on_b.connect(b.url)
            ack = await on_b.ask("master:login:start", {"account_id": account_id, "session_id": "s-9"},
                                 "admin:login:start:ack")
            assert ack["session_id"] == "s-9", ack
            start = await worker.next_event("master:login:start")
            yield a, b, worker, on_a, on_b, account_id, start
        finally:
            await worker.close()
            await on_a.close()
            await on_b.close()


async def sessions(admin: Admin) -> list[tuple[str, str, bool]]:
    listing = await admin.ask("admin:login_sessions:list", {}, "admin:login_sessions:list:response")
    return [(s["session_id"], s["account_id"], s["finished"]) for s in listing["sessions"]]


async def test_an_admin_of_either_server_lists_a_login_running_on_the_other(
        tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    async with login_through_b(tmp_path, pg_url, redis_url) as (a, b, worker, on_a, on_b, account_id, start):
        assert await sessions(on_b) == [("s-9", account_id, False)]  # it runs on A
        assert await sessions(on_a) == [("s-9", account_id, False)]
        status = await on_b.ask("admin:status:request", {}, "admin:status:response")
        assert status["loginSessions"] == {"total": 1, "active": 1}


async def test_a_login_cancelled_through_one_server_is_cancelled_where_it_runs(
        tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    async with login_through_b(tmp_path, pg_url, redis_url) as (a, b, worker, on_a, on_b, account_id, start):
        # Cancelled through B: A tells its worker to close the login page; the session ends cancelled.
        cancelled = await on_b.ask("master:login:cancel", {"session_id": "s-9"}, "admin:login:cancel:ack")
        assert cancelled == {**cancelled, "session_id": "s-9", "account_id": account_id, "status": "cancelled"}
        told = await worker.next_event("master:login:cancel")
        assert told["session_id"] == start["session_id"]
        failed = await until(lambda: next((d for e, d in on_b.events if e == "login:failed"), None),
                             what="login:failed on B's admin")
        assert (failed["session_id"], failed["error_type"]) == ("s-9", "cancelled")
        assert await sessions(on_b) == [("s-9", account_id, True)]
        assert (await a.engine.accounts.get(account_id)).login_status == "not_logged_in"
        assert (await on_a.ask("master:login:cancel", {"session_id": "no-such"}, "admin:login:cancel:ack")
                )["error"] == "Login session not found"


async def test_an_account_moved_through_one_server_leaves_the_worker_of_the_other(
        tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    async with make_master(tmp_path / "a", database_url=pg_url, redis_url=redis_url) as a, \
            make_master(tmp_path / "b", database_url=pg_url, redis_url=redis_url) as b:
        moved = await a.engine.accounts.create("sandbox", "creator-moved")
        w1, w2 = FakeWorkerSocket("w1-on-a"), FakeWorkerSocket("w2-on-b")
        try:
            await w1.connect(a.url)
            assert [x["account_id"] for x in (await w1.register())["assigned_accounts"]] == [moved]
            deleted = await a.engine.accounts.create("sandbox", "creator-deleted")
            await a.engine.holders.assign(deleted, "w1-on-a")
            await w1.next_message("master:task:assign", where=lambda m: m["payload"]["account_id"] == deleted)
            await w2.connect(b.url)
            assert (await w2.register())["assigned_accounts"] == []
            await until(lambda: (w := listed(b, "w1-on-a")) and set(w.accounts) == {moved, deleted},
                        what="w1's accounts listed by B")

            def revoked(worker, account_id):
                return worker.next_message("master:task:revoke",
                                           where=lambda m: m["payload"]["account_id"] == account_id)

            # Moved to B's worker through B (the operator there): A's worker lets it go.
            await b.engine.holders.assign(moved, "w2-on-b")
            await w2.next_message("master:task:assign", where=lambda m: m["payload"]["account_id"] == moved)
            await revoked(w1, moved)
            await until(lambda: listed(a, "w1-on-a").accounts == (deleted,)
                        and listed(a, "w2-on-b").accounts == (moved,), what="A lists the move")
            # And back through A: B's worker lets it go.
            seen = len(w1.messages)
            await a.engine.holders.assign(moved, "w1-on-a")
            await w1.next_message("master:task:assign", after=seen)
            await revoked(w2, moved)
            await until(lambda: listed(b, "w2-on-b").accounts == ()
                        and set(listed(b, "w1-on-a").accounts) == {moved, deleted}, what="B lists the move back")
            # Edited and logged out through B: A's worker is assigned it again, as it is now.
            seen = len(w1.messages)
            await b.engine.accounts.set_monitoring(moved, False)
            assert (await w1.next_message("master:task:assign", after=seen))["payload"]["status"] == "inactive"
            await b.engine.accounts.set_login_status(moved, "logged_in")
            seen = len(w1.messages)
            await b.engine.accounts.logout(moved)
            assert (await w1.next_message("master:task:assign", after=seen))["payload"]["login_status"] == (
                "not_logged_in")
            # Deleted through B: A's worker stops it.
            await b.engine.accounts.delete(deleted)
            await revoked(w1, deleted)
            await until(lambda: listed(b, "w1-on-a").accounts == (moved,), what="B lists w1 without it")
        finally:
            await w1.close()
            await w2.close()


async def test_a_reply_queued_through_one_server_leaves_at_once_from_the_one_holding_the_worker(
        tmp_path, pg_url, redis_url):  # noqa: F811 - the fixture imported above
    async with make_master(tmp_path / "a", database_url=pg_url, redis_url=redis_url) as a, \
            make_master(tmp_path / "b", database_url=pg_url, redis_url=redis_url) as b:
        account_id = await a.engine.accounts.create("sandbox", "creator-replying")
        await b.engine.store.ingest(Batch(account_id, conversations=[
            {"platform_conversation_id": "peer-li", "peer_id": "peer-li", "peer_name": "Li"}], messages=[
            {"platform_message_id": "dm-1", "platform_conversation_id": "peer-li", "sender_id": "peer-li",
             "text": "Still open?", "created_at": datetime.now(timezone.utc)}]))
        # A reads the shared queue only when told: without the tell the reply would wait an hour.
        a.engine.outbox.poll_s = 3600
        worker = FakeWorkerSocket("w-on-a")
        try:
            await worker.connect(a.url)
            await worker.register()  # wakes A's outbox, which then sleeps the hour
            await until(lambda: (w := listed(b, "w-on-a")) and w.accounts == (account_id,), what="w-on-a on B")
            reply_id = await b.engine.outbox.reply(TopicRef(account_id, "conversation", "peer-li"), "Till 9")
            request = await worker.next_event("master:reply:request")
            assert request["reply_id"] == reply_id
            await worker.sio.emit("worker:reply:result", {
                "reply_id": reply_id, "request_id": request["request_id"], "platform": "sandbox",
                "account_id": account_id, "status": "success", "platform_reply_id": "dm-2", "error_class": None,
                "timestamp": int(time.time() * 1000)}, namespace="/worker")

            async def sent():
                row = await b.engine.outbox.get(reply_id)
                return row if row.status in ("sent", "confirmed") else None

            assert (await until(sent, what="the reply sent")).platform_reply_id == "dm-2"
            assert [e for e, _ in worker.events].count("master:reply:request") == 1
        finally:
            await worker.close()


async def test_an_ask_takes_the_able_peers_answer_and_a_stopping_server_still_tells(redis_url):  # noqa: F811
    a, b = Peers(redis_url), Peers(redis_url)
    heard: asyncio.Queue = asyncio.Queue()

    async def hear(body):
        await heard.put(body)

    async def answer_if_mine(body):
        return {"by": "b"} if body["account"] == "held-by-b" else None

    b.on("note", hear)
    a.on("who-holds", answer_if_mine)  # a holds nothing: it stays silent
    b.on("who-holds", answer_if_mine)
    await a.start()
    await b.start()
    try:
        assert await a.ask("who-holds", {"account": "held-by-b"}) == {"by": "b"}
        assert await a.ask("who-holds", {"account": "nobody's"}, timeout=0.3) is None
        assert await a.ask_all("who-holds", {"account": "held-by-b"}) == [{"by": "b"}]
        assert await a.ask_all("unheard-of", {}) == []  # b has no handler: it answers nothing
        a.tell("note", {"worker": "w1", "state": "offline"})
        await a.stop()  # at once: what was queued is sent first
        assert await asyncio.wait_for(heard.get(), 5) == {"worker": "w1", "state": "offline"}
    finally:
        await a.stop()
        await b.stop()
