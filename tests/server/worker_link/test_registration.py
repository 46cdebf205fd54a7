"""Connect, register, heartbeats, the liveness timeout and reassignment, against a real
engine and server (python-socketio clients acting as hiscrm/1 workers)."""
import pytest
import socketio

from app.engine.events import ServerStatusChanged
from app.engine.holders import NoHolder
from tests.server.worker_link.harness import FakeWorkerSocket, make_master, until

pytestmark = pytest.mark.timeout(60)


async def test_a_wrong_or_missing_token_is_refused_at_connect(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        for token in ("wrong", ""):
            worker = FakeWorkerSocket("w-bad")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await worker.connect(master.url, token=token)
            assert "token" in str(worker.refusals[0])  # the refusal says why
        assert master.engine.remote_workers.list() == []


async def test_register_deals_unbound_accounts_up_to_its_capacity_and_is_idempotent(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        accounts = master.engine.accounts
        ids = [await accounts.create("sandbox", f"creator-{i}") for i in range(3)]
        other = await accounts.create("douyin", "not its platform")
        await accounts.save_storage_state(ids[0], {"cookies": [{"name": "sid", "value": "s3cret"}], "origins": []})
        worker = FakeWorkerSocket("w-1")
        await worker.connect(master.url)
        try:
            ack = await worker.register(max_accounts=2)
            assert ack["success"] is True and ack["acked_seq"] == 0
            dealt = [a["id"] for a in ack["assigned_accounts"]]
            assert dealt == ids[:2]  # up to max_accounts, its platform only
            first = ack["assigned_accounts"][0]
            assert first["storage_state"]["cookies"][0]["value"] == "s3cret"  # hiscrm/1: the whole session
            assert first["credentials"]["cookies"][0]["name"] == "sid"
            assert first["hiscrm"] == {"monitor_interval_s": None, "proxy": None}
            assert [(await accounts.get(i)).worker_id for i in ids] == ["w-1", "w-1", None]
            assert (await accounts.get(other)).worker_id is None

            again = await worker.register(max_accounts=2)  # every connect registers again
            assert not [m for m in worker.messages if m["type"] == "master:task:assign"]  # the acks said it
            assert [a["id"] for a in again["assigned_accounts"]] == dealt
            assert (await accounts.get(ids[2])).worker_id is None
            assert await master.engine.holders.holder_of(ids[0]) is master.link.workers["w-1"].holder
        finally:
            await worker.close()


async def test_heartbeats_show_in_the_engines_worker_list(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-a")
        worker = FakeWorkerSocket("w-list")
        await worker.connect(master.url)
        try:
            await worker.register()
            ack = await worker.heartbeat(memory=321.5)
            assert ack["payload"] == {"success": True}
            local, remote = master.engine.workers()
            assert local.id == "local" and not local.remote and local.state == "switched_off"
            assert (remote.id, remote.remote, remote.state, remote.host) == ("w-list", True, "online", "127.0.0.1")
            assert remote.accounts == (account_id,) and remote.memory_mb == 321.5
            assert remote.last_heartbeat is not None and remote.protocol == "hiscrm/1"
        finally:
            await worker.close()


async def test_a_disconnected_worker_is_unregistered_at_once_and_keeps_its_accounts(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-d")
        counts = []
        master.engine.bus.subscribe(ServerStatusChanged, lambda e: counts.append(e.workers))
        worker = FakeWorkerSocket("w-gone")
        await worker.connect(master.url)
        await worker.register()
        await until(lambda: counts[-1:] == [1], what="the console told one worker is connected")
        await worker.close()
        await until(lambda: master.engine.remote_workers.get("w-gone").state == "offline", what="offline")
        await until(lambda: counts[-1:] == [0], what="... and none after it went")
        with pytest.raises(NoHolder):
            await master.engine.holders.holder_of(account_id)
        assert (await master.engine.accounts.get(account_id)).worker_id == "w-gone"
        assert master.engine.remote_workers.get("w-gone").accounts == (account_id,)


async def test_a_silent_workers_accounts_go_to_another_worker_with_room_and_the_platform(tmp_path):
    async with make_master(tmp_path, start=False, heartbeat_timeout_s=0.6) as master:  # instead of 30 s
        accounts = master.engine.accounts
        ids = [await accounts.create("sandbox", f"creator-{i}") for i in range(2)]
        silent, full, wrong_platform, taker = (FakeWorkerSocket(n) for n in ("w-silent", "w-full", "w-dy", "w-take"))
        for worker in (silent, full, wrong_platform, taker):
            await worker.connect(master.url)
        try:
            assert len((await silent.register())["assigned_accounts"]) == 2
            await full.register(max_accounts=0)
            await wrong_platform.register(capabilities=("douyin",))
            await taker.register(max_accounts=1)
            # Everyone but the silent worker keeps beating.

            async def others_beat_until_the_silent_one_is_dropped():
                for worker in (full, wrong_platform, taker):
                    await worker.heartbeat()
                return not silent.sio.connected

            await until(others_beat_until_the_silent_one_is_dropped, what="the silent worker dropped")
            assign = await taker.next_message("master:task:assign")
            assert assign["payload"]["id"] in ids and "storage_state" in assign["payload"]
            await taker.heartbeat()  # the AccountsChanged of the move has been handled by now
            assert len([m for m in taker.messages if m["type"] == "master:task:assign"]) == 1  # told once
            bound = [(await accounts.get(i)).worker_id for i in ids]
            assert sorted(bound, key=str) == ["w-silent", "w-take"]  # one had room; the other waits
            assert not [m for m in full.messages + wrong_platform.messages if m["type"] == "master:task:assign"]
            assert master.engine.remote_workers.get("w-silent").state == "offline"
        finally:
            for worker in (silent, full, wrong_platform, taker):
                await worker.close()


async def test_a_restarted_master_lists_the_workers_it_knew_offline_with_their_accounts(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-k")
        worker = FakeWorkerSocket("w-known")
        await worker.connect(master.url)
        await worker.register(max_accounts=3)
        await worker.close()
        await until(lambda: master.engine.remote_workers.get("w-known").state == "offline", what="offline")
    async with make_master(tmp_path, start=False) as master:  # the same home: the same database
        known = await until(lambda: master.engine.remote_workers.get("w-known"), what="the known worker listed")
        assert (known.state, known.host, known.max_accounts, known.capabilities) == (
            "offline", "127.0.0.1", 3, ("sandbox",))
        assert known.accounts == (account_id,) and known.last_heartbeat is not None


async def test_the_same_worker_on_a_new_connection_replaces_the_stale_one(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        account_id = await master.engine.accounts.create("sandbox", "creator-n")
        stale, fresh = FakeWorkerSocket("w-twice"), FakeWorkerSocket("w-twice")
        await stale.connect(master.url)
        await stale.register()
        await fresh.connect(master.url)  # it reconnected before the master saw the old socket close
        ack = await fresh.register()
        try:
            assert [a["id"] for a in ack["assigned_accounts"]] == [account_id]
            await until(lambda: not stale.sio.connected, what="the stale connection closed")
            assert master.engine.remote_workers.get("w-twice").state == "online"
            assert (await fresh.heartbeat())["payload"] == {"success": True}
            assert await master.engine.holders.holder_of(account_id) is master.link.workers["w-twice"].holder
        finally:
            await stale.close()
            await fresh.close()


@pytest.mark.postgres
async def test_a_worker_connected_to_another_server_on_the_database_keeps_its_accounts(tmp_path, pg_url):
    """Two `hiscrm serve` processes on one database: the one a worker is not connected to
    (started after the account was bound to it) does not take that worker for gone and
    deal its accounts away; once the worker is really gone, it may."""
    async with make_master(tmp_path / "a", database_url=pg_url, start=False) as a:
        account_id = await a.engine.accounts.create("sandbox", "creator-shared")
        mine, other = FakeWorkerSocket("w-on-a"), FakeWorkerSocket("w-on-b")
        try:
            await mine.connect(a.url)
            assert len((await mine.register())["assigned_accounts"]) == 1
            async with make_master(tmp_path / "b", database_url=pg_url, start=False) as b:
                await other.connect(b.url)
                assert (await other.register())["assigned_accounts"] == []  # bound already
                await mine.heartbeat()

                b.link._started_at -= 10 * b.link.heartbeat_timeout_s  # B ran past the timeout without it
                await b.link.check_liveness()
                assert (await b.engine.accounts.get(account_id)).worker_id == "w-on-a"
                assert not [m for m in other.messages if m["type"] == "master:task:assign"]

                await mine.close()  # gone for real: A says so in the workers table, and B deals it
                await until(lambda: _state_saved(a, "w-on-a", "offline"), what="A saving the worker offline")
                await b.link.check_liveness()
                assert (await b.engine.accounts.get(account_id)).worker_id == "w-on-b"
                await other.next_message("master:task:assign")
        finally:
            await mine.close()
            await other.close()


async def _state_saved(master, worker_id: str, state: str) -> bool:
    from sqlalchemy import select

    from app.engine.store.models import Worker

    return await master.engine.db.read(
        lambda s: s.scalar(select(Worker.status).where(Worker.id == worker_id))) == state
