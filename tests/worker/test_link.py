"""The worker's link to the real master side (the engine's EmbeddedServer and worker link):
connect, register, hold what is dealt, deltas in seq order until acknowledged, liveness,
statuses, sessions, bad input. No browser: the accounts dealt here are not logged in, so
the pool opens no page."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest

from app.engine.im.types import TopicRef
from app.engine.platform import LoginOutcome
from app.engine.records import Batch
from app.worker.link import Refused

from .conftest import running_worker, tapped_master


def comment(cid: str) -> dict:
    return {"platform_comment_id": cid, "platform_content_id": "w1", "text": f"comment {cid}",
            "created_at": time.time()}


async def stored_comments(master, account_id: str) -> list[str]:
    """The comment ids the master stored for the account (with repeats)."""
    from sqlalchemy import select

    from app.engine.store.models import Comment

    return await master.engine.db.read(lambda s: list(s.scalars(
        select(Comment.platform_comment_id).where(Comment.account_id == account_id))))


async def test_a_wrong_token_is_refused_at_connect_with_the_reason(tmp_path, master):
    with pytest.raises(Refused, match="a valid token is required"):
        async with running_worker(tmp_path / "home", master.url, token="wrong"):
            pass
    assert master.of("worker:register") == [] and master.link.workers == {}


async def test_it_joins_its_room_then_registers_with_its_platforms_and_capacity(tmp_path, master):
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1", max_accounts=3) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        kinds = [k for k, _ in master.received]
        assert kinds[:3] == ["connect", "join_room", "worker:register"]
        assert master.of("join_room") == [{"room": "worker:w-1", "workerId": "w-1"}]
        worker = master.link.workers["w-1"]  # as the master took it
        assert worker.connected and worker.capabilities == {"sandbox"} and worker.max_accounts == 3
        assert worker.protocol == "hiscrm/1" and master.of("worker:register")[0]["resume_seq"] == 0
        assert worker.version == "test" and worker.host


async def test_dealt_accounts_are_held_with_their_session_and_proxy_and_revokes_drop_them(tmp_path, master):
    session = {"cookies": [{"name": "sid", "value": "s3cret", "domain": "127.0.0.1", "path": "/"}], "origins": []}
    accounts = master.engine.accounts
    a = await master.account("name of a", worker_id="w-1")
    await accounts.record_login(a, LoginOutcome("uid-a"), storage_state=session)
    await accounts.set_login_status(a, "expired")
    proxy = await accounts.add_proxy("office", "10.0.0.9:1080", protocol="socks5", username="u", password="p")
    await accounts.update(a, proxy_id=proxy, monitor_interval_s=40)
    b = await master.account("name of b", worker_id="w-1")
    await accounts.set_monitoring(b, False)
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        held = rig.engine.accounts
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        row = await held.get(a)
        assert (row.platform, row.display_name, row.login_status, row.platform_user_id, row.monitor_interval_s,
                row.worker_id) == ("sandbox", "name of a", "expired", "uid-a", 40, None)
        assert await held.load_storage_state(a) == session
        assert await held.browser_proxy(row.proxy_id) == {"server": "socks5://10.0.0.9:1080", "username": "u",
                                                          "password": "p"}
        assert row.monitor_enabled and not (await held.get(b)).monitor_enabled

        await master.engine.holders.release(b)  # the console moves b to its own pool: revoked here
        c = await master.account("name of c")
        await master.engine.holders.assign(c, "w-1")  # and deals c to this worker
        await master.until(lambda: held.get(c), what="c held")
        await master.until(lambda: _gone(held, b), what="b dropped")

        # Away, its account c was deleted meanwhile: back, it holds only a (b is unbound now,
        # but not monitored: not dealt again).
        master.master.server.token = "renewed"  # the worker cannot come back for now
        await master.drop_worker()
        await master.until(lambda: not rig.link.registered.is_set(), what="the cut noticed")
        await master.engine.accounts.delete(c)
        master.master.server.token = master.token
        await master.until(lambda: rig.link.registrations == 2, what="the second registration")
        await master.until(lambda: _only(held, [a]), what="only a held")


async def _gone(accounts, account_id: str) -> bool:
    return await accounts.get(account_id) is None


async def _only(accounts, ids: list[str]) -> bool:
    return [row.id for row in await accounts.list()] == ids


async def test_stored_batches_go_to_the_master_as_numbered_deltas_and_leave_the_journal_when_acked(tmp_path, master):
    a = await master.account("creator-a")
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        result = await rig.engine.store.ingest(Batch(a, comments=[comment("c1")]))  # as a monitor's sink does
        assert result.accepted == 1  # stored here too
        [delta] = await master.until(lambda: master.of("worker:data:delta"), what="the delta")
        assert (delta["worker_id"], delta["account_id"], delta["seq"]) == ("w-1", a, 1)
        assert set(delta["batch"]) == {"contents", "comments", "conversations", "messages"}
        await master.until(lambda: rig.journal.count() == 0, what="the journal emptied")
        assert rig.journal.acked_seq() == 1
        assert await stored_comments(master, a) == ["c1"] and master.link.workers["w-1"].applied_seq == 1


async def test_unacknowledged_deltas_are_sent_again_after_a_reconnect_in_seq_order(tmp_path, master):
    a = await master.account("creator-a")
    master.hold_deltas()  # the master's database stalls: no answer yet
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        for cid in ("c1", "c2", "c3"):
            await rig.engine.store.ingest(Batch(a, comments=[comment(cid)]))
        await master.until(lambda: master.of("worker:data:delta"), what="the first delta")
        assert {d["seq"] for d in master.of("worker:data:delta")} == {1}  # one at a time: 2 waits for 1's answer

        # The cut comes while the master stores seq 1: it is applied, but its answer is lost;
        # the master says so at the next registration (acked_seq) and only 2 and 3 follow.
        sent_before = len(master.received)
        await master.drop_worker()
        master.release_deltas()
        await master.until(lambda: rig.journal.count() == 0, what="the journal emptied")
        after = [p["seq"] for k, p in master.received[sent_before:] if k == "worker:data:delta"]
        assert after == [2, 3]
        assert [r["resume_seq"] for r in master.of("worker:register")] == [0, 0]  # none acknowledged before the cut
        assert rig.journal.acked_seq() == 3
        assert sorted(await stored_comments(master, a)) == ["c1", "c2", "c3"]  # each once


async def test_a_delta_the_master_refuses_for_good_is_dropped_not_retried(tmp_path, master):
    a = await master.account("creator-a")
    async with running_worker(tmp_path / "home", master.url) as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        master.hold_deltas()
        await rig.engine.store.ingest(Batch(a, comments=[comment("c1")]))
        await master.until(lambda: master.of("worker:data:delta"), what="the delta")
        await master.engine.accounts.delete(a)  # the operator deleted it meanwhile: it can never be stored
        master.release_deltas()
        await master.until(lambda: rig.journal.count() == 0, what="the refused delta dropped")
        assert len(master.of("worker:data:delta")) == 1


async def test_heartbeats_and_account_statuses_say_how_the_worker_and_its_accounts_are(tmp_path, master):
    a = await master.account("creator-a", worker_id="w-1")
    await master.engine.accounts.set_login_status(a, "expired")
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        beats = await master.until(lambda: len(master.of("worker:heartbeat")) >= 2 and master.of("worker:heartbeat"),
                                   what="two heartbeats")
        assert beats[0]["worker_id"] == "w-1" and beats[0]["status"] == "online"
        assert isinstance(beats[1]["cpu_usage"], float)
        worker = master.link.workers["w-1"]
        assert worker.memory_mb > 10 and worker.active_tasks == 0  # as the Workers view shows it
        await master.until(lambda: worker.account_states.get(a) == "stopped", what="the account's monitor state")
        [entry] = master.of("worker:account:status")[0]["account_statuses"]
        assert entry["status"]["login_status"] == "expired"

        await rig.engine.accounts.set_login_status(a, "not_logged_in")  # a change is told at once
        await master.until(lambda: _login_status(master, a, "not_logged_in"), timeout=3, what="the changed status")


async def _login_status(master, account_id: str, status: str) -> bool:
    return (await master.engine.accounts.get(account_id)).login_status == status


async def test_a_saved_session_goes_to_the_master(tmp_path, master):
    a = await master.account("creator-a")
    state = {"cookies": [{"name": "sid", "value": "new", "domain": "127.0.0.1", "path": "/"}], "origins": []}
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        await rig.engine.accounts.save_storage_state(a, state)  # as a monitor does when it hibernates
        [sent] = await master.until(lambda: master.of("worker:account:storage"), what="the session")
        assert sent == {"worker_id": "w-1", "account_id": a, "storage_state": state}
        assert await master.until(lambda: _saved(master, a, state), what="the session saved on the master")


async def _saved(master, account_id: str, state: dict) -> bool:
    return await master.engine.accounts.load_storage_state(account_id) == state


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


async def test_a_reply_sent_right_after_an_assign_finds_the_account_held(tmp_path, master):
    async with running_worker(tmp_path / "home", master.url, worker_id="w-1") as rig:
        await master.until(lambda: rig.link.registered.is_set(), what="the registration")
        a = await master.account("creator-new")
        await master.engine.store.ingest(Batch(a, comments=[comment("c1")]))
        await master.engine.holders.assign(a, "w-1")  # master:task:assign, then at once the reply's request
        reply_id = await master.engine.outbox.reply(TopicRef(a, "content", "w1"), "hello", reply_to="c1")
        row = await master.until(lambda: _ended(master, reply_id), what="the reply's end")
        # Held (not "not held here", which would be retried): the pool says why it cannot
        # send (never logged in), as it would locally.
        assert (row.status, row.error_code) == ("failed", "session_expired"), row
        assert await rig.engine.accounts.get(a) is not None


async def _ended(master, reply_id: str):
    row = await master.engine.outbox.get(reply_id)
    return row if row.status in ("failed", "blocked", "uncertain", "sent", "confirmed") else None


async def test_a_master_not_up_yet_or_killed_is_found_again_and_gets_what_it_missed(tmp_path):
    with socket.socket() as probe:  # a free port, where nothing listens yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    starting = asyncio.ensure_future(_started_worker(tmp_path / "home", f"http://127.0.0.1:{port}"))
    await asyncio.sleep(0.5)  # the worker tries and waits
    async with tapped_master(tmp_path, port=port) as first:
        a = await first.account("creator-a")
        rig, stack = await asyncio.wait_for(starting, 20)
        try:
            await first.until(lambda: rig.link.registered.is_set(), what="the registration")
            first.hold_deltas()
            await rig.engine.store.ingest(Batch(a, comments=[comment("c1")]))
            await first.until(lambda: first.of("worker:data:delta"), what="the delta")
        except BaseException:
            await stack.aclose()
            raise
    try:  # stopped before it stored the delta: the next master (same database) gets it again
        async with tapped_master(tmp_path, port=port) as second:
            [delta] = await second.until(lambda: second.of("worker:data:delta"), timeout=30, what="the delta again")
            assert delta["seq"] == 1
            await second.until(lambda: rig.journal.count() == 0, what="the journal emptied")
            assert await stored_comments(second, a) == ["c1"]
    finally:
        await stack.aclose()


async def _started_worker(home, url):
    stack = contextlib.AsyncExitStack()
    rig = await stack.enter_async_context(running_worker(home, url))
    return rig, stack
