"""Crash campaign: kill -9 the engine again and again while it sends replies and the audience
writes; at the end every reply must be on the platform exactly once and every comment and DM
stored (DESIGN.md §7: "no accepted message lost, no reply sent twice or lost").

    .venv/bin/python bench/crash_campaign.py                        # 200 replies, 15 kills
    .venv/bin/python bench/crash_campaign.py --replies 20 --kills 3 --accounts 2   # a short run
    .venv/bin/python bench/crash_campaign.py --seed 7 --keep /tmp/campaign         # keep the home

It reuses the kill -9 test's rig (tests/e2e): the sandbox site runs in this process (so it
and what it holds outlive every kill), with the middleware that stores a reply at once but
holds its answer back; the engine runs in a child process of its own process group
(tests/e2e/engine_process.py: the real Engine on a SQLite home, Debian's Chromium). The
campaign logs `--accounts` sandbox accounts in, gives each comments and DM conversations to
answer, then queues `--replies` replies (plain, with blank lines, with emoji, long) in waves,
one wave per kill, while an audience task writes comments (some in threads) and DMs the whole
time, the engine's down time included.

Each wave ends with a kill -9 of the child's whole process group at a seeded random moment,
of one of four kinds:
- `sending`: as soon as a reply is `sending` in the engine's database (plus 0-0.6 s);
- `held`:    the site has stored a reply and holds its answer back (the sender cannot know);
- `slow`:    the site answers sends later than the adapter's step timeout, killed while the
             engine waits or looks for its copy;
- `random`:  0.5-8 s into the wave.
The engine is then started again on the same home (the time to ready is measured), and every
reply requested so far is requested again: request ids make that idempotent, so a request
whose answer the kill cut off is neither lost nor doubled.

At the end the faults are switched off, the audience stops, and the engine drains (every reply
sent, confirmed, failed or waiting for the operator, every inbound message stored). Then it
prints beside the goals: replies requested / on the site exactly once / duplicates / lost /
uncertain (waiting for the operator: on the site or not), inbound written / stored, the
restart-to-ready times, and how many tracebacks the engine's log holds. Nothing is asserted;
tests/e2e/test_crash_safety.py is the test.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sqlalchemy import select  # noqa: E402

from app.engine.paths import app_paths  # noqa: E402
from app.engine.reply_text import text_key  # noqa: E402
from app.engine.store.db import Database  # noqa: E402
from app.engine.store.models import Reply  # noqa: E402
from app.platforms.sandbox.control_client import SandboxControl  # noqa: E402
from tests.e2e.engine_process import EngineProcess  # noqa: E402
from tests.e2e.harness import SlowReplies, sandbox_site, site_texts, stored_texts, until  # noqa: E402

KILL_KINDS = ("sending", "held", "slow", "random")
SETTLED = {"sent", "confirmed", "failed", "blocked", "cancelled", "uncertain"}
SLOW_ANSWER_MS = 17_000  # later than the adapter's 15 s step timeout (sandbox/adapter.py)
LONG = ("感谢您的关注和支持！关于您问到的问题，我们详细说明一下：" + "Thank you for asking, here is the whole story. " * 3)


class Campaign:
    def __init__(self, args: argparse.Namespace, home: Path, site_url: str, control: SandboxControl,
                 slow: SlowReplies) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.home = home
        self.control = control
        self.slow = slow
        self.log_file = home.parent / "engine.log"
        self.child = EngineProcess(home, site_url, self.log_file)
        self.db = Database(app_paths(home).default_database_url)
        self.creators = [f"campaign-{n}" for n in range(args.accounts)]
        self.accounts: dict[str, str] = {}  # creator → account id
        self.targets: list[dict[str, Any]] = []  # what a reply answers: topic and reply_to
        self.requested: list[dict[str, Any]] = []  # every reply requested so far, in order
        self.inbound: dict[str, list[str]] = {c: [] for c in self.creators}  # what the audience wrote
        self.thread_roots: dict[str, list[tuple[str, str]]] = {c: [] for c in self.creators}
        self.ready_s: list[float] = []
        self.kinds = [self.rng.choice(KILL_KINDS) for _ in range(args.kills)]  # the same for a seed
        self.kills: Counter[str] = Counter()

    # ---- set-up --------------------------------------------------------------------------
    async def set_up(self) -> None:
        await self.child.start()
        for creator in self.creators:
            login = asyncio.ensure_future(self.child.ask({"login": creator}, timeout=60))
            ticket = await self.control.wait_for_qr(timeout_s=45)
            await self.control.scan(ticket["token"])
            await self.control.confirm(ticket["token"], creator)
            answer = await login
            if "account" not in answer:
                raise RuntimeError(f"login of {creator}: {answer}")
            account_id = self.accounts[creator] = answer["account"]
            for n in range(self.args.comment_targets):
                text = f"请问怎么买？ target {creator} c{n}"
                comment = (await self.control.inject_comment(f"buyer {n}", text, creator=creator))["comment"]
                self.inbound[creator].append(text)
                self.thread_roots[creator].append((comment["work_id"], comment["cid"]))
                topic = {"account_id": account_id, "kind": "content", "platform_id": comment["work_id"]}
                self.targets.append({"topic": topic, "reply_to": comment["cid"]})
            for n in range(self.args.dm_targets):
                text = f"在吗？ target {creator} d{n}"
                dm = await self.control.inject_dm(f"customer {n}", text, creator=creator)
                self.inbound[creator].append(text)
                topic = {"account_id": account_id, "kind": "conversation", "platform_id": dm["conversation_id"]}
                self.targets.append({"topic": topic, "reply_to": None})
        await until(self._all_inbound_stored, timeout=90, what="the targets stored")

    # ---- traffic -------------------------------------------------------------------------
    async def audience(self) -> None:
        """Comments (a third of them in a target's thread) and DMs, all the time."""
        rng = random.Random(self.args.seed + 1)
        n = 0
        while True:
            creator = rng.choice(self.creators)
            n += 1
            try:
                if rng.random() < 0.5:
                    text = f"观众评论 #{n} 😂" if n % 3 else f"Viewer comment #{n}"
                    if rng.random() < 0.33:
                        work_id, cid = rng.choice(self.thread_roots[creator])
                        await self.control.inject_comment(f"viewer {n % 17}", text, creator=creator,
                                                          work_id=work_id, reply_to=cid)
                    else:
                        await self.control.inject_comment(f"viewer {n % 17}", text, creator=creator)
                else:
                    text = f"私信 #{n} 你好" if n % 2 else f"DM #{n}: still there? 🙏"
                    await self.control.inject_dm(f"fan {n % 11}", text, creator=creator)
            except Exception as exc:  # noqa: BLE001 - a bench keeps going; the count shows it
                print(f"  audience: {exc}", flush=True)
                continue
            self.inbound[creator].append(text)
            await asyncio.sleep(rng.expovariate(1 / self.args.audience_gap))

    # ---- replies and kills ---------------------------------------------------------------
    def _reply(self, n: int) -> dict[str, Any]:
        target = self.targets[n % len(self.targets)]
        text = [
            f"第一行 #{n}\n\n第二行，空了一行",
            f"谢谢支持 🙏😊 #{n}",
            f"{LONG}#{n}",
            f"Thanks! Line one #{n}\nline two\n\n\nline four",
            f"好的，马上安排 #{n}",
        ][n % 5]
        return {**target, "text": text, "request_id": f"campaign:{n}"}

    async def request(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            await self.child.ask({"reply": item})

    async def wave(self, number: int, size: int) -> None:
        """Queue `size` more replies, let a seeded share of the backlog go out, then kill at a
        moment of the wave's kind."""
        items = [self._reply(len(self.requested) + i) for i in range(size)]
        self.requested += items
        kind = self.kinds[number - 1]
        self.kills[kind] += 1
        started = time.monotonic()
        await self.request(items)
        try:
            settled = await self._settled_count()
            backlog = len(self.requested) - settled
            goal = settled + self.rng.randint(0, max(0, int(backlog * 0.7)))
            await until(lambda: self._settled_count(at_least=goal), timeout=90, what=f"{goal} replies settled")
            if kind == "held":
                self.slow.hold()
                await until(lambda: self.slow.held >= 1, timeout=60, what="an answer held back")
                await asyncio.sleep(self.rng.uniform(0, 1.0))
            elif kind == "slow":
                await self.control.set_faults(send_answer_delay_ms=SLOW_ANSWER_MS)
                await until(lambda: self._any("sending"), timeout=60, what="a reply sending")
                await asyncio.sleep(self.rng.uniform(1, SLOW_ANSWER_MS / 1000 + 4))
            elif kind == "sending":
                await until(lambda: self._any("sending"), timeout=60, what="a reply sending")
                await asyncio.sleep(self.rng.uniform(0, 0.6))
            else:
                await asyncio.sleep(self.rng.uniform(0.5, 8))
        except AssertionError as exc:  # the moment did not come: kill anyway
            print(f"  wave {number}: {exc}", flush=True)
        statuses = Counter(status for _, status in await self._replies())
        await self.child.kill()
        print(f"kill {number:2d} ({kind:7s}) after {time.monotonic() - started:5.1f} s: "
              + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())), flush=True)
        self.slow.release()
        await self.control.set_faults(send_answer_delay_ms=0)
        await asyncio.sleep(self.rng.uniform(0, 2))  # down for a moment; the audience goes on
        self.ready_s.append(await self.child.start())
        await self.request(self.requested)  # again: what the kill cut off is not lost

    async def drain(self) -> float:
        started = time.monotonic()
        await until(self._settled, timeout=self.args.drain_timeout, what="every reply settled")
        await until(self._all_inbound_stored, timeout=self.args.drain_timeout, what="every inbound message stored")
        return time.monotonic() - started

    # ---- what the database and the site hold ---------------------------------------------
    async def _replies(self) -> list[tuple[str, str]]:
        return await self.db.read(lambda s: [(r.request_id, r.status) for r in s.scalars(select(Reply))])

    async def _any(self, status: str) -> bool:
        return any(s == status for _, s in await self._replies())

    async def _settled_count(self, at_least: int | None = None) -> int | bool:
        replies = dict(await self._replies())
        count = sum(1 for item in self.requested if replies.get(item["request_id"]) in SETTLED)
        return count if at_least is None else count >= at_least

    async def _settled(self) -> bool:
        return await self._settled_count(at_least=len(self.requested))

    async def _all_inbound_stored(self) -> bool:
        for creator, account_id in self.accounts.items():
            if not set(self.inbound[creator]) <= set(await stored_texts(self.db, account_id)):
                return False
        return True

    async def report(self, drained_s: float | None) -> None:
        statuses = dict(await self._replies())
        copies: Counter[str] = Counter()
        for creator in self.creators:
            copies.update(text_key(t) for t in await site_texts(self.control, creator))
        once = duplicates = lost = 0
        uncertain_there = uncertain_missing = 0
        for item in self.requested:
            found, status = copies[text_key(item["text"])], statuses.get(item["request_id"])
            if status == "uncertain":
                uncertain_there += found == 1
                uncertain_missing += found == 0
            if found == 1:
                once += 1
            elif found > 1:
                duplicates += 1
                print(f"  DUPLICATE ({found}x, {status}): {item['request_id']} {item['text'][:40]!r}")
            elif status != "uncertain":
                lost += 1
                print(f"  LOST ({status}): {item['request_id']} {item['text'][:40]!r}")
        written = sum(len(texts) for texts in self.inbound.values())
        stored = 0
        for creator, account_id in self.accounts.items():
            have = set(await stored_texts(self.db, account_id))
            stored += sum(1 for text in self.inbound[creator] if text in have)
        log = self.log_file.read_text(encoding="utf-8", errors="replace")
        tracebacks = log.count("Traceback (most recent call last)")
        ready = sorted(self.ready_s)
        print(f"\n{len(self.requested)} replies over {len(self.accounts)} accounts, {sum(self.kills.values())} kill -9s ("
              + ", ".join(f"{n} {k}" for k, n in sorted(self.kills.items())) + ")")
        print(f"  replies requested:          {len(self.requested)}")
        print(f"  on the site exactly once:   {once}            (goal: all but the uncertain ones not there)")
        print(f"  duplicates:                 {duplicates}            (goal: 0)")
        print(f"  lost:                       {lost}            (goal: 0)")
        print(f"  uncertain (operator):       {uncertain_there + uncertain_missing}"
              f"            ({uncertain_there} on the site, {uncertain_missing} not)")
        print("  final statuses:             " + ", ".join(
            f"{n} {s}" for s, n in sorted(Counter(statuses.get(i['request_id']) for i in self.requested).items())))
        print(f"  inbound written / stored:   {written} / {stored}      (goal: all)")
        if ready:
            print(f"  restart to ready:           median {statistics.median(ready):.1f} s, "
                  f"max {ready[-1]:.1f} s, min {ready[0]:.1f} s over {len(ready)} restarts")
        if drained_s is not None:
            print(f"  drained in:                 {drained_s:.1f} s after the last restart")
        print(f"  tracebacks in the engine log: {tracebacks}            (goal: 0)")
        if tracebacks:  # the first one, as the log is deleted without --keep
            start = log.index("Traceback (most recent call last)")
            print("\n".join(log[start:].splitlines()[:25]))


