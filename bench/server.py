"""Embedded server benchmark, IM client namespace: requests and pushes over the socket.

    .venv/bin/python bench/server.py                              # 1,000,000 messages, 100 accounts, 5,000 clients
    .venv/bin/python bench/server.py --messages 100000 --clients 1000   # a quick run
    .venv/bin/python bench/server.py --keep /tmp/bench-server     # keep the home; a later run reuses it

It builds the engine `hiscrm serve` builds (Engine.create, a SQLite file, no browsers), fills
it through DataStore.ingest with bench/datastore.py's workload, and starts the embedded
server on a free loopback port. Then, over a real socket (a python-socketio client in this
process, so its own work is in the figures too):

1. `monitor:request_channels`, `monitor:request_topics` (the busiest account) and
   `monitor:request_messages` (its busiest work, by topicId and channelId): p50/p99 from emit
   to the answer event.
2. New inbound DM stored -> the client's `monitor:new_message_hint` for it: p50/p99 (the hub
   gathers events for 50 ms before it pushes, as the UI bridge does).
3. `--clients` IM clients held at once (node's socket.io-client, tests/server/node/
   many_clients.js, so the clients' CPU is not this process's), and for a few new messages how
   long until the last of them saw the hint: p99 over all clients.
4. The server process's RSS at the end, and the longest event-loop stall while all this ran.

Figures are printed beside the goals of issue 10 / DESIGN.md §7; nothing is asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402
import socketio  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from datastore import StallMeter, Workload  # noqa: E402
from loopwork import LoopWork  # noqa: E402

from app.bootstrap import freeze_long_lived_objects  # noqa: E402
from app.engine.engine import Engine  # noqa: E402
from app.engine.paths import app_paths  # noqa: E402
from app.engine.records import Batch  # noqa: E402
from app.engine.secrets import SecretBox  # noqa: E402
from app.engine.settings import Settings  # noqa: E402
from app.engine.store.models import Account, Comment, Content  # noqa: E402
from app.platforms.sandbox import SandboxPlatform  # noqa: E402
from app.server.app import EmbeddedServer, ServerOptions  # noqa: E402

GOAL_REQUEST_P99_MS = 10.0
GOAL_PUSH_P99_MS = 100.0
GOAL_CLIENTS = 5_000
GOAL_BROADCAST_P99_MS = 500.0
GOAL_RSS_MB = 500.0
GOAL_STALL_MS = 50.0
NODE_DIR = ROOT / "tests" / "server" / "node"


async def timed(samples: int, call) -> tuple[float, float, float]:
    """p50 and p99 in ms of `samples` calls, paced below the connection's rate limit
    (im/limits.py: 100 requests a second) as a client that is not refused. Also prints the
    process's CPU time per call (server and asking client, every thread): steadier than wall
    time when other programs load the machine."""
    times = []
    cpu = 0.0
    for i in range(-5, samples):
        t0, c0 = time.perf_counter(), time.process_time()
        await call(i)
        elapsed = time.perf_counter() - t0
        if i >= 0:
            times.append(elapsed * 1000)
            cpu += time.process_time() - c0
        await asyncio.sleep(max(0.0, 0.011 - elapsed))
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], cpu / samples * 1000


class GcMeter:
    """Python's garbage collections while the server runs (gc.callbacks): per generation how
    many and the longest, in CPU time of the collecting thread (a collection holds the GIL,
    so that is how long every thread, the event loop included, stood still for it)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __enter__(self) -> "GcMeter":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        generation = info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], (time.thread_time() - self._started) * 1000)

    def report(self) -> None:
        parts = [f"gen{g} {self.count[g]:,} (longest {self.longest[g]:.1f} ms)" for g in range(3)]
        print(f"   garbage collections               {', '.join(parts)}", flush=True)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def line(label: str, p50: float, p99: float, goal: float, unit: str = "ms", cpu: float | None = None) -> None:
    print(f"   {label:<34} p50 {p50:>7.2f} {unit}  p99 {p99:>7.2f} {unit}   goal p99 < {goal:g} {unit}  "
          f"{verdict(p99 < goal)}" + (f"   (CPU {cpu:.2f} ms a request)" if cpu is not None else ""), flush=True)


class _ClientPacket(socketio.packet.Packet):
    """The asking client decodes with the standard json module: python-socketio's default
    calls a Python function for every integer it decodes (a guard against huge numbers),
    7 ms for a list of 500 topics, which a node or browser client does not spend."""

    json = json


