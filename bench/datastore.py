"""DataStore and IM view benchmark: ingest rate, query latencies, event-loop stalls.

    .venv/bin/python bench/datastore.py                      # 1,000,000 messages, 100 accounts
    .venv/bin/python bench/datastore.py --messages 100000    # a quick run
    .venv/bin/python bench/datastore.py --pg postgresql://user@host/db   # that server, not the test one
    .venv/bin/python bench/datastore.py --no-pg              # SQLite only
    .venv/bin/python bench/datastore.py --keep /tmp/bench    # keep the databases; a later run with
                                                             # the same --keep reuses them (no ingest)

It fills a fresh SQLite file (and a fresh PostgreSQL database) through the real path,
`DataStore.ingest` in crawl batches of 500, while a heartbeat task on the event loop measures
how late it wakes up (the longest stall is how long the console window would freeze). Then it
times the IM views through their async API, as the UI calls them: channel list, topic list,
message pages (the newest and one deep in a long topic), unread totals and search. Figures are
printed beside the goals of DESIGN.md §7; nothing is asserted. See bench/README.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sqlalchemy import create_engine, func, make_url, select, text  # noqa: E402

from app.engine.bus import EventBus  # noqa: E402
from app.bootstrap import freeze_long_lived_objects  # noqa: E402
from app.engine.im import channels, messages, search, topics  # noqa: E402
from app.engine.im.search_index import SearchIndexer  # noqa: E402
from app.engine.im.tables import BOTH, tables_for  # noqa: E402
from app.engine.im.types import MessageCursor, TopicRef  # noqa: E402
from app.engine.im.views import ImViews  # noqa: E402
from app.engine.records import Batch  # noqa: E402
from app.engine.store.datastore import DataStore  # noqa: E402
from app.engine.store.db import Database  # noqa: E402
from app.engine.store.models import Account  # noqa: E402

GOAL_INGEST = 20_000  # messages/s, SQLite
GOAL_QUERY_P99_MS = 2.0
GOAL_STALL_MS = 50.0
GOAL_SEARCH_P99_MS = 50.0  # across all accounts (issue 9)
HEARTBEAT_S = 0.005
BATCH = 500
CONTENTS_PER_ACCOUNT = 100
CONVERSATIONS_PER_ACCOUNT = 200
SPAN = timedelta(days=90)  # the messages' created_at spread, ending now

PHRASES = [
    "请问什么时候发货", "这个多少钱", "我想退款", "质量很好，下次还来", "客服在吗", "已下单，麻烦快点",
    "尺码偏大还是偏小", "有优惠券吗", "Great video!", "where can I buy this", "love it", "主播好漂亮",
    "链接在哪里", "能便宜点吗", "物流太慢了", "已经收到了，谢谢", "how much is shipping", "支持一下",
]


# ---- Workload ------------------------------------------------------------------------------
class Workload:
    """Deterministic crawl batches: messages spread over the accounts in time order, topics
    chosen with a long tail (a few hot videos and chats get most of the traffic), 30% of the
    comments answering an earlier one, 10% written by the account itself."""

    def __init__(self, messages: int, account_ids: list[str], seed: int = 7) -> None:
        self.total = messages
        self.account_ids = account_ids
        self.random = random.Random(seed)
        self.start = datetime.now(timezone.utc) - SPAN
        self.step = SPAN / max(messages, 1)
        self.sent_topics: set[str] = set()
        self.last_comment: dict[tuple[int, int], str] = {}

    def batches(self):
        produced, turn = 0, 0
        while produced < self.total:
            size = min(BATCH, self.total - produced)
            a = turn % len(self.account_ids)
            yield self._batch(a, produced, size)
            produced += size
            turn += 1

    def _batch(self, a: int, first: int, size: int) -> Batch:
        account_id = self.account_ids[a]
        batch = Batch(account_id=account_id, source="bench")
        if account_id not in self.sent_topics:  # the first crawl of an account lists its topics
            self.sent_topics.add(account_id)
            batch.contents = [dict(platform_content_id=f"{a}-v{i}", title=f"作品 {i} · video {i}")
                              for i in range(CONTENTS_PER_ACCOUNT)]
            batch.conversations = [dict(platform_conversation_id=f"{a}-p{i}", peer_id=f"fan-{a}-{i}",
                                        peer_name=f"粉丝{i}") for i in range(CONVERSATIONS_PER_ACCOUNT)]
        r = self.random
        for n in range(first, first + size):
            created = self.start + self.step * n
            text_ = f"{r.choice(PHRASES)} {r.choice(PHRASES)} #{n}"
            direction = "out" if r.random() < 0.1 else "in"
            if n % 2 == 0:
                v = self._hot(CONTENTS_PER_ACCOUNT)
                parent = self.last_comment.get((a, v)) if r.random() < 0.3 else None
                cid = f"{a}-c{n}"
                self.last_comment[(a, v)] = cid
                batch.comments.append(dict(
                    platform_comment_id=cid, platform_content_id=f"{a}-v{v}",
                    parent_platform_comment_id=parent, author_id=f"fan-{a}-{n % 997}",
                    author_name=f"用户{n % 997}", text=text_, created_at=created, direction=direction))
            else:
                p = self._hot(CONVERSATIONS_PER_ACCOUNT)
                batch.messages.append(dict(
                    platform_message_id=f"{a}-m{n}", platform_conversation_id=f"{a}-p{p}",
                    sender_id=f"fan-{a}-{p}", sender_name=f"粉丝{p}", text=text_, created_at=created,
                    direction=direction))
        return batch

    def _hot(self, n: int) -> int:
        """A topic index with a long tail: index 0 about half the time."""
        i = int(self.random.paretovariate(1.0)) - 1
        return i if i < n else self.random.randrange(n)


# ---- Measuring -----------------------------------------------------------------------------
class StallMeter:
    """A heartbeat every 5 ms; the worst lateness is the longest the loop could not run."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return self.worst * 1000

    async def _beat(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(HEARTBEAT_S)
            self.worst = max(self.worst, time.perf_counter() - t0 - HEARTBEAT_S)


async def timed(samples: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    """p50 and p99 in ms of `samples` calls (after a few warm-up calls)."""
    for i in range(5):
        await call(i)
    times = []
    for i in range(samples):
        t0 = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def in_thread(db: Database, samples: int, call: Callable[[Any, int], Any],
              clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """p50 and p99 in ms of the query alone, each call in its own read transaction (by
    `clock`: wall time, or time.process_time for the CPU it took in this process)."""
    times = []
    with db.session() as session:
        for i in range(-5, samples):
            t0 = clock()
            call(session, i)
            session.rollback()
            if i >= 0:
                times.append((clock() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def search_goal(p99: float) -> str:
    return f"goal p99 < {GOAL_SEARCH_P99_MS:.0f} ms  {verdict(p99 < GOAL_SEARCH_P99_MS)}"


# ---- One database --------------------------------------------------------------------------
async def bench(label: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n== {label}: {Database.redacted(url)}")
    db = Database(url)
    await db.upgrade()
    bus = EventBus()
    views = ImViews(db, bus)
    account_ids = [f"acc-{uuid.UUID(int=i + 1)}" for i in range(args.accounts)]
    stored = await db.read(_stored_messages)
    if stored is None:
        await fill(db, bus, account_ids, args)
    elif stored == args.messages:
        print(f"   kept from an earlier run (--keep): {stored:,} messages, no ingest")
        await SearchIndexer(db, EventBus()).catch_up()
    else:
        raise SystemExit(f"{Database.redacted(url)} holds {stored:,} messages, not {args.messages:,} "
                         "(an interrupted run?): delete it")
    freeze_long_lived_objects()  # as the console does once it runs (a kept database skipped fill's)
    await query(db, views, account_ids, args)
    await db.close()


async def fill(db: Database, bus: EventBus, account_ids: list[str], args: argparse.Namespace) -> None:
    """Store the workload through DataStore.ingest and print the ingest figures."""
    store = DataStore(db, bus)

    def add_accounts(session):
        session.add_all(Account(id=a, platform="sandbox", display_name=f"账号 {i}") for i, a in enumerate(account_ids))

    await db.write(add_accounts)
    freeze_long_lived_objects()  # as the console and `hiscrm serve` do once the engine is up

    # Ingest at full rate, with the heartbeat running.
    workload = Workload(args.messages, account_ids)
    meter = StallMeter()
    meter.start()
    busy, done, report_at = 0.0, 0, time.perf_counter() + 10
    cpu0 = time.process_time()
    for batch in workload.batches():
        t0 = time.perf_counter()
        result = await store.ingest(batch)
        busy += time.perf_counter() - t0
        if result.rejected:
            raise SystemExit(f"the DataStore rejected bench records: {result.rejected[:3]}")
        done += len(batch.comments) + len(batch.messages)
        if time.perf_counter() > report_at:
            print(f"   ... {done:,} messages, {done / busy:,.0f} msg/s", flush=True)
            report_at = time.perf_counter() + 10
    stall_ms = await meter.stop()
    cpu = time.process_time() - cpu0
    rate = done / busy
    goal = f"goal >= {GOAL_INGEST:,}" + ("" if db.dialect == "sqlite" else " (SQLite goal)")
    print(f"   ingest            {rate:>10,.0f} msg/s   {goal}  {verdict(rate >= GOAL_INGEST)}")
    server = "" if db.dialect == "sqlite" else ", without the server's"
    print(f"   ingest per CPU-s  {done / cpu:>10,.0f} msg/s   (this process's CPU time{server}; "
          f"steadier than wall time on a busy machine)")
    print(f"   longest loop stall {stall_ms:>9.1f} ms      goal < {GOAL_STALL_MS:.0f} ms  "
          f"{verdict(stall_ms < GOAL_STALL_MS)}")
    t0 = time.perf_counter()
    await SearchIndexer(db, EventBus()).catch_up()  # what the last batches left (SQLite)
    print(f"   search index catch-up after the last batch {time.perf_counter() - t0:.2f} s")
    print(f"   database size      {await db.read(_size_mb, db.dialect):>9,.0f} MB")
    print(f"   load average {_load()}")


async def query(db: Database, views: ImViews, account_ids: list[str], args: argparse.Namespace) -> None:
    """Time the IM views, as the UI calls them and in-thread, and print them beside the goals."""
    rnd = random.Random(11)
    some = [rnd.choice(account_ids) for _ in range(args.samples)]
    hot = [TopicRef(a, "content", f"{account_ids.index(a)}-v0") for a in account_ids]
    chats = [TopicRef(a, "conversation", f"{account_ids.index(a)}-p{rnd.randrange(5)}") for a in account_ids]
    deep = await db.read(_deep_cursors, hot, args.deep)
    search_words = ["退款", "物流太慢", "shipping"]
    second = [(await views.topics(a, limit=20)).after for a in some[:50]]
    n = len
    # (name, the call as the UI makes it, the same query on this thread, has a goal)
    rows: list[tuple[str, Callable[[int], Awaitable[Any]], Callable[[Any, int], Any], bool]] = [
        ("channel list", lambda i: views.channels(), lambda s, i: channels.list_channels(s), True),
        ("topic list (100)", lambda i: views.topics(some[i % n(some)]),
         lambda s, i: topics.topic_page(s, some[i % n(some)], None, False, 100, None), True),
        ("topic list, unread", lambda i: views.topics(some[i % n(some)], unread_only=True),
         lambda s, i: topics.topic_page(s, some[i % n(some)], None, True, 100, None), True),
        ("topic list, 2nd page", lambda i: views.topics(some[i % n(some)], limit=20, cursor=second[i % n(second)]),
         lambda s, i: topics.topic_page(s, some[i % n(some)], None, False, 20, second[i % n(second)]), True),
        ("messages, newest (50)", lambda i: views.messages(hot[i % n(hot)]),
         lambda s, i: messages.message_page(s, hot[i % n(hot)], None, None, 50), True),
        ("messages, deep page", lambda i: views.messages(hot[i % n(hot)], before=deep[i % n(deep)]),
         lambda s, i: messages.message_page(s, hot[i % n(hot)], deep[i % n(deep)], None, 50), True),
        ("messages, DM chat", lambda i: views.messages(chats[i % n(chats)]),
         lambda s, i: messages.message_page(s, chats[i % n(chats)], None, None, 50), True),
        ("unread totals, one", lambda i: views.unread_totals(some[i % n(some)]),
         lambda s, i: channels.unread_totals(s, some[i % n(some)]), True),
        ("unread totals, all", lambda i: views.unread_totals(), lambda s, i: channels.unread_totals(s, None), True),
    ]
    print(f"   {'':<22} {'through ImViews (UI)':<28} {'same query, in-thread':<28}")
    for name, call, direct, has_goal in rows:
        p50, p99 = await timed(args.samples, call)
        d50, d99 = in_thread(db, args.samples, direct)
        goal = f"goal p99 < {GOAL_QUERY_P99_MS:.0f} ms  {verdict(p99 < GOAL_QUERY_P99_MS)}" if has_goal else ""
        print(f"   {name:<22} p50 {p50:6.2f}  p99 {p99:6.2f} ms   p50 {d50:6.2f}  p99 {d99:6.2f} ms   {goal}")
    # Search, across all accounts, as the dialog asks: the first page of 50, newest first,
    # and the page "Load more" fetches. 发票 occurs nowhere: a rare short word (PostgreSQL reads
    # it from the index of character pairs, SQLite through the trigrams beginning with it).
    searches = max(20, args.samples // 10)
    # On SQLite the query runs in this process, so its CPU time says what it costs even on a
    # machine busy with other work (wall-time p99s there measure the machine's other work).
    cpu = db.dialect == "sqlite"
    print(f"   {'':<22} {'through ImViews (UI)':<28} {'in-thread, CPU time' if cpu else '':<28}")
    for word in search_words + ["退", "发票", "#99999"]:
        first = await views.search(word)
        pages = [("search " + repr(word), None)] + ([("  next page", first.after)] if first.after else [])
        for name, cursor in pages:
            p50, p99 = await timed(searches, lambda i: views.search(word, cursor=cursor))
            d50, d99 = in_thread(db, searches, lambda s, i: search.search_messages(s, db.dialect, word, None, 50, cursor),
                                 time.process_time) if cpu else (0, 0)
            goal = search_goal(p99)
            figures = f"p50 {d50:6.2f}  p99 {d99:6.2f} ms" if cpu else ""
            print(f"   {name:<22} p50 {p50:6.2f}  p99 {p99:6.2f} ms   {figures:<28} {goal}"
                  + (f"  ({len(first.items)} hits)" if cursor is None else ""))
    p50, p99 = await timed(searches, lambda i: views.search("退款", account_id=some[i % n(some)]))
    print(f"   search in 1 account    p50 {p50:6.2f}  p99 {p99:6.2f} ms{'':<34}(no goal)")


def _stored_messages(session) -> int | None:
    """How many messages a kept database holds (None: a new one, without the accounts)."""
    if session.execute(select(Account.id).limit(1)).first() is None:
        return None
    return sum(session.execute(select(func.count()).select_from(t.message)).scalar_one() for t in BOTH)


def _deep_cursors(session, refs: list[TopicRef], depth: int) -> list[MessageCursor]:
    """For each hot topic, the cursor `depth` messages from its oldest end: the page a
    long scroll back reaches."""
    t = tables_for("content")
    m = t.message
    cursors = []
    for ref in refs:
        row = session.execute(
            select(m.created_at, m.id)
            .where(m.account_id == ref.account_id, t.message_topic == ref.platform_id)
            .order_by(m.created_at, m.id)
            .offset(depth)
            .limit(1)
        ).first()
        if row is not None:
            cursors.append(MessageCursor(int(row[0].timestamp() * 1000 + 0.5), row[1]))
    return cursors


def _size_mb(session, dialect: str) -> float:
    if dialect == "sqlite":
        pages = session.execute(text("PRAGMA page_count")).scalar()
        size = session.execute(text("PRAGMA page_size")).scalar()
        return pages * size / 1e6
    return session.execute(text("SELECT pg_database_size(current_database())")).scalar() / 1e6


# ---- Databases -----------------------------------------------------------------------------
def start_test_postgres() -> str | None:
    script = ROOT / "scripts" / "pg-test-server.sh"
    try:
        out = subprocess.run([str(script), "start"], check=True, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"(PostgreSQL skipped: {script.name} failed: {e})")
        return None
    return out.stdout.strip().splitlines()[-1]


class ScratchDatabase:
    """A fresh PostgreSQL database on the server of `base_url`, dropped afterwards; or, with
    `kept`, the database of that name, created when missing and left in place."""

    def __init__(self, base_url: str, kept: str | None = None) -> None:
        self.name = kept or f"hiscrm_bench_{uuid.uuid4().hex[:8]}"
        self.kept = kept is not None
        self.admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        self.url = make_url(base_url).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        with self.admin.connect() as c:
            exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.name}).first()
            if not exists:
                c.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: Any) -> None:
        if not self.kept:
            with self.admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


async def main(args: argparse.Namespace) -> None:
    print(f"{args.messages:,} messages over {args.accounts} accounts, batches of {BATCH}, "
          f"{args.samples} samples per query; load average {_load()}")
    # Kept databases are named for the workload, so another size or seed never reuses them.
    kept = f"hiscrm_bench_{args.messages}_{args.accounts}"
    if not args.pg_only:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            await bench("SQLite", f"sqlite:///{(args.keep / f'{kept}.db').as_posix()}", args)
        else:
            with tempfile.TemporaryDirectory(prefix="hiscrm-bench-") as tmp:
                await bench("SQLite", f"sqlite:///{Path(tmp, 'bench.db').as_posix()}", args)
    if args.no_pg:
        return
    base = args.pg or start_test_postgres()
    if base:
        with ScratchDatabase(base, kept if args.keep else None) as url:
            await bench("PostgreSQL", url, args)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--samples", type=int, default=500, help="calls timed per query")
    p.add_argument("--deep", type=int, default=100, help="messages from the oldest end for the deep page")
    p.add_argument("--pg", metavar="URL", help="a PostgreSQL server (default: scripts/pg-test-server.sh)")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--pg-only", action="store_true", help="PostgreSQL only")
    p.add_argument("--keep", metavar="DIR", type=Path,
                   help="keep the databases (the SQLite file in DIR, a PostgreSQL database named for the "
                        "workload) and reuse them when they are there: no ingest, only the queries")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