async def run(args: argparse.Namespace) -> None:
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hiscrm-bench-campaign-"))
    base.mkdir(parents=True, exist_ok=True)
    home = base / "home"
    slow = SlowReplies()
    print(f"crash campaign: {args.replies} replies, {args.kills} kills, {args.accounts} accounts, "
          f"seed {args.seed}; data in {base}", flush=True)
    async with sandbox_site(slow) as site, SandboxControl(site.base_url) as control:
        campaign = Campaign(args, home, site.base_url, control, slow)
        audience: asyncio.Task[None] | None = None
        drained = None
        try:
            await campaign.set_up()
            audience = asyncio.ensure_future(campaign.audience())
            sizes = [args.replies // (args.kills + 1)] * (args.kills + 1)
            sizes[-1] += args.replies - sum(sizes)
            for number in range(1, args.kills + 1):
                await campaign.wave(number, sizes[number - 1])
            last = [campaign._reply(len(campaign.requested) + i) for i in range(sizes[-1])]
            campaign.requested += last
            await campaign.request(last)
            await asyncio.sleep(args.tail)  # the audience goes on a while after the last wave
            audience.cancel()
            drained = await campaign.drain()
        except AssertionError as exc:
            print(f"\nthe campaign did not finish: {exc}", flush=True)
        finally:
            if audience is not None:
                audience.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await audience
            await campaign.child.stop()
        await campaign.report(drained)
        await campaign.db.close()
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--comment-targets", type=int, default=4, help="comments to answer per account")
    parser.add_argument("--dm-targets", type=int, default=3, help="DM conversations to answer per account")
    parser.add_argument("--audience-gap", type=float, default=2.0, help="mean seconds between audience messages")
    parser.add_argument("--tail", type=float, default=5.0, help="seconds of audience after the last wave")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", help="keep the engine's home and log in this folder")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
