"""Worker pool benchmark: browser memory per monitored account, event → stored latency,
send → sent time and event-loop stalls, with real Chromium against the sandbox site.

    .venv/bin/python bench/pool.py                       # 10, 50 and 100 accounts
    .venv/bin/python bench/pool.py --sizes 10 --settle 20  # a quick run
    .venv/bin/python bench/pool.py --max-active-pages 16   # another page limit
    .venv/bin/python bench/pool.py --parallel-polls 2      # polls at once (default: cores - 1)

It builds the real Engine (SQLite in a temporary HISCRM_HOME, default settings unless told
otherwise), logs sandbox accounts in through `engine.logins` (the sandbox's control API plays
the creator's phone), and lets the pool monitor them:

- memory: at each size, after the accounts have monitored for `--settle` seconds with no
  traffic, the browser process tree is sampled every 2 s; RSS (what `top` shows, counting
  shared pages once per process) and PSS (shared pages divided fairly) per account;
- event → stored: at the largest size, DMs are injected one by one into accounts the operator
  has opened (awake, so the page's websocket pushes them) and timed from the control API call
  to the `MessagesAdded` event, which is published after the commit;
- send → sent: `pool.send_reply` to those DMs, timed around the call;
- the longest event-loop stall, measured by a heartbeat task through the whole run.
Figures are printed beside the goals of DESIGN.md §7; nothing is asserted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from app.bootstrap import freeze_long_lived_objects  # noqa: E402
from app.engine.engine import Engine  # noqa: E402
from app.engine.events import LoginProgress, MessagesAdded  # noqa: E402
from app.engine.logs import setup_logging  # noqa: E402
from app.engine.paths import app_paths  # noqa: E402
from app.engine.platform import ReplyTarget  # noqa: E402
from app.engine.settings import Settings  # noqa: E402

GOAL_LATENCY_P95_S = 1.0
GOAL_SEND_P95_S = 2.0
GOAL_MB_PER_ACCOUNT = 40.0
GOAL_STALL_MS = 50.0
HEARTBEAT_S = 0.005
PARALLEL_LOGINS = 4


class Heartbeat:
    """Wakes every 5 ms and records how late it woke (the loop's stalls), per phase, and how
    much CPU the loop's thread used meanwhile: a stall with little CPU is the machine's
    other work (Chromium's renderers on 2 cores) keeping the process off the CPU, not code
    blocking the loop."""

    def __init__(self) -> None:
        self.lateness: dict[str, list[float]] = {}
        self.worst_cpu: dict[str, float] = {}  # phase -> loop-thread CPU during its worst stall
        self.phase = "start-up"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, cpu_before = loop.time(), time.thread_time()
            await asyncio.sleep(HEARTBEAT_S)
            late = loop.time() - before - HEARTBEAT_S
            stalls = self.lateness.setdefault(self.phase, [])
            if not stalls or late > max(stalls):
                self.worst_cpu[self.phase] = time.thread_time() - cpu_before
            stalls.append(late)


class Bench:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.control = engine.platforms.get("sandbox").control
        self.qr_urls: dict[str, str] = {}
        self.finished: dict[str, LoginProgress] = {}
        self.added_at: dict[str, float] = {}
        engine.bus.subscribe(LoginProgress, self._login_progress)
        engine.bus.subscribe(MessagesAdded, self._messages_added)

    def _login_progress(self, event: LoginProgress) -> None:
        if event.state == "qr_ready":
            self.qr_urls[event.session_id] = event.qr_url
        elif event.state in ("success", "failed", "timeout", "expired", "cancelled"):
            self.finished[event.session_id] = event

    def _messages_added(self, event: MessagesAdded) -> None:
        now = time.perf_counter()
        for message_id in event.message_ids:
            self.added_at.setdefault(message_id, now)

    async def login(self, creator: str) -> str:
        account_id = await self.engine.accounts.create("sandbox", creator)
        session_id = await self.engine.logins.start(account_id)
        while session_id not in self.qr_urls:
            await asyncio.sleep(0.05)
        token = parse_qs(urlparse(self.qr_urls[session_id]).query)["token"][0]
        await self.control.confirm(token, creator)
        while session_id not in self.finished:
            await asyncio.sleep(0.05)
        if self.finished[session_id].state != "success":
            raise RuntimeError(f"login of {creator} ended {self.finished[session_id].state}")
        return account_id

    async def login_many(self, creators: list[str]) -> list[str]:
        gate = asyncio.Semaphore(PARALLEL_LOGINS)

        async def one(creator: str) -> str:
            async with gate:
                return await self.login(creator)

        return list(await asyncio.gather(*(one(c) for c in creators)))

    async def memory(self, seconds: float) -> tuple[float, float | None, int]:
        """Mean RSS and PSS (MB) of the browser tree and the most pages open, over `seconds`."""
        rss, pss, pages = [], [], 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sample = await self.engine.pool.sample_memory()
            if sample.rss_mb:
                rss.append(sample.rss_mb)
            if sample.pss_mb:
                pss.append(sample.pss_mb)
            pages = max(pages, self.engine.pool.status().open_pages)
            await asyncio.sleep(2)
        return statistics.mean(rss or [0]), statistics.mean(pss) if pss else None, pages

    async def dm_latency(self, creators: list[str], count: int) -> tuple[list[float], list[tuple[str, str]]]:
        """Inject `count` DMs round-robin; returns latencies and (creator, conversation id)."""
        latencies, conversations = [], []
        for i in range(count):
            creator = creators[i % len(creators)]
            started = time.perf_counter()
            injected = await self.control.inject_dm(f"fan{i % 7}", f"bench message {i} 你好", creator=creator)
            message_id = str(injected["message"]["msg_id"])
            while message_id not in self.added_at and time.perf_counter() - started < 30:
                await asyncio.sleep(0.005)
            latencies.append(self.added_at.get(message_id, float("inf")) - started)
            conversations.append((creator, injected["conversation_id"]))
            await asyncio.sleep(0.2)
        return latencies, conversations

    async def send_times(self, accounts: dict[str, str], conversations: list[tuple[str, str]]) -> list[float]:
        times = []
        for i, (creator, conversation_id) in enumerate(conversations):
            started = time.perf_counter()
            await self.engine.pool.send_reply(
                accounts[creator], ReplyTarget("direct_message", conversation_id), f"bench reply {i} 收到"
            )
            times.append(time.perf_counter() - started)
        return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="hiscrm-bench-pool-"))
    os.environ["HISCRM_HOME"] = str(home)
    paths = app_paths(home).ensure()
    setup_logging(paths.log_dir, verbose=args.verbose)  # the engine's log, for a look afterwards
    settings = Settings(max_active_pages=args.max_active_pages, max_parallel_polls=args.parallel_polls)
    settings.platforms["sandbox"] = {"demo_traffic": False}
    engine = Engine.create(paths, settings)
    heartbeat = Heartbeat()
    heartbeat.start()
    await engine.start()
    freeze_long_lived_objects()  # as the console and `hiscrm serve` do once the engine is up
    bench = Bench(engine)
    print(f"pool benchmark: Chromium via the sandbox site, max_active_pages={settings.max_active_pages}, "
          f"polls at once {engine.pool.status().max_parallel_polls}, "
          f"polls every {settings.poll_interval_min_s:g}-{settings.poll_interval_max_s:g} s, data in {home}")
    accounts: dict[str, str] = {}
    try:
        for size in args.sizes:
            new = [f"bench-creator-{n:03d}" for n in range(len(accounts), size)]
            heartbeat.phase = f"logging in accounts {len(accounts) + 1}-{size}"
            started = time.perf_counter()
            accounts.update(zip(new, await bench.login_many(new)))
            print(f"\n{size} accounts: {len(new)} logged in through the QR flow in {time.perf_counter() - started:.1f} s; "
                  f"monitoring idle for {args.settle:g} s")
            heartbeat.phase = f"monitoring {size} accounts"
            await asyncio.sleep(args.settle)
            rss, pss, pages = await bench.memory(args.sample)
            status = engine.pool.status()
            cycles = sum(a.cycles for a in status.accounts)
            print(f"  browser tree: RSS {rss:.0f} MB = {rss / size:.1f} MB/account "
                  f"(goal <= {GOAL_MB_PER_ACCOUNT:g}); PSS {pss or 0:.0f} MB = {(pss or 0) / size:.1f} MB/account; "
                  f"pages open <= {pages}; {cycles} monitor cycles so far; "
                  f"states {_count_states(status)}")

        creators = list(accounts)[: max(1, engine.pool.status().max_active_pages // 2)]
        for creator in creators:
            await engine.pool.wake(accounts[creator])  # the operator opens these accounts
        await asyncio.sleep(5)
        heartbeat.phase = f"monitoring {len(accounts)} accounts + DM traffic and replies"
        latencies, conversations = await bench.dm_latency(creators, args.messages)
        print(f"\nevent -> stored (DM push, {len(creators)} opened accounts of {len(accounts)}): "
              f"p50 {pct(latencies, .5) * 1000:.0f} ms, p95 {pct(latencies, .95) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms (goal p95 < {GOAL_LATENCY_P95_S * 1000:.0f} ms)")
        sends = await bench.send_times(accounts, conversations[: args.sends])
        print(f"send -> sent (pool.send_reply, DM): p50 {pct(sends, .5) * 1000:.0f} ms, "
              f"p95 {pct(sends, .95) * 1000:.0f} ms, max {max(sends) * 1000:.0f} ms "
              f"(goal p95 < {GOAL_SEND_P95_S * 1000:.0f} ms)")
    finally:
        await heartbeat.stop()
        await engine.stop()
    print(f"\nevent loop stalls (goal: longest < {GOAL_STALL_MS:g} ms while monitoring):")
    for phase, stalls in heartbeat.lateness.items():
        print(f"  {phase}: longest {max(stalls) * 1000:.1f} ms (the loop's thread ran "
              f"{heartbeat.worst_cpu[phase] * 1000:.0f} ms of it), p99 {pct(stalls, .99) * 1000:.1f} ms")


def _count_states(status) -> str:
    counts: dict[str, int] = {}
    for account in status.accounts:
        counts[account.state] = counts.get(account.state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="account counts to measure, ascending")
    parser.add_argument("--max-active-pages", type=int, default=Settings().max_active_pages)
    parser.add_argument("--parallel-polls", type=int, default=0, help="scheduled polls at once (0: cores - 1)")
    parser.add_argument("--settle", type=float, default=45.0, help="seconds of monitoring before sampling")
    parser.add_argument("--sample", type=float, default=20.0, help="seconds of memory sampling per size")
    parser.add_argument("--messages", type=int, default=60, help="DMs timed for event -> stored")
    parser.add_argument("--sends", type=int, default=20, help="replies timed for send -> sent")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug lines in the engine's log")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
