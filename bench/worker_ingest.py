"""Worker ingest benchmark: deltas and snapshots from remote workers into the master.

    .venv/bin/python bench/worker_ingest.py                       # 4 workers, 20 accounts
    .venv/bin/python bench/worker_ingest.py --deltas 500 --snapshots 10   # a quick run

The master is the real one: Engine.create on a fresh SQLite file, its EmbeddedServer on a
free loopback port, the worker link (`/worker`). The workers run in a child process (so their
own work does not count as the master's stalls): python-socketio clients speaking hiscrm/1,
each registering and then sending `worker:data:delta` at full rate (up to `--window`
unacknowledged at once, as a worker's journal would), then original-format
`worker:data:sync` snapshots. (They run at the lowest CPU priority: real workers run on other
machines, and the master's figures should not count their work.) In the master, a heartbeat task measures how late the event
loop wakes while it ingests (the longest stall is how long the console would freeze).

Printed beside the goals: deltas/s and records/s acknowledged (an ack follows the commit),
snapshot records/s, and the longest stall (goal < 50 ms). The stall is wall-clock time, so on
a machine busy with other work it counts the time the process was not scheduled at all (and
the writer thread's share of the GIL); the loop's own work is printed beside it as CPU time,
which the load does not inflate: the longest single loop callback, and the loop's CPU per
delta. `measure(...)` returns the same figures as a dict for bench/server.py.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bench.datastore import StallMeter  # noqa: E402
from bench.loopwork import LoopWork  # noqa: E402

GOAL_STALL_MS = 50.0
TOKEN = "bench-worker-ingest"


# ---- The master (this process) -------------------------------------------------------------
async def measure(*, workers: int = 4, accounts: int = 20, deltas: int = 2_000, batch: int = 50,
                  snapshots: int = 20, snapshot_messages: int = 1_000, window: int = 8,
                  home: Path | None = None) -> dict[str, Any]:
    """Run the workload against a fresh master; the figures (see the module docstring)."""
    from app.bootstrap import freeze_long_lived_objects
    from app.engine.engine import Engine
    from app.engine.paths import app_paths
    from app.engine.secrets import SecretBox
    from app.engine.settings import Settings
    from app.server.app import EmbeddedServer, ServerOptions

    with tempfile.TemporaryDirectory() as scratch:
        engine = Engine.create(app_paths(home or Path(scratch)), Settings(), platforms=[],
                               secrets=SecretBox.generate(), start_browsers=False)
        await engine.open()
        ids = [await engine.accounts.create("sandbox", f"bench-{i}") for i in range(accounts)]
        engine.server_token.configured = TOKEN
        server = EmbeddedServer(engine, ServerOptions(host="127.0.0.1", port=0, token=TOKEN))
        await server.start()
        freeze_long_lived_objects()  # as the console and `hiscrm serve` do once the engine is up
        meter, work = StallMeter(), LoopWork()
        meter.start()
        work.start()
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", server.url, json.dumps(ids), "--workers", str(workers),
                "--deltas", str(deltas), "--batch", str(batch), "--snapshots", str(snapshots),
                "--snapshot-messages", str(snapshot_messages), "--window", str(window),
                stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            out, _ = await child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"the workers' process failed ({child.returncode})")
            figures = json.loads(out.decode().strip().splitlines()[-1])
        finally:
            work.stop()
            figures_stall = await meter.stop()
            await server.stop()
            await engine.stop()
    return {**figures, "stall_ms": figures_stall, "stored_total": engine.store.accepted_total,
            "loop_longest_ms": work.longest_s * 1000, "loop_work": work,
            "loop_ms_per_delta": work.total_s * 1000 / max(1, figures["deltas"] + figures["snapshots"])}


def report(figures: dict[str, Any]) -> None:
    stall = figures["stall_ms"]
    print(f"   deltas acknowledged   {figures['deltas_per_s']:>10,.0f} /s   "
          f"({figures['delta_records_per_s']:,.0f} records/s, {figures['deltas']} deltas of {figures['batch']})")
    print(f"   snapshot records      {figures['snapshot_records_per_s']:>10,.0f} /s   "
          f"({figures['snapshots']} snapshots of {figures['snapshot_messages']} messages)")
    print(f"   longest loop stall    {stall:>10.1f} ms   goal < {GOAL_STALL_MS:.0f} ms  "
          f"{'ok' if stall < GOAL_STALL_MS else 'MISSED'} (wall clock: the machine's load counts)")
    longest = figures["loop_longest_ms"]
    print(f"   longest loop callback {longest:>10.1f} ms   goal < {GOAL_STALL_MS:.0f} ms  "
          f"{'ok' if longest < GOAL_STALL_MS else 'MISSED'} (the loop's own CPU time)")
    print(f"   loop CPU per message  {figures['loop_ms_per_delta']:>10.2f} ms   "
          "(a delta or a snapshot: everything the loop did)")
    figures["loop_work"].report()


# ---- The workers (the child process) ----------------------------------------------------------
async def run_workers(url: str, account_ids: list[str], *, workers: int, deltas: int, batch: int, snapshots: int,
                      snapshot_messages: int, window: int) -> dict[str, Any]:
    import socketio

    clients = []
    for w in range(workers):
        client = socketio.AsyncClient(reconnection=False)
        acks: asyncio.Queue[dict] = asyncio.Queue()

        async def on_message(message, acks=acks):
            await acks.put(message)

        client.on("message", on_message, namespace="/worker")
        await client.connect(url, namespaces=["/worker"], auth={"token": TOKEN}, transports=["websocket"])
        worker_id = f"bench-w{w}"
        await client.call("join_room", {"room": f"worker:{worker_id}", "workerId": worker_id}, namespace="/worker")
        await client.emit("message", _envelope("worker:register", {
            "worker_id": worker_id, "capabilities": ["sandbox"], "max_accounts": len(account_ids),
            "protocol": "hiscrm/1", "resume_seq": 0}), namespace="/worker")
        ack = await _next(acks, "worker:register:ack")
        mine = [a["id"] for a in ack["payload"]["assigned_accounts"]] or account_ids
        clients.append((client, worker_id, mine, acks))

    async def beat() -> None:  # as a worker does (the master drops one silent for 30 s)
        while True:
            await asyncio.sleep(10)
            for client, worker_id, *_ in clients:
                await client.emit("message", _envelope("worker:heartbeat", {"worker_id": worker_id}),
                                  namespace="/worker")

    beating = asyncio.ensure_future(beat())
    per_worker = max(1, deltas // workers)
    started = time.perf_counter()
    await asyncio.gather(*(_send_deltas(c, wid, mine, acks, per_worker, batch, window)
                           for c, wid, mine, acks in clients))
    delta_s = time.perf_counter() - started

    per_worker_snapshots = max(1, snapshots // workers)
    started = time.perf_counter()
    await asyncio.gather(*(_send_snapshots(c, mine, acks, per_worker_snapshots, snapshot_messages)
                           for c, _wid, mine, acks in clients))
    snapshot_s = time.perf_counter() - started
    beating.cancel()
    for client, *_ in clients:
        await client.disconnect()
    sent = per_worker * workers
    return {"deltas": sent, "batch": batch, "deltas_per_s": sent / delta_s,
            "delta_records_per_s": sent * batch / delta_s, "snapshots": per_worker_snapshots * workers,
            "snapshot_messages": snapshot_messages,
            "snapshot_records_per_s": per_worker_snapshots * workers * snapshot_messages / snapshot_s}


async def _send_deltas(client, worker_id, accounts, acks, count, batch, window) -> None:
    now = datetime.now(timezone.utc)
    in_flight = 0
    for seq in range(1, count + 1):
        account = accounts[seq % len(accounts)]
        messages = [{"platform_message_id": f"{worker_id}-{seq}-{i}", "platform_conversation_id": f"peer-{i % 20}",
                     "sender_id": f"peer-{i % 20}", "text": f"message {seq}/{i} 请问什么时候发货",
                     "created_at": (now - timedelta(seconds=count - seq)).isoformat()} for i in range(batch)]
        await client.emit("message", _envelope("worker:data:delta", {
            "worker_id": worker_id, "account_id": account, "seq": seq,
            "batch": {"contents": [], "comments": [], "conversations": [], "messages": messages}}),
            namespace="/worker")
        in_flight += 1
        while in_flight >= window:
            await _next(acks, "worker:data:delta:ack")
            in_flight -= 1
    for _ in range(in_flight):
        await _next(acks, "worker:data:delta:ack")


async def _send_snapshots(client, accounts, acks, count, size) -> None:
    now_ms = int(time.time() * 1000)
    for n in range(count):
        account = accounts[n % len(accounts)]
        messages = [{"id": f"msg_{account}_s{n}-{i}", "messageId": f"s{n}-{i}", "conversationId": f"peer-{i % 20}",
                     "senderId": f"peer-{i % 20}", "content": f"snapshot {n}/{i}", "direction": "inbound",
                     "createdAt": now_ms - i * 1000, "isRead": False} for i in range(size)]
        await client.emit("message", _envelope("worker:data:sync", {
            "accountId": account, "platform": "sandbox", "timestamp": now_ms, "snapshot": {
                "platform": "sandbox", "data": {"messages": messages, "comments": [], "contents": [],
                                                "conversations": [], "notifications": []}}}), namespace="/worker")
        await _next(acks, "WORKER_DATA_SYNC_ACK")


async def _next(acks: asyncio.Queue, type_: str) -> dict:
    while True:
        message = await asyncio.wait_for(acks.get(), 120)
        if message.get("type") == type_:
            return message
        if message.get("type", "").endswith(":error"):
            raise RuntimeError(f"the master answered {message}")


def _envelope(type_: str, payload: dict) -> dict:
    return {"type": type_, "version": "v1", "payload": payload, "timestamp": int(time.time() * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", nargs=2, metavar=("URL", "ACCOUNTS_JSON"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--deltas", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=50, help="messages per delta")
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--snapshot-messages", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=8, help="unacknowledged deltas per worker")
    args = parser.parse_args()
    options = dict(workers=args.workers, deltas=args.deltas, batch=args.batch, snapshots=args.snapshots,
                   snapshot_messages=args.snapshot_messages, window=args.window)
    if args.client:
        os.nice(19)  # real workers run on other machines: here they yield the CPU to the master
        url, ids = args.client
        print(json.dumps(asyncio.run(run_workers(url, json.loads(ids), **options))))
        return
    print(f"Worker ingest: {args.workers} workers, {args.accounts} accounts, SQLite (load {os.getloadavg()[0]:.1f})")
    report(asyncio.run(measure(accounts=args.accounts, **options)))


if __name__ == "__main__":
    main()
