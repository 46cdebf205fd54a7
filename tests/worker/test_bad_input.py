"""Whatever a master sends (hypothesis, through the real master's server): malformed
envelopes, payloads and direct events are answered or ignored, no handler fails, and the
worker still answers afterwards. The pool is off here: an assignment the fuzz makes up
must not start a browser."""
from __future__ import annotations

import asyncio
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.worker_link.harness import envelope, json_values

from .conftest import running_worker, tapped_master

TYPES = ["master:task:assign", "master:task:revoke", "worker:register:ack", "worker:data:delta:ack",
         "master:account:wake", "master:account:restart", "worker:account:storage:ack", "master:what"]
EVENTS = ["master:reply:request", "master:reply:find", "master:login:start", "master:login:user_input",
          "master:login:cancel"]

fields = st.sampled_from(["id", "account_id", "platform", "account_name", "login_status", "storage_state", "hiscrm",
                          "seq", "success", "request_id", "reply_content", "target", "session_id", "input_type",
                          "value", "since", "text", "assigned_accounts", "status", "proxy"])
payloads = st.dictionaries(fields, json_values, max_size=7)
messages = st.one_of(
    json_values,
    st.builds(envelope, st.sampled_from(TYPES), payloads),
    st.fixed_dictionaries({"type": st.sampled_from(TYPES) | json_values, "version": st.sampled_from(["v1", "v2"]),
                           "payload": payloads | json_values, "timestamp": st.integers(0, 2**41) | json_values}),
)
inputs = st.one_of(st.tuples(st.just("message"), messages), st.tuples(st.sampled_from(EVENTS), payloads | json_values))


def test_malformed_master_input_never_stops_the_worker(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="app.worker")
    loop = asyncio.new_event_loop()
    master_context = tapped_master(tmp_path)
    master = loop.run_until_complete(master_context.__aenter__())
    worker = running_worker(tmp_path / "home", master.url, start_browsers=False)
    rig = loop.run_until_complete(worker.__aenter__())
    loop.run_until_complete(master.until(lambda: rig.link.registered.is_set(), what="the registration"))
    markers = iter(range(10**6))

    async def one(event: str, raw) -> None:
        await master.emit(event, raw)
        marker = f"marker-{next(markers)}"  # the worker still answers, after whatever came before
        await master.emit("master:reply:find", {"request_id": marker, "account_id": "acc-none", "text": "t",
                                                "since": 0, "target": {"kind": "comment", "topic_platform_id": "w"}})
        await master.until(lambda: any(f["request_id"] == marker for f in master.of("worker:reply:found")),
                           timeout=10, what=f"the answer after {event} {raw!r:.200}")

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def fuzz(item) -> None:
        loop.run_until_complete(one(*item))

    try:
        fuzz()
        failures = [r.getMessage() for r in caplog.records if "from the master failed" in r.getMessage()]
        assert not failures, failures
    finally:
        loop.run_until_complete(worker.__aexit__(None, None, None))
        loop.run_until_complete(master_context.__aexit__(None, None, None))
        leftovers = asyncio.all_tasks(loop)  # engine.io's ping tasks of the closed sockets
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.close()
