"""The worker's link to a master that speaks the contract: connect, register, hold what is
dealt, deltas in seq order until acknowledged, liveness, statuses, sessions, bad input.
No browser: the accounts dealt here are not logged in, so the pool opens no page."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest

from app.engine.records import Batch
from app.worker.link import Refused

from .conftest import running_worker
from .master import FakeMaster


def account(account_id: str, **fields) -> dict:
    return {"id": account_id, "platform": "sandbox", "account_name": f"name of {account_id}",
            "login_status": "not_logged_in", "storage_state": None, "hiscrm": {"monitor_interval_s": 20, "proxy": None},
            **fields}


def comment(cid: str) -> dict:
    return {"platform_comment_id": cid, "platform_content_id": "w1", "text": f"comment {cid}",
            "created_at": time.time()}


async def test_a_wrong_token_is_refused_at_connect_with_the_reason(tmp_path, master):
    with pytest.raises(Refused, match="a valid token is required"):
        async with running_worker(tmp_path / "home", master.url, token="wrong"):
            pass
    assert master.of("worker:register") == []


async def test_it_joins_its_room_then_registers_with_its_platforms_and_capacity(tmp_path, master):
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1", max_accounts=3) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        kinds = [k for k, _ in master.received]
        assert kinds[:3] == ["connect", "join_room", "worker:register"]
        assert master.of("join_room") == [{"room": "worker:w-1", "workerId": "w-1"}]
        [register] = master.of("worker:register")
        assert register["worker_id"] == "w-1" and register["capabilities"] == ["sandbox"]
        assert register["max_accounts"] == 3 and register["protocol"] == "hiscrm/1" and register["resume_seq"] == 0
        assert {"host", "port", "version"} <= register.keys()


async def test_dealt_accounts_are_held_with_their_session_and_proxy_and_revokes_drop_them(tmp_path, master):
    session = {"cookies": [{"name": "sid", "value": "s3cret", "domain": "127.0.0.1", "path": "/"}], "origins": []}
    master.accounts = [
        account("acc-a", login_status="expired", platform_user_id="uid-a", storage_state=session,
                hiscrm={"monitor_interval_s": 40,
                        "proxy": {"server": "socks5://10.0.0.9:1080", "username": "u", "password": "p"}}),
        account("acc-b", status="inactive"),
    ]
    async with running_worker(tmp_path / "home", master.url) as rig:
        accounts = rig.engine.accounts
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        a = await accounts.get("acc-a")
        assert (a.platform, a.display_name, a.login_status, a.platform_user_id, a.monitor_interval_s, a.worker_id) == (
            "sandbox", "name of acc-a", "expired", "uid-a", 40, None)
        assert await accounts.load_storage_state("acc-a") == session
        assert await accounts.browser_proxy(a.proxy_id) == {"server": "socks5://10.0.0.9:1080", "username": "u",
                                                             "password": "p"}
        assert a.monitor_enabled and not (await accounts.get("acc-b")).monitor_enabled

        await master.send("master:task:revoke", {"account_id": "acc-b"})
        await master.send("master:task:assign", account("acc-c"))
        await master.until(lambda: accounts.get("acc-c"), what="acc-c held")
        assert await accounts.get("acc-b") is None  # assign and revoke apply in arrival order

        # Away past its timeout, its accounts were dealt to others: back, it holds only acc-a.
        master.accounts = [account("acc-a", login_status="expired", platform_user_id="uid-a")]
        await master.drop_worker()
        await master.until(lambda: rig.link.registrations == 2, what="the second registration")
        assert [a.id for a in await accounts.list()] == ["acc-a"]
        assert await accounts.load_storage_state("acc-a") == session  # a null session keeps the saved one



async def test_stored_batches_go_to_the_master_as_numbered_deltas_and_leave_the_journal_when_acked(tmp_path, master):
    master.accounts = [account("acc-a")]
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        result = await rig.engine.store.ingest(Batch("acc-a", comments=[comment("c1")]))  # as a monitor's sink does
        assert result.accepted == 1  # stored here too
        [delta] = await master.until(lambda: master.of("worker:data:delta"), what="the delta")
        assert (delta["worker_id"], delta["account_id"], delta["seq"]) == ("w-1", "acc-a", 1)
        assert [c["platform_comment_id"] for c in delta["batch"]["comments"]] == ["c1"]
        assert set(delta["batch"]) == {"contents", "comments", "conversations", "messages"}
        await master.until(lambda: rig.journal.count() == 0, what="the journal emptied")
        assert rig.journal.acked_seq() == 1


async def test_unacknowledged_deltas_are_sent_again_after_a_reconnect_in_seq_order(tmp_path, master):
    master.accounts = [account("acc-a")]
    master.hold_acks = True  # the master receives but never answers (it is about to go away)
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        for cid in ("c1", "c2", "c3"):
            await rig.engine.store.ingest(Batch("acc-a", comments=[comment(cid)]))
        await master.until(lambda: master.of("worker:data:delta"), what="the first delta")
        assert {d["seq"] for d in master.of("worker:data:delta")} == {1}  # one at a time: 2 waits for 1's answer

        # The master applied seq 1 but its answer was lost; it says so at the next registration.
        master.acked_seq, master.hold_acks = 1, False
        sent_before = len(master.received)
        await master.drop_worker()
        await master.until(lambda: rig.journal.count() == 0, what="the journal emptied")
        after = [p["seq"] for k, p in master.received[sent_before:] if k == "worker:data:delta"]
        assert after == [2, 3]
        [_, register] = master.of("worker:register")
        assert register["resume_seq"] == 0  # nothing was acknowledged before the cut
        assert rig.journal.acked_seq() == 3


async def test_a_delta_the_master_refuses_for_good_is_dropped_not_retried(tmp_path, master):
    master.accounts = [account("acc-a")]
    master.hold_acks = True
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await rig.engine.store.ingest(Batch("acc-a", comments=[comment("c1")]))
        await master.until(lambda: master.of("worker:data:delta"), what="the delta")
        await master.send("worker:data:delta:ack", {"seq": 1, "success": False, "error": "malformed"})
        await master.until(lambda: rig.journal.count() == 0, what="the refused delta dropped")


async def test_heartbeats_and_account_statuses_say_how_the_worker_and_its_accounts_are(tmp_path, master):
    master.accounts = [account("acc-a", login_status="expired")]
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        beats = await master.until(lambda: len(master.of("worker:heartbeat")) >= 2 and master.of("worker:heartbeat"),
                                   what="two heartbeats")
        assert beats[0]["worker_id"] == "w-1" and beats[0]["status"] == "online"
        assert beats[0]["memory_usage"] > 10 and beats[0]["active_tasks"] == 0
        assert isinstance(beats[1]["cpu_usage"], float)
        [status] = (await master.until(lambda: master.of("worker:account:status"), what="a status"))[:1]
        assert status["worker_id"] == "w-1"
        [entry] = status["account_statuses"]
        assert entry["account_id"] == "acc-a"
        assert entry["status"]["login_status"] == "expired" and entry["status"]["monitor_state"] == "stopped"

        count = len(master.of("worker:account:status"))
        await rig.engine.accounts.set_login_status("acc-a", "not_logged_in")  # a change is told at once
        changed = await master.until(lambda: master.of("worker:account:status")[count:], timeout=0.9 * 1.0 + 2,
                                     what="the changed status")
        assert changed[0]["account_statuses"][0]["status"]["login_status"] == "not_logged_in"


async def test_a_saved_session_goes_to_the_master(tmp_path, master):
    master.accounts = [account("acc-a")]
    state = {"cookies": [{"name": "sid", "value": "new", "domain": "127.0.0.1", "path": "/"}], "origins": []}
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await rig.engine.accounts.save_storage_state("acc-a", state)  # as a monitor does when it hibernates
        [sent] = await master.until(lambda: master.of("worker:account:storage"), what="the session")
        assert sent == {"worker_id": "w-1", "account_id": "acc-a", "storage_state": state}


async def test_malformed_master_events_are_answered_or_ignored_and_the_worker_goes_on(tmp_path, master):
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await master.emit("message", "not an envelope")
        await master.emit("message", {"type": "master:task:assign", "version": "v2", "payload": {}, "timestamp": 1})
        await master.send("master:task:assign", {"platform": ["no", "id"]})
        await master.send("master:task:revoke", {"account_id": {"x": 1}})
        await master.send("worker:data:delta:ack", {"seq": "one"})
        await master.send("master:account:wake", {"account_id": "acc-x"})  # not held here
        await master.send("master:account:restart", {})
        await master.emit("master:login:user_input", {"session_id": "nope", "input_type": "x", "value": 1})
        await master.emit("master:reply:request", {"request_id": "r1", "account_id": "acc-x", "reply_content": ""})
        [result] = await master.until(lambda: master.of("worker:reply:result"), what="the refusal")
        assert result["status"] == "failed" and result["error_class"] == "PermanentError"
        assert result["request_id"] == "r1" and "reply_content" in result["error_message"]
        await master.emit("master:login:start", {"account_id": "acc-x", "session_id": "s1"})
        [login] = await master.until(lambda: master.of("worker:login:status"), what="the login refusal")
        assert (login["session_id"], login["status"], login["error_type"]) == ("s1", "failed", "not_assigned")
        await master.emit("master:reply:request", {
            "request_id": "r2", "account_id": "acc-x", "reply_content": "hello",
            "target": {"kind": "comment", "topic_platform_id": "w1"}})
        await master.until(lambda: len(master.of("worker:reply:result")) == 2, what="the second result")
        assert master.of("worker:reply:result")[1]["error_class"] == "TransientError"  # not held here: retry later
        beats = len(master.of("worker:heartbeat"))
        await master.until(lambda: len(master.of("worker:heartbeat")) > beats, what="a heartbeat after all that")
        assert await rig.engine.accounts.list() == []


async def test_a_request_sent_right_after_an_assign_finds_the_account_held(tmp_path, master):
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await master.send("master:task:assign", account("acc-new"))
        await master.emit("master:reply:request", {  # no wait in between: handled by another task
            "request_id": "r1", "account_id": "acc-new", "reply_content": "hello",
            "target": {"kind": "comment", "topic_platform_id": "w1"}})
        [result] = await master.until(lambda: master.of("worker:reply:result"), what="the answer")
        # Held (not "not held here"): the pool says why it cannot send, as it would locally.
        assert result["error_class"] == "SessionExpired", result


async def test_a_master_not_up_yet_or_killed_is_found_again_and_gets_what_it_missed(tmp_path):
    with socket.socket() as probe:  # a free port, where nothing listens yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    starting = asyncio.ensure_future(_started_worker(tmp_path / "home", url))
    await asyncio.sleep(0.5)  # the worker tries and waits
    first = await FakeMaster(accounts=[account("acc-a")]).start(port)
    rig, stack = await asyncio.wait_for(starting, 20)
    try:
        await first.until(lambda: rig.link.registered.is_set(), what="the registration")
        first.hold_acks = True
        await rig.engine.store.ingest(Batch("acc-a", comments=[comment("c1")]))
        await first.until(lambda: first.of("worker:data:delta"), what="the delta")
        await first.crash()  # killed before it answered

        second = await FakeMaster(accounts=[account("acc-a")]).start(port)
        try:
            await second.until(lambda: second.of("worker:register"), timeout=30, what="the registration again")
            [delta] = await second.until(lambda: second.of("worker:data:delta"), what="the delta again")
            assert delta["seq"] == 1
            await second.until(lambda: rig.journal.count() == 0, what="the journal emptied")
        finally:
            await second.stop()
    finally:
        await stack.aclose()


async def _started_worker(home, url):
    stack = contextlib.AsyncExitStack()
    rig = await stack.enter_async_context(running_worker(home, url))
    return rig, stack