class Asker:
    """One IM client that emits a request and awaits its answer event."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, serializer=_ClientPacket)
        self._waiting: dict[str, asyncio.Future] = {}
        self.hints: dict[str, float] = {}  # topic id -> when its hint arrived (perf_counter)
        for event in ("monitor:channels", "monitor:topics", "monitor:messages"):
            self.sio.on(event, self._answer(event))
        self.sio.on("monitor:new_message_hint", self._hint)

    def _answer(self, event: str):
        async def handler(data):
            future = self._waiting.pop(event, None)
            if future is not None and not future.done():
                future.set_result(data)
        return handler

    async def _hint(self, data) -> None:
        self.hints.setdefault(data.get("topicId") or data.get("conversationId"), time.perf_counter())

    async def ask(self, event: str, data, answer: str):
        future = asyncio.get_running_loop().create_future()
        self._waiting[answer] = future
        await self.sio.emit(event, data)
        return await asyncio.wait_for(future, 10)


async def fill(engine: Engine, args: argparse.Namespace) -> list[str]:
    account_ids = [f"acc-{uuid.UUID(int=i + 1)}" for i in range(args.accounts)]
    stored = await engine.db.read(lambda s: s.scalar(select(func.count()).select_from(Account)))
    if stored:
        print(f"   kept from an earlier run: {stored} accounts, no ingest")
        return account_ids

    def add_accounts(session):
        session.add_all(Account(id=a, platform="sandbox", display_name=f"账号 {i}", login_status="logged_in")
                        for i, a in enumerate(account_ids))

    await engine.db.write(add_accounts)
    t0, done = time.perf_counter(), 0
    for batch in Workload(args.messages, account_ids).batches():
        result = await engine.store.ingest(batch)
        if result.rejected:
            raise SystemExit(f"rejected bench records: {result.rejected[:3]}")
        done += len(batch.comments) + len(batch.messages)
    print(f"   filled {done:,} messages in {time.perf_counter() - t0:.0f} s", flush=True)
    return account_ids


def _busiest(session) -> tuple[str, str]:
    """The account with the most messages and its busiest work."""
    account = session.scalar(select(Account.id).order_by(Account.message_count.desc()).limit(1))
    work = session.scalar(select(Content.platform_content_id).where(Content.account_id == account)
                          .order_by(Content.message_count.desc()).limit(1))
    return account, work


async def requests(server: EmbeddedServer, engine: Engine, args: argparse.Namespace) -> Asker:
    asker = Asker()
    await asker.sio.connect(server.url, auth={"token": server.token}, transports=["websocket"])
    account, work = await engine.db.read(_busiest)
    messages = await engine.db.read(lambda s: s.scalar(select(func.count()).select_from(Comment).where(
        Comment.account_id == account, Comment.platform_content_id == work)))
    print(f"   busiest account {account}, its busiest work {work} ({messages:,} comments; the newest 200 are sent)")
    p50, p99, cpu = await timed(args.samples, lambda i: asker.ask("monitor:request_channels", None, "monitor:channels"))
    line("monitor:request_channels", p50, p99, GOAL_REQUEST_P99_MS, cpu=cpu)
    p50, p99, cpu = await timed(args.samples, lambda i: asker.ask(
        "monitor:request_topics", {"channelId": account}, "monitor:topics"))
    line("monitor:request_topics", p50, p99, GOAL_REQUEST_P99_MS, cpu=cpu)
    p50, p99, cpu = await timed(args.samples, lambda i: asker.ask(
        "monitor:request_messages", {"topicId": work, "channelId": account}, "monitor:messages"))
    line("monitor:request_messages", p50, p99, GOAL_REQUEST_P99_MS, cpu=cpu)
    p50, p99, cpu = await timed(args.samples, lambda i: asker.ask(
        "monitor:request_messages", {"topicId": work}, "monitor:messages"))
    line("monitor:request_messages (no channel)", p50, p99, GOAL_REQUEST_P99_MS, cpu=cpu)
    return asker


async def new_dm(engine: Engine, account_id: str, conversation: str) -> None:
    await engine.store.ingest(Batch(account_id=account_id, source="bench", messages=[dict(
        platform_message_id=f"live-{uuid.uuid4().hex}", platform_conversation_id=conversation,
        sender_id=f"fan-{conversation}", sender_name="新粉丝", text="刚刚发来的私信", direction="in",
        created_at=datetime.now(timezone.utc))]))


async def pushes(engine: Engine, asker: Asker, account_ids: list[str], args: argparse.Namespace) -> None:
    times = []
    for i in range(args.push_samples):
        conversation = f"live-{i}"
        t0 = time.perf_counter()
        await new_dm(engine, account_ids[i % len(account_ids)], conversation)
        deadline = t0 + 5
        while conversation not in asker.hints and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        if conversation in asker.hints:
            times.append((asker.hints[conversation] - t0) * 1000)
        await asyncio.sleep(0.06)  # a burst of its own, not gathered with the next
    times.sort()
    if not times:
        print("   new inbound DM -> hint: none arrived  MISSED")
        return
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    line("new inbound DM -> IM client hint", statistics.median(times), p99, GOAL_PUSH_P99_MS)


async def crowd(server: EmbeddedServer, engine: Engine, account_ids: list[str], args: argparse.Namespace,
                meter: StallMeter, collections: GcMeter, work: LoopWork) -> None:
    if not args.clients:
        print("   many clients: skipped (--clients 0)")
        return
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir():
        print("   many clients: skipped (node and tests/server/node/node_modules are needed)")
        return
    env = {**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")}
    process = await asyncio.create_subprocess_exec(
        "node", "--max-old-space-size=2048", str(NODE_DIR / "many_clients.js"), f"{server.url}/?token={server.token}",
        str(args.clients), env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        t0 = time.perf_counter()
        hello = json.loads(await asyncio.wait_for(process.stdout.readline(), 600))
        held = server.im_clients
        print(f"   IM clients connected              {hello['connected']:>7,} of {args.clients:,} "
              f"({hello['failed']} failed) in {time.perf_counter() - t0:.1f} s; server counts {held:,}   "
              f"goal {GOAL_CLIENTS:,}  {verdict(held >= GOAL_CLIENTS)}", flush=True)
        await asyncio.sleep(1)  # the count settles: heap.py freezes the connections
        print(f"   longest loop stall until now       {meter.worst * 1000:>7.1f} ms (wall clock)")
        print("   while the clients connected:")
        work.report()
        work.turns.clear()
        worst = []
        for i in range(args.broadcasts):
            conversation = f"crowd-{i}"
            process.stdin.write((json.dumps({"hint": conversation, "t0": int(time.time() * 1000)}) + "\n").encode())
            await process.stdin.drain()
            c0 = time.process_time()
            await new_dm(engine, account_ids[i % len(account_ids)], conversation)
            report = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
            cpu = (time.process_time() - c0) * 1000  # this process only: the clients are node's
            worst.append(report)
            print(f"     hint to {report['received']:,} clients: p50 {report['p50']} ms, p99 {report['p99']} ms, "
                  f"last {report['max']} ms; server CPU {cpu:.0f} ms", flush=True)
        p99s = [r["p99"] for r in worst if r["p99"] is not None]
        if p99s:
            p99 = max(p99s)
            print(f"   broadcast to all clients, p99      {p99:>7.0f} ms (worst of {len(p99s)})   "
                  f"goal < {GOAL_BROADCAST_P99_MS:.0f} ms  {verdict(p99 < GOAL_BROADCAST_P99_MS)}")
        print(f"   longest loop stall until now       {meter.worst * 1000:>7.1f} ms   goal < {GOAL_STALL_MS:.0f} ms  "
              f"{verdict(meter.worst * 1000 < GOAL_STALL_MS)} (the clients leave next)")
        collections.report()
        print("   during the broadcasts:")
        work.report()
        work.turns.clear()  # the next report is of the clients' leaving
        process.stdin.write(b'{"quit": true}\n')
        await process.stdin.drain()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def main(args: argparse.Namespace) -> None:
    print(f"{args.messages:,} messages over {args.accounts} accounts, {args.clients:,} clients; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    home = args.keep or Path(tempfile.mkdtemp(prefix="hiscrm-bench-server-"))
    settings = Settings()
    engine = Engine.create(app_paths(home / f"home_{args.messages}_{args.accounts}"), settings,
                           start_browsers=False, platforms=[SandboxPlatform()], secrets=SecretBox.generate())
    try:
        await engine.open()
        account_ids = await fill(engine, args)
        freeze_long_lived_objects()
        server = EmbeddedServer(engine, ServerOptions(port=0))
        await server.start()
        meter = StallMeter()
        meter.start()
        work = LoopWork()
        work.start()
        collections = GcMeter()
        try:
            with collections:
                asker = await requests(server, engine, args)
                await pushes(engine, asker, account_ids, args)
                await crowd(server, engine, account_ids, args, meter, collections, work)
                await asyncio.sleep(1)  # the clients' leaving counted
                await asker.sio.disconnect()
        finally:
            work.stop()
            stall = await meter.stop()
            rss = psutil.Process().memory_info().rss / 2**20
            await server.stop()
        print(f"   longest loop stall                {stall:>7.1f} ms   goal < {GOAL_STALL_MS:.0f} ms  "
              f"{verdict(stall < GOAL_STALL_MS)}")
        collections.report()
        print("   since (the clients leaving):")
        work.report()
        print(f"   server RSS                        {rss:>7.0f} MB   goal < {GOAL_RSS_MB:.0f} MB  "
              f"{verdict(rss < GOAL_RSS_MB)} (the engine, its database cache and the bench's own client)")
        print(f"   load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        await engine.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--clients", type=int, default=GOAL_CLIENTS, help="IM clients held at once (0: none)")
    p.add_argument("--samples", type=int, default=300, help="calls timed per request")
    p.add_argument("--push-samples", type=int, default=50)
    p.add_argument("--broadcasts", type=int, default=5, help="hints timed across all clients")
    p.add_argument("--keep", metavar="DIR", type=Path, help="keep the home (and its database) in DIR and reuse it")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
