"""Two embedded servers on one PostgreSQL database and one Redis (app/server/peers.py): a
worker attached to one is listed live by the other, with the accounts it holds, and an /admin
client of the other logs one of its accounts in: the login runs where the worker is."""
from __future__ import annotations

import asyncio
import shutil

import pytest
import socketio

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
                        what="the worker of A listed by B")
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


async def test_a_stopping_server_still_tells_what_it_had_to_and_only_the_able_peer_answers(redis_url):  # noqa: F811
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
        a.tell("note", {"worker": "w1", "state": "offline"})
        await a.stop()  # at once: what was queued is sent first
        assert await asyncio.wait_for(heard.get(), 5) == {"worker": "w1", "state": "offline"}
    finally:
        await a.stop()
        await b.stop()
