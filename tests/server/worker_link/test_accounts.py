"""What a worker reports about its accounts, and what it is told when the master moves,
deletes, wakes or restarts one (the console's and IM clients' actions reach the worker)."""
import pytest

from tests.server.worker_link.harness import FakeWorkerSocket, make_master, until

pytestmark = pytest.mark.timeout(60)


async def test_account_status_updates_its_accounts_only(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        accounts = master.engine.accounts
        mine = await accounts.create("sandbox", "creator-s")
        worker = FakeWorkerSocket("w-status")
        await worker.connect(master.url)
        try:
            await worker.register()
            other = await accounts.create("sandbox", "someone else's")  # created after the deal: unbound
            ack = await worker.ask("worker:account:status", {"worker_id": "w-status", "account_statuses": [
                {"account_id": mine, "status": {"login_status": "expired", "monitor_state": "stopped",
                                                "last_error_message": "logged out on the platform"}},
                {"account_id": other, "status": {"login_status": "blocked"}}]})
            assert ack["payload"] == {"success": True, "updated": 1, "failed": 1}
            account = await accounts.get(mine)
            assert (account.login_status, account.last_error) == ("expired", "logged out on the platform")
            assert (await accounts.get(other)).login_status == "not_logged_in"
            assert master.engine.remote_workers.get("w-status").account_states == {mine: "stopped"}
            ack = await worker.ask("worker:account:status", {"worker_id": "w-status", "account_statuses": [
                {"account_id": mine, "status": {"login_status": "not_logged_in"}}]})
            assert ack["payload"]["updated"] == 1 and (await accounts.get(mine)).login_status == "not_logged_in"
            await worker.heartbeat()  # the status change's event has been handled by now
            assert not [m for m in worker.messages if m["type"] == "master:task:assign"]  # not echoed back
        finally:
            await worker.close()


async def test_moving_deleting_waking_and_restarting_an_account_reach_its_workers(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        engine = master.engine
        account_id = await engine.accounts.create("sandbox", "creator-m")
        first, second = FakeWorkerSocket("w-first"), FakeWorkerSocket("w-second")
        for worker in (first, second):
            await worker.connect(master.url)
        try:
            assert [a["id"] for a in (await first.register())["assigned_accounts"]] == [account_id]
            await second.register()

            await engine.wake_account(account_id)
            assert (await first.next_message("master:account:wake"))["payload"] == {"account_id": account_id}
            await engine.restart_account(account_id)
            assert (await first.next_message("master:account:restart"))["payload"] == {"account_id": account_id}

            await engine.holders.assign(account_id, "w-second")  # the operator moves it
            revoke = await first.next_message("master:task:revoke")
            assert revoke["payload"] == {"account_id": account_id}
            assign = await second.next_message("master:task:assign")
            assert assign["payload"]["id"] == account_id and assign["payload"]["account_name"] == "creator-m"
            await until(lambda: engine.remote_workers.get("w-second").accounts == (account_id,), what="listed")
            assert engine.remote_workers.get("w-first").accounts == ()

            await engine.accounts.delete(account_id)
            assert (await second.next_message("master:task:revoke"))["payload"] == {"account_id": account_id}
        finally:
            for worker in (first, second):
                await worker.close()


async def test_an_account_switched_off_or_logged_out_on_the_master_is_updated_on_its_worker(tmp_path):
    async with make_master(tmp_path, start=False) as master:
        accounts = master.engine.accounts
        account_id = await accounts.create("sandbox", "creator-u")
        await accounts.save_storage_state(account_id, {"cookies": [{"name": "sid", "value": "1"}], "origins": []})
        worker = FakeWorkerSocket("w-update")
        await worker.connect(master.url)
        try:
            await worker.register()
            seen = len(worker.messages)
            await accounts.set_monitoring(account_id, False)
            update = await worker.next_message("master:task:assign", after=seen)
            assert update["payload"]["id"] == account_id and update["payload"]["status"] == "inactive"

            seen = len(worker.messages)
            await accounts.logout(account_id)
            update = await worker.next_message("master:task:assign", after=seen)
            assert update["payload"]["login_status"] == "not_logged_in" and update["payload"]["storage_state"] is None
            assert not [m for m in worker.messages if m["type"] == "master:task:revoke"]
        finally:
            await worker.close()
