"""Bad input from a worker (hypothesis): malformed envelopes get `<type>:error`, malformed
payloads and direct events an error, unknown events an error; the handler never fails with
an exception and the worker (and every other) is still served afterwards."""
import asyncio
import logging
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.worker_link.harness import FakeWorkerSocket, envelope, json_values, make_master, until

TYPES = ["worker:register", "worker:heartbeat", "worker:account:status", "worker:data:delta", "worker:data:sync",
         "worker:account:storage", "worker:nonsense"]
EVENTS = ["worker:reply:result", "worker:reply:found", "worker:login:status", "join_room", "worker:login:failed",
          "worker:what"]

payload_fields = st.sampled_from(["worker_id", "account_id", "seq", "batch", "storage_state", "account_statuses",
                                  "capabilities", "max_accounts", "request_id", "session_id", "status", "found",
                                  "created", "accountId", "snapshot", "workerId", "messages"])
payloads = st.dictionaries(payload_fields, json_values, max_size=6)
broken_envelopes = st.one_of(
    json_values,
    st.fixed_dictionaries({"type": st.sampled_from(TYPES) | json_values, "version": st.sampled_from(["v1", "v2"])
                           | json_values, "payload": payloads | json_values,
                           "timestamp": st.integers(0, 2**41) | json_values}),
)
valid_envelopes = st.builds(lambda t, p: envelope(t, p), st.sampled_from(TYPES), payloads)


def test_malformed_messages_are_answered_with_errors_and_never_stop_the_server(tmp_path, caplog):
    loop = asyncio.new_event_loop()
    caplog.set_level(logging.ERROR, logger="app.server")
    # The bystander only beats at the end: under load the fuzzing may take longer than 30 s.
    master_context = make_master(tmp_path, start=False, heartbeat_timeout_s=600)
    master = loop.run_until_complete(master_context.__aenter__())
    master.link.rate = (10_000.0, 100_000)  # hundreds of messages as fast as they go: parsing is tested here
    worker, bystander = FakeWorkerSocket("w-fuzz"), FakeWorkerSocket("w-calm")

    async def open_workers():
        await master.engine.accounts.create("sandbox", "creator-f")
        for w in (worker, bystander):
            await w.connect(master.url)
            await w.register()

    async def one_message(raw, expect_error: bool):
        seen = len(worker.messages)
        await worker.sio.emit("message", raw, namespace="/worker")
        if expect_error:
            await until(lambda: any(m["type"].endswith(":error") for m in worker.messages[seen:]), timeout=5,
                        what=f"an error answer to {raw!r:.200}")
        assert (await worker.heartbeat())["payload"] == {"success": True}

    async def one_event(name, raw):
        answer = await worker.sio.call(name, raw, namespace="/worker", timeout=10)
        assert answer is True or (isinstance(answer, dict) and answer.get("success") is False) or answer is None, answer
        assert (await worker.heartbeat())["payload"] == {"success": True}

    loop.run_until_complete(open_workers())
    try:
        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
        @given(broken_envelopes)
        def broken(raw):
            valid = (isinstance(raw, dict) and raw.get("version") == "v1" and isinstance(raw.get("payload"), dict)
                     and type(raw.get("timestamp")) in (int, float) and raw.get("type") in TYPES)
            loop.run_until_complete(one_message(raw, expect_error=not valid))

        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
        @given(valid_envelopes)
        def wrong_payloads(raw):
            loop.run_until_complete(one_message(raw, expect_error=raw["type"] == "worker:nonsense"))

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.sampled_from(EVENTS), payloads | json_values)
        def direct_events(name, raw):
            loop.run_until_complete(one_event(name, raw))

        broken()
        wrong_payloads()
        direct_events()
        started = time.monotonic()
        assert loop.run_until_complete(bystander.heartbeat())["payload"] == {"success": True}
        assert time.monotonic() - started < 5
        assert loop.run_until_complete(until(lambda: worker.sio.connected))
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    finally:
        async def close():
            for w in (worker, bystander):
                await w.close()
            await master_context.__aexit__(None, None, None)

        loop.run_until_complete(close())
        leftovers = asyncio.all_tasks(loop)  # engine.io's ping tasks of the closed sockets
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.close()


async def test_a_flooding_worker_gets_errors_and_the_others_keep_being_served(tmp_path):
    async with make_master(tmp_path) as master:
        # Per connection (the IM namespace's 100 a second, 500 at once, by default); slow
        # enough that the bucket stays empty between the flood and the call after it.
        master.link.rate = (0.5, 20)
        flooder, calm = FakeWorkerSocket("w-flood"), FakeWorkerSocket("w-calm")
        try:
            for w in (flooder, calm):
                await w.connect(master.url)
                await w.register()
            beat = {"worker_id": "w-flood", "status": "online", "active_tasks": 0, "memory_usage": 1.0,
                    "cpu_usage": 1.0}
            for _ in range(200):
                await flooder.send("worker:heartbeat", beat)
            errors = await until(lambda: len(refused := [m for m in flooder.messages
                                                         if m["type"] == "worker:heartbeat:error"]) >= 150 and refused,
                                 what="the flood refused")
            assert errors[0]["payload"] == {"success": False, "error": "too many messages from this connection: "
                                                                        "slow down (at most 0.5 a second)"}
            answer = await flooder.sio.call("worker:reply:result", {"request_id": "x"}, namespace="/worker", timeout=5)
            assert answer["success"] is False and answer["error"].startswith("too many messages")
            assert (await calm.heartbeat())["payload"] == {"success": True}  # the others are served meanwhile

            async def served_again() -> bool:  # the flooder too, once it keeps to the rate
                seen = len(flooder.messages)
                await flooder.send("worker:heartbeat", beat)
                answer = await until(lambda: next((m for m in flooder.messages[seen:]
                                                   if m["type"].startswith("worker:heartbeat:")), None),
                                     what="an answer to the heartbeat")
                return answer["type"] == "worker:heartbeat:ack"

            await until(served_again, what="the flooder served again")
            assert flooder.sio.connected
        finally:
            await flooder.close()
            await calm.close()
